//! The client-side rate limiter that keeps the whole process under BC's
//! per-environment budget: 6,000 requests per 5-minute *sliding* window per
//! app and environment (shared by all companies), and 5 concurrent requests
//! (more are queued by BC and then refused with 503).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// BC's documented limit: requests per window per environment.
pub const BC_REQUESTS_PER_WINDOW: u32 = 6_000;
/// BC's documented sliding window.
pub const BC_WINDOW: Duration = Duration::from_secs(5 * 60);
/// BC's documented concurrent request limit.
pub const BC_MAX_IN_FLIGHT: usize = 5;
/// Requests kept in reserve below BC's limit by [`RequestBudget::bc_default`]:
/// other tools of the same app (or `bcq check` run during a sync) also count,
/// and BC's window edges are not exactly ours.
pub const BC_SAFETY_MARGIN: u32 = 300;

/// A shared budget of requests for one BC environment.
///
/// Share the same `Arc` between all clients of one environment: the limit is
/// per environment, not per company. Token requests to Entra do not count.
#[derive(Debug)]
pub struct RequestBudget {
    limit: u32,
    window: Duration,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// Send times of the requests in the current window, oldest first.
    sent: Mutex<VecDeque<Instant>>,
    shared: Option<Arc<dyn SharedBudget>>,
}

/// Held for the duration of one request; dropping it frees the in-flight slot.
#[derive(Debug)]
pub struct BudgetPermit {
    _permit: OwnedSemaphorePermit,
    /// The shared budget's in-flight slot, given back on drop.
    shared: Option<(Arc<dyn SharedBudget>, String)>,
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        if let Some((budget, slot)) = self.shared.take() {
            budget.give_back(&slot);
        }
    }
}

/// The budget of an environment that several processes share (`bcq serve`
/// replicas, through their PostgreSQL state): BC counts an environment's
/// requests, whoever sends them, so each process takes every request from
/// the common count too, not only from its own.
pub trait SharedBudget: Send + Sync + std::fmt::Debug {
    /// Takes one request of the window and one in-flight slot: `Ok(Some)`
    /// the slot to give back when the request ended; `Ok(None)` when the
    /// shared count cannot be reached (the request goes on within this
    /// process's own budget; the implementation says so in the log);
    /// `Err` how long to wait before asking again.
    fn take(&self) -> Result<Option<String>, Duration>;
    /// Gives back a slot [`SharedBudget::take`] granted.
    fn give_back(&self, slot: &str);
    /// Requests of the current window over every process, when known.
    fn used(&self) -> Option<u32> {
        None
    }
}

impl RequestBudget {
    /// A budget of `requests_per_window` per sliding `window`, and at most
    /// `max_in_flight` requests at once (both at least 1).
    pub fn new(requests_per_window: u32, window: Duration, max_in_flight: usize) -> Arc<Self> {
        Self::build(requests_per_window, window, max_in_flight, None)
    }

    /// Like [`RequestBudget::new`], and every request also taken from
    /// `shared`, the count other processes take from too.
    pub fn new_shared(
        requests_per_window: u32,
        window: Duration,
        max_in_flight: usize,
        shared: Arc<dyn SharedBudget>,
    ) -> Arc<Self> {
        Self::build(requests_per_window, window, max_in_flight, Some(shared))
    }

    fn build(
        requests_per_window: u32,
        window: Duration,
        max_in_flight: usize,
        shared: Option<Arc<dyn SharedBudget>>,
    ) -> Arc<Self> {
        let max_in_flight = max_in_flight.max(1);
        Arc::new(Self {
            limit: requests_per_window.max(1),
            window,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            sent: Mutex::new(VecDeque::new()),
            shared,
        })
    }

    /// Whether other processes share this budget.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Like [`RequestBudget::new`], keeping `margin` requests per window in
    /// reserve.
    pub fn with_safety_margin(
        requests_per_window: u32,
        margin: u32,
        window: Duration,
        max_in_flight: usize,
    ) -> Arc<Self> {
        Self::new(
            requests_per_window.saturating_sub(margin),
            window,
            max_in_flight,
        )
    }

    /// BC online's limits less [`BC_SAFETY_MARGIN`]: 5,700 requests per
    /// 5 minutes, 5 in flight.
    pub fn bc_default() -> Arc<Self> {
        Self::with_safety_margin(
            BC_REQUESTS_PER_WINDOW,
            BC_SAFETY_MARGIN,
            BC_WINDOW,
            BC_MAX_IN_FLIGHT,
        )
    }

    /// Requests allowed per window.
    pub fn requests_per_window(&self) -> u32 {
        self.limit
    }

    /// Concurrent requests allowed.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Requests sent within the current window (what `/metrics` reports
    /// as the budget used): over every process when the budget is shared,
    /// this process's otherwise.
    pub async fn used(&self) -> u32 {
        if let Some(n) = self.shared.as_ref().and_then(|s| s.used()) {
            return n;
        }
        let mut sent = self.sent.lock().await;
        self.forget_old(&mut sent, Instant::now());
        sent.len() as u32
    }

    /// Drops the requests the window no longer holds at `now`.
    fn forget_old(&self, sent: &mut VecDeque<Instant>, now: Instant) {
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            sent.pop_front();
        }
    }

    /// Waits for an in-flight slot, then for room in the window, and records
    /// the request as sent now.
    ///
    /// The in-flight slot is taken first so that the recorded time is the
    /// real send time: recording earlier would let the slot expire before
    /// BC's own window forgets the request.
    pub async fn acquire(&self) -> BudgetPermit {
        let permit = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the budget semaphore is never closed");
        loop {
            let wake_at = {
                let mut sent = self.sent.lock().await;
                let now = Instant::now();
                self.forget_old(&mut sent, now);
                if sent.len() < self.limit as usize {
                    sent.push_back(now);
                    drop(sent);
                    let shared = self.take_shared().await;
                    return BudgetPermit {
                        _permit: permit,
                        shared,
                    };
                }
                sent[0] + self.window
            };
            tracing::debug!(wait = ?wake_at.saturating_duration_since(Instant::now()), "request budget exhausted, waiting");
            tokio::time::sleep_until(wake_at).await;
        }
    }
}

impl RequestBudget {
    /// Waits for the shared budget's slot, when there is one.
    async fn take_shared(&self) -> Option<(Arc<dyn SharedBudget>, String)> {
        let shared = self.shared.as_ref()?;
        loop {
            match shared.take() {
                Ok(slot) => return slot.map(|s| (shared.clone(), s)),
                Err(wait) => {
                    tracing::debug!(?wait, "the shared request budget is used up, waiting");
                    tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn the_request_over_the_window_limit_waits_for_the_window() {
        let window = Duration::from_secs(60);
        let budget = RequestBudget::new(3, window, 10);
        let t0 = Instant::now();
        for _ in 0..3 {
            drop(budget.acquire().await);
        }
        assert_eq!(Instant::now(), t0, "the first N requests do not wait");
        tokio::time::advance(Duration::from_secs(10)).await;
        drop(budget.acquire().await);
        // The 4th waits until the 1st leaves the sliding window.
        assert_eq!(Instant::now() - t0, window);
    }

    #[tokio::test(start_paused = true)]
    async fn sliding_window_frees_slots_one_by_one() {
        let window = Duration::from_secs(60);
        let budget = RequestBudget::new(2, window, 10);
        let t0 = Instant::now();
        drop(budget.acquire().await);
        tokio::time::advance(Duration::from_secs(20)).await;
        drop(budget.acquire().await);
        drop(budget.acquire().await); // waits until t0+60
        assert_eq!(Instant::now() - t0, Duration::from_secs(60));
        drop(budget.acquire().await); // waits until the t0+20 request expires
        assert_eq!(Instant::now() - t0, Duration::from_secs(80));
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_k_in_flight() {
        let budget = RequestBudget::new(1000, Duration::from_secs(60), 2);
        let current = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (budget, current, peak) = (budget.clone(), current.clone(), peak.clone());
                tokio::spawn(async move {
                    let _p = budget.acquire().await;
                    let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    current.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn bc_default_keeps_a_margin() {
        let b = RequestBudget::bc_default();
        assert_eq!(b.requests_per_window(), 5_700);
        assert_eq!(b.max_in_flight(), 5);
    }

    /// A count two budgets share: at most `max` slots out at once.
    #[derive(Debug, Default)]
    struct Common {
        out: std::sync::Mutex<Vec<String>>,
        next: AtomicUsize,
        max: usize,
        peak: AtomicUsize,
    }

    impl SharedBudget for Common {
        fn take(&self) -> Result<Option<String>, Duration> {
            let mut out = self.out.lock().unwrap();
            if out.len() >= self.max {
                return Err(Duration::from_millis(10));
            }
            let slot = format!("s{}", self.next.fetch_add(1, Ordering::SeqCst));
            out.push(slot.clone());
            self.peak.fetch_max(out.len(), Ordering::SeqCst);
            Ok(Some(slot))
        }
        fn give_back(&self, slot: &str) {
            self.out.lock().unwrap().retain(|s| s != slot);
        }
        fn used(&self) -> Option<u32> {
            Some(self.next.load(Ordering::SeqCst) as u32 * 10)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn two_processes_sharing_a_budget_stay_within_its_in_flight_limit() {
        let common = Arc::new(Common {
            max: 3,
            ..Common::default()
        });
        // Each "process" alone would allow 3 in flight: 6 together.
        let budgets: Vec<_> = (0..2)
            .map(|_| RequestBudget::new_shared(1000, Duration::from_secs(60), 3, common.clone()))
            .collect();
        assert!(budgets[0].is_shared());
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let budget = budgets[i % 2].clone();
                tokio::spawn(async move {
                    let _p = budget.acquire().await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(common.peak.load(Ordering::SeqCst), 3);
        assert!(
            common.out.lock().unwrap().is_empty(),
            "every slot was given back"
        );
        assert_eq!(common.next.load(Ordering::SeqCst), 12);
        // The window's use is the shared count's, not this process's 6.
        assert_eq!(budgets[0].used().await, 120);
    }
}
