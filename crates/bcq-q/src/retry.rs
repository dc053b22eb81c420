//! Whether a Q call is retried, and how long to wait: classification once,
//! policy separately, and adaptive concurrency against throttling.

use aws_sdk_qbusiness::error::{ProvideErrorMetadata, SdkError};
use rand::Rng;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// What an SDK error means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// 429: slow down and retry.
    Throttled,
    /// 500, timeouts, connection errors: retry.
    Transient,
    /// Anything else: do not retry.
    Permanent,
}

/// Classifies an SDK error by its modeled error code, then by transport kind.
pub fn classify<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Class {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Class::Transient,
        SdkError::ResponseError(_) => Class::Transient,
        SdkError::ServiceError(_) => match err.code() {
            Some("ThrottlingException") => Class::Throttled,
            Some("InternalServerException") | Some("ServiceUnavailableException") => {
                Class::Transient
            }
            _ => Class::Permanent,
        },
        _ => Class::Permanent,
    }
}

/// A readable one-line description of a Q Business SDK error, with its code.
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> String {
    describe_for("amazon q business", err)
}

/// [`describe`] for an error of any AWS SDK client, `service` naming it
/// when it could not be reached.
pub fn describe_for<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    service: &str,
    err: &SdkError<E, R>,
) -> String {
    match err {
        SdkError::ServiceError(_) => format!(
            "{}: {}",
            err.code().unwrap_or("UnknownError"),
            err.message().unwrap_or("no message")
        ),
        SdkError::TimeoutError(_) => "the request timed out".into(),
        SdkError::DispatchFailure(e) => format!("could not reach {service}: {e:?}")
            .chars()
            .take(300)
            .collect(),
        other => format!("{}", aws_sdk_qbusiness::error::DisplayErrorContext(other)),
    }
}

/// Exponential backoff with decorrelated jitter: each delay is random
/// between `base` and three times the previous one, capped.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    prev: Duration,
}

impl Backoff {
    /// A backoff starting at `base` and never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            prev: base,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let hi = (self.prev * 3).max(self.base + Duration::from_millis(1));
        let d = rng.gen_range(self.base..hi).min(self.cap);
        self.prev = d;
        d
    }
}

/// Additive-increase, multiplicative-decrease limit on calls in flight:
/// grows by one after a window of accepted calls, halves on a throttle.
/// Q publishes no rate, so the right concurrency is found, not configured.
#[derive(Debug)]
pub struct Aimd {
    sem: Semaphore,
    inner: Mutex<AimdState>,
    max: usize,
}

#[derive(Debug)]
struct AimdState {
    limit: usize,
    /// Permits to forget as they come back, after a decrease.
    debt: usize,
    successes: usize,
}

impl Aimd {
    /// A limit starting at `initial` and never above `max`.
    pub fn new(initial: usize, max: usize) -> Self {
        let max = max.max(1);
        let initial = initial.clamp(1, max);
        Aimd {
            sem: Semaphore::new(initial),
            inner: Mutex::new(AimdState {
                limit: initial,
                debt: 0,
                successes: 0,
            }),
            max,
        }
    }

    /// Waits for a slot.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        self.sem
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).limit
    }

    /// Returns a slot, saying whether the call was throttled.
    pub fn release(&self, permit: SemaphorePermit<'_>, throttled: bool) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if throttled {
            let new = (s.limit / 2).max(1);
            s.debt += s.limit - new;
            s.limit = new;
            s.successes = 0;
        } else {
            s.successes += 1;
            if s.successes >= s.limit && s.limit < self.max {
                s.successes = 0;
                s.limit += 1;
                if s.debt > 0 {
                    s.debt -= 1;
                } else {
                    self.sem.add_permits(1);
                }
            }
        }
        if s.debt > 0 {
            s.debt -= 1;
            permit.forget();
        } else {
            drop(permit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_stays_within_bounds_and_grows() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let delays: Vec<Duration> = (0..20).map(|_| b.next_delay(&mut rng)).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_millis(100) && *d <= Duration::from_secs(5))
        );
        assert!(
            delays.iter().any(|d| *d > Duration::from_secs(1)),
            "{delays:?}"
        );
    }

    #[tokio::test]
    async fn aimd_halves_on_throttle_and_grows_on_success() {
        let a = Aimd::new(8, 16);
        let p = a.acquire().await;
        a.release(p, true);
        assert_eq!(a.limit(), 4);
        // The semaphore really holds fewer permits: 8 - 1 forgotten now,
        // the rest forgotten as they come back.
        let held: Vec<_> = (0..4).map(|_| a.sem.try_acquire().unwrap()).collect();
        for p in held {
            a.release(p, false);
        }
        assert_eq!(a.limit(), 5);
        for _ in 0..20 {
            let p = a.acquire().await;
            a.release(p, false);
        }
        assert!(a.limit() > 5);
        assert!(a.limit() <= 16);
        let available = a.sem.available_permits();
        assert_eq!(available, a.limit(), "permits must track the limit");
    }
}
