//! State shared by the HTTP handlers, the indexer task and [`crate::Control`].

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config::QSimConfig;
use crate::faults::Faults;
use crate::state::State;
use aws_sim::schedule::Queue;
use aws_sim::throttle::Throttle;

/// Request counters (`GET /_sim/counts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Signed requests that reached an operation, by operation name.
    pub by_operation: BTreeMap<String, u64>,
    /// Requests answered 429 by the token buckets or a `throttle_burst` fault.
    pub throttled: u64,
    /// Documents accepted by BatchPutDocument.
    pub documents_put: u64,
    /// Documents accepted by BatchDeleteDocument.
    pub documents_deleted: u64,
}

/// A scheduled transition.
#[derive(Debug, Clone)]
pub enum Event {
    /// Move a document one stage on (stage 1: PROCESSING or DELETED; stage 2: final / removal).
    Doc {
        /// Application.
        app: String,
        /// Index.
        index: String,
        /// Document id.
        doc: String,
        /// Generation the event was scheduled for.
        generation: u64,
        /// 1 or 2.
        stage: u8,
    },
    /// Finish a stopped job (SYNCING_INDEXING → final status).
    Job {
        /// Application.
        app: String,
        /// Index.
        index: String,
        /// Data source.
        ds: String,
        /// Execution id.
        exec: String,
    },
}

/// Mutable part, behind one mutex (no await while held).
pub struct Inner {
    /// Resources.
    pub state: State,
    /// Pending transitions by deadline.
    pub queue: Queue<Event>,
    /// Counters.
    pub counts: Counts,
    /// Active faults.
    pub faults: Faults,
    /// Token buckets.
    pub throttle: Throttle,
    /// State changed since the last persist.
    pub dirty: bool,
    /// Transitions are held (test seam: makes RECEIVED/SYNCING_INDEXING observable without timing).
    pub paused: bool,
}

impl Inner {
    /// Schedules an event.
    pub fn schedule(&mut self, at: Instant, ev: Event) {
        self.queue.schedule(at, ev);
    }
}

/// Everything the emulator's tasks share.
pub struct Shared {
    /// Configuration (rates in it are the start values; live ones are in the throttle).
    pub cfg: QSimConfig,
    /// Mutable state.
    pub inner: Mutex<Inner>,
    /// Wakes the indexer when an earlier deadline is scheduled.
    pub wake: Notify,
}

impl Shared {
    /// Locks the state; a poisoned lock (a panicking handler) is recovered
    /// because the data stays consistent per operation.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        aws_sim::control::Emulator::lock(self)
    }
}

aws_sim::impl_knobs!(
    Inner,
    error = crate::error::QError,
    event = Event,
    apply = crate::indexer::apply
);

aws_sim::impl_emulator!(Shared, inner = Inner, model = crate::faults::QModel);
