//! BC's per-app limits: a sliding window of requests per (app, environment)
//! and a cap on concurrent requests per app (excess queues, then 503).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Limit state.
#[derive(Debug, Default)]
pub struct Limits {
    windows: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
    sems: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    /// Records a request; `Err((actual, retry_after_secs))` when over budget.
    pub fn admit(
        &self,
        app: &str,
        env: &str,
        max: u32,
        window: Duration,
    ) -> Result<(), (usize, u64)> {
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let q = w.entry((app.to_string(), env.to_lowercase())).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= max as usize {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err((q.len() + 1, wait.as_secs().max(1)));
        }
        q.push_back(now);
        Ok(())
    }

    /// Waits for a concurrency slot up to `timeout`.
    pub async fn acquire(
        &self,
        app: &str,
        max: usize,
        timeout: Duration,
    ) -> Option<OwnedSemaphorePermit> {
        let sem = {
            let mut s = self.sems.lock().unwrap_or_else(|e| e.into_inner());
            s.entry(app.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(max.max(1))))
                .clone()
        };
        tokio::time::timeout(timeout, sem.acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }
}
