//! One sync run: check BC, start the Q sync job, run the engine over every
//! unit, stop the job whatever happens, record and summarise the run.

use crate::config::Config;
use crate::plan;
use crate::ui::Ui;
use anyhow::{Context, anyhow};
use bcq_core::engine::{Engine, Mode, Progress, Stop, Unit, UnitReport};
use bcq_core::sink::Rejected;
use bcq_q::{QOptions, QSink};
use bcq_state::{RunCounts, StateStore};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Flags of one run.
#[derive(Clone, Debug)]
pub struct RunFlags {
    /// Incremental, reconcile or full.
    pub mode: Mode,
    /// Override of the deletion guard.
    pub allow_mass_delete: bool,
}

/// What a run did, for people (text) and machines (JSON).
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// `succeeded`, `failed` or `interrupted`.
    pub outcome: String,
    /// Run id in the state store.
    pub run_id: i64,
    /// The Q sync job.
    pub sync_job_id: Option<String>,
    /// Mode.
    pub mode: String,
    /// Seconds.
    pub seconds: f64,
    /// Records read from BC.
    pub read: u64,
    /// Documents added, updated, deleted, unchanged, failed.
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Documents cut to fit Q's limits (pushed; listed by `bcq status`).
    pub truncated: u64,
    /// Files not sent on purpose: a type Q cannot read, or too large
    /// (listed by `bcq status`; they do not fail the run).
    pub skipped: u64,
    /// Attachments of records bcq does not sync (not indexed, as their
    /// record is not).
    pub unattached: u64,
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
    /// BatchPutDocument calls.
    pub q_put_calls: u64,
    /// BatchDeleteDocument calls.
    pub q_delete_calls: u64,
    /// Q throttles.
    pub q_throttled: u64,
    /// Peak resident memory of this process in MB (Linux; `None` elsewhere).
    pub peak_rss_mb: Option<f64>,
    /// CPU time of this process in seconds (user + system; Linux).
    pub cpu_seconds: Option<f64>,
    /// Per unit: key and cursor.
    pub units: Vec<UnitSummary>,
    /// Errors that stopped part of the run.
    pub errors: Vec<String>,
    /// Documents Q had failed to index after accepting them in earlier
    /// runs, found by this reconciling run and pushed again.
    pub repushed_after_index_failure: Vec<RejectedDoc>,
    /// Up to 50 rejected documents with reasons.
    pub rejected: Vec<RejectedDoc>,
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

/// A rejected document.
#[derive(Clone, Debug, Serialize)]
pub struct RejectedDoc {
    /// Document id.
    pub id: String,
    /// Reason.
    pub reason: String,
}

impl RunSummary {
    /// Whether the process should exit 0.
    pub fn ok(&self) -> bool {
        self.outcome == "succeeded"
    }

    /// The human summary.
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "bcq sync {} in {:.1} s ({} run {}, sync job {})\n",
            self.outcome,
            self.seconds,
            self.mode,
            self.run_id,
            self.sync_job_id.as_deref().unwrap_or("none")
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
                "  truncated   {:>9} (cut to fit Q's limits and pushed; bcq status lists them)\n",
                self.truncated
            );
        }
        if self.skipped > 0 {
            s += &format!(
                "  skipped     {:>9} files (a type Q cannot read, or too large; bcq status lists them)\n",
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
                "  sample docs {:>9} deleted of {} found ({} kept until their invoice is in Q)\n",
                c.deleted, c.found, c.kept
            );
        }
        if !self.without_access_control.is_empty() {
            s += &format!(
                "  WARNING     documents of {} unit(s) went out WITHOUT access control: every user of the Q application can read them. add [[access]] rules (see README): {}\n",
                self.without_access_control.len(),
                self.without_access_control.join(", ")
            );
        }
        s += &format!(
            "  requests    BC {} ({} retried, {} throttled) · Q {} put, {} delete ({} throttled)\n",
            self.bc_requests,
            self.bc_retries,
            self.bc_throttled,
            self.q_put_calls,
            self.q_delete_calls,
            self.q_throttled
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
        for r in &self.rejected {
            s += &format!("  rejected    {}: {}\n", r.id, r.reason);
        }
        if self.counts.failed as usize > self.rejected.len() {
            s += &format!(
                "  ...         {} more failures: bcq status lists them\n",
                self.counts.failed as usize - self.rejected.len()
            );
        }
        for r in &self.repushed_after_index_failure {
            s += &format!(
                "  reindexed   {} (Q had failed to index it: {})\n",
                r.id, r.reason
            );
        }
        for e in &self.errors {
            s += &format!("  error       {e}\n");
        }
        s
    }
}

/// The AWS clients of a sync, built from one walk of the AWS chain.
pub struct AwsClients {
    /// Amazon Q Business.
    pub q: aws_sdk_qbusiness::Client,
    /// S3 staging of large files, when a bucket is configured.
    pub staging: Option<bcq_q::s3::S3Staging>,
}

impl AwsClients {
    /// Loads the AWS configuration once and builds both clients from it.
    pub async fn from_config(cfg: &Config) -> anyhow::Result<AwsClients> {
        let sdk = sdk_config(cfg).await?;
        Ok(AwsClients {
            q: q_client_from(&sdk, cfg),
            staging: s3_staging_from(&sdk, cfg),
        })
    }
}

/// The standard AWS chain (env, profile, SSO, container and instance
/// roles) with bcq's region; an error when no region is found.
async fn sdk_config(cfg: &Config) -> anyhow::Result<aws_config::SdkConfig> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = &cfg.q().region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(anyhow!(
            "no AWS region is configured: set AWS_REGION (or a profile's region), or q.region in the config file"
        ));
    }
    Ok(sdk)
}

/// Builds the Q Business SDK client from the standard AWS chain, with
/// bcq's overrides (see [`q_client_from`]).
pub async fn q_client(cfg: &Config) -> anyhow::Result<aws_sdk_qbusiness::Client> {
    Ok(q_client_from(&sdk_config(cfg).await?, cfg))
}

/// The Q Business client of an AWS configuration, with the configured
/// endpoint. The SDK's own retries are off: the sink retries, so that it
/// sees every throttle and can adapt its concurrency.
pub fn q_client_from(sdk: &aws_config::SdkConfig, cfg: &Config) -> aws_sdk_qbusiness::Client {
    let mut conf = aws_sdk_qbusiness::config::Builder::from(sdk)
        .retry_config(aws_sdk_qbusiness::config::retry::RetryConfig::disabled());
    if let Some(e) = &cfg.q().endpoint_url {
        conf = conf.endpoint_url(e);
    }
    aws_sdk_qbusiness::Client::from_conf(conf.build())
}

/// The S3 staging of large files, when a bucket is configured: the same
/// AWS chain and region as Q, the configured endpoint and addressing.
pub fn s3_staging_from(sdk: &aws_config::SdkConfig, cfg: &Config) -> Option<bcq_q::s3::S3Staging> {
    let s3 = cfg.sync.s3.as_ref()?;
    let mut conf = aws_sdk_s3::config::Builder::from(sdk);
    if let Some(e) = &s3.endpoint_url {
        conf = conf.endpoint_url(e);
    }
    conf = conf.force_path_style(s3.force_path_style);
    Some(bcq_q::s3::S3Staging::new(
        aws_sdk_s3::Client::from_conf(conf.build()),
        &s3.bucket,
        &s3.prefix,
        &s3.role_arn,
    ))
}

/// Sets the configured groups in Q, then deletes the groups bcq put
/// earlier that the configuration no longer has: before any document goes
/// out, so their members lose access first. Groups bcq did not put are
/// never touched.
async fn sync_groups(
    cfg: &Config,
    sink: &QSink,
    store: &mut StateStore,
    ui: &Ui,
) -> anyhow::Result<()> {
    if !cfg.sync.groups.is_empty() {
        ui.step("setting group memberships in Amazon Q Business");
        let put = sink.put_groups(&cfg.sync.groups).await?;
        store.remember_groups(&put)?;
    }
    let removed: Vec<(String, Option<String>)> = store
        .groups()?
        .into_iter()
        .filter(|(name, _)| !cfg.sync.groups.iter().any(|g| &g.name == name))
        .collect();
    if !removed.is_empty() {
        ui.step("deleting groups removed from the configuration from Amazon Q Business");
        for (name, data_source) in removed {
            sink.delete_group(&name, data_source.as_deref()).await?;
            store.forget_group(&name)?;
            tracing::info!(group = %name, "group removed from the configuration deleted from Q");
        }
    }
    Ok(())
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

fn lock(state: &Mutex<StateStore>) -> std::sync::MutexGuard<'_, StateStore> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs one sync. Errors returned here happened before any document was
/// sent (configuration, BC access, Q access); the run's own failures are in
/// the summary.
pub async fn run(
    cfg: &Config,
    flags: &RunFlags,
    aws: AwsClients,
    ui: &Ui,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let mut store = StateStore::open(&cfg.sync.state_path)
        .with_context(|| format!("opening the state file {}", cfg.sync.state_path.display()))?;
    // Two bcq processes sharing a state file would take each other's runs
    // for interrupted ones and stop each other's sync jobs.
    let _lock = store.lock_for_sync()?;
    let interrupted = store.mark_interrupted_runs()?;
    if interrupted > 0 {
        tracing::warn!(
            runs = interrupted,
            "an earlier run was interrupted; this run repairs what it left"
        );
    }
    let recent = store.recent_runs(50)?;
    let known_jobs: Vec<String> = recent
        .iter()
        .filter_map(|r| r.sync_job_id.clone())
        .collect();
    // A run killed between starting its job and recording the job's id
    // leaves a job only its start time ties to it.
    let last_interrupted_start = recent
        .iter()
        .filter(|r| r.outcome == "interrupted")
        .map(|r| r.started_at.timestamp())
        .max();

    // BC first: a bad secret, a wrong environment or an unknown company
    // must fail before a Q sync job exists.
    ui.step("checking Business Central access");
    let targets = plan::resolve(cfg, Some(&mut store)).await?;
    let units = plan::units(cfg, &targets, &store, flags.mode != Mode::Incremental)?;
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
            "documents go out WITHOUT access control: every user of the Q application can read them; add [[access]] rules"
        );
    }
    let mut sink = QSink::new(
        aws.q,
        cfg.q().target.clone(),
        QOptions {
            max_concurrency: cfg.sync.push_concurrency,
            ..QOptions::default()
        },
    );
    if let Some(staging) = aws.staging {
        sink = sink.with_staging(staging);
    }
    let sink = Arc::new(sink);
    let check = sink.check_schema(&wanted_attributes(cfg)).await?;
    if !check.complete() {
        let mut why = Vec::new();
        if !check.missing.is_empty() {
            why.push(format!("not declared: {}", check.missing.join(", ")));
        }
        for (n, have, want) in &check.wrong_type {
            why.push(format!("{n} is declared {have}, bcq sends {want}"));
        }
        return Err(anyhow!(
            "the Q index {} lacks custom attributes bcq sends ({}); documents would fail to index. run `bcq index-schema --apply` once to declare them",
            cfg.q().target.index_id,
            why.join("; ")
        ));
    }
    // Q indexes after accepting: a document can fail later, which no call
    // of the run that pushed it can see. A reconciling run looks (ListDocuments
    // pages through the whole index, so not every run), reports them and
    // forgets them, so that its full read pushes them again.
    let mut failed_before = Vec::new();
    if units.iter().any(|u| u.reconcile) {
        failed_before = sink.failed_to_index().await?;
        if !failed_before.is_empty() {
            let ids: Vec<String> = failed_before.iter().map(|(id, _)| id.clone()).collect();
            store.commit_deletes(&ids)?;
            for (id, reason) in &failed_before {
                tracing::warn!(doc_id = %id, reason = %reason, "q failed to index this document after accepting it; pushing it again");
            }
        }
    }
    sync_groups(cfg, &sink, &mut store, ui).await?;
    ui.step("starting the Amazon Q Business sync job");
    let mut stopped_stale = false;
    for job in sink.running_jobs().await? {
        let ours = known_jobs.contains(&job.execution_id)
            || matches!((job.started_epoch, last_interrupted_start), (Some(s), Some(t)) if s >= t - 5);
        if ours && job.status == "SYNCING" {
            stopped_stale = true;
            tracing::warn!(execution_id = %job.execution_id, "stopping the sync job an interrupted bcq run left running");
            sink.stop_job_id(&job.execution_id).await?;
        }
    }
    let wait = cfg.sync.wait_for_job.or_else(|| {
        // The stale job we just stopped may still be finishing.
        stopped_stale.then_some(Duration::from_secs(120))
    });
    let mode_name = match flags.mode {
        Mode::Incremental => "incremental",
        Mode::Reconcile => "reconcile",
        Mode::Full => "full",
    };
    // The run is recorded before its job starts, so that a kill at any
    // point leaves a run whose start time identifies the job.
    let run_id = store.begin_run(mode_name)?;
    let job_id = match sink.start_job(wait).await {
        Ok(j) => j,
        Err(e) => {
            store.finish_run(run_id, "failed", RunCounts::default())?;
            return Err(e.into());
        }
    };
    store.set_run_sync_job(run_id, &job_id)?;
    tracing::info!(run_id, sync_job = %job_id, mode = mode_name, "run started");

    let state = Arc::new(Mutex::new(store));
    let progress = Arc::new(Progress::default());
    let engine = Engine::new(
        sink.clone(),
        state.clone(),
        plan::engine_config(cfg, flags.mode, flags.allow_mass_delete, Stop::default()),
        run_id,
        progress.clone(),
    );
    let ticker = ui.start_progress(progress.clone());
    let work = async {
        let mut reports: Vec<(Unit, UnitReport)> = Vec::new();
        for unit in units {
            ui.step(&format!(
                "syncing {} of {}",
                unit.spec.entity_set, unit.ctx.company_name
            ));
            let r = engine.sync_unit(&unit).await;
            let fatal = r.fatal;
            reports.push((unit, r));
            if fatal {
                break;
            }
        }
        let mut cleanup = None;
        let clean = reports
            .iter()
            .all(|(_, r)| r.errors.is_empty() && r.counts.failed == 0);
        if cfg.sync.delete_sample_documents && clean {
            ui.step("deleting the sample connector's documents that bcq replaced");
            let units: Vec<Unit> = reports.iter().map(|(u, _)| u.clone()).collect();
            cleanup = Some(crate::migrate::delete_sample_documents(&sink, &units, &state).await);
        }
        (reports, cleanup)
    };
    let ((reports, cleanup), interrupted) = tokio::select! {
        r = work => (r, false),
        _ = tokio::signal::ctrl_c() => ((Vec::new(), None), true),
    };
    ticker.finish();

    // Stop the job whatever happened: Q runs one job at a time per data
    // source, and a job left running blocks the next run.
    let stop_error = sink.stop_job().await.err();

    let mut counts = RunCounts::default();
    let mut errors = Vec::new();
    let mut rejected = Vec::new();
    let mut unit_lines = Vec::new();
    let mut read = 0;
    for (unit, r) in &reports {
        counts += r.counts;
        read += r.read;
        errors.extend(r.errors.iter().cloned());
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
    if let Some(e) = stop_error {
        errors.push(format!("stopping the sync job: {e}"));
    }
    let outcome = if interrupted {
        "interrupted"
    } else if counts.failed > 0 || !errors.is_empty() {
        "failed"
    } else {
        "succeeded"
    };
    lock(&state).finish_run(run_id, outcome, counts)?;
    let bc_stats = targets
        .iter()
        .map(|t| t.client.stats())
        .fold((0, 0, 0), |acc, s| {
            (acc.0 + s.requests, acc.1 + s.retries, acc.2 + s.throttled)
        });
    let q_stats = &sink.stats;
    use std::sync::atomic::Ordering::Relaxed;
    Ok(RunSummary {
        outcome: outcome.into(),
        run_id,
        sync_job_id: Some(job_id),
        mode: mode_name.into(),
        seconds: started.elapsed().as_secs_f64(),
        read,
        counts,
        truncated: progress.truncated.load(Relaxed),
        skipped: progress.skipped.load(Relaxed),
        unattached: progress.unattached.load(Relaxed),
        without_access_control,
        sample_documents,
        bc_requests: bc_stats.0,
        bc_retries: bc_stats.1,
        bc_throttled: bc_stats.2,
        q_put_calls: q_stats.put_calls.load(Relaxed),
        q_delete_calls: q_stats.delete_calls.load(Relaxed),
        q_throttled: q_stats.throttled.load(Relaxed),
        peak_rss_mb: peak_rss_mb(),
        cpu_seconds: cpu_seconds(),
        units: unit_lines,
        errors,
        repushed_after_index_failure: failed_before
            .into_iter()
            .map(|(id, reason)| RejectedDoc { id, reason })
            .collect(),
        rejected: rejected
            .into_iter()
            .take(50)
            .map(|Rejected { doc_id, reason }| RejectedDoc { id: doc_id, reason })
            .collect(),
    })
}
