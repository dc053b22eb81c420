//! Adaptive concurrency: additive increase, multiplicative decrease.

use std::sync::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};

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
