//! The clock and sleep seam.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A boxed sleep future.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Clock and sleep used by retry loops (and token expiry).
pub trait Timer: Send + Sync + 'static {
    /// Monotonic now.
    fn now(&self) -> Instant;
    /// Wall-clock now, to turn an HTTP-date `Retry-After` into a delay.
    fn wall(&self) -> DateTime<Utc>;
    /// Waits `d`.
    fn sleep(&self, d: Duration) -> SleepFuture;
}

/// The real timer: tokio's clock (so `tokio::time::pause` applies) and sleep.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
    fn wall(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn sleep(&self, d: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(d))
    }
}
