//! Every SDK call of a destination under bcq's one retry policy.
//!
//! A call acquires a slot of the adaptive limit ([`bcq_retry::Aimd`]),
//! is sent, and is classified ([`crate::classify`]): a success notes the
//! client's progress; a throttle halves the limit (down to one call in
//! flight, which paces the client) and waits its turn while other calls
//! progress; a transient failure is retried within the policy's attempts
//! and time; anything else returns at once. The SDKs' own retries are off
//! in clients used this way, so every throttle is seen here.

use crate::error::classify;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use bcq_retry::{Aimd, Attempts, Failure, GiveUp, ProgressClock, RetryPolicy, Timer, TokioTimer};
use rand::SeedableRng;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A call that did not succeed.
#[derive(Debug)]
pub struct CallError<E, R> {
    /// The last attempt's error.
    pub error: SdkError<E, R>,
    /// Set when retrying ran out: how many attempts over how long.
    pub give_up: Option<GiveUp>,
}

impl<E, R> CallError<E, R> {
    /// `" (gave up after N attempts over T s)"`, or nothing for a final error.
    pub fn retried(&self) -> String {
        self.give_up.map(|g| format!(" ({g})")).unwrap_or_default()
    }
}

/// The retrying, pacing executor of one destination's calls.
pub struct Caller {
    policy: RetryPolicy,
    limit: Aimd,
    progress: ProgressClock,
    timer: Arc<dyn Timer>,
    rng: Mutex<rand::rngs::StdRng>,
    /// Calls answered with a throttle.
    pub throttled: AtomicU64,
    /// Attempts that repeated a failed one.
    pub retries: AtomicU64,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("policy", &self.policy)
            .field("limit", &self.limit.limit())
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// An executor with `policy`, `initial` calls in flight growing up to
    /// `max`, jitter seeded with `seed`.
    pub fn new(policy: RetryPolicy, initial: usize, max: usize, seed: u64) -> Caller {
        Caller::with_timer(policy, initial, max, seed, Arc::new(TokioTimer))
    }

    /// [`Caller::new`] with a timer seam.
    pub fn with_timer(
        policy: RetryPolicy,
        initial: usize,
        max: usize,
        seed: u64,
        timer: Arc<dyn Timer>,
    ) -> Caller {
        Caller {
            progress: ProgressClock::new(timer.now()),
            policy,
            limit: Aimd::new(initial, max),
            timer,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
            throttled: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Calls in flight allowed now.
    pub fn limit(&self) -> usize {
        self.limit.limit()
    }

    /// A fresh retry state for a call that repeats itself (partial
    /// failures inside a success).
    pub fn attempts(&self) -> Attempts {
        Attempts::new(&self.policy, self.timer.now())
    }

    /// The delay before retrying `failure`, or why not (see
    /// [`Attempts::next_delay`]); counts the retry.
    pub fn next_delay(
        &self,
        attempts: &mut Attempts,
        failure: Failure,
    ) -> Result<std::time::Duration, GiveUp> {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let d = attempts.next_delay(
            failure,
            None,
            self.timer.now(),
            Some(&self.progress),
            &mut *rng,
        )?;
        self.retries.fetch_add(1, Ordering::Relaxed);
        Ok(d)
    }

    /// Waits `d` on the timer.
    pub async fn sleep(&self, d: std::time::Duration) {
        self.timer.sleep(d).await;
    }

    /// Makes one logical call: `send` is called for each attempt, under the
    /// adaptive limit, counted in `counter`.
    pub async fn call<T, E, F, Fut>(
        &self,
        counter: &AtomicU64,
        mut send: F,
    ) -> Result<T, CallError<E, Response>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, Response>>>,
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
    {
        let mut attempts = self.attempts();
        loop {
            attempts.begin();
            let permit = self.limit.acquire().await;
            counter.fetch_add(1, Ordering::Relaxed);
            let result = send().await;
            let failure = result.as_ref().err().and_then(classify);
            let throttled = failure == Some(Failure::Throttled);
            if throttled {
                self.throttled.fetch_add(1, Ordering::Relaxed);
            }
            self.limit.release(permit, throttled);
            let error = match result {
                Ok(v) => {
                    self.progress.tick(self.timer.now());
                    return Ok(v);
                }
                Err(e) => e,
            };
            let Some(failure) = failure else {
                return Err(CallError {
                    error,
                    give_up: None,
                });
            };
            match self.next_delay(&mut attempts, failure) {
                Ok(d) => self.sleep(d).await,
                Err(g) => {
                    return Err(CallError {
                        error,
                        give_up: Some(g),
                    });
                }
            }
        }
    }

    /// Notes a success that did not go through [`Caller::call`] (a call
    /// whose answer carried failures that are retried).
    pub fn progressed(&self) {
        self.progress.tick(self.timer.now());
    }
}
