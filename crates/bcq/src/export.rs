//! Runs without Amazon Q: `bcq export --out DIR` renders documents to local
//! files (Markdown, or the file itself, plus a JSON of title and attributes
//! each), and `bcq sync --dry-run` says what a sync would push and delete,
//! comparing with a snapshot of the state so that the real state is untouched.

use crate::config::Config;
use crate::plan;
use crate::sync::RunSummary;
use anyhow::Context;
use bcq_core::catalog::AttrKind;
use bcq_core::destination::{
    AttributeCheck, BoxFuture, Check, Destination, DestinationError, Limits, Outcome, Rejected,
    RunEnd, RunStart, Stat,
};
use bcq_core::document::{AttrValue, ContentType, Document};
use bcq_core::engine::{Engine, Mode, Progress, Stop};
use bcq_state::{RunCounts, RunKind, RunOutcome, StateStore};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A destination that writes documents to a directory (or nowhere, for a
/// dry run) and counts: no limits, no run, nothing to check.
#[derive(Debug, Default)]
pub struct FileDestination {
    dir: Option<PathBuf>,
    /// Documents received.
    pub puts: AtomicU64,
    /// Ids asked to be deleted.
    pub deletes: Mutex<Vec<String>>,
}

impl FileDestination {
    /// Writes into `dir` when given; otherwise only counts.
    pub fn new(dir: Option<PathBuf>) -> Self {
        FileDestination {
            dir,
            ..FileDestination::default()
        }
    }
}

/// The JSON written beside each document: everything but the content.
pub fn metadata_json(doc: &Document) -> Value {
    let mut attrs = Map::new();
    for a in &doc.attributes {
        let v = match &a.value {
            AttrValue::String(s) => json!(s),
            AttrValue::StringList(l) => json!(l),
            AttrValue::Long(n) => json!(n),
            AttrValue::Date(d) => json!(d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        };
        attrs.insert(a.name.to_string(), v);
    }
    let acl = doc.access.as_ref().map(|a| {
        json!({
            "memberRelation": if a.member_relation_or { "OR" } else { "AND" },
            "principals": a.principals.iter().map(|p| json!({
                "kind": format!("{:?}", p.kind).to_uppercase(),
                "id": p.id,
                "access": if p.allow { "ALLOW" } else { "DENY" },
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "id": doc.id,
        "title": doc.title,
        "contentType": doc.content_type.code(),
        "attributes": attrs,
        "accessConfiguration": acl,
    })
}

/// Where a document goes under the export directory: its id as a path.
pub fn export_path(dir: &Path, doc: &Document) -> PathBuf {
    let rel: PathBuf = doc
        .id
        .trim_start_matches("bc/")
        .split('/')
        .map(|part| part.replace(['\\', ':'], "_"))
        .collect();
    let ext = match doc.content_type {
        ContentType::Markdown => "md",
        ContentType::Pdf => "pdf",
        ContentType::Html => "html",
        ContentType::PlainText => "txt",
        ContentType::Csv => "csv",
        ContentType::Json => "json",
        ContentType::Xml => "xml",
        ContentType::MsWord => "docx",
        ContentType::MsExcel => "xlsx",
        ContentType::Ppt => "pptx",
        ContentType::Rtf => "rtf",
    };
    dir.join(rel).with_extension(ext)
}

impl FileDestination {
    fn write(&self, docs: Vec<Document>) -> Result<Outcome, DestinationError> {
        self.puts.fetch_add(docs.len() as u64, Ordering::Relaxed);
        if let Some(dir) = &self.dir {
            for d in &docs {
                let path = export_path(dir, d);
                let write = || -> std::io::Result<()> {
                    std::fs::create_dir_all(path.parent().expect("a file path has a parent"))?;
                    std::fs::write(&path, &d.content)?;
                    let meta = serde_json::to_string_pretty(&metadata_json(d)).expect("json");
                    std::fs::write(
                        path.with_extension(format!(
                            "{}.json",
                            path.extension().and_then(|e| e.to_str()).unwrap_or("")
                        )),
                        meta + "\n",
                    )
                };
                write().map_err(|e| {
                    DestinationError::fatal(format!("writing {}: {e}", path.display()))
                })?;
            }
        }
        Ok(Outcome::default())
    }
}

impl Destination for FileDestination {
    fn name(&self) -> &'static str {
        "local files"
    }

    fn key(&self) -> &'static str {
        "files"
    }

    fn limits(&self) -> Limits {
        Limits {
            docs_per_call: 10,
            bytes_per_call: usize::MAX,
            max_document_bytes: usize::MAX,
            max_file_bytes: usize::MAX,
            too_large_hint: None,
        }
    }

    fn fit(&self, _doc: &mut Document) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    fn check<'a>(&'a self, _: &'a [(&'static str, AttrKind)]) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async { Vec::new() })
    }

    fn attributes<'a>(
        &'a self,
        _: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Result<AttributeCheck, DestinationError>> {
        Box::pin(async {
            Ok(AttributeCheck {
                not_needed: Some("files need no declared attributes".into()),
                ..AttributeCheck::default()
            })
        })
    }

    fn open_run<'a>(
        &'a self,
        _: &'a RunStart,
    ) -> BoxFuture<'a, Result<Option<String>, DestinationError>> {
        Box::pin(async { Ok(None) })
    }

    fn close_run(&self, _: std::time::Duration) -> BoxFuture<'_, RunEnd> {
        Box::pin(async { RunEnd::default() })
    }

    fn put(&self, docs: Vec<Document>) -> BoxFuture<'_, Result<Outcome, DestinationError>> {
        Box::pin(async move { self.write(docs) })
    }

    fn delete(&self, ids: Vec<String>) -> BoxFuture<'_, Result<Outcome, DestinationError>> {
        self.deletes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ids);
        Box::pin(async { Ok(Outcome::default()) })
    }

    fn failed_documents(&self) -> BoxFuture<'_, Result<Vec<Rejected>, DestinationError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn document_ids(&self) -> BoxFuture<'_, Result<Vec<String>, DestinationError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn stats(&self) -> Vec<Stat> {
        vec![Stat {
            name: "documents",
            value: self.puts.load(Ordering::Relaxed),
        }]
    }
}

/// Runs the engine into a [`FileDestination`]. With `state_snapshot`, documents are
/// compared with a copy of the state (dry run); without, everything is new.
pub async fn run_local(
    cfg: &Config,
    out: Option<PathBuf>,
    dry_run: bool,
    mode: Mode,
    allow_mass_delete: bool,
) -> anyhow::Result<(RunSummary, Vec<String>)> {
    let started = Instant::now();
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let has_state = match &cfg.sync.state {
        bcq_state::Location::File(path) => path.exists(),
        bcq_state::Location::Postgres(_) => true,
    };
    let mut store = if dry_run && has_state {
        let real = StateStore::open_at(&cfg.sync.state)?;
        let snap = scratch.path().join("snapshot.db");
        real.snapshot_to(&snap)?;
        StateStore::open(&snap)?
    } else {
        StateStore::open(&scratch.path().join("export.db"))?
    };
    let targets = plan::resolve(cfg, Some(&mut store)).await?;
    let units = plan::units(cfg, &targets, &store, mode != Mode::Incremental)?;
    let kind = if dry_run {
        RunKind::DryRun
    } else {
        RunKind::Export
    };
    let run_id = store.begin_run(kind)?;
    let state = Arc::new(Mutex::new(store));
    let sink = Arc::new(FileDestination::new(out));
    let progress = Arc::new(Progress::default());
    let engine = Engine::new(
        sink.clone() as Arc<dyn Destination>,
        state.clone(),
        plan::engine_config(cfg, mode, allow_mass_delete, Stop::default()),
        run_id,
        progress.clone(),
    );
    let mut counts = RunCounts::default();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut read = 0;
    for unit in &units {
        let r = engine.sync_unit(unit).await;
        counts += r.counts;
        read += r.read;
        errors.extend(r.errors);
        warnings.extend(r.warnings);
    }
    let deletes = sink
        .deletes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let requests = targets.iter().map(|t| t.stats().requests).sum();
    let summary = RunSummary {
        held_elsewhere: Vec::new(),
        outcome: if errors.is_empty() && counts.failed == 0 {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Failed
        },
        run_id,
        kind,
        mode,
        destination: sink.key().to_string(),
        destination_run: None,
        seconds: started.elapsed().as_secs_f64(),
        read,
        counts,
        truncated: 0,
        skipped: progress.skipped.load(std::sync::atomic::Ordering::Relaxed),
        unattached: progress
            .unattached
            .load(std::sync::atomic::Ordering::Relaxed),
        without_access_control: crate::sync::uncovered_units(cfg, &units),
        sample_documents: None,
        bc_requests: requests,
        bc_retries: 0,
        bc_throttled: 0,
        bc_by_environment: Vec::new(),
        destination_stats: Default::default(),
        peak_rss_mb: crate::sync::peak_rss_mb(),
        cpu_seconds: crate::sync::cpu_seconds(),
        units: Vec::new(),
        errors,
        warnings,
        failed_after_indexing: Vec::new(),
        still_indexing: false,
        repushed_after_index_failure: Vec::new(),
        rejected: Vec::new(),
    };
    Ok((summary, deletes))
}
