//! One sync run: check BC and the destination, open the destination's run,
//! run the engine over every unit, close the run whatever happens (errors,
//! signals), follow what was sent until it is indexed, record and summarise.

use crate::config::Config;
use crate::plan;
use crate::replicas::{Fresh, Replica, replica_id};
use crate::ui::Ui;
use anyhow::{Context, anyhow};
use bcq_core::destination::{AccessModel, Destination, Rejected, RunEnd, RunStart};
use bcq_core::engine::{Engine, Mode, Progress, Stop, Unit, UnitReport};
use bcq_state::{RunCounts, RunKind, RunOutcome, StateStore};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Flags of one run.
#[derive(Clone, Debug)]
pub struct RunFlags {
    /// Incremental, reconcile or full.
    pub mode: Mode,
    /// Override of the deletion guard.
    pub allow_mass_delete: bool,
    /// Only these units (`env/company/entity`), as `bcq serve` syncs the
    /// units BC notified; `None`: every unit.
    pub only: Option<BTreeSet<String>>,
    /// Records BC notified as deleted, by unit key: their documents are
    /// deleted before the unit is read (the unit is synced too).
    pub deleted: BTreeMap<String, Vec<String>>,
    /// Replicas (state in PostgreSQL): a unit another replica synced less
    /// than this long ago is left alone, unless BC notified a change of it
    /// (`notified`); `bcq serve`'s polls set it, so that N replicas do not
    /// each read every unit every poll.
    pub fresh_within: Option<Duration>,
    /// Units with notifications waiting (never left alone as fresh).
    pub notified: BTreeSet<String>,
}

impl RunFlags {
    /// Every unit in `mode`.
    pub fn new(mode: Mode, allow_mass_delete: bool) -> Self {
        RunFlags {
            mode,
            allow_mass_delete,
            only: None,
            deleted: BTreeMap::new(),
            fresh_within: None,
            notified: BTreeSet::new(),
        }
    }
}

/// What a run did, for people (text) and machines (JSON).
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// How it ended.
    pub outcome: RunOutcome,
    /// Run id in the state store.
    pub run_id: i64,
    /// What it did (a first sync asked as incremental is a reconcile).
    pub kind: RunKind,
    /// What it was asked to do.
    pub mode: Mode,
    /// The destination's key (`qbusiness`); its statistics are under that key.
    pub destination: String,
    /// The destination's run (a Q sync job), when it has one.
    pub destination_run: Option<String>,
    /// Seconds.
    pub seconds: f64,
    /// Records read from BC.
    pub read: u64,
    /// Documents added, updated, deleted, unchanged, failed.
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Documents cut to fit the destination's limits (pushed; listed by
    /// `bcq status`).
    pub truncated: u64,
    /// Files not sent on purpose: a type the destination cannot read, or
    /// too large (listed by `bcq status`; they do not fail the run).
    pub skipped: u64,
    /// Attachments of records bcq does not sync (not indexed, as their
    /// record is not).
    pub unattached: u64,
    /// Units another replica was syncing (state in PostgreSQL): left to
    /// it, not failed.
    pub held_elsewhere: Vec<String>,
    /// Units (env/company/entity) whose documents went out without access
    /// control because no `[[access]]` rule covers them.
    pub without_access_control: Vec<String>,
    /// The sample connector's documents found and deleted, when enabled.
    pub sample_documents: Option<crate::migrate::SampleCleanup>,
    /// BC requests made (with retries).
    pub bc_requests: u64,
    /// BC requests retried.
    pub bc_retries: u64,
    /// BC answers 429.
    pub bc_throttled: u64,
    /// BC's counters per environment (for `bcq serve`'s metrics).
    #[serde(skip)]
    pub bc_by_environment: Vec<(String, bcq_bc::Stats)>,
    /// The destination's call counters, under its key.
    #[serde(flatten)]
    pub destination_stats: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// Peak resident memory of this process in MB (Linux; `None` elsewhere).
    pub peak_rss_mb: Option<f64>,
    /// CPU time of this process in seconds (user + system; Linux).
    pub cpu_seconds: Option<f64>,
    /// Per unit: key and cursor.
    pub units: Vec<UnitSummary>,
    /// Errors that stopped part of the run.
    pub errors: Vec<String>,
    /// What BC sent that bcq worked around (duplicates, future dates).
    pub warnings: Vec<String>,
    /// Documents the destination accepted in this run and then failed to
    /// index, with its reason (they are pushed again by the next run).
    pub failed_after_indexing: Vec<Rejected>,
    /// The destination was still indexing when the follow-up time ran out.
    pub still_indexing: bool,
    /// Documents that had failed after acceptance in earlier runs, found
    /// by this reconciling run and pushed again.
    pub repushed_after_index_failure: Vec<Rejected>,
    /// Up to 50 rejected documents with reasons.
    pub rejected: Vec<Rejected>,
}

/// A unit's line of the summary.
#[derive(Clone, Debug, Serialize)]
pub struct UnitSummary {
    /// `env/company/entity`.
    pub unit: String,
    /// Company name.
    pub company: String,
    /// Records read.
    pub read: u64,
    /// Whether the full record set was read (deletions checked).
    pub complete_read: bool,
    /// Cursor after the run.
    pub cursor: Option<String>,
}

impl RunSummary {
    /// Whether the process should exit 0.
    pub fn ok(&self) -> bool {
        self.outcome == RunOutcome::Succeeded
    }

    /// The human summary.
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "bcq sync {} in {:.1} s ({} run {}, {} run {})\n",
            self.outcome,
            self.seconds,
            self.kind,
            self.run_id,
            self.destination,
            self.destination_run.as_deref().unwrap_or("-")
        );
        s += &format!(
            "  read        {:>9} records from Business Central\n",
            self.read
        );
        s += &format!("  added       {:>9}\n", self.counts.added);
        s += &format!("  updated     {:>9}\n", self.counts.updated);
        s += &format!("  unchanged   {:>9}\n", self.counts.unchanged);
        s += &format!("  deleted     {:>9}\n", self.counts.deleted);
        s += &format!("  failed      {:>9}\n", self.counts.failed);
        if self.truncated > 0 {
            s += &format!(
                "  truncated   {:>9} (cut to fit the destination's limits and pushed; bcq status lists them)\n",
                self.truncated
            );
        }
        if self.skipped > 0 {
            s += &format!(
                "  skipped     {:>9} files (a type the destination cannot read, or too large; bcq status lists them)\n",
                self.skipped
            );
        }
        if self.unattached > 0 {
            s += &format!(
                "  not indexed {:>9} attachments of records bcq does not sync (an entity not in BCQ_ENTITIES, a journal or statement)\n",
                self.unattached
            );
        }
        if let Some(c) = &self.sample_documents {
            s += &format!(
                "  sample docs {:>9} deleted of {} found ({} kept until their invoice is indexed)\n",
                c.deleted, c.found, c.kept
            );
        }
        if !self.without_access_control.is_empty() {
            s += &format!(
                "  WARNING     documents of {} unit(s) went out WITHOUT access control: every user of the index can read them. add [[access]] rules (see README): {}\n",
                self.without_access_control.len(),
                self.without_access_control.join(", ")
            );
        }
        let dest = self
            .destination_stats
            .values()
            .flat_map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{v} {}", k.replace('_', " ")))
            })
            .collect::<Vec<_>>()
            .join(", ");
        s += &format!(
            "  requests    BC {} ({} retried, {} throttled) · {} {}\n",
            self.bc_requests, self.bc_retries, self.bc_throttled, self.destination, dest
        );
        if let (Some(m), Some(c)) = (self.peak_rss_mb, self.cpu_seconds) {
            s += &format!("  resources   peak memory {m:.1} MB · cpu {c:.2} s\n");
        }
        for u in &self.units {
            s += &format!(
                "  unit        {} ({}): {} read{}, cursor {}\n",
                u.unit,
                u.company,
                u.read,
                if u.complete_read { ", full read" } else { "" },
                u.cursor.as_deref().unwrap_or("-")
            );
        }
        if !self.held_elsewhere.is_empty() {
            s += &format!(
                "  elsewhere   {:>9} unit(s) another replica was syncing, left to it: {}\n",
                self.held_elsewhere.len(),
                self.held_elsewhere.join(", ")
            );
        }
        for r in &self.rejected {
            s += &format!("  rejected    {}: {}\n", r.doc_id, r.reason);
        }
        if self.counts.failed as usize > self.rejected.len() + self.failed_after_indexing.len() {
            s += &format!(
                "  ...         {} more failures: bcq status lists them\n",
                self.counts.failed as usize
                    - self.rejected.len()
                    - self.failed_after_indexing.len()
            );
        }
        for r in &self.failed_after_indexing {
            s += &format!(
                "  not indexed {} (accepted, then failed to index: {}; pushed again by the next run)\n",
                r.doc_id, r.reason
            );
        }
        if self.still_indexing {
            s += "  indexing    the destination was still indexing when bcq stopped following; the next run reports what failed\n";
        }
        for r in &self.repushed_after_index_failure {
            s += &format!(
                "  reindexed   {} (it had failed to index: {})\n",
                r.doc_id, r.reason
            );
        }
        for w in &self.warnings {
            s += &format!("  warning     {w}\n");
        }
        for e in &self.errors {
            s += &format!("  error       {e}\n");
        }
        s
    }
}

/// Peak resident set size of this process (`VmHWM`), in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time of this process (user + system), from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux architecture bcq runs on.
    Some(ticks / 100.0)
}

/// The custom attributes the enabled entities (and their attachments) send.
pub fn wanted_attributes(cfg: &Config) -> Vec<(&'static str, bcq_core::catalog::AttrKind)> {
    let mut v = bcq_core::catalog::custom_attributes(&cfg.sync.entities);
    if cfg.sync.include_attachments {
        v.extend_from_slice(bcq_core::files::ATTACHMENT_ATTRIBUTES);
    }
    v
}

/// The units no `[[access]]` rule covers (attachments follow their
/// record's entity, so they are judged by the record units).
pub fn uncovered_units(cfg: &Config, units: &[Unit]) -> Vec<String> {
    units
        .iter()
        .filter(|u| !bcq_core::files::is_attachments(u.spec))
        .filter(|u| {
            cfg.sync.access.resolve(
                &u.ctx.environment,
                &u.ctx.company_id,
                &u.ctx.company_name,
                u.spec.entity_set,
            ) == bcq_core::acl::Resolved::Unmatched
        })
        .map(|u| format!("{} ({})", u.key, u.ctx.company_name))
        .collect()
}

/// The units whose access rules the destination cannot honour, with why:
/// on a destination that never returns documents without an access list,
/// units no rule restricts (uncovered, or published on purpose); on one
/// that cannot take access lists, units a rule restricts.
pub fn access_conflicts(cfg: &Config, units: &[Unit], model: AccessModel) -> Vec<String> {
    use bcq_core::acl::Resolved;
    units
        .iter()
        .filter(|u| !bcq_core::files::is_attachments(u.spec))
        .filter_map(|u| {
            let resolved = cfg.sync.access.resolve(
                &u.ctx.environment,
                &u.ctx.company_id,
                &u.ctx.company_name,
                u.spec.entity_set,
            );
            let why = match (model, resolved) {
                (AccessModel::ClosedByDefault, Resolved::Unmatched) => {
                    "no [[access]] rule covers it"
                }
                (AccessModel::ClosedByDefault, Resolved::Public) => {
                    "a rule publishes it (public = true)"
                }
                (AccessModel::NoAccessLists, Resolved::Restricted(_)) => "a rule restricts it",
                _ => return None,
            };
            Some(format!("{} ({}): {why}", u.key, u.ctx.company_name))
        })
        .collect()
}

/// Opens the configured destination.
pub async fn open_destination(cfg: &Config) -> anyhow::Result<Arc<dyn Destination>> {
    cfg.destination()
        .open(&cfg.common)
        .await
        .map_err(|e| anyhow!(e))
}

fn lock(state: &Mutex<StateStore>) -> std::sync::MutexGuard<'_, StateStore> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the runs before this one left for it: the destination runs bcq
/// opened (its own to close or wait for), and the start of the last
/// interrupted run (a destination run opened after it, unrecorded, is its).
fn run_start(store: &StateStore) -> anyhow::Result<RunStart> {
    let recent = store.recent_runs(50)?;
    Ok(RunStart {
        own_runs: recent
            .iter()
            .filter_map(|r| r.sync_job_id.clone())
            .collect(),
        interrupted_since: recent
            .iter()
            .filter(|r| r.outcome == RunOutcome::Interrupted)
            .map(|r| r.started_at.timestamp())
            .max(),
    })
}

/// What the run did, from what its units read.
fn kind_of(mode: Mode, reports: &[(Unit, UnitReport)]) -> RunKind {
    if mode == Mode::Full {
        return RunKind::Full;
    }
    let complete = reports.iter().filter(|(_, r)| r.complete_read).count();
    match complete {
        0 => RunKind::Incremental,
        n if n == reports.len() => RunKind::Reconcile,
        _ => RunKind::Mixed,
    }
}

/// How one unit of a run ended.
enum UnitDone {
    /// Not started: a stop was asked for.
    Skipped,
    /// Left to another replica (it holds the unit, or just synced it).
    Elsewhere(String),
    /// Synced (or failed), with its place in the run's order.
    Synced(usize, Box<(Unit, UnitReport)>),
}

/// Runs one sync into `dest`. Errors returned here happened before any
/// document was sent (configuration, BC access, the destination's
/// preflight); the run's own failures are in the summary. `stop` ends the
/// run early (signals): what was accepted is acknowledged, the
/// destination's run is closed, and the summary counts it.
pub async fn run(
    cfg: &Config,
    flags: &RunFlags,
    dest: Arc<dyn Destination>,
    ui: &Ui,
    stop: Stop,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let mut store = StateStore::open_at(&cfg.sync.state)
        .with_context(|| format!("opening the state in {}", cfg.sync.state))?;
    // Two bcq processes sharing a state file would take each other's runs
    // for interrupted ones and close each other's destination runs. On
    // PostgreSQL, processes are replicas: they share the lock and split
    // the units through leases (crate::replicas).
    let (_lock, replica, dest) = if store.is_postgres() {
        let lock = store.lock_for_shared_sync()?;
        let replica = Replica::start(&cfg.sync.state, cfg.sync.lease)?;
        let dest = replica.share(dest, stop.clone());
        (lock, Some(replica), dest)
    } else {
        (store.lock_for_sync()?, None, dest)
    };
    let interrupted = store.mark_interrupted_runs()?;
    if interrupted > 0 {
        tracing::warn!(
            runs = interrupted,
            "an earlier run was interrupted; this run repairs what it left"
        );
    }
    let start = run_start(&store)?;

    // BC first: a bad secret, a wrong environment or an unknown company
    // must fail before the destination's run exists.
    ui.step("checking Business Central access");
    let targets = plan::resolve(cfg, Some(&mut store)).await?;
    // Access from BC's own permissions, read again every run: the rules
    // BC decides come first, the configured ones after.
    let derived_cfg;
    let mut access_problems = Vec::new();
    let cfg = match &cfg.sync.bc_access {
        Some(how) => {
            ui.step("reading Business Central's permissions");
            let derived =
                crate::bc_access::derive(cfg, how, &targets, dest.takes_group_principals()).await?;
            tracing::info!(
                rules = derived.rules.len(),
                requests = derived.requests,
                "access lists derived from Business Central's permissions"
            );
            for p in &derived.problems {
                tracing::warn!(problem = %p, "access from Business Central");
            }
            access_problems = derived.problems;
            derived_cfg = crate::bc_access::with_rules(cfg, derived.rules);
            &derived_cfg
        }
        None => cfg,
    };
    let mut units = plan::units(cfg, &targets, &store, flags.mode != Mode::Incremental)?;
    if let Some(only) = &flags.only {
        units.retain(|u| {
            let key = u.key.to_string();
            only.contains(&key) || flags.deleted.contains_key(&key)
        });
    }
    let without_access_control = uncovered_units(cfg, &units);
    if !without_access_control.is_empty() {
        if cfg.sync.require_access {
            return Err(anyhow!(
                "sync.require_access is set and no [[access]] rule covers {}; add rules for them (or public = true to publish on purpose)",
                without_access_control.join(", ")
            ));
        }
        tracing::warn!(
            units = %without_access_control.join(", "),
            "documents go out WITHOUT access control: every user of the index can read them; add [[access]] rules"
        );
    }
    ui.step(&format!("checking {}", dest.name()));
    let failed_checks: Vec<String> = dest
        .check(&wanted_attributes(cfg))
        .await
        .into_iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.what, c.detail))
        .collect();
    if !failed_checks.is_empty() {
        return Err(anyhow!("{}", failed_checks.join("; ")));
    }
    let conflicts = access_conflicts(cfg, &units, dest.access_model());
    if !conflicts.is_empty() {
        return Err(anyhow!(
            "{} cannot honour the access rules of {}. {}",
            dest.name(),
            conflicts.join("; "),
            dest.access_notes().join("; ")
        ));
    }
    // A document can fail after it was accepted, which the run that sent
    // it finds by following it; a run that stopped following too early
    // leaves them to a reconciling run, which looks again, reports them and
    // forgets them, so that its full read pushes them again.
    let mut failed_before = Vec::new();
    if units.iter().any(|u| u.reconcile) {
        failed_before = dest.failed_documents().await?;
        if !failed_before.is_empty() {
            let ids: Vec<String> = failed_before.iter().map(|r| r.doc_id.clone()).collect();
            store.commit_deletes(&ids)?;
            for r in &failed_before {
                tracing::warn!(doc_id = %r.doc_id, reason = %r.reason, "the destination failed to index this document after accepting it; pushing it again");
            }
        }
    }
    // Groups before any document: members removed lose access first.
    let groups = dest
        .sync_groups(&cfg.common.groups, store.groups()?)
        .await?;
    store.remember_groups(&groups.put)?;
    for name in &groups.deleted {
        store.forget_group(name)?;
    }

    // The run is recorded before the destination's run opens, so that a
    // kill at any point leaves a run whose start time identifies it.
    let run_id = store.begin_run(match flags.mode {
        Mode::Full => RunKind::Full,
        Mode::Reconcile => RunKind::Reconcile,
        Mode::Incremental => RunKind::Incremental,
    })?;
    ui.step(&format!("opening the {} run", dest.name()));
    let destination_run = match dest.open_run(&start).await {
        Ok(r) => r,
        Err(e) => {
            store.finish_run(run_id, RunOutcome::Failed, RunCounts::default())?;
            return Err(e.into());
        }
    };
    if let Some(r) = &destination_run {
        store.set_run_sync_job(run_id, r)?;
    }
    if replica.is_some() {
        store.set_run_holder(run_id, replica_id())?;
    }
    tracing::info!(run_id, destination_run = ?destination_run, mode = %flags.mode, "run started");

    let state = Arc::new(Mutex::new(store));
    let progress = Arc::new(Progress::default());
    let engine = Engine::new(
        dest.clone(),
        state.clone(),
        plan::engine_config(cfg, flags.mode, flags.allow_mass_delete, stop.clone()),
        run_id,
        progress.clone(),
    );
    let ticker = ui.start_progress(progress.clone());
    let mut reports: Vec<(Unit, UnitReport)> = Vec::new();
    let mut held_elsewhere = Vec::new();
    let mut units = units;
    if let Some(r) = &replica {
        // Replicas start at different units, so that they spread at once.
        let first = r.first_unit(units.len());
        units.rotate_left(first);
    }
    // Up to `sync.unit_concurrency` units at once, in one task: each
    // unit's reads and pushes interleave, under BC's budget and the
    // destination's own concurrency.
    let sync_one = |index: usize, unit: Unit| {
        let (engine, state, replica, stop) = (&engine, &state, &replica, &stop);
        async move {
            let key = unit.key.to_string();
            if stop.requested() {
                return UnitDone::Skipped;
            }
            if let Some(r) = replica {
                if let Some(within) = flags.fresh_within
                    && !flags.notified.contains(&key)
                    && let Some(fresh) = r.fresh(&lock(state), &key, within)
                {
                    match fresh {
                        Fresh::ByOther => {
                            tracing::info!(unit = %key, "another replica synced this unit moments ago; leaving it")
                        }
                        Fresh::ByThis => {
                            tracing::info!(unit = %key, "this replica synced the unit at its previous poll; leaving it to the other replicas this time")
                        }
                    }
                    return UnitDone::Elsewhere(key);
                }
                match r.lease_unit(&mut lock(state), &key) {
                    Ok(true) => {
                        tracing::info!(unit = %key, replica = replica_id(), "unit leased")
                    }
                    Ok(false) => {
                        tracing::info!(unit = %key, "another replica is syncing this unit; leaving it to it");
                        return UnitDone::Elsewhere(key);
                    }
                    Err(e) => {
                        let mut r = UnitReport::default();
                        r.errors
                            .push(format!("{key}: cannot take the unit's lease: {e:#}"));
                        r.fatal = true;
                        return UnitDone::Synced(index, Box::new((unit, r)));
                    }
                }
            }
            ui.step(&format!(
                "syncing {} of {}",
                unit.spec.entity_set, unit.ctx.company_name
            ));
            let mut r = match flags.deleted.get(&key) {
                Some(ids) if !ids.is_empty() => engine.delete_records(&unit, ids).await,
                _ => UnitReport::default(),
            };
            if !(r.fatal || r.interrupted) {
                let read = engine.sync_unit(&unit).await;
                r.absorb(read);
            }
            if let Some(replica) = replica {
                if let Some(within) = flags.fresh_within
                    && r.errors.is_empty()
                    && !r.interrupted
                {
                    replica.mark_synced(&mut lock(state), &key, within);
                }
                replica.release_unit(&mut lock(state), &key);
                tracing::info!(unit = %key, replica = replica_id(), "unit released");
            }
            UnitDone::Synced(index, Box::new((unit, r)))
        }
    };
    let mut waiting = units.into_iter().enumerate();
    let mut running = futures::stream::FuturesUnordered::new();
    let mut done: Vec<(usize, Unit, UnitReport)> = Vec::new();
    let mut end = false;
    loop {
        while !end && !stop.requested() && running.len() < cfg.sync.unit_concurrency.max(1) {
            match waiting.next() {
                Some((i, unit)) => running.push(sync_one(i, unit)),
                None => break,
            }
        }
        match futures::StreamExt::next(&mut running).await {
            None => break,
            Some(UnitDone::Skipped) => {}
            Some(UnitDone::Elsewhere(key)) => held_elsewhere.push(key),
            Some(UnitDone::Synced(i, synced)) => {
                let (unit, r) = *synced;
                // A fatal error (the destination unusable) or a stop ends
                // the run: no new unit starts; those running finish.
                end |= r.fatal || r.interrupted;
                done.push((i, unit, r));
            }
        }
    }
    done.sort_by_key(|(i, ..)| *i);
    reports.extend(done.into_iter().map(|(_, unit, r)| (unit, r)));
    let interrupted = stop.requested();
    let clean = reports
        .iter()
        .all(|(_, r)| r.errors.is_empty() && r.counts.failed == 0 && !r.interrupted);
    let mut cleanup = None;
    if cfg.sync.delete_sample_documents && clean && !interrupted {
        ui.step("deleting the sample connector's documents that bcq replaced");
        let units: Vec<Unit> = reports.iter().map(|(u, _)| u.clone()).collect();
        cleanup =
            Some(crate::migrate::delete_sample_documents(dest.as_ref(), &units, &state).await);
    }
    ticker.finish();

    // Close the destination's run whatever happened (one Q job at a time
    // per data source: a job left open blocks the next run), then follow
    // what was sent, unless a signal asked to be quick.
    ui.step(&format!("closing the {} run", dest.name()));
    let follow = if interrupted {
        Duration::ZERO
    } else {
        cfg.sync.follow_indexing
    };
    let RunEnd {
        failed_after_accept,
        still_indexing,
        errors: close_errors,
        run: opened_late,
    } = dest.close_run(follow).await;
    // A run opened at the first write (bcq serve) is recorded now.
    let destination_run = match (destination_run, opened_late) {
        (None, Some(r)) => {
            lock(&state).set_run_sync_job(run_id, &r)?;
            Some(r)
        }
        (r, _) => r,
    };

    let mut counts = RunCounts::default();
    // What BC's permissions could not decide is the run's failure to
    // report (the principals concerned got no access).
    let mut errors = access_problems;
    let mut warnings = Vec::new();
    let mut rejected = Vec::new();
    let mut unit_lines = Vec::new();
    let mut read = 0;
    for (unit, r) in &reports {
        counts += r.counts;
        read += r.read;
        errors.extend(r.errors.iter().cloned());
        warnings.extend(r.warnings.iter().cloned());
        rejected.extend(r.rejected.iter().cloned());
        unit_lines.push(UnitSummary {
            unit: unit.key.to_string(),
            company: unit.ctx.company_name.clone(),
            read: r.read,
            complete_read: r.complete_read,
            cursor: r
                .cursor
                .map(|c| c.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        });
    }
    let sample_documents = match cleanup {
        Some(Ok(c)) => {
            counts.deleted += c.deleted;
            Some(c)
        }
        Some(Err(e)) => {
            errors.push(format!("deleting the sample connector's documents: {e:#}"));
            None
        }
        None => None,
    };
    errors.extend(close_errors);
    if !failed_after_accept.is_empty() {
        // Reported by this run, and forgotten so that the next run sends
        // them again (their units reconcile, since an unchanged record
        // would not be read by an incremental run).
        let mut st = lock(&state);
        let ids: Vec<String> = failed_after_accept
            .iter()
            .map(|r| r.doc_id.clone())
            .collect();
        st.forget_for_repush(&ids)?;
        for r in &failed_after_accept {
            counts.failed += 1;
            st.record_failure(run_id, &r.doc_id, &format!("failed to index: {}", r.reason))?;
        }
    }
    let outcome = if interrupted {
        RunOutcome::Interrupted
    } else if counts.failed > 0 || !errors.is_empty() {
        RunOutcome::Failed
    } else {
        RunOutcome::Succeeded
    };
    let kind = kind_of(flags.mode, &reports);
    {
        let mut st = lock(&state);
        st.finish_run(run_id, outcome, counts)?;
        st.set_run_kind(run_id, kind)?;
    }
    let bc_stats = targets.iter().map(|t| t.stats()).fold((0, 0, 0), |acc, s| {
        (acc.0 + s.requests, acc.1 + s.retries, acc.2 + s.throttled)
    });
    let stats: BTreeMap<&'static str, u64> = dest
        .stats()
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    Ok(RunSummary {
        outcome,
        run_id,
        kind,
        mode: flags.mode,
        destination: dest.key().to_string(),
        destination_run,
        seconds: started.elapsed().as_secs_f64(),
        read,
        counts,
        truncated: progress
            .truncated
            .load(std::sync::atomic::Ordering::Relaxed),
        skipped: progress.skipped.load(std::sync::atomic::Ordering::Relaxed),
        unattached: progress
            .unattached
            .load(std::sync::atomic::Ordering::Relaxed),
        held_elsewhere,
        without_access_control,
        sample_documents,
        bc_requests: bc_stats.0,
        bc_retries: bc_stats.1,
        bc_throttled: bc_stats.2,
        bc_by_environment: targets
            .iter()
            .map(|t| (t.environment.clone(), t.stats()))
            .collect(),
        destination_stats: BTreeMap::from([(dest.key().to_string(), stats)]),
        peak_rss_mb: peak_rss_mb(),
        cpu_seconds: cpu_seconds(),
        units: unit_lines,
        errors,
        warnings,
        failed_after_indexing: failed_after_accept,
        still_indexing,
        repushed_after_index_failure: failed_before,
        rejected: rejected.into_iter().take(50).collect(),
    })
}
