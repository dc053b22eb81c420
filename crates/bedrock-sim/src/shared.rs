//! State shared by the HTTP handlers, the indexer, the preparation tasks
//! and [`crate::Control`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aws_sim::faults::{FaultModel, Faults};
use aws_sim::schedule::Queue;
use aws_sim::throttle::Throttle;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config::BedrockSimConfig;
use crate::error::BedrockError;
use crate::state::KnowledgeBase;

/// Request counters (`GET /_sim/counts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Signed requests that reached an operation, by operation name.
    pub by_operation: BTreeMap<String, u64>,
    /// Requests answered 429 by the token buckets or a throttling fault.
    pub throttled: u64,
    /// Documents accepted by IngestKnowledgeBaseDocuments.
    pub documents_ingested: u64,
    /// Documents accepted by DeleteKnowledgeBaseDocuments.
    pub documents_deleted: u64,
    /// Calls answered from the idempotency record of their `clientToken`.
    pub idempotent_replays: u64,
}

/// The next step of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// STARTING → PENDING.
    Pending,
    /// PENDING → IN_PROGRESS.
    InProgress,
    /// IN_PROGRESS → INDEXED, FAILED or IGNORED (once prepared).
    Finish,
    /// DELETING → DELETE_IN_PROGRESS.
    DeleteInProgress,
    /// DELETE_IN_PROGRESS → gone.
    Remove,
}

/// A scheduled transition of one document.
#[derive(Debug, Clone)]
pub struct Event {
    /// Data source.
    pub ds: String,
    /// Document id.
    pub doc: String,
    /// Generation the event was scheduled for (stale ones are ignored).
    pub generation: u64,
    /// What happens.
    pub stage: Stage,
}

/// What a `clientToken` was first used for, and the answer it got.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// SHA-256 of the request (path labels and body without the token),
    /// not the request itself: a body holds up to 10 documents' content,
    /// and keeping it made the emulator hold ~100 KB per document ingested.
    pub request: [u8; 32],
    /// The answer, as JSON text (smaller than a `Value` tree).
    pub response: String,
}

/// `clientToken` records kept: the most recent ones, the oldest forgotten
/// first. A client retries a call within seconds or minutes; 10,000 calls
/// are over 16 minutes at the default 10 calls a second, and bound the
/// records to a few tens of MB however many documents pass through.
pub const TOKEN_RECORDS: usize = 10_000;

/// A `clientToken` record's key: (operation, data source, token).
pub type TokenKey = (String, String, String);

/// The `clientToken` records, at most [`TOKEN_RECORDS`].
#[derive(Debug, Default)]
pub struct Tokens {
    records: HashMap<TokenKey, TokenRecord>,
    order: VecDeque<TokenKey>,
}

impl Tokens {
    /// The record of a token, unless never used or forgotten.
    pub fn get(&self, key: &TokenKey) -> Option<&TokenRecord> {
        self.records.get(key)
    }

    /// Records a token's first use, forgetting the oldest beyond the bound.
    pub fn insert(&mut self, key: TokenKey, record: TokenRecord) {
        if self.records.insert(key.clone(), record).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > TOKEN_RECORDS {
            if let Some(old) = self.order.pop_front() {
                self.records.remove(&old);
            }
        }
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Mutable part, behind one mutex (no await while held).
pub struct Inner {
    /// The knowledge base and everything in it.
    pub kb: KnowledgeBase,
    /// Pending transitions.
    pub queue: Queue<Event>,
    /// Counters.
    pub counts: Counts,
    /// Active faults.
    pub faults: Faults<BedrockError>,
    /// Token buckets.
    pub throttle: Throttle,
    /// Transitions are held (test seam: makes STARTING observable without timing).
    pub paused: bool,
    /// `clientToken` records.
    pub tokens: Tokens,
    /// Pagination cursors: token → last key returned.
    pub cursors: HashMap<String, String>,
    /// Last generation given to a document version or deletion (one
    /// counter for all, so that a document deleted and ingested again never
    /// meets a stale transition of its earlier life).
    pub generation: u64,
}

impl Inner {
    /// Schedules an event `after` from now.
    pub fn schedule(&mut self, after: Duration, ev: Event) {
        self.queue.schedule(Instant::now() + after, ev);
    }

    /// A new pagination token that resumes after `last`.
    pub fn cursor(&mut self, last: &str) -> String {
        // Bounded: an emulator's cursors are short-lived; the oldest are not
        // worth tracking, so the table simply restarts when full.
        if self.cursors.len() >= 100_000 {
            self.cursors.clear();
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.cursors.insert(token.clone(), last.to_string());
        token
    }
}

/// Everything the emulator's tasks share.
pub struct Shared {
    /// Configuration (rates in it are the start values; live ones are in the throttle).
    pub cfg: BedrockSimConfig,
    /// Mutable state.
    pub inner: Mutex<Inner>,
    /// Wakes the indexer when an earlier deadline is scheduled.
    pub wake: Notify,
}

impl Shared {
    /// The state of a new emulator: the configured knowledge base and data
    /// sources, no documents.
    pub fn new(cfg: BedrockSimConfig) -> std::sync::Arc<Shared> {
        let inner = Inner {
            kb: KnowledgeBase::from_config(&cfg),
            queue: Queue::default(),
            counts: Counts::default(),
            faults: Faults::with_seed(cfg.fault_seed),
            throttle: Throttle::new(cfg.rates.clone()),
            paused: false,
            tokens: Tokens::default(),
            cursors: HashMap::new(),
            generation: 0,
        };
        std::sync::Arc::new(Shared {
            cfg,
            inner: Mutex::new(inner),
            wake: Notify::new(),
        })
    }

    /// Locks the state; a poisoned lock (a panicking handler) is recovered
    /// because the data stays consistent per operation.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        aws_sim::control::Emulator::lock(self)
    }
}

/// The served operations as the fault table sees them.
pub struct BedrockModel;

impl FaultModel<BedrockError> for BedrockModel {
    fn serves(&self, operation: &str) -> bool {
        crate::routes::route(operation).is_some()
    }

    fn modeled_error(
        &self,
        operation: &str,
        status: Option<u16>,
        error: Option<&str>,
    ) -> Option<BedrockError> {
        crate::routes::modeled_error(operation, status, error)
    }

    fn throttling(&self, _operation: &str) -> BedrockError {
        BedrockError::Throttling("Rate exceeded".into())
    }

    fn is_throttling(&self, e: &BedrockError) -> bool {
        matches!(e, BedrockError::Throttling(_))
    }

    fn partial_failure_operations(&self) -> &[&str] {
        // A Bedrock call either fails whole or answers a status per
        // document: no operation returns failed items beside a success.
        &[]
    }
}

aws_sim::impl_knobs!(
    Inner,
    error = BedrockError,
    event = Event,
    apply = crate::indexer::apply
);

aws_sim::impl_emulator!(Shared, inner = Inner, model = BedrockModel);
