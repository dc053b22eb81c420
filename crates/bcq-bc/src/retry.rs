//! *How* to retry is bcq's one policy ([`bcq_retry`]): bounded attempts and
//! total time, exponential backoff with decorrelated jitter, and a server's
//! `Retry-After` taking precedence. *Whether* to retry is
//! [`crate::BcError::is_retryable`]. This module only maps BC's
//! [`RetryConfig`] onto that policy.

pub use bcq_retry::{Backoff, SleepFuture, Timer, TokioTimer, parse_retry_after};

use crate::config::RetryConfig;

impl RetryConfig {
    /// The policy these bounds describe. BC's throttles are bounded like any
    /// failure (the client-side budget keeps them rare, and `Retry-After`
    /// says when to come back), so the stall bound is the elapsed bound.
    pub fn policy(&self) -> bcq_retry::RetryPolicy {
        bcq_retry::RetryPolicy {
            max_attempts: self.max_attempts,
            max_elapsed: self.max_elapsed,
            base_delay: self.base_delay,
            max_delay: self.max_delay,
            max_stall: self.max_elapsed,
        }
    }
}
