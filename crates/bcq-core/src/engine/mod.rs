//! The sync engine: one unit (environment, company, entity) at a time, a
//! reader and a pusher joined by a bounded channel.
//!
//! ```text
//! BC pages ─▶ render + hash ─▶ compare with state ─▶ (file fetch) ─▶ channel ─▶ batches ─▶ destination (N in flight) ─▶ ack ─▶ state
//! ```
//!
//! # What a unit's run guarantees
//!
//! - **At least once.** A document's hash is stored only after the destination
//!   accepted it; acknowledgements are committed in groups ([`ACK_GROUP`]
//!   documents, or whatever arrived within [`ACK_GROUP_WAIT`]), all of them
//!   before the cursor moves. A crash loses at most one group, whose
//!   documents the next run pushes again (the destination replaces by id).
//! - **Only a complete read deletes.** A read is complete when BC's paging
//!   ended with a page without a nextLink. An error, a paging anomaly (a
//!   cycle, an empty page with a nextLink, a page of records already read,
//!   more records than the collection holds: see `bcq_bc::paging`), a stop
//!   request or a pusher failure leaves the read incomplete: nothing is
//!   deleted and the cursor stays.
//! - **The cursor never passes BC's clock.** It moves to the newest
//!   `lastModifiedDateTime` read, but never past BC's own time when the read
//!   began (its `Date` header, or bcq's clock minus the overlap when BC sends
//!   none): a record dated in the future cannot make later reads skip
//!   everything. Such records are reported as warnings.
//! - **One record per id.** An id read twice in one read (a BC bug, a
//!   proxy) is reported with both records' numbers; the first in BC's order
//!   is kept, so that every run keeps the same one.
//!
//! The reader stops when the channel is full, so memory holds at most the
//! channel plus the batches in flight, whatever the number of records. The
//! channel holds a whole page of BC's default size ([`CHANNEL_DOCS`]), so
//! that the pusher has work while the reader waits for the next page.
//!
//! # Layout
//!
//! - [`records`]: reading a record entity (and its PDFs) into documents
//! - [`attachments`]: reading the attachments pseudo-entity into file documents
//! - [`read`]: what a read saw, and where its cursor may go
//! - [`seen`]: the ids of a read (duplicates, deletions)
//! - [`push`]: batching, sending, acknowledging
//! - [`delete`]: deleting what BC no longer has, under the deletion guard

pub mod attachments;
pub mod delete;
pub mod push;
pub mod read;
pub mod records;
pub mod seen;

/// Documents between the reader and the pusher: more than one page of BC's
/// default 1,000 records. The reader asks for the next page once the last
/// document of this one is in the channel; with 256, the pusher ran dry
/// during each page's round trip (93% of the ceiling at BC's 300 ms per
/// page; 98% with 1,024, for 4–12 MB more peak memory at 100,000
/// invoices, docs/PERFORMANCE.md).
pub const CHANNEL_DOCS: usize = 1024;

/// The room a reader waits for when the channel is full (see
/// `Engine::queue`): a call's worth of documents several times over.
pub const QUEUE_ROOM: usize = 64;
// tokio refuses a `reserve_many` larger than the channel, which `queue`
// would take for a closed channel and stop reading.
const _: () = assert!(QUEUE_ROOM <= CHANNEL_DOCS);

use crate::acl::AccessPolicy;
use crate::catalog::EntitySpec;
use crate::destination::Destination;
use crate::document::{AccessControl, Document};
use crate::files;
use crate::render::RenderContext;
use bcq_bc::{BcClient, Query};
use bcq_state::{RunCounts, StateStore, UnitKey};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use read::ReadOutcome;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

pub use push::{ACK_GROUP, ACK_GROUP_WAIT};

/// Documents that failed before reaching the destination kept with their
/// reason per read (all are counted and recorded in the state store).
pub const REJECTED_KEPT: usize = 50;

/// How a run treats what it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Read what changed since the cursor; push what hashes differently.
    Incremental,
    /// Read everything, push what hashes differently, delete what BC no
    /// longer has (catches line-only edits and deletions).
    Reconcile,
    /// Read everything, push everything, delete what BC no longer has.
    Full,
}

impl Mode {
    /// The name used in summaries and the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Incremental => "incremental",
            Mode::Reconcile => "reconcile",
            Mode::Full => "full",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to stop, shared by whoever asks (a signal handler) and the
/// engine: readers stop at their next page, pushers send nothing new, wait
/// for the calls in flight and acknowledge what was accepted.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<StopInner>);

#[derive(Debug, Default)]
struct StopInner {
    requested: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Stop {
    /// Asks everything that watches this to stop.
    pub fn request(&self) {
        self.0.requested.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    /// Resolves once a stop is asked for.
    pub async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.requested() {
                return;
            }
            notified.await;
        }
    }
}

/// Engine settings, validated by the caller.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// How to treat what is read.
    pub mode: Mode,
    /// Records modified up to this long before the cursor are read again:
    /// BC stamps `lastModifiedDateTime` before its transaction commits, so a
    /// record can become visible with a timestamp just below the cursor.
    pub overlap: chrono::Duration,
    /// Also push BC's PDF of each record of entities that have one.
    pub include_pdf: bool,
    /// Batches in flight to the destination.
    pub push_concurrency: usize,
    /// PDF downloads in flight (they share BC's request budget).
    pub pdf_concurrency: usize,
    /// Deleting more than this share of a unit's known documents needs
    /// `allow_mass_delete` (a wrong company id must not empty the index).
    pub max_delete_share: f64,
    /// Override of the deletion guard.
    pub allow_mass_delete: bool,
    /// Who may read what: resolved per unit (and per attachment's parent).
    pub access: Arc<AccessPolicy>,
    /// Entities whose attachments are indexed (attachments of other
    /// records are skipped: their record is not in the index either).
    pub attachment_parents: Vec<&'static EntitySpec>,
    /// Stops the run when asked (signals).
    pub stop: Stop,
    /// How long calls in flight may take to finish after a stop request.
    pub grace: std::time::Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            mode: Mode::Incremental,
            overlap: chrono::Duration::minutes(5),
            include_pdf: false,
            push_concurrency: 8,
            pdf_concurrency: 4,
            max_delete_share: 0.10,
            allow_mass_delete: false,
            access: Arc::new(AccessPolicy::default()),
            attachment_parents: Vec::new(),
            stop: Stop::default(),
            grace: std::time::Duration::from_secs(10),
        }
    }
}

/// Live counters for progress display, updated as work happens.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records read from BC.
    pub read: AtomicU64,
    /// Documents queued for the destination.
    pub queued: AtomicU64,
    /// Documents the destination accepted.
    pub pushed: AtomicU64,
    /// Documents that failed.
    pub failed: AtomicU64,
    /// Documents deleted.
    pub deleted: AtomicU64,
    /// Records that did not need a push.
    pub unchanged: AtomicU64,
    /// Documents cut to fit the destination's limits (pushed, and reported).
    pub truncated: AtomicU64,
    /// Files not sent on purpose (a type the destination cannot read, too
    /// large), reported.
    pub skipped: AtomicU64,
    /// Attachments of records bcq does not sync (an entity not enabled, a
    /// journal line or statement): not indexed, as their record is not.
    pub unattached: AtomicU64,
}

/// One unit of work: an entity of a company in an environment.
#[derive(Clone)]
pub struct Unit {
    /// The state key.
    pub key: UnitKey,
    /// The catalog entry.
    pub spec: &'static EntitySpec,
    /// Ids and names for documents and links.
    pub ctx: RenderContext,
    /// The BC client of the unit's environment.
    pub client: BcClient,
    /// The API root the entity lives under: the client's standard root, or
    /// a custom API page's `.../api/{publisher}/{group}/{version}`.
    pub api_root: String,
    /// Read everything and delete what BC no longer has, whatever the mode.
    pub reconcile: bool,
}

/// What happened to one unit.
#[derive(Clone, Debug, Default)]
pub struct UnitReport {
    /// Document counts.
    pub counts: RunCounts,
    /// Records read.
    pub read: u64,
    /// Whether this run read the full record set (and so could delete).
    pub complete_read: bool,
    /// The cursor after the run.
    pub cursor: Option<DateTime<Utc>>,
    /// Rejected documents with reasons.
    pub rejected: Vec<crate::destination::Rejected>,
    /// Errors that stopped the unit (read errors, fatal destination errors, guard).
    pub errors: Vec<String>,
    /// What BC sent that bcq worked around (duplicates, dates in the
    /// future): the run goes on, a person should know.
    pub warnings: Vec<String>,
    /// True when the error cannot be fixed by another unit going on
    /// (the destination is unusable): the run should stop.
    pub fatal: bool,
    /// A stop was requested before the unit finished.
    pub interrupted: bool,
}

/// A document waiting for the destination.
pub(crate) struct Pending {
    pub(crate) doc: Document,
    pub(crate) hash: [u8; 32],
    pub(crate) bc_id: String,
    pub(crate) known: bool,
}

impl UnitReport {
    /// Adds a later report of the same unit (its read after deletions):
    /// counts add up, lists join, the read's cursor and completeness win.
    pub fn absorb(&mut self, later: UnitReport) {
        self.counts += later.counts;
        self.read += later.read;
        self.complete_read = later.complete_read;
        self.cursor = later.cursor;
        self.rejected.extend(later.rejected);
        self.errors.extend(later.errors);
        self.warnings.extend(later.warnings);
        self.fatal |= later.fatal;
        self.interrupted |= later.interrupted;
    }
}

/// The engine of one run.
pub struct Engine {
    dest: Arc<dyn Destination>,
    state: Arc<Mutex<StateStore>>,
    cfg: EngineConfig,
    run_id: i64,
    progress: Arc<Progress>,
}

impl Engine {
    /// An engine writing to `dest` and recording in `state` under `run_id`.
    pub fn new(
        dest: Arc<dyn Destination>,
        state: Arc<Mutex<StateStore>>,
        cfg: EngineConfig,
        run_id: i64,
        progress: Arc<Progress>,
    ) -> Self {
        Engine {
            dest,
            state,
            cfg,
            run_id,
            progress,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StateStore> {
        // A panic while holding the lock leaves SQLite consistent (every
        // write is a transaction), so a poisoned lock is safe to reuse.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Syncs one unit: reads, pushes, acknowledges, moves the cursor, and
    /// on a complete read deletes what BC no longer has.
    pub async fn sync_unit(&self, unit: &Unit) -> UnitReport {
        let mut report = UnitReport::default();
        if self.cfg.stop.requested() {
            report.interrupted = true;
            return report;
        }
        let started = Utc::now();
        let prior = match self.state().unit(&unit.key) {
            Ok(p) => p,
            Err(e) => {
                report.errors.push(format!("state store: {e}"));
                report.fatal = true;
                return report;
            }
        };
        let spec = unit.spec;
        // Settings that shape the documents (access rules, PDFs, which
        // records take attachments) changed since the last complete read:
        // every document may differ, so read everything again.
        let settings = self.settings_fingerprint(unit);
        let settings_changed = match self.state().unit_settings(&unit.key) {
            Ok(s) => s.as_deref() != Some(settings.as_str()),
            Err(e) => {
                report.errors.push(format!("state store: {e}"));
                report.fatal = true;
                return report;
            }
        };
        // A cursor far in the future was set by an earlier bcq from a record
        // dated in the future: it would make every incremental read empty.
        let future_cursor = prior
            .cursor
            .filter(|c| *c > started + chrono::Duration::days(1));
        if let Some(c) = future_cursor {
            report.warnings.push(format!(
                "the cursor of {} in {} was {c}, in the future (set by a record dated in the future); this run reads everything and sets it back",
                spec.entity_set, unit.ctx.company_name
            ));
        }
        let incremental = self.cfg.mode == Mode::Incremental
            && !unit.reconcile
            && spec.has_last_modified
            && !settings_changed
            && future_cursor.is_none();
        let filter = match (incremental, prior.cursor) {
            (true, Some(c)) => Some(format!(
                "lastModifiedDateTime gt {}",
                bcq_bc::odata_datetime(c - self.cfg.overlap)
            )),
            _ => None,
        };
        let whole = filter.is_none();
        // Only what the documents are made of: BC sends, and bcq parses,
        // a fraction of each record (attachments need their own fields).
        let (select, expand) = if files::is_attachments(spec) {
            (Vec::new(), None)
        } else {
            (
                spec.selected_fields()
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                spec.expand(),
            )
        };
        let query = Query {
            filter,
            select,
            expand,
            ..Query::default()
        };
        let url = bcq_bc::collection_url(
            &unit.api_root,
            &unit.key.company_id,
            spec.entity_set,
            &query,
        );

        let (tx, rx) = mpsc::channel::<Pending>(CHANNEL_DOCS);
        let abort = AtomicBool::new(false);
        let mut read = ReadOutcome::new(started - self.cfg.overlap);
        let push = {
            let reader = async {
                if files::is_attachments(spec) {
                    self.read_attachments(unit, url, tx, &abort, &mut read)
                        .await
                } else {
                    self.read_records(unit, url, tx, &abort, &mut read).await
                }
            };
            let (_, push) = tokio::join!(reader, self.push(unit, rx, &abort));
            push
        };
        report.counts = push.counts;
        report.counts.unchanged = read.unchanged;
        report.counts.failed += read.failed;
        report.rejected = push.rejected;
        report.rejected.append(&mut read.rejected);
        report.errors.extend(push.errors);
        report.warnings.append(&mut read.warnings);
        report.fatal = push.fatal;
        report.interrupted = read.interrupted || push.interrupted;
        report.read = read.records;
        report.cursor = prior.cursor;
        report.complete_read = whole && read.ended && !report.interrupted;
        if let Some(e) = read.error.take() {
            report.errors.push(e);
            return report;
        }
        if report.interrupted
            || report.fatal
            || report.counts.failed > 0
            || !report.errors.is_empty()
        {
            // The cursor stays: the next run re-reads from it, and hashes
            // keep what was accepted from being pushed again.
            return report;
        }
        let next = read.next_cursor(prior.cursor, future_cursor.is_some());
        if let Some(m) = next {
            let moved = if future_cursor.is_some() {
                self.state().rewind_cursor(&unit.key, m)
            } else {
                self.state().advance_cursor(&unit.key, m)
            };
            if let Err(e) = moved {
                report.errors.push(format!("state store: {e}"));
                return report;
            }
            report.cursor = Some(m);
        }
        if report.complete_read {
            let seen = read.seen.into_sorted();
            self.delete_missing(unit, &seen, &mut report).await;
            if report.errors.is_empty()
                && report.counts.failed == 0
                && let Err(e) = self.state().set_unit_settings(&unit.key, &settings)
            {
                report.errors.push(format!("state store: {e}"));
            }
        }
        report
    }

    /// A fingerprint of the settings that shape a unit's documents besides
    /// BC's data: its access control, whether PDFs go along, and for the
    /// attachments unit which records take attachments under which rules.
    fn settings_fingerprint(&self, unit: &Unit) -> String {
        use sha2::{Digest, Sha256};
        let mut parts = vec![format!(
            "acl={:?};pdf={}",
            self.access_for(unit, unit.spec.entity_set),
            self.cfg.include_pdf && unit.spec.pdf
        )];
        if files::is_attachments(unit.spec) {
            for p in &self.cfg.attachment_parents {
                parts.push(format!(
                    "{}={:?}",
                    p.entity_set,
                    self.access_for(unit, p.entity_set)
                ));
            }
        }
        hex::encode(Sha256::digest(parts.join("\n").as_bytes()))
    }

    /// A page read, counted; `None` when the read must end: the pusher
    /// stopped, a stop was requested, or the read error that ends the unit.
    fn accept_page<T>(
        &self,
        page: Result<bcq_bc::Page<T>, bcq_bc::BcError>,
        unit: &Unit,
        abort: &AtomicBool,
        out: &mut ReadOutcome,
    ) -> Option<bcq_bc::Page<T>> {
        if self.cfg.stop.requested() {
            out.interrupted = true;
            return None;
        }
        if abort.load(Ordering::Relaxed) {
            return None;
        }
        match page {
            Ok(p) => {
                out.page(&p);
                self.progress
                    .read
                    .fetch_add(p.values.len() as u64, Ordering::Relaxed);
                Some(p)
            }
            Err(e) => {
                out.error = Some(format!(
                    "reading {} of {}: {e}",
                    unit.spec.entity_set, unit.ctx.company_name
                ));
                None
            }
        }
    }

    /// The access control of documents of `entity` in the unit's company.
    fn access_for(&self, unit: &Unit, entity: &str) -> Option<AccessControl> {
        self.cfg
            .access
            .resolve(
                &unit.ctx.environment,
                &unit.ctx.company_id,
                &unit.ctx.company_name,
                entity,
            )
            .control()
            .cloned()
    }

    /// Runs `f` over `items` with as many in flight as downloads may take
    /// from BC's budget, in order.
    async fn fetch_all<T, F, Fut>(&self, items: Vec<T>, f: F) -> Vec<Fut::Output>
    where
        F: FnMut(T) -> Fut,
        Fut: std::future::Future,
    {
        stream::iter(items)
            .map(f)
            .buffered(self.cfg.pdf_concurrency.max(1))
            .collect()
            .await
    }

    /// Hands a document to the pusher; false when the pusher has stopped.
    /// When the channel is full, waits for room for [`QUEUE_ROOM`]
    /// documents, not one, so that a reader ahead of the pusher wakes once
    /// per that many documents taken instead of once per document.
    async fn queue(&self, tx: &mpsc::Sender<Pending>, p: Pending) -> bool {
        if tx.capacity() == 0 && tx.reserve_many(QUEUE_ROOM).await.is_err() {
            return false;
        }
        if tx.send(p).await.is_err() {
            return false;
        }
        self.progress.queued.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Whether a file of `len` bytes can go to the destination; if not, it
    /// is skipped and reported (never sent, never failing the run).
    fn file_fits(&self, doc_id: &str, what: &str, len: usize) -> bool {
        let limits = self.dest.limits();
        if len <= limits.max_document_bytes {
            return true;
        }
        let reason = if len > limits.max_file_bytes {
            format!(
                "{what} is {len} bytes, over {}'s {} MB limit for a document",
                self.dest.name(),
                limits.max_file_bytes / (1024 * 1024)
            )
        } else {
            let mut r = format!(
                "{what} is {len} bytes, more than can be sent inline ({} bytes)",
                limits.max_document_bytes
            );
            if let Some(hint) = limits.too_large_hint {
                r.push_str("; ");
                r.push_str(&hint);
            }
            r
        };
        self.skip(doc_id, &reason);
        false
    }

    /// Fits a document to the destination before it is hashed: what was cut
    /// is reported (the document still goes); a refusal fails the document
    /// with the destination's reason. False when refused.
    fn fit(&self, doc: &mut Document, out: &mut ReadOutcome) -> bool {
        match self.dest.fit(doc) {
            Ok(cuts) => {
                if !cuts.is_empty() {
                    self.report_truncation(&doc.id, &cuts);
                }
                true
            }
            Err(why) => {
                self.reject_now(out, &doc.id, &why);
                false
            }
        }
    }

    /// A file not sent on purpose: counted, logged and listed by `bcq status`.
    fn skip(&self, doc_id: &str, reason: &str) {
        self.progress.skipped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(doc_id, reason, "file skipped");
        if let Err(e) =
            self.state()
                .record_failure(self.run_id, doc_id, &format!("skipped: {reason}"))
        {
            tracing::error!(error = %e, "could not record a skipped file in the state store");
        }
    }

    /// A document cut to fit the destination's limits still goes out; the
    /// cut is reported in the log, the run's failures list and the summary.
    fn report_truncation(&self, doc_id: &str, cuts: &[String]) {
        self.progress.truncated.fetch_add(1, Ordering::Relaxed);
        let reason = format!(
            "truncated to fit {}'s limits (pushed): {}",
            self.dest.name(),
            cuts.join(", ")
        );
        tracing::warn!(doc_id, reason, "document truncated");
        if let Err(e) = self.state().record_failure(self.run_id, doc_id, &reason) {
            tracing::error!(error = %e, "could not record a truncation in the state store");
        }
    }

    /// A document that failed before reaching the destination: counted,
    /// logged, recorded, and (the first [`REJECTED_KEPT`] of a read) named
    /// with its reason in the unit's report.
    fn reject_now(&self, out: &mut ReadOutcome, doc_id: &str, reason: &str) {
        out.failed += 1;
        if out.rejected.len() < REJECTED_KEPT {
            out.rejected.push(crate::destination::Rejected {
                doc_id: doc_id.to_string(),
                reason: reason.to_string(),
            });
        }
        self.progress.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(doc_id, reason, "document not pushed");
        if let Err(e) = self.state().record_failure(self.run_id, doc_id, reason) {
            tracing::error!(error = %e, "could not record a failure in the state store");
        }
    }
}

/// The error of a read whose page held only records already read in it (a
/// cycle the nextLinks did not show): `what` names the collection.
fn cycle(what: &str, url: &str, again: usize) -> String {
    format!(
        "reading {what}: {}",
        bcq_bc::BcError::PagingAnomaly {
            url: url.to_string(),
            reason: format!(
                "all {again} records of the page were already read in this read (a cycle)"
            ),
        }
    )
}
