//! The retry policy and the state of one logical call.

use crate::backoff::Backoff;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bounds and pacing of retries.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Most attempts of a call that fails transiently, the first included.
    pub max_attempts: u32,
    /// No new attempt of a failing call starts after this much time since
    /// its first.
    pub max_elapsed: Duration,
    /// Smallest backoff delay, also the first one's lower bound.
    pub base_delay: Duration,
    /// Largest computed backoff delay; a server's `Retry-After` may exceed
    /// it (but not `max_elapsed`, or `max_stall` for a throttle).
    pub max_delay: Duration,
    /// A throttled call with a [`ProgressClock`] is retried, whatever its
    /// attempts, until no call of its client has succeeded for this long.
    pub max_stall: Duration,
}

impl Default for RetryPolicy {
    /// 10 attempts within 10 minutes, 200 ms to 20 s between them; throttled
    /// calls wait while anything progresses, up to 10 minutes without.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(600),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_stall: Duration::from_secs(600),
        }
    }
}

/// Why an attempt failed, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The service said slow down (429, `ThrottlingException`).
    Throttled,
    /// Anything else worth another attempt (5xx, timeouts, broken connections).
    Transient,
}

/// The end of retrying: how many attempts over how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveUp {
    /// Attempts made, the first included.
    pub attempts: u32,
    /// Time since the first attempt.
    pub elapsed: Duration,
}

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gave up after {} attempt{} over {:.1} s",
            self.attempts,
            if self.attempts == 1 { "" } else { "s" },
            self.elapsed.as_secs_f64()
        )
    }
}

/// When a client's calls last succeeded, shared by all of them: a
/// throttled call keeps waiting while this moves.
#[derive(Debug)]
pub struct ProgressClock {
    origin: Instant,
    /// Milliseconds after `origin` of the last success.
    last_ms: AtomicU64,
}

impl ProgressClock {
    /// A clock whose last progress is `now`.
    pub fn new(now: Instant) -> Self {
        ProgressClock {
            origin: now,
            last_ms: AtomicU64::new(0),
        }
    }

    /// Notes a success at `now`.
    pub fn tick(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.origin).as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// The last success.
    pub fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// The retry state of one logical call.
#[derive(Debug)]
pub struct Attempts {
    policy: RetryPolicy,
    started: Instant,
    made: u32,
    backoff: Backoff,
}

impl Attempts {
    /// A call whose first attempt starts at `now`.
    pub fn new(policy: &RetryPolicy, now: Instant) -> Self {
        Attempts {
            policy: policy.clone(),
            started: now,
            made: 0,
            backoff: Backoff::new(policy.base_delay, policy.max_delay),
        }
    }

    /// Counts an attempt about to be made.
    pub fn begin(&mut self) {
        self.made += 1;
    }

    /// Takes back the count of an attempt that was not a retry (a forced
    /// re-authentication).
    pub fn forgive(&mut self) {
        self.made = self.made.saturating_sub(1);
    }

    /// Attempts made so far.
    pub fn made(&self) -> u32 {
        self.made
    }

    /// The end of this call now, for a failure that is not retried.
    pub fn give_up(&self, now: Instant) -> GiveUp {
        GiveUp {
            attempts: self.made,
            elapsed: now.saturating_duration_since(self.started),
        }
    }

    /// The delay before the next attempt after `failure`, or why not.
    ///
    /// A server's `retry_after` wins over the computed backoff. A throttle
    /// with `progress` waits as long as the client as a whole progressed
    /// within [`RetryPolicy::max_stall`]; anything else is bounded by
    /// [`RetryPolicy::max_attempts`] and [`RetryPolicy::max_elapsed`].
    pub fn next_delay<R: Rng + ?Sized>(
        &mut self,
        failure: Failure,
        retry_after: Option<Duration>,
        now: Instant,
        progress: Option<&ProgressClock>,
        rng: &mut R,
    ) -> Result<Duration, GiveUp> {
        let computed = self.backoff.next_delay(rng);
        let delay = retry_after.unwrap_or(computed);
        let elapsed = now.saturating_duration_since(self.started);
        match (failure, progress) {
            (Failure::Throttled, Some(p)) => {
                let since = p.last().max(self.started);
                let stalled = now.saturating_duration_since(since);
                if stalled + delay > self.policy.max_stall {
                    return Err(self.give_up(now));
                }
            }
            _ => {
                if self.made >= self.policy.max_attempts
                    || elapsed + delay > self.policy.max_elapsed
                {
                    return Err(self.give_up(now));
                }
            }
        }
        Ok(delay)
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(100),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            max_stall: Duration::from_secs(60),
        }
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
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 09:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn transient_failures_are_bounded_in_attempts_and_time() {
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut a = Attempts::new(&policy(), t0);
        a.begin();
        assert!(
            a.next_delay(Failure::Transient, None, t0, None, &mut rng)
                .is_ok()
        );
        // Retry-After wins, even above max_delay...
        assert_eq!(
            a.next_delay(
                Failure::Transient,
                Some(Duration::from_secs(42)),
                t0,
                None,
                &mut rng
            ),
            Ok(Duration::from_secs(42))
        );
        // ...but not beyond max_elapsed.
        let e = a
            .next_delay(
                Failure::Transient,
                Some(Duration::from_secs(101)),
                t0,
                None,
                &mut rng,
            )
            .unwrap_err();
        assert_eq!(e.attempts, 1);
        let late = t0 + Duration::from_secs(95);
        let e = a
            .next_delay(
                Failure::Transient,
                Some(Duration::from_secs(10)),
                late,
                None,
                &mut rng,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "gave up after 1 attempt over 95.0 s");
        a.begin();
        a.begin();
        assert!(
            a.next_delay(Failure::Transient, Some(Duration::ZERO), t0, None, &mut rng)
                .is_err()
        );
        // A throttle without a progress clock counts like any failure.
        assert!(
            a.next_delay(Failure::Throttled, Some(Duration::ZERO), t0, None, &mut rng)
                .is_err()
        );
    }

    #[test]
    fn a_throttled_call_waits_while_others_progress() {
        let mut rng = StdRng::seed_from_u64(2);
        let t0 = Instant::now();
        let clock = ProgressClock::new(t0);
        let mut a = Attempts::new(&policy(), t0);
        // Far more attempts than max_attempts, far longer than max_elapsed:
        // fine while some call succeeds every 30 s.
        let mut now = t0;
        for _ in 0..50 {
            a.begin();
            now += Duration::from_secs(30);
            clock.tick(now);
            assert!(
                a.next_delay(Failure::Throttled, None, now, Some(&clock), &mut rng)
                    .is_ok(),
                "at attempt {}",
                a.made()
            );
        }
        // Then nothing succeeds: it gives up once stalled past max_stall.
        let stalled = now + Duration::from_secs(61);
        let e = a
            .next_delay(Failure::Throttled, None, stalled, Some(&clock), &mut rng)
            .unwrap_err();
        assert_eq!(e.attempts, 50);
        assert!(e.elapsed > Duration::from_secs(1500));
        // A transient failure keeps its bounds even with a progress clock.
        assert!(
            a.next_delay(Failure::Transient, None, now, Some(&clock), &mut rng)
                .is_err()
        );
    }

    #[test]
    fn the_progress_clock_only_moves_forward() {
        let t0 = Instant::now();
        let c = ProgressClock::new(t0);
        c.tick(t0 + Duration::from_secs(5));
        c.tick(t0 + Duration::from_secs(2));
        assert_eq!(c.last(), t0 + Duration::from_secs(5));
    }
}
