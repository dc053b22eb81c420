//! Request counters the engine reads for progress and run reports.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a client's counters (shared by its clones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests sent to Business Central (every attempt counts).
    pub requests: u64,
    /// Attempts that were repeats of a failed one (BC or token endpoint).
    pub retries: u64,
    /// Responses 429 (throttled) or 503 (BC's queue of concurrent requests full).
    pub throttled: u64,
    /// Response body bytes read from Business Central.
    pub bytes: u64,
    /// Token requests sent to Entra ID.
    pub token_requests: u64,
}

impl Stats {
    /// What was counted since `earlier` (a snapshot of the same client).
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            requests: self.requests.saturating_sub(earlier.requests),
            retries: self.retries.saturating_sub(earlier.retries),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            token_requests: self.token_requests.saturating_sub(earlier.token_requests),
        }
    }
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) token_requests: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            token_requests: self.token_requests.load(Ordering::Relaxed),
        }
    }
}
