//! The emulator's clock: wall time plus an offset that tests can move
//! forward (`POST /_sim/webhooks/clock`), so that a subscription's three days
//! pass in a moment. Record timestamps, subscription expiry and the webhook
//! schedule all read it.

use std::sync::atomic::{AtomicI64, Ordering};

/// Wall clock plus a forward offset, in Unix milliseconds.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    last: AtomicI64,
}

impl Clock {
    /// "Now" on the emulator's clock.
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::SeqCst)
    }

    /// A strictly increasing "now": BC's lastModifiedDateTime moves on every
    /// change, and two changes in one millisecond must still order.
    pub fn tick(&self) -> i64 {
        let now = self.now_ms();
        let mut prev = self.last.load(Ordering::SeqCst);
        loop {
            let next = now.max(prev + 1);
            match self
                .last
                .compare_exchange(prev, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }

    /// Moves the clock forward by `ms` (never back: time only passes).
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
    }

    /// How far the clock has been moved forward, in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_increase_and_advance_moves_now() {
        let c = Clock::default();
        let a = c.tick();
        let b = c.tick();
        assert!(b > a);
        let before = c.now_ms();
        c.advance(3 * 86_400_000);
        assert!(c.now_ms() >= before + 3 * 86_400_000);
        assert!(c.tick() >= before + 3 * 86_400_000);
        c.advance(-5);
        assert_eq!(c.offset_ms(), 3 * 86_400_000);
    }
}
