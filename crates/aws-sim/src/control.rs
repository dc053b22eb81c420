//! The control plane every emulator has: the gate a call passes before its
//! operation runs (counters, token bucket, faults), the background loop
//! that moves documents through their statuses, and the `/_sim` routes and
//! in-process controls that act on faults, rates and indexing.
//!
//! An emulator describes its state with [`Knobs`] (implemented by its
//! locked inner state) and [`Emulator`] (its shared handle); everything
//! here is then the same for all of them.
//!
//! | route | effect |
//! |---|---|
//! | `GET /_sim/counts`, `DELETE /_sim/counts` | the emulator's counters, reset |
//! | `POST /_sim/faults` [`FaultSpec`], `GET`, `DELETE /_sim/faults` | add (`{}`), list (`{"faults":[{"fault","remaining"}]}`), clear |
//! | `PUT /_sim/rates` `{"Op": rate}` | change rates, answers all rates |
//! | `POST /_sim/indexing/pause`, `POST /_sim/indexing/resume` | hold / release status transitions |
//! | `GET /_sim/health` | `{"status":"ok"}` |
//!
//! A refused control call answers 400 `{"error": "..."}`; an unknown one 404.

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::faults::{Effect, FaultError, FaultModel, FaultSpec, Faults};
use crate::http::json_response;
use crate::schedule::Queue;
use crate::throttle::Throttle;

/// The parts of an emulator's locked state the control plane works on.
/// [`impl_knobs!`](crate::impl_knobs) writes it for a state with the usual
/// fields.
pub trait Knobs {
    /// The emulator's error type.
    type Error: Clone;
    /// A deferred transition.
    type Event;
    /// Active faults.
    fn faults(&mut self) -> &mut Faults<Self::Error>;
    /// Token buckets.
    fn throttle(&mut self) -> &mut Throttle;
    /// Pending transitions.
    fn queue(&mut self) -> &mut Queue<Self::Event>;
    /// Applies one transition whose deadline passed.
    fn apply(&mut self, event: Self::Event);
    /// Whether transitions are held.
    fn paused(&self) -> bool;
    /// Holds or releases transitions.
    fn set_paused(&mut self, paused: bool);
    /// Whether no transition is pending.
    fn idle(&self) -> bool;
    /// Counts a signed call that reached `operation`.
    fn count_call(&mut self, operation: &str);
    /// Counts a call answered 429.
    fn count_throttled(&mut self);
    /// The counters, as `GET /_sim/counts` answers them.
    fn counts_json(&self) -> Value;
    /// Resets the counters.
    fn reset_counts(&mut self);
}

/// Implements [`Knobs`] for an emulator's state struct with fields
/// `faults`, `throttle`, `queue`, `paused` and `counts` (a `Default +
/// Serialize` struct with `by_operation: BTreeMap<String, u64>` and
/// `throttled: u64`), given its error and event types and the function
/// applying an event (`fn(&mut State, Event)`).
#[macro_export]
macro_rules! impl_knobs {
    ($state:ty, error = $error:ty, event = $event:ty, apply = $apply:path) => {
        impl $crate::control::Knobs for $state {
            type Error = $error;
            type Event = $event;
            fn faults(&mut self) -> &mut $crate::faults::Faults<$error> {
                &mut self.faults
            }
            fn throttle(&mut self) -> &mut $crate::throttle::Throttle {
                &mut self.throttle
            }
            fn queue(&mut self) -> &mut $crate::schedule::Queue<$event> {
                &mut self.queue
            }
            fn apply(&mut self, event: $event) {
                $apply(self, event)
            }
            fn paused(&self) -> bool {
                self.paused
            }
            fn set_paused(&mut self, paused: bool) {
                self.paused = paused;
            }
            fn idle(&self) -> bool {
                self.queue.is_empty()
            }
            fn count_call(&mut self, operation: &str) {
                *self
                    .counts
                    .by_operation
                    .entry(operation.to_string())
                    .or_default() += 1;
            }
            fn count_throttled(&mut self) {
                self.counts.throttled += 1;
            }
            fn counts_json(&self) -> $crate::control::Value {
                $crate::control::to_json(&self.counts)
            }
            fn reset_counts(&mut self) {
                self.counts = Default::default();
            }
        }
    };
}

/// Implements [`Emulator`] for an emulator's shared handle with fields
/// `inner` (a `Mutex` of its [`Knobs`] state) and `wake` (a
/// `tokio::sync::Notify`), given the state type and its [`FaultModel`]
/// value. A poisoned lock is recovered: each operation leaves the state
/// consistent.
#[macro_export]
macro_rules! impl_emulator {
    ($shared:ty, inner = $inner:ty, model = $model:expr) => {
        impl $crate::control::Emulator for $shared {
            type Inner = $inner;
            fn lock(&self) -> ::std::sync::MutexGuard<'_, $inner> {
                self.inner.lock().unwrap_or_else(|e| e.into_inner())
            }
            fn notify(&self) -> &::tokio::sync::Notify {
                &self.wake
            }
            fn fault_model(
                &self,
            ) -> &dyn $crate::faults::FaultModel<<$inner as $crate::control::Knobs>::Error> {
                &$model
            }
        }
    };
}

pub use serde_json::Value;

/// A serialisable value as JSON (`null` if it cannot be).
pub fn to_json<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Applies every transition due at `now`.
pub fn process_due<K: Knobs>(inner: &mut K, now: Instant) {
    while let Some(ev) = inner.queue().pop_due(now) {
        inner.apply(ev);
    }
}

/// An emulator's shared handle.
pub trait Emulator: Send + Sync + 'static {
    /// Its locked state.
    type Inner: Knobs;
    /// Locks the state.
    fn lock(&self) -> MutexGuard<'_, Self::Inner>;
    /// What wakes the background task (an earlier deadline, or a resume).
    fn notify(&self) -> &tokio::sync::Notify;
    /// What its operations may answer.
    fn fault_model(&self) -> &dyn FaultModel<ErrorOf<Self>>;
}

/// The error type of an emulator.
pub type ErrorOf<S> = <<S as Emulator>::Inner as Knobs>::Error;

/// What a call of `operation` meets before its handler: it is counted, the
/// operation's token bucket may throttle it (`Err`: answer that), and the
/// faults that hit it are returned for the caller to apply in order.
pub fn gate<S: Emulator>(s: &S, operation: &str) -> Result<Vec<Effect<ErrorOf<S>>>, ErrorOf<S>> {
    let model = s.fault_model();
    let mut inner = s.lock();
    inner.count_call(operation);
    if !inner.throttle().admit(operation, Instant::now()) {
        inner.count_throttled();
        return Err(model.throttling(operation));
    }
    let effects = inner.faults().take(operation);
    if effects.iter().any(|e| match e {
        Effect::Throttle(_) => true,
        Effect::Fail(e) => model.is_throttling(e),
        _ => false,
    }) {
        inner.count_throttled();
    }
    Ok(effects)
}

/// The background task: until aborted, unless paused, applies the
/// transitions that are due, then sleeps until the next deadline or a
/// wake-up.
pub async fn run<S: Emulator>(shared: Arc<S>) {
    crate::schedule::drive(shared.notify(), |now| {
        let mut inner = shared.lock();
        if inner.paused() {
            return None;
        }
        process_due(&mut *inner, now);
        inner.queue().next_deadline()
    })
    .await
}

/// The controls every emulator offers, in process (each emulator's
/// `Control` dereferences to it) and over HTTP ([`Controls::handle_http`]).
pub struct Controls<S> {
    shared: Arc<S>,
}

impl<S> Clone for Controls<S> {
    fn clone(&self) -> Self {
        Controls {
            shared: self.shared.clone(),
        }
    }
}

impl<S: Emulator> Controls<S> {
    /// Controls of an emulator.
    pub fn new(shared: Arc<S>) -> Self {
        Controls { shared }
    }

    /// Adds a fault (kinds `status`, `latency`, `throttle_burst`,
    /// `partial_failure` where the emulator has batch answers with failed
    /// items, `index_failure`; see [`FaultSpec`]).
    pub fn add_fault(&self, f: FaultSpec) -> Result<(), FaultError> {
        let model = self.shared.fault_model();
        self.shared.lock().faults().add(f, model)
    }

    /// Active faults with their remaining counts.
    pub fn faults(&self) -> Vec<(FaultSpec, u64)> {
        self.shared.lock().faults().list()
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults().clear();
    }

    /// Changes per-operation rates at run time (buckets restart full).
    pub fn set_rates(&self, rates: HashMap<String, f64>) {
        self.shared.lock().throttle().set_rates(rates);
    }

    /// Current rates.
    pub fn rates(&self) -> HashMap<String, f64> {
        self.shared.lock().throttle().rates().clone()
    }

    /// Holds (`true`) or releases (`false`) every scheduled transition, so
    /// that tests observe intermediate statuses without racing the clock.
    pub fn set_indexing_paused(&self, paused: bool) {
        self.shared.lock().set_paused(paused);
        self.shared.notify().notify_one();
    }

    /// Waits until no transition is pending or the timeout passes; returns
    /// whether it got idle.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.shared.lock().idle() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Serves the common `/_sim` routes (see the module's table); `None`
    /// for a route that is not one of them.
    pub fn handle_http(&self, method: &str, path: &str, body: &[u8]) -> Option<Response> {
        Some(match (method, path) {
            ("GET", "/_sim/counts") => ok(self.shared.lock().counts_json()),
            ("DELETE", "/_sim/counts") => {
                self.shared.lock().reset_counts();
                ok(json!({}))
            }
            ("POST", "/_sim/faults") => match serde_json::from_slice::<FaultSpec>(body) {
                Ok(f) => match self.add_fault(f) {
                    Ok(()) => ok(json!({})),
                    Err(e) => bad(e),
                },
                Err(e) => bad(format!("invalid fault: {e}")),
            },
            ("GET", "/_sim/faults") => {
                let list: Vec<Value> = self
                    .faults()
                    .into_iter()
                    .map(|(f, left)| json!({"fault": f, "remaining": left}))
                    .collect();
                ok(json!({ "faults": list }))
            }
            ("DELETE", "/_sim/faults") => {
                self.clear_faults();
                ok(json!({}))
            }
            ("PUT", "/_sim/rates") => match serde_json::from_slice::<HashMap<String, f64>>(body) {
                Ok(r) => {
                    self.set_rates(r);
                    ok(json!(self.rates()))
                }
                Err(e) => bad(format!("invalid rates: {e}")),
            },
            ("POST", "/_sim/indexing/pause") => {
                self.set_indexing_paused(true);
                ok(json!({}))
            }
            ("POST", "/_sim/indexing/resume") => {
                self.set_indexing_paused(false);
                ok(json!({}))
            }
            ("GET", "/_sim/health") => ok(json!({"status": "ok"})),
            _ => return None,
        })
    }
}

/// 200 with a JSON body.
pub fn ok(v: Value) -> Response {
    json_response(StatusCode::OK, &v)
}

/// 400 `{"error": msg}`.
pub fn bad(msg: impl std::fmt::Display) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": msg.to_string()}))
}

/// 404 for a control route no emulator knows.
pub fn unknown(method: &str, path: &str) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": format!("no control route {method} {path}")}),
    )
}
