//! Exponential backoff with decorrelated jitter.

use rand::Rng;
use std::time::Duration;

/// `next = min(max, uniform(base, previous * 3))`.
///
/// Jitter keeps calls that were throttled together (several companies
/// against one BC environment, several batches against one index) from
/// retrying in lockstep.
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
}
