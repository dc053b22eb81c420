//! The sync engine: one unit (environment, company, entity) at a time, a
//! reader and a pusher joined by a bounded channel.
//!
//! ```text
//! BC pages ─▶ render + hash ─▶ compare with state ─▶ (PDF fetch) ─▶ channel ─▶ batches ─▶ sink (N in flight) ─▶ ack ─▶ state
//! ```
//!
//! The reader stops when the channel is full, so memory holds at most the
//! channel plus the batches in flight, whatever the number of records.
//! State moves only on acknowledgement (see the crate doc).

use crate::catalog::EntitySpec;
use crate::document::Document;
use crate::render::{self, RenderContext};
use crate::sink::{Outcome, Rejected, Sink, SinkError};
use crate::wire;
use bcq_bc::{BcClient, Query};
use bcq_state::{Ack, RunCounts, StateStore, UnitKey};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How a run treats what it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read what changed since the cursor; push what hashes differently.
    Incremental,
    /// Read everything, push what hashes differently, delete what BC no
    /// longer has (catches line-only edits and deletions).
    Reconcile,
    /// Read everything, push everything, delete what BC no longer has.
    Full,
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
    /// Batches in flight to the sink.
    pub push_concurrency: usize,
    /// PDF downloads in flight (they share BC's request budget).
    pub pdf_concurrency: usize,
    /// Deleting more than this share of a unit's known documents needs
    /// `allow_mass_delete` (a wrong company id must not empty the index).
    pub max_delete_share: f64,
    /// Override of the deletion guard.
    pub allow_mass_delete: bool,
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
        }
    }
}

/// Live counters for progress display, updated as work happens.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records read from BC.
    pub read: AtomicU64,
    /// Documents queued for the sink.
    pub queued: AtomicU64,
    /// Documents the sink accepted.
    pub pushed: AtomicU64,
    /// Documents that failed.
    pub failed: AtomicU64,
    /// Documents deleted.
    pub deleted: AtomicU64,
    /// Records that did not need a push.
    pub unchanged: AtomicU64,
    /// Documents cut to fit Q's limits (pushed, and reported).
    pub truncated: AtomicU64,
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
    /// Whether this run read the full record set.
    pub complete_read: bool,
    /// The cursor after the run.
    pub cursor: Option<DateTime<Utc>>,
    /// Rejected documents with reasons.
    pub rejected: Vec<Rejected>,
    /// Errors that stopped the unit (read errors, fatal sink errors, guard).
    pub errors: Vec<String>,
    /// True when the error cannot be fixed by another unit going on
    /// (the sink is unusable): the run should stop.
    pub fatal: bool,
}

/// A document waiting for the sink.
struct Pending {
    doc: Document,
    hash: [u8; 32],
    bc_id: String,
    known: bool,
}

/// What is kept of a document while the sink has it: enough to
/// acknowledge it, not its content.
struct Sent {
    ack: Ack,
    known: bool,
}

/// The engine of one run.
pub struct Engine<S: Sink> {
    sink: Arc<S>,
    state: Arc<Mutex<StateStore>>,
    cfg: EngineConfig,
    run_id: i64,
    progress: Arc<Progress>,
}

fn id_key(bc_id: &str) -> u64 {
    // 64-bit keys keep the seen-set of a million records small; a collision
    // can only make bcq keep a document it should delete, never the reverse.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bc_id.hash(&mut h);
    h.finish()
}

impl<S: Sink> Engine<S> {
    /// An engine writing to `sink` and recording in `state` under `run_id`.
    pub fn new(
        sink: Arc<S>,
        state: Arc<Mutex<StateStore>>,
        cfg: EngineConfig,
        run_id: i64,
        progress: Arc<Progress>,
    ) -> Self {
        Engine {
            sink,
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
        let prior = match self.state().unit(&unit.key) {
            Ok(p) => p,
            Err(e) => {
                report.errors.push(format!("state store: {e}"));
                report.fatal = true;
                return report;
            }
        };
        let spec = unit.spec;
        let incremental =
            self.cfg.mode == Mode::Incremental && !unit.reconcile && spec.has_last_modified;
        let filter = match (incremental, prior.cursor) {
            (true, Some(c)) => Some(format!(
                "lastModifiedDateTime gt {}",
                bcq_bc::odata_datetime(c - self.cfg.overlap)
            )),
            _ => None,
        };
        report.complete_read = filter.is_none();
        let query = Query {
            filter,
            expand: spec.lines.map(|l| l.nav.to_string()),
            ..Query::default()
        };
        let url = bcq_bc::collection_url(
            &unit.api_root,
            &unit.key.company_id,
            spec.entity_set,
            &query,
        );

        let (tx, rx) = mpsc::channel::<Pending>(256);
        let abort = AtomicBool::new(false);
        let mut read = ReadOutcome::default();
        let push = {
            let reader = self.read(unit, url, tx, &abort, &mut read);
            let (_, push) = tokio::join!(reader, self.push(unit, rx, &abort));
            push
        };
        report.counts = push.counts;
        report.counts.unchanged = read.unchanged;
        report.counts.failed += read.failed;
        report.rejected = push.rejected;
        report.errors.extend(push.errors);
        report.fatal = push.fatal;
        report.read = read.seen.len() as u64;
        // Sorted once for binary search: half the memory of a hash set at a
        // million records, and no rehash peaks while reading.
        read.seen.sort_unstable();
        read.seen.dedup();
        report.cursor = prior.cursor;
        let (max_seen, seen) = (read.max_seen, read.seen);
        if let Some(e) = read.error {
            report.errors.push(e);
            return report;
        }
        if report.fatal || report.counts.failed > 0 || !report.errors.is_empty() {
            // The cursor stays: the next run re-reads from it, and hashes
            // keep what was accepted from being pushed again.
            return report;
        }
        if let Some(m) = max_seen.filter(|m| prior.cursor.is_none_or(|c| *m > c)) {
            if let Err(e) = self.state().advance_cursor(&unit.key, m) {
                report.errors.push(format!("state store: {e}"));
                return report;
            }
            report.cursor = Some(m);
        }
        if report.complete_read {
            self.delete_missing(unit, &seen, &mut report).await;
        }
        report
    }

    /// The reader: pages → documents → changed ones into the channel,
    /// recording what it saw in `out`. Returns early when the pusher stops.
    async fn read(
        &self,
        unit: &Unit,
        url: String,
        tx: mpsc::Sender<Pending>,
        abort: &AtomicBool,
        out: &mut ReadOutcome,
    ) {
        let spec = unit.spec;
        let full = self.cfg.mode == Mode::Full;
        let with_pdf = self.cfg.include_pdf && spec.pdf;
        let mut pages = std::pin::pin!(unit.client.pages(url));
        while let Some(page) = pages.next().await {
            if abort.load(Ordering::Relaxed) {
                return;
            }
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    out.error = Some(format!(
                        "reading {} of {}: {e}",
                        spec.entity_set, unit.ctx.company_name
                    ));
                    return;
                }
            };
            self.progress
                .read
                .fetch_add(page.values.len() as u64, Ordering::Relaxed);
            let mut rendered = Vec::with_capacity(page.values.len());
            for record in &page.values {
                if let Some(t) = wire::datetime(record, "lastModifiedDateTime") {
                    out.max_seen = Some(out.max_seen.map_or(t, |m| m.max(t)));
                }
                match render::render(spec, &unit.ctx, record) {
                    Ok(doc) => {
                        let cuts = crate::constraints::truncations(&doc);
                        if !cuts.is_empty() {
                            self.report_truncation(&doc.id, &cuts);
                        }
                        let bc_id = render::bc_id(record).unwrap_or_default();
                        out.seen.push(id_key(&bc_id));
                        let hash = doc.content_hash();
                        rendered.push((doc, hash, bc_id, record));
                    }
                    Err(e) => {
                        out.failed += 1;
                        self.reject_now(&format!("{}/?", spec.entity_set), &e.to_string());
                    }
                }
            }
            let mut ids: Vec<String> = rendered.iter().map(|(d, ..)| d.id.clone()).collect();
            if with_pdf {
                ids.extend(rendered.iter().map(|(d, ..)| render::pdf_doc_id(&d.id)));
            }
            let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let known = match self.state().hashes(&id_refs) {
                Ok(k) => k,
                Err(e) => {
                    out.error = Some(format!("state store: {e}"));
                    return;
                }
            };
            let mut pdf_wanted = Vec::new();
            for (doc, hash, bc_id, record) in rendered {
                let prior = known.get(&doc.id);
                if with_pdf {
                    let pdf_prior = known.get(&render::pdf_doc_id(&doc.id));
                    if full || pdf_prior != Some(&hash) {
                        pdf_wanted.push((
                            doc.clone(),
                            hash,
                            bc_id.clone(),
                            record,
                            pdf_prior.is_some(),
                        ));
                    }
                }
                if full || prior != Some(&hash) {
                    let p = Pending {
                        doc,
                        hash,
                        bc_id,
                        known: prior.is_some(),
                    };
                    if tx.send(p).await.is_err() {
                        return;
                    }
                    self.progress.queued.fetch_add(1, Ordering::Relaxed);
                } else {
                    out.unchanged += 1;
                    self.progress.unchanged.fetch_add(1, Ordering::Relaxed);
                }
            }
            if !pdf_wanted.is_empty() {
                let root = unit.api_root.clone();
                let fetched: Vec<_> = stream::iter(pdf_wanted)
                    .map(|(doc, hash, bc_id, record, known)| {
                        let url = format!(
                            "{root}/companies({})/{}({bc_id})/pdfDocument/pdfDocumentContent",
                            unit.key.company_id, spec.entity_set
                        );
                        async move {
                            let bytes = unit.client.get_bytes(&url).await;
                            (doc, hash, bc_id, record, known, bytes)
                        }
                    })
                    .buffered(self.cfg.pdf_concurrency.max(1))
                    .collect()
                    .await;
                for (doc, hash, bc_id, record, known, bytes) in fetched {
                    match bytes {
                        Ok(b) if b.len() > wire::MAX_FILE_BYTES => {
                            out.failed += 1;
                            self.reject_now(
                                &render::pdf_doc_id(&doc.id),
                                &format!("pdf is {} bytes, over q's 50 MB limit; skipped", b.len()),
                            );
                        }
                        Ok(b) => {
                            let pdf =
                                render::pdf_document(spec, &unit.ctx, record, &doc, b.to_vec());
                            let p = Pending {
                                doc: pdf,
                                hash,
                                bc_id,
                                known,
                            };
                            if tx.send(p).await.is_err() {
                                return;
                            }
                            self.progress.queued.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            out.failed += 1;
                            self.reject_now(
                                &render::pdf_doc_id(&doc.id),
                                &format!("downloading the pdf: {e}"),
                            );
                        }
                    }
                }
            }
        }
    }

    /// A document cut to fit Q's limits still goes out; the cut is
    /// reported in the log, the run's failures list and the summary.
    fn report_truncation(&self, doc_id: &str, cuts: &[String]) {
        self.progress.truncated.fetch_add(1, Ordering::Relaxed);
        let reason = format!("truncated to fit Q's limits (pushed): {}", cuts.join(", "));
        tracing::warn!(doc_id, reason, "document truncated");
        if let Err(e) = self.state().record_failure(self.run_id, doc_id, &reason) {
            tracing::error!(error = %e, "could not record a truncation in the state store");
        }
    }

    fn reject_now(&self, doc_id: &str, reason: &str) {
        self.progress.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(doc_id, reason, "document not pushed");
        if let Err(e) = self.state().record_failure(self.run_id, doc_id, reason) {
            tracing::error!(error = %e, "could not record a failure in the state store");
        }
    }

    /// The pusher: channel → batches → sink, acknowledging as calls return.
    async fn push(
        &self,
        unit: &Unit,
        mut rx: mpsc::Receiver<Pending>,
        abort: &AtomicBool,
    ) -> PushResult {
        let mut result = PushResult::default();
        let max_batch = self.sink.max_batch().max(1);
        let max_bytes = self.sink.max_batch_bytes();
        let concurrency = self.cfg.push_concurrency.max(1);
        let mut inflight: JoinSet<(Vec<Sent>, Result<Outcome, SinkError>)> = JoinSet::new();
        let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
        let mut batch_bytes = 0usize;
        let mut open = true;
        loop {
            let want_more = open && inflight.len() < concurrency;
            tokio::select! {
                biased;
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    self.settle(unit, done, &mut result, abort);
                }
                item = rx.recv(), if want_more => match item {
                    Some(p) => {
                        let size = p.doc.wire_size();
                        if !batch.is_empty() && (batch.len() >= max_batch || batch_bytes + size > max_bytes) {
                            self.spawn_put(&mut inflight, std::mem::take(&mut batch));
                            batch_bytes = 0;
                        }
                        batch_bytes += size;
                        batch.push(p);
                        if batch.len() >= max_batch {
                            self.spawn_put(&mut inflight, std::mem::take(&mut batch));
                            batch_bytes = 0;
                        }
                    }
                    None => {
                        open = false;
                        if !batch.is_empty() {
                            self.spawn_put(&mut inflight, std::mem::take(&mut batch));
                        }
                    }
                },
                else => break,
            }
            if abort.load(Ordering::Relaxed) && open {
                // Dropping the receiver stops the reader at its next send.
                rx.close();
                open = false;
                batch.clear();
            }
        }
        result
    }

    fn spawn_put(
        &self,
        inflight: &mut JoinSet<(Vec<Sent>, Result<Outcome, SinkError>)>,
        batch: Vec<Pending>,
    ) {
        let sink = self.sink.clone();
        // The documents move to the sink; only their acknowledgements stay.
        let (docs, sent): (Vec<Document>, Vec<Sent>) = batch
            .into_iter()
            .map(|p| {
                let ack = Ack {
                    doc_id: p.doc.id.clone(),
                    bc_id: p.bc_id,
                    content_hash: p.hash,
                };
                (
                    p.doc,
                    Sent {
                        ack,
                        known: p.known,
                    },
                )
            })
            .unzip();
        inflight.spawn(async move {
            let r = sink.put(docs).await;
            (sent, r)
        });
    }

    fn settle(
        &self,
        unit: &Unit,
        done: Result<(Vec<Sent>, Result<Outcome, SinkError>), tokio::task::JoinError>,
        result: &mut PushResult,
        abort: &AtomicBool,
    ) {
        let (batch, outcome) = match done {
            Ok(x) => x,
            Err(e) => {
                result.errors.push(format!("a push task failed: {e}"));
                result.fatal = true;
                abort.store(true, Ordering::Relaxed);
                return;
            }
        };
        let rejected = match outcome {
            Ok(o) => o.rejected,
            Err(e) => {
                if e.fatal {
                    if !result.fatal {
                        result.errors.push(e.message.clone());
                    }
                    result.fatal = true;
                    abort.store(true, Ordering::Relaxed);
                }
                batch
                    .iter()
                    .map(|s| Rejected {
                        doc_id: s.ack.doc_id.clone(),
                        reason: e.message.clone(),
                    })
                    .collect()
            }
        };
        let refused: HashSet<&str> = rejected.iter().map(|r| r.doc_id.as_str()).collect();
        let mut acks = Vec::with_capacity(batch.len());
        for s in batch {
            if refused.contains(s.ack.doc_id.as_str()) {
                continue;
            }
            if s.known {
                result.counts.updated += 1;
            } else {
                result.counts.added += 1;
            }
            acks.push(s.ack);
        }
        let mut state = self.state();
        if !acks.is_empty() {
            if let Err(e) = state.commit_acks(&unit.key, self.run_id, &acks) {
                result.errors.push(format!("state store: {e}"));
                result.fatal = true;
                abort.store(true, Ordering::Relaxed);
            }
            self.progress
                .pushed
                .fetch_add(acks.len() as u64, Ordering::Relaxed);
        }
        for r in &rejected {
            result.counts.failed += 1;
            self.progress.failed.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = state.record_failure(self.run_id, &r.doc_id, &r.reason) {
                tracing::error!(error = %e, "could not record a failure in the state store");
            }
        }
        result.rejected.extend(rejected);
    }

    /// After a complete read: delete from the sink the documents of records
    /// BC no longer has, unless that would delete more than the guard allows.
    async fn delete_missing(&self, unit: &Unit, seen: &[u64], report: &mut UnitReport) {
        // Streamed from the store: collecting a million (doc id, BC id)
        // pairs would cost more memory than the whole rest of the run.
        let mut known = 0usize;
        let mut gone: Vec<String> = Vec::new();
        let visited = self
            .state()
            .for_each_document_of_unit(&unit.key, |doc_id, bc_id| {
                known += 1;
                if seen.binary_search(&id_key(bc_id)).is_err() {
                    gone.push(doc_id.to_string());
                }
            });
        if let Err(e) = visited {
            report.errors.push(format!("state store: {e}"));
            return;
        }
        if gone.is_empty() {
            let _ = self.state().mark_reconciled(&unit.key, Utc::now());
            return;
        }
        let share = gone.len() as f64 / known.max(1) as f64;
        if share > self.cfg.max_delete_share && !self.cfg.allow_mass_delete {
            report.errors.push(format!(
                "deletion guard: {} of {} known documents of {} in {} ({:.1}%) are gone from business central, more than the allowed {:.1}%; nothing was deleted. check the company and environment, then run again with --allow-mass-delete if this is intended",
                gone.len(),
                known,
                unit.spec.entity_set,
                unit.ctx.company_name,
                share * 100.0,
                self.cfg.max_delete_share * 100.0
            ));
            return;
        }
        for chunk in gone.chunks(self.sink.max_batch().max(1)) {
            match self.sink.delete(chunk.to_vec()).await {
                Ok(o) => {
                    let refused: HashSet<&str> =
                        o.rejected.iter().map(|r| r.doc_id.as_str()).collect();
                    let done: Vec<String> = chunk
                        .iter()
                        .filter(|id| !refused.contains(id.as_str()))
                        .cloned()
                        .collect();
                    if let Err(e) = self.state().commit_deletes(&done) {
                        report.errors.push(format!("state store: {e}"));
                        return;
                    }
                    report.counts.deleted += done.len() as u64;
                    self.progress
                        .deleted
                        .fetch_add(done.len() as u64, Ordering::Relaxed);
                    for r in o.rejected {
                        report.counts.failed += 1;
                        let _ = self.state().record_failure(
                            self.run_id,
                            &r.doc_id,
                            &format!("delete: {}", r.reason),
                        );
                        report.rejected.push(r);
                    }
                }
                Err(e) => {
                    report.errors.push(format!("deleting documents: {e}"));
                    report.fatal |= e.fatal;
                    return;
                }
            }
        }
        if report.counts.failed == 0 {
            let _ = self.state().mark_reconciled(&unit.key, Utc::now());
        }
    }
}

/// What the reader saw.
#[derive(Default)]
struct ReadOutcome {
    /// A read error that ended the unit early.
    error: Option<String>,
    /// The newest `lastModifiedDateTime` seen.
    max_seen: Option<DateTime<Utc>>,
    /// Keys of the BC ids seen (sorted after the read).
    seen: Vec<u64>,
    /// Records that did not need a push.
    unchanged: u64,
    /// Documents that failed before reaching the sink (render, PDF download).
    failed: u64,
}

#[derive(Default)]
struct PushResult {
    counts: RunCounts,
    rejected: Vec<Rejected>,
    errors: Vec<String>,
    fatal: bool,
}
