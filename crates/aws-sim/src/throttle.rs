//! Per-operation token buckets. AWS publishes no TPS quota for the
//! operations the emulators serve: each emulator's rates are configuration,
//! and its defaults are assumptions it documents.

use std::collections::HashMap;
use std::time::Instant;

/// One bucket: holds up to `max(rate, 1)` tokens, refilled at `rate`/s.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by operation name.
#[derive(Debug, Default)]
pub struct Throttle {
    rates: HashMap<String, f64>,
    buckets: HashMap<String, Bucket>,
}

impl Throttle {
    /// Buckets for the given rates.
    pub fn new(rates: HashMap<String, f64>) -> Self {
        Throttle {
            rates,
            buckets: HashMap::new(),
        }
    }

    /// Replaces or adds rates (buckets restart full).
    pub fn set_rates(&mut self, rates: HashMap<String, f64>) {
        for (k, v) in rates {
            self.buckets.remove(&k);
            self.rates.insert(k, v);
        }
    }

    /// Current rates.
    pub fn rates(&self) -> &HashMap<String, f64> {
        &self.rates
    }

    /// Takes a token for `op`; false means throttle. Operations without a rate
    /// are never throttled.
    pub fn admit(&mut self, op: &str, now: Instant) -> bool {
        let Some(&rate) = self.rates.get(op) else {
            return true;
        };
        if rate <= 0.0 {
            return false;
        }
        let cap = rate.max(1.0);
        let b = self.buckets.entry(op.to_string()).or_insert(Bucket {
            tokens: cap,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(cap);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let mut t = Throttle::new(HashMap::from([("Op".to_string(), 2.0)]));
        let t0 = Instant::now();
        assert!(t.admit("Op", t0));
        assert!(t.admit("Op", t0));
        assert!(!t.admit("Op", t0));
        assert!(t.admit("Op", t0 + Duration::from_millis(600)));
        assert!(t.admit("Other", t0));
    }
}
