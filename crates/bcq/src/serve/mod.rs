//! `bcq serve`: an always-on connector.
//!
//! One loop keeps every configured unit in step:
//! - every `BCQ_POLL_SECONDS` (300) a run reads every unit incrementally
//!   (and reconciles those due, as `bcq sync` does), and the webhook
//!   subscriptions are kept ([`hooks`]);
//! - a notification from BC wakes the loop; after `BCQ_WINDOW_MS` (1 s)
//!   for more to arrive, a run syncs just the notified units: deleted
//!   records' documents are deleted, then each unit is read from its
//!   cursor, which is one request for all its created and updated records
//!   (fewer than reading them one by one); `collection` is the same read.
//!
//! # Destination runs
//! Each run that writes is one destination run (a Q sync job), opened at
//! its first write (a poll that finds nothing new opens none), closed at
//! its end and followed until indexed, as in `bcq sync`. Q runs one job per data
//! source at a time and a stopped job goes on indexing (SYNCING_INDEXING),
//! so a second job could not start earlier anyway: following costs no
//! freshness and reports indexing failures; the next run starts on a free
//! data source instead of waiting. Notifications that arrive meanwhile are
//! recorded and handled together by the next run (a micro-batch per
//! window, not a job per notification).
//!
//! # Stopping
//! SIGTERM or SIGINT stops taking work; the run in flight finishes or
//! checkpoints (acknowledged documents are recorded, the Q job is stopped)
//! within `BCQ_GRACE_SECONDS`; then the listener closes and the process
//! exits 0. Notifications recorded and not yet handled wait in the state
//! store for the next start.

pub mod hooks;
pub mod http;
pub mod metrics;
pub mod tls;

use crate::config::Config;
use crate::plan;
use crate::sync::{self, RunFlags};
use crate::ui::Ui;
use anyhow::Context;
use bcq_core::engine::{Mode, Stop};
use bcq_state::{Change, RunOutcome, StateStore};
use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::Instant;

/// What the loop and the HTTP handlers share.
pub struct Shared {
    cfg: Config,
    /// The state store connection of the handlers and the loop's
    /// bookkeeping (runs open their own).
    store: Mutex<StateStore>,
    /// Woken by each recorded notification.
    wake: Notify,
    /// The metrics.
    pub metrics: metrics::Metrics,
    /// `webhookSupportedResources` per company (read once).
    supported: Mutex<HashMap<String, Vec<String>>>,
    /// Why the last run could not start; `None` after one that did.
    last_error: Mutex<Option<String>>,
    /// Whether a run has been tried yet.
    tried: std::sync::atomic::AtomicBool,
}

/// How one turn of the loop ended.
enum Cycle {
    /// Nothing to do.
    Idle,
    /// A run ended so.
    Ran(RunOutcome),
    /// The run could not start (BC, the destination, the state store).
    NotStarted,
}

/// The first wait before trying again a run that could not start; it
/// doubles up to the poll interval (at most [`RETRY_MAX`]).
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest wait before trying again a run that could not start.
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(300);

/// The longest `/readyz` waits for a BC token.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What `bcq serve` did, for its last words.
#[derive(Debug, Default)]
pub struct ServeReport {
    /// Runs finished.
    pub runs: u64,
    /// Runs that failed or could not start.
    pub failed_runs: u64,
    /// Whether the grace period ran out with a run still going.
    pub cut_short: bool,
}

impl Shared {
    fn last_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The readiness checks: (what, ok, detail).
    pub async fn readiness(&self) -> Vec<(&'static str, bool, String)> {
        let mut out = Vec::new();
        match self
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .schema_version()
        {
            Ok(v) => out.push(("state", true, format!("schema version {v}"))),
            Err(e) => out.push(("state", false, e.to_string())),
        }
        let env = self
            .cfg
            .bc
            .environments
            .first()
            .cloned()
            .unwrap_or_default();
        // A probe must answer quickly: the token is cached, but a token
        // endpoint that is down would hold the probe for the whole retry
        // schedule.
        let token = match plan::bc_client(&self.cfg, &env) {
            Ok(c) => match tokio::time::timeout(READY_TIMEOUT, c.token_check()).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "no token within {} s (the token endpoint is slow or down)",
                    READY_TIMEOUT.as_secs()
                )),
            },
            Err(e) => Err(format!("{e:#}")),
        };
        match token {
            Ok(()) => out.push(("business central token", true, "ok".into())),
            Err(e) => out.push(("business central token", false, e)),
        }
        let tried = self.tried.load(std::sync::atomic::Ordering::SeqCst);
        match (tried, self.last_error().clone()) {
            (false, _) => out.push(("destination", false, "no run has started yet".into())),
            (true, None) => out.push(("destination", true, "the last run reached it".into())),
            (true, Some(e)) => out.push((
                "destination",
                false,
                format!("the last run could not start: {e}"),
            )),
        }
        out
    }

    /// Gauges read at scrape time: lag, pending notifications, BC budget.
    pub async fn refresh_gauges(&self) {
        let (units, pending) = {
            let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            (
                store.units().unwrap_or_default(),
                store.pending_notifications().map(|p| p.len()).unwrap_or(0),
            )
        };
        let now = chrono::Utc::now();
        for (key, st) in units {
            if let Some(c) = st.cursor {
                self.metrics
                    .lag
                    .get_or_create(&metrics::UnitLabel {
                        unit: key.to_string(),
                    })
                    .set((now - c).num_milliseconds() as f64 / 1000.0);
            }
        }
        self.metrics.notifications_pending.set(pending as i64);
        for env in &self.cfg.bc.environments {
            if let Ok(c) = plan::bc_client(&self.cfg, env) {
                let label = metrics::Environment {
                    environment: env.clone(),
                };
                let used = c.budget().used().await;
                self.metrics
                    .bc_budget_used
                    .get_or_create(&label)
                    .set(used as i64);
                self.metrics
                    .bc_budget_limit
                    .get_or_create(&label)
                    .set(c.budget().requests_per_window() as i64);
            }
        }
    }

    /// One run: every unit (`all`) or those notified. Notifications are
    /// forgotten once handled: after a run that succeeded all of them;
    /// after one that failed those that the next read covers anyway (the
    /// cursor did not move), keeping deletions to be tried again.
    async fn cycle(&self, all: bool, ui: &Ui, stop: &Stop) -> Cycle {
        let pending = match self
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending_notifications()
        {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the pending notifications");
                return Cycle::NotStarted;
            }
        };
        if !all && pending.is_empty() {
            return Cycle::Idle;
        }
        if all {
            // Replicas on PostgreSQL: the others' polls see this one serve.
            crate::replicas::announce_serving(
                &mut self.store.lock().unwrap_or_else(|e| e.into_inner()),
                self.cfg.serve.poll,
            );
        }
        let (units, deleted) = hooks::plan_of(&pending);
        let mut flags = RunFlags::new(Mode::Incremental, false);
        // Replicas: a poll leaves alone a unit another replica synced
        // since the previous poll (within 90% of the interval), and one
        // this replica synced at its previous poll while others serve
        // (crate::replicas).
        flags.fresh_within = all.then_some(self.cfg.serve.poll.mul_f64(0.9));
        flags.notified = units.clone();
        flags.only = (!all).then_some(units);
        flags.deleted = deleted;
        self.tried.store(true, std::sync::atomic::Ordering::SeqCst);
        let run = async {
            let dest = sync::open_destination(&self.cfg).await?;
            sync::run(&self.cfg, &flags, dest, ui, stop.clone()).await
        };
        match run.await {
            Ok(s) => {
                *self.last_error() = None;
                self.metrics.record_run(&s, &s.bc_by_environment);
                tracing::info!(
                    outcome = %s.outcome,
                    notified = pending.len(),
                    units = s.units.len(),
                    read = s.read,
                    added = s.counts.added,
                    updated = s.counts.updated,
                    deleted = s.counts.deleted,
                    failed = s.counts.failed,
                    seconds = s.seconds,
                    "run finished"
                );
                for e in &s.errors {
                    tracing::warn!(error = %crate::redact::redact(e), "run error");
                }
                // A unit another replica was syncing keeps its
                // notifications: they may have come after its read began.
                let held: std::collections::BTreeSet<&str> =
                    s.held_elsewhere.iter().map(String::as_str).collect();
                let done: Vec<i64> = pending
                    .iter()
                    .filter(|n| !held.contains(n.unit.to_string().as_str()))
                    .filter(|n| match s.outcome {
                        RunOutcome::Succeeded => true,
                        RunOutcome::Failed => n.change != Change::Deleted,
                        _ => false,
                    })
                    .map(|n| n.id)
                    .collect();
                if let Err(e) = self
                    .store
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .forget_notifications(&done)
                {
                    tracing::error!(error = %e, "cannot forget handled notifications (they will be handled again)");
                }
                Cycle::Ran(s.outcome)
            }
            Err(e) if another_process_syncs(&e) => {
                // Replicas share the lock (crate::replicas); it is held
                // alone by a process that is not a replica: a `bcq reset`
                // or `copy-state`, or a bcq syncing the same state file.
                // This one waits for the next poll or notification; if the
                // holder dies, the lock is released at once.
                tracing::info!(
                    "another bcq process holds the sync lock (a reset, a copy of the state, or a bcq on the same state file); waiting"
                );
                *self.last_error() = None;
                Cycle::Idle
            }
            Err(e) => {
                self.metrics.run_errors.inc();
                let msg = crate::redact::redact(&format!("{e:#}")).into_owned();
                tracing::warn!(error = %msg, "the run could not start");
                *self.last_error() = Some(msg);
                Cycle::NotStarted
            }
        }
    }
}

/// True if the run did not start because another process holds the sync
/// lock of the same state.
fn another_process_syncs(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<bcq_state::StateError>(),
            Some(bcq_state::StateError::Locked { .. })
        )
    })
}

/// Runs `bcq serve` until `stop` (see the module doc).
pub async fn run(mut cfg: Config, ui: &Ui, stop: Stop) -> anyhow::Result<ServeReport> {
    // A poll that finds nothing new must not leave an empty Q sync job.
    // With the state in PostgreSQL the replicas' shared run opens at the
    // first write instead (crate::replicas), around a destination that
    // opens its run when asked.
    cfg.common.lazy_runs = !matches!(cfg.sync.state, bcq_state::Location::Postgres(_));
    let store = StateStore::open_at(&cfg.sync.state)
        .with_context(|| format!("opening the state in {}", cfg.sync.state))?;
    let listener = tokio::net::TcpListener::bind(cfg.serve.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (serve.listen / BCQ_LISTEN): choose a free address and port",
                cfg.serve.listen
            )
        })?;
    let local = listener.local_addr()?;
    let grace = cfg.serve.grace;
    let shared = Arc::new(Shared {
        cfg,
        store: Mutex::new(store),
        wake: Notify::new(),
        metrics: metrics::Metrics::new(),
        supported: Mutex::new(HashMap::new()),
        last_error: Mutex::new(None),
        tried: Default::default(),
    });
    tracing::info!(
        listen = %local,
        tls = shared.cfg.serve.tls.is_some(),
        webhooks = shared.cfg.serve.public_url.as_ref().map(hooks::notification_url).unwrap_or_else(|| "off (BCQ_PUBLIC_URL unset): polling only".into()),
        poll_seconds = shared.cfg.serve.poll.as_secs(),
        "bcq serve started"
    );
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let until_done = async {
        let _ = done_rx.await;
    };
    let router = http::router(shared.clone());
    let server = match &shared.cfg.serve.tls {
        Some((cert, key)) => {
            let listener = tls::TlsListener::new(listener, tls::acceptor(cert, key)?)?;
            tokio::spawn(
                axum::serve(listener, router)
                    .with_graceful_shutdown(until_done)
                    .into_future(),
            )
        }
        None => tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(until_done)
                .into_future(),
        ),
    };
    let mut report = ServeReport::default();
    let worked = {
        let work = work(&shared, ui, &stop, &mut report);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => r,
            _ = async { stop.wait().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "the grace period ran out with a run in flight; exiting (the next start closes what it left)");
                Ok(true)
            }
        }
    };
    crate::replicas::withdraw_serving(&mut shared.store.lock().unwrap_or_else(|e| e.into_inner()));
    let _ = done_tx.send(());
    let _ = server.await;
    report.cut_short = matches!(worked, Ok(true));
    worked.map(|_| report)
}

/// Returns the memory a run freed to the system. glibc keeps freed memory
/// in its arenas (one per thread that allocated), so a service that ran
/// one large read would otherwise stay at its peak while idle.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it touches no live
    // allocation and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The loop; `Ok(false)` when it ended by itself after a stop.
async fn work(sh: &Shared, ui: &Ui, stop: &Stop, report: &mut ServeReport) -> anyhow::Result<bool> {
    let poll = sh.cfg.serve.poll;
    let mut next_poll = Instant::now();
    let mut retry = RETRY_FIRST;
    let webhooks_kept = |sh: &Shared| {
        sh.cfg.serve.public_url.is_some()
            || sh
                .store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .subscriptions()
                .map(|s| !s.is_empty())
                .unwrap_or(false)
    };
    loop {
        if stop.requested() {
            return Ok(false);
        }
        let all = Instant::now() >= next_poll;
        if all {
            next_poll = Instant::now() + poll;
            if webhooks_kept(sh) {
                match sh.maintain_subscriptions().await {
                    Ok(m) if m.elsewhere => {
                        tracing::info!("another replica is keeping the webhook subscriptions");
                    }
                    Ok(m) => {
                        tracing::info!(
                            subscribed = m.subscribed.len(),
                            polled = m.polled.len(),
                            created = m.created,
                            renewed = m.renewed,
                            deleted = m.deleted,
                            "webhook subscriptions kept"
                        );
                        for e in m.errors {
                            tracing::warn!(error = %e, "webhook subscription");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "could not keep the webhook subscriptions; polling meanwhile")
                    }
                }
            }
        }
        match sh.cycle(all, ui, stop).await {
            Cycle::Idle => {}
            Cycle::Ran(outcome) => {
                give_back_memory();
                retry = RETRY_FIRST;
                report.runs += 1;
                if outcome != RunOutcome::Succeeded && outcome != RunOutcome::Interrupted {
                    report.failed_runs += 1;
                }
            }
            Cycle::NotStarted => {
                // Sooner than the next poll, backing off.
                report.failed_runs += 1;
                next_poll = next_poll.min(Instant::now() + retry);
                tracing::info!(retry_in_seconds = retry.as_secs(), "trying the run again");
                retry = (retry * 2).min(poll).min(RETRY_MAX);
            }
        }
        tokio::select! {
            _ = stop.wait() => return Ok(false),
            _ = tokio::time::sleep_until(next_poll) => {}
            _ = sh.wake.notified() => {
                tokio::select! {
                    _ = stop.wait() => return Ok(false),
                    _ = tokio::time::sleep(sh.cfg.serve.window) => {}
                }
            }
        }
    }
}
