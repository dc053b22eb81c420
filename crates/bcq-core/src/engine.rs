//! The sync engine: one unit (environment, company, entity) at a time, a
//! reader and a pusher joined by a bounded channel.
//!
//! ```text
//! BC pages ─▶ render + hash ─▶ compare with state ─▶ (PDF fetch) ─▶ channel ─▶ batches ─▶ sink (N in flight) ─▶ ack ─▶ state
//! ```
//!
//! The reader stops when the channel is full, so memory holds at most the
//! channel plus the batches in flight, whatever the number of records.
//! State moves only on acknowledgement (see the crate doc). Acknowledgements
//! are committed in groups ([`ACK_GROUP`] documents, or whatever arrived
//! within [`ACK_GROUP_WAIT`]), and all of them before the unit's cursor
//! moves: a crash loses at most one group, whose documents the next run
//! pushes again (Q replaces a document by id, so nothing is duplicated).

use crate::acl::AccessPolicy;
use crate::catalog::EntitySpec;
use crate::document::{AccessControl, Document};
use crate::files;
use crate::render::{self, RenderContext};
use crate::sink::{Outcome, Rejected, Sink, SinkError};
use crate::wire;
use bcq_bc::{BcClient, Query};
use bcq_state::{Ack, RunCounts, StateStore, UnitKey};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Acknowledgements committed to the state store in one transaction: one
/// SQLite commit per Q response (10 documents) cost 10–22 µs per document,
/// groups of 250 about 4 (`cargo bench -p bcq-state`, docs/PERFORMANCE.md).
pub const ACK_GROUP: usize = 250;

/// The longest an acknowledgement waits for its group to fill, so that a
/// slow sync still records its progress every second or so.
pub const ACK_GROUP_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

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
    /// Who may read what: resolved per unit (and per attachment's parent).
    pub access: Arc<AccessPolicy>,
    /// Entities whose attachments are indexed (attachments of other
    /// records are skipped: their record is not in Q either).
    pub attachment_parents: Vec<&'static EntitySpec>,
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
    /// Files not sent on purpose (type Q cannot read, too large), reported.
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

/// An attachment on its way from BC's metadata to a file document.
struct FileJob<'a> {
    /// The attachment's BC record.
    meta: &'a serde_json::Value,
    /// Its hash: metadata and access control (the file is not read for it).
    hash: [u8; 32],
    doc_id: String,
    bc_id: String,
    /// `entity/id` of the record it is attached to.
    parent: String,
    parent_spec: &'static EntitySpec,
    parent_id: String,
    /// The record's access control, which the file takes.
    acl: Option<AccessControl>,
    content_type: crate::document::ContentType,
    /// Whether the state store knew the document.
    known: bool,
}

impl<'a> FileJob<'a> {
    fn file_name(&self) -> &'a str {
        wire::text(self.meta, "fileName").unwrap_or_default()
    }
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
        let incremental = self.cfg.mode == Mode::Incremental
            && !unit.reconcile
            && spec.has_last_modified
            && !settings_changed;
        let filter = match (incremental, prior.cursor) {
            (true, Some(c)) => Some(format!(
                "lastModifiedDateTime gt {}",
                bcq_bc::odata_datetime(c - self.cfg.overlap)
            )),
            _ => None,
        };
        report.complete_read = filter.is_none();
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
        if files::is_attachments(unit.spec) {
            return self.read_attachments(unit, url, tx, abort, out).await;
        }
        let spec = unit.spec;
        let full = self.cfg.mode == Mode::Full;
        let with_pdf = self.cfg.include_pdf && spec.pdf;
        let acl = self.access_for(unit, spec.entity_set);
        // Records, not serde_json::Values: a fraction of the allocations
        // per record (see bcq_bc::record).
        let mut pages = std::pin::pin!(unit.client.pages_of::<bcq_bc::Record>(url));
        while let Some(page) = pages.next().await {
            let Some(page) = self.accept_page(page, unit, abort, out) else {
                return;
            };
            let mut rendered = Vec::with_capacity(page.values.len());
            for record in &page.values {
                out.saw(record);
                match render::render(spec, &unit.ctx, record) {
                    Ok(mut doc) => {
                        doc.access = acl.clone();
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
                    if !self.queue(&tx, p).await {
                        return;
                    }
                } else {
                    out.unchanged += 1;
                    self.progress.unchanged.fetch_add(1, Ordering::Relaxed);
                }
            }
            if !pdf_wanted.is_empty() {
                let root = unit.api_root.clone();
                let fetched = self
                    .fetch_all(pdf_wanted, |(doc, hash, bc_id, record, known)| {
                        let url = format!(
                            "{root}/companies({})/{}({bc_id})/pdfDocument/pdfDocumentContent",
                            unit.key.company_id, spec.entity_set
                        );
                        async move {
                            let bytes = unit.client.get_bytes(&url).await;
                            (doc, hash, bc_id, record, known, bytes)
                        }
                    })
                    .await;
                for (doc, hash, bc_id, record, known, bytes) in fetched {
                    match bytes {
                        Ok(b)
                            if !self.file_fits(
                                &render::pdf_doc_id(&doc.id),
                                "the pdf",
                                b.len(),
                            ) => {}
                        Ok(b) => {
                            let pdf =
                                render::pdf_document(spec, &unit.ctx, record, &doc, b.to_vec());
                            let p = Pending {
                                doc: pdf,
                                hash,
                                bc_id,
                                known,
                            };
                            if !self.queue(&tx, p).await {
                                return;
                            }
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

    /// A page read, counted; `None` when the pusher stopped or on the read
    /// error that ends the unit.
    fn accept_page<T>(
        &self,
        page: Result<bcq_bc::Page<T>, bcq_bc::BcError>,
        unit: &Unit,
        abort: &AtomicBool,
        out: &mut ReadOutcome,
    ) -> Option<bcq_bc::Page<T>> {
        if abort.load(Ordering::Relaxed) {
            return None;
        }
        match page {
            Ok(p) => {
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

    /// Whether a file of `len` bytes can go to the sink; if not, it is
    /// skipped and reported (never sent, never failing the run).
    fn file_fits(&self, doc_id: &str, what: &str, len: usize) -> bool {
        let max = self.sink.max_document_bytes();
        if len <= max {
            return true;
        }
        let reason = if len > wire::MAX_FILE_BYTES {
            format!("{what} is {len} bytes, over Q Business's 50 MB limit for a document")
        } else {
            format!(
                "{what} is {len} bytes, more than can be sent inline ({max} bytes); set files.s3_bucket (BCQ_S3_BUCKET) to send large files through S3"
            )
        };
        self.skip(doc_id, &reason);
        false
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

    /// The reader of the attachments unit: attachment records → (when new or
    /// changed) their record and file → file documents into the channel.
    /// Change detection is on the attachment's metadata and access control,
    /// so an unchanged attachment costs no download, and a file whose
    /// record cannot be found is not downloaded either.
    async fn read_attachments(
        &self,
        unit: &Unit,
        url: String,
        tx: mpsc::Sender<Pending>,
        abort: &AtomicBool,
        out: &mut ReadOutcome,
    ) {
        let full = self.cfg.mode == Mode::Full;
        let root = &unit.api_root;
        let company = &unit.key.company_id;
        // Records files are attached to, by `entity/id`, without their content.
        let mut parents: HashMap<String, Option<Document>> = HashMap::new();
        // The access control of each parent entity, resolved once.
        let mut acls: HashMap<&'static str, Option<AccessControl>> = HashMap::new();
        let mut pages = std::pin::pin!(unit.client.pages(url));
        while let Some(page) = pages.next().await {
            let Some(page) = self.accept_page(page, unit, abort, out) else {
                return;
            };
            let mut jobs = Vec::with_capacity(page.values.len());
            for meta in &page.values {
                out.saw(meta);
                let Some(bc_id) = render::bc_id(meta) else {
                    out.failed += 1;
                    self.reject_now("documentAttachments/?", "attachment record has no id");
                    continue;
                };
                out.seen.push(id_key(&bc_id));
                let parent_set = wire::text(meta, "parentType").and_then(files::parent_entity_set);
                let Some(parent_spec) = parent_set.and_then(|set| {
                    self.cfg
                        .attachment_parents
                        .iter()
                        .copied()
                        .find(|s| s.entity_set == set)
                }) else {
                    // Its record is not synced (entity not enabled, or a
                    // journal or statement attachment): nothing to attach to.
                    self.progress.unattached.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let acl = acls
                    .entry(parent_spec.entity_set)
                    .or_insert_with(|| self.access_for(unit, parent_spec.entity_set))
                    .clone();
                let doc_id = files::attachment_doc_id(&unit.ctx, &bc_id);
                let fingerprint = Document {
                    id: doc_id.clone(),
                    title: String::new(),
                    content_type: crate::document::ContentType::PlainText,
                    content: [
                        "fileName",
                        "byteSize",
                        "parentType",
                        "parentId",
                        "lastModifiedDateTime",
                    ]
                    .iter()
                    .map(|f| meta.get(*f).map(|v| v.to_string()).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\u{1f}")
                    .into_bytes(),
                    attributes: Vec::new(),
                    access: acl,
                };
                let parent_id = wire::text(meta, "parentId")
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                jobs.push(FileJob {
                    meta,
                    hash: fingerprint.content_hash(),
                    doc_id,
                    bc_id,
                    parent: format!("{}/{parent_id}", parent_spec.entity_set),
                    parent_spec,
                    parent_id,
                    acl: fingerprint.access,
                    content_type: crate::document::ContentType::PlainText,
                    known: false,
                });
            }
            let ids: Vec<&str> = jobs.iter().map(|j| j.doc_id.as_str()).collect();
            let known = match self.state().hashes(&ids) {
                Ok(k) => k,
                Err(e) => {
                    out.error = Some(format!("state store: {e}"));
                    return;
                }
            };
            let mut wanted = Vec::new();
            for mut job in jobs {
                let prior = known.get(&job.doc_id);
                if !full && prior == Some(&job.hash) {
                    out.unchanged += 1;
                    self.progress.unchanged.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let file_name = job.file_name();
                job.content_type = match files::content_type_of(file_name) {
                    Ok(c) => c,
                    Err(why) => {
                        self.skip(&job.doc_id, &format!("{file_name}: {why}"));
                        continue;
                    }
                };
                let size = job.meta.get("byteSize").and_then(serde_json::Value::as_u64);
                if let Some(n) = size
                    && !self.file_fits(&job.doc_id, file_name, n as usize)
                {
                    continue;
                }
                job.known = prior.is_some();
                wanted.push(job);
            }
            // The records the files are attached to, once per run each.
            let mut asked = HashSet::new();
            let missing: Vec<&FileJob> = wanted
                .iter()
                .filter(|j| !parents.contains_key(&j.parent) && asked.insert(j.parent.as_str()))
                .collect();
            let looked_up = self
                .fetch_all(missing, |j| async move {
                    let purl = format!(
                        "{root}/companies({company})/{}({})",
                        j.parent_spec.entity_set, j.parent_id
                    );
                    (j, unit.client.get_json(&purl).await)
                })
                .await;
            for (j, got) in looked_up {
                let parent = match got {
                    Ok(record) => {
                        render::render(j.parent_spec, &unit.ctx, &record)
                            .ok()
                            .map(|mut d| {
                                d.access = j.acl.clone();
                                d.content = Vec::new();
                                d
                            })
                    }
                    Err(e) if e.status() == Some(404) => None,
                    Err(e) => {
                        out.error = Some(format!(
                            "reading the record {} of an attachment in {}: {e}",
                            j.parent, unit.ctx.company_name
                        ));
                        return;
                    }
                };
                parents.insert(j.parent.clone(), parent);
            }
            // A file whose record is gone is not downloaded.
            wanted.retain(|j| {
                let found = matches!(parents.get(&j.parent), Some(Some(_)));
                if !found {
                    self.skip(
                        &j.doc_id,
                        "the record it is attached to was not found in business central",
                    );
                }
                found
            });
            let fetched = self
                .fetch_all(wanted, |j| async move {
                    let url = format!(
                        "{root}/companies({company})/documentAttachments({})/attachmentContent",
                        j.bc_id
                    );
                    let bytes = unit.client.get_bytes(&url).await;
                    (j, bytes)
                })
                .await;
            for (j, bytes) in fetched {
                let Some(Some(parent)) = parents.get(&j.parent) else {
                    continue;
                };
                let b = match bytes {
                    Ok(b) => b,
                    Err(e) => {
                        out.failed += 1;
                        self.reject_now(&j.doc_id, &format!("downloading {}: {e}", j.file_name()));
                        continue;
                    }
                };
                if !self.file_fits(&j.doc_id, j.file_name(), b.len()) {
                    continue;
                }
                let doc = files::attachment_document(
                    &unit.ctx,
                    j.meta,
                    parent,
                    j.content_type,
                    b.to_vec(),
                );
                let p = Pending {
                    doc,
                    hash: j.hash,
                    bc_id: j.bc_id,
                    known: j.known,
                };
                if !self.queue(&tx, p).await {
                    return;
                }
            }
        }
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
    async fn queue(&self, tx: &mpsc::Sender<Pending>, p: Pending) -> bool {
        if tx.send(p).await.is_err() {
            return false;
        }
        self.progress.queued.fetch_add(1, Ordering::Relaxed);
        true
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
        let mut acks = AckGroup::default();
        loop {
            let want_more = open && inflight.len() < concurrency;
            tokio::select! {
                biased;
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    self.settle(done, &mut acks, &mut result, abort);
                    if acks.due() {
                        self.commit_acks(unit, &mut acks, &mut result, abort);
                    }
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
        self.commit_acks(unit, &mut acks, &mut result, abort);
        result
    }

    /// Commits the acknowledgements gathered so far in one transaction.
    fn commit_acks(
        &self,
        unit: &Unit,
        acks: &mut AckGroup,
        result: &mut PushResult,
        abort: &AtomicBool,
    ) {
        if acks.acks.is_empty() {
            return;
        }
        if let Err(e) = self.state().commit_acks(&unit.key, self.run_id, &acks.acks) {
            result.errors.push(format!("state store: {e}"));
            result.fatal = true;
            abort.store(true, Ordering::Relaxed);
        }
        acks.acks.clear();
        acks.since = None;
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

    /// Counts a batch's outcome and gathers its acknowledgements.
    fn settle(
        &self,
        done: Result<(Vec<Sent>, Result<Outcome, SinkError>), tokio::task::JoinError>,
        acks: &mut AckGroup,
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
        let before = acks.acks.len();
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
        self.progress
            .pushed
            .fetch_add((acks.acks.len() - before) as u64, Ordering::Relaxed);
        let mut state = self.state();
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

impl ReadOutcome {
    /// Notes a record's `lastModifiedDateTime` for the cursor.
    fn saw<R: wire::Fields + ?Sized>(&mut self, record: &R) {
        if let Some(t) = wire::datetime(record, "lastModifiedDateTime") {
            self.max_seen = Some(self.max_seen.map_or(t, |m| m.max(t)));
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

/// Acknowledgements waiting for their transaction.
#[derive(Default)]
struct AckGroup {
    acks: Vec<Ack>,
    /// When the oldest of them arrived.
    since: Option<std::time::Instant>,
}

impl AckGroup {
    fn push(&mut self, ack: Ack) {
        self.since.get_or_insert_with(std::time::Instant::now);
        self.acks.push(ack);
    }

    /// Whether the group is full or has waited long enough.
    fn due(&self) -> bool {
        self.acks.len() >= ACK_GROUP || self.since.is_some_and(|t| t.elapsed() >= ACK_GROUP_WAIT)
    }
}

#[derive(Default)]
struct PushResult {
    counts: RunCounts,
    rejected: Vec<Rejected>,
    errors: Vec<String>,
    fatal: bool,
}
