//! bcq's one retry policy, for every remote call it makes (Business
//! Central, Amazon Q Business, Amazon Bedrock, S3).
//!
//! *Whether* to retry belongs to each client (it knows its errors); *how*
//! lives here, once:
//!
//! - [`RetryPolicy`]: a transient failure is retried a bounded number of
//!   times within a bounded elapsed time, with exponential backoff and
//!   decorrelated jitter ([`Backoff`]), a server's `Retry-After` first
//!   ([`parse_retry_after`]). A throttled call is different: as long as the
//!   service keeps accepting other calls it is slowing down, not failing,
//!   so a throttled call keeps its place and waits, bounded only by the
//!   time without progress ([`RetryPolicy::max_stall`], progress as a
//!   [`ProgressClock`] shared by a client's calls).
//! - [`Attempts`]: the retry state of one logical call; giving up yields a
//!   [`GiveUp`] that says how many attempts were made over how long.
//! - [`Aimd`]: calls in flight, halved on a throttle and grown while calls
//!   are accepted, down to one, so a throttled service is paced.
//! - [`Timer`]: the clock and sleep seam, so tests run on paused or virtual
//!   time ([`TokioTimer`] follows `tokio::time::pause`).

#![warn(missing_docs)]

mod aimd;
mod backoff;
mod policy;
mod timer;

pub use aimd::Aimd;
pub use backoff::Backoff;
pub use policy::{Attempts, Failure, GiveUp, ProgressClock, RetryPolicy, parse_retry_after};
pub use timer::{SleepFuture, Timer, TokioTimer};
