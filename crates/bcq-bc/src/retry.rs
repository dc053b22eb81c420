//! *How* to retry: bounded attempts and total time, exponential backoff with
//! decorrelated jitter, and a server's `Retry-After` taking precedence.
//! *Whether* to retry is [`crate::BcError::is_retryable`].
//!
//! Time goes through the [`Timer`] seam so tests can check every computed
//! delay without waiting.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::config::RetryConfig;

/// A boxed sleep future.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Clock and sleep used by the client (retry delays, token expiry).
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

/// Exponential backoff with decorrelated jitter:
/// `next = min(max, uniform(base, previous * 3))`.
///
/// Jitter keeps several companies' syncs that were throttled together from
/// retrying in lockstep against the shared environment budget.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    previous: Duration,
}

impl Backoff {
    /// A backoff starting at `base`, capped at `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            previous: base,
        }
    }

    /// The next delay.
    pub fn next_delay<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Duration {
        let low = self.base.as_secs_f64();
        let high = (self.previous.as_secs_f64() * 3.0).max(low);
        let pick = if high > low {
            rng.gen_range(low..=high)
        } else {
            low
        };
        let delay = Duration::from_secs_f64(pick).min(self.max);
        self.previous = delay;
        delay
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is valid RFC 2822.
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The retry state of one logical request.
#[derive(Debug)]
pub(crate) struct RetryState {
    cfg: RetryConfig,
    started: Instant,
    /// Attempts made so far (the first included).
    pub(crate) attempts: u32,
    backoff: Backoff,
}

impl RetryState {
    pub(crate) fn new(cfg: &RetryConfig, now: Instant) -> Self {
        Self {
            cfg: cfg.clone(),
            started: now,
            attempts: 0,
            backoff: Backoff::new(cfg.base_delay, cfg.max_delay),
        }
    }

    /// The delay before the next attempt, or `None` when the bounds are
    /// reached. A server `Retry-After` wins over the computed backoff (it is
    /// BC telling us when its window frees up) but not over `max_elapsed`.
    pub(crate) fn next_delay<R: Rng + ?Sized>(
        &mut self,
        retry_after: Option<Duration>,
        now: Instant,
        rng: &mut R,
    ) -> Option<Duration> {
        if self.attempts >= self.cfg.max_attempts {
            return None;
        }
        let computed = self.backoff.next_delay(rng);
        let delay = retry_after.unwrap_or(computed);
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed + delay > self.cfg.max_elapsed {
            return None;
        }
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn backoff_stays_within_bounds_and_grows() {
        let mut rng = StdRng::seed_from_u64(7);
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        let mut b = Backoff::new(base, max);
        let mut prev = base;
        let mut saw_growth = false;
        for _ in 0..50 {
            let d = b.next_delay(&mut rng);
            assert!(d >= base && d <= max, "{d:?}");
            assert!(d <= (prev * 3).min(max), "{d:?} after {prev:?}");
            saw_growth |= d > base * 3;
            prev = d;
        }
        assert!(saw_growth);
    }

    #[test]
    fn same_seed_same_delays() {
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
            (0..5).map(|_| b.next_delay(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn state_bounds_attempts_and_elapsed_time() {
        let cfg = RetryConfig {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(100),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            max_decode_attempts: 3,
        };
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut s = RetryState::new(&cfg, t0);
        s.attempts = 1;
        assert!(s.next_delay(None, t0, &mut rng).is_some());
        // Retry-After wins, even above max_delay.
        assert_eq!(
            s.next_delay(Some(Duration::from_secs(42)), t0, &mut rng),
            Some(Duration::from_secs(42))
        );
        // ...but not beyond max_elapsed.
        assert_eq!(
            s.next_delay(Some(Duration::from_secs(101)), t0, &mut rng),
            None
        );
        assert_eq!(
            s.next_delay(
                Some(Duration::from_secs(10)),
                t0 + Duration::from_secs(95),
                &mut rng
            ),
            None
        );
        s.attempts = 3;
        assert_eq!(s.next_delay(Some(Duration::ZERO), t0, &mut rng), None);
    }
}
