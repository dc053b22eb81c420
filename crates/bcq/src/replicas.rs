//! Several bcq processes on one PostgreSQL state (`bcq serve` replicas, and
//! a `bcq sync` beside them) split the work instead of taking turns.
//!
//! - **Units are leased.** Before a run syncs a unit it takes the lease
//!   `unit:<env/company/entity>` in the state store; a unit another live
//!   process holds is left to it (and reported as such). A process renews
//!   its leases every third of `BCQ_LEASE_SECONDS` from a task of its own;
//!   a killed one's leases expire and its units are synced by the next run
//!   of any other process. Each replica starts at a different unit, so
//!   that they spread over the units at once.
//! - **Polls take turns on a unit.** A `bcq serve` replica marks a unit it
//!   synced at a poll; the other replicas' polls leave it alone for 90% of
//!   the poll interval. While other replicas serve (each announces itself
//!   with a `serving:<id>` lease renewed at every poll), the replica that
//!   synced the unit also leaves it alone at its own next poll, so that
//!   whichever replica polls next takes it: without that, replicas whose
//!   polls fall in the same phase as another's never find a unit free, and
//!   one replica does all the work.
//! - **One destination run, shared.** Q runs one sync job per data source
//!   at a time, so replicas *share* it rather than take turns: the first
//!   process to write opens the job and records it (`shared_run`), the
//!   others write into it, and the last one to finish closes it and follows
//!   its indexing. Taking turns would serialise the replicas on the job and
//!   leave only one of them working at a time, which is the arrangement
//!   this module replaces. Opening, joining and closing happen under one
//!   lease (the turn), so a process never joins a job that is being closed.
//!   A job whose writers all died is closed by the next run of any replica.
//! - **BC's budget is shared.** Each BC request is also taken from a count
//!   in the state store per environment (the window's requests and the
//!   requests in flight), so that N replicas together stay within BC's
//!   6,000 requests per 5 minutes and 5 in flight, not N times that.
//!
//! With a SQLite state none of this applies: one process syncs at a time
//! under the file's lock.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use bcq_core::acl::GroupSpec;
use bcq_core::catalog::AttrKind;
use bcq_core::destination::{
    AccessModel, AttributeCheck, BoxFuture, Check, Destination, DestinationError, GroupSync,
    Limits, Outcome, Rejected, RunEnd, RunStart, Source, Stat,
};
use bcq_core::document::Document;
use bcq_core::engine::Stop;
use bcq_state::{Location, StateStore};

/// The lease that orders opening, joining and closing the shared run.
const TURN: &str = "destination-run";
/// The longest a process waits for the turn (another process may be
/// following its job's indexing, which Q finishes before a new job).
const TURN_WAIT: Duration = Duration::from_secs(20 * 60);
/// The same once a stop was asked for: a replica that cannot take the turn
/// in time leaves the run open, and a later run of any replica closes it.
const STOPPING_TURN_WAIT: Duration = Duration::from_secs(5);

fn lock(store: &Mutex<StateStore>) -> std::sync::MutexGuard<'_, StateStore> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's name among replicas: host, process id and a random
/// part (two containers may have the same host name and pid 1).
pub fn replica_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "bcq".into());
        format!(
            "{host}-{}-{:06x}",
            std::process::id(),
            rand::random::<u32>() & 0xff_ffff
        )
    })
}

fn lease_name(unit: &str) -> String {
    format!("unit:{unit}")
}

fn member_lease() -> String {
    format!("member:{}", replica_id())
}

/// The lease by which a `bcq serve` replica says that it polls.
fn serving_lease() -> String {
    format!("serving:{}", replica_id())
}

/// The holder of this process's "serving" and "synced" leases: not its id,
/// so that a run's heartbeat, which renews what the id holds for the units'
/// time to live, leaves their own times alone.
fn own_mark() -> String {
    format!("({})", replica_id())
}

/// Says, for three poll intervals, that this `bcq serve` polls the units
/// (see the module doc); called at every poll. Nothing with a state file,
/// where there are no replicas.
pub fn announce_serving(store: &mut StateStore, poll: Duration) {
    if !store.is_postgres() {
        return;
    }
    if let Err(e) = store.try_lease(&serving_lease(), &own_mark(), poll * 3) {
        tracing::warn!(error = %e, "cannot announce this replica to the others (they may leave it fewer units)");
    }
}

/// Withdraws [`announce_serving`] (a `bcq serve` that stops).
pub fn withdraw_serving(store: &mut StateStore) {
    if !store.is_postgres() {
        return;
    }
    if let Err(e) = store.release_lease(&serving_lease(), &own_mark()) {
        tracing::warn!(error = %e, "cannot withdraw this replica's announcement (it expires by itself)");
    }
}

/// Why a poll leaves a unit that was synced moments ago alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fresh {
    /// Another replica synced it since the previous poll.
    ByOther,
    /// This replica synced it at its previous poll, and other replicas
    /// serve: one of them takes it this time.
    ByThis,
}

/// One run's part in the replicas' work: its liveness lease, renewed until
/// it is dropped.
#[derive(Debug)]
pub struct Replica {
    ttl: Duration,
    heartbeat: tokio::task::JoinHandle<()>,
    /// One connection for the leases of the run: the heartbeat's, the
    /// shared destination run's, the release on drop.
    store: Arc<Mutex<StateStore>>,
    /// Whether another `bcq serve` announced itself when the run began.
    others_serving: bool,
}

impl Replica {
    /// Starts taking part: takes this process's liveness lease and renews
    /// every lease it holds every third of `ttl`, on a connection of its
    /// own.
    pub fn start(location: &Location, ttl: Duration) -> anyhow::Result<Replica> {
        let mut store = StateStore::open_at(location)
            .with_context(|| format!("opening the state in {location} for the replica's leases"))?;
        store.try_lease(&format!("replica:{}", replica_id()), replica_id(), ttl)?;
        // A hint: if it cannot be read, this replica takes its units at
        // every poll, as a replica alone does.
        let others_serving = match store.live_leases("serving:") {
            Ok(l) => l.iter().any(|l| l.name != serving_lease()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read which other replicas serve; this run does not leave them its units");
                false
            }
        };
        let store = Arc::new(Mutex::new(store));
        let renewing = store.clone();
        let heartbeat = tokio::spawn(async move {
            let every = ttl / 3;
            loop {
                tokio::time::sleep(every).await;
                let renewed = lock(&renewing).renew_leases(replica_id(), ttl);
                if let Err(e) = renewed {
                    tracing::warn!(error = %e, "cannot renew this replica's leases (another replica may take its units over)");
                }
            }
        });
        Ok(Replica {
            ttl,
            heartbeat,
            store,
            others_serving,
        })
    }

    /// Takes the unit `key` for this run: false if another live process
    /// syncs it.
    pub fn lease_unit(&self, store: &mut StateStore, key: &str) -> anyhow::Result<bool> {
        Ok(store.try_lease(&lease_name(key), replica_id(), self.ttl)?)
    }

    /// Gives the unit back.
    pub fn release_unit(&self, store: &mut StateStore, key: &str) {
        if let Err(e) = store.release_lease(&lease_name(key), replica_id()) {
            tracing::warn!(unit = key, error = %e, "cannot give the unit's lease back (it expires by itself)");
        }
    }

    /// Notes that the unit was synced now: other replicas' polls leave it
    /// alone for `within`, this one's for twice that (see [`Replica::fresh`]).
    pub fn mark_synced(&self, store: &mut StateStore, key: &str, within: Duration) {
        // Held by no process (no heartbeat renews it): a time stamp.
        // Set whoever marked it before: another replica's mark, still
        // live for its owner, must not outlive this sync.
        if let Err(e) = store.set_lease(&format!("synced:{key}"), &own_mark(), within * 2) {
            tracing::warn!(unit = key, error = %e, "cannot note that the unit was synced");
        }
    }

    /// Whether a poll leaves the unit alone because it was synced moments
    /// ago: by another replica less than `within` ago, or by this one at
    /// its previous poll while other replicas serve. A replica alone takes
    /// its units at every poll.
    pub fn fresh(&self, store: &StateStore, key: &str, within: Duration) -> Option<Fresh> {
        let name = format!("synced:{key}");
        let mark = store
            .live_leases(&name)
            .ok()?
            .into_iter()
            .find(|l| l.name == name)?;
        if mark.holder == own_mark() {
            self.others_serving.then_some(Fresh::ByThis)
        } else {
            // Marked for twice `within`: more than `within` left means
            // marked less than `within` ago.
            let within_ms = i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
            (mark.expires_in_ms > within_ms).then_some(Fresh::ByOther)
        }
    }

    /// Where this replica starts among `n` units, so that replicas spread.
    pub fn first_unit(&self, n: usize) -> usize {
        let h = replica_id()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        if n == 0 { 0 } else { (h % n as u64) as usize }
    }

    /// The destination, wrapped so that this run shares the destination
    /// run with the other replicas.
    /// `stop`: after a stop request, leaving the run waits for the turn
    /// only briefly (see [`STOPPING_TURN_WAIT`]).
    pub fn share(&self, inner: Arc<dyn Destination>, stop: Stop) -> Arc<dyn Destination> {
        Arc::new(SharedRun {
            inner,
            store: self.store.clone(),
            ttl: self.ttl,
            stop,
            start: Mutex::new(None),
            joined: tokio::sync::Mutex::new(None),
        })
    }
}

impl Drop for Replica {
    /// Stops renewing and gives back this process's liveness lease (its
    /// units and the shared run's membership were given back as the run
    /// went; whatever was not expires by itself).
    fn drop(&mut self) {
        self.heartbeat.abort();
        let _ = lock(&self.store).release_lease(&format!("replica:{}", replica_id()), replica_id());
    }
}

/// A destination whose run replicas share (see the module doc). The run
/// opens at the first write, as `bcq serve`'s lazy runs do.
struct SharedRun {
    inner: Arc<dyn Destination>,
    /// The replica's lease connection (the engine holds the run's).
    store: Arc<Mutex<StateStore>>,
    ttl: Duration,
    /// The run's stop request.
    stop: Stop,
    /// What `open_run` was given, for the first write.
    start: Mutex<Option<RunStart>>,
    /// `Some` once this process writes into a run: the run's id, or
    /// `None` for a destination without runs.
    joined: tokio::sync::Mutex<Option<Option<String>>>,
}

impl SharedRun {
    fn store(&self) -> std::sync::MutexGuard<'_, StateStore> {
        lock(&self.store)
    }

    fn state_err(e: bcq_state::StateError) -> DestinationError {
        DestinationError::fatal(format!("sharing the destination run: {e}"))
    }

    /// Takes the turn, waiting while another process has it: at most
    /// [`TURN_WAIT`], or [`STOPPING_TURN_WAIT`] once a stop was asked for
    /// (a signal must not wait for another replica's indexing).
    async fn take_turn(&self) -> Result<(), DestinationError> {
        let began = Instant::now();
        let mut said = Instant::now();
        loop {
            if self
                .store()
                .try_lease(TURN, replica_id(), self.ttl)
                .map_err(Self::state_err)?
            {
                return Ok(());
            }
            let limit = if self.stop.requested() {
                STOPPING_TURN_WAIT
            } else {
                TURN_WAIT
            };
            if began.elapsed() > limit {
                return Err(DestinationError::fatal(format!(
                    "another replica kept the destination run's turn for {} s; it may be stuck (its lease expires {} s after it stops)",
                    began.elapsed().as_secs(),
                    self.ttl.as_secs()
                )));
            }
            if said.elapsed() > Duration::from_secs(10) {
                tracing::info!(
                    waited_s = began.elapsed().as_secs(),
                    "waiting for another replica to open or close the shared destination run"
                );
                said = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn give_turn(&self) {
        if let Err(e) = self.store().release_lease(TURN, replica_id()) {
            tracing::warn!(error = %e, "cannot give the destination run's turn back (it expires by itself)");
        }
    }

    /// Whether a live process other than this one writes into the shared run.
    fn others_write(&self) -> Result<bool, DestinationError> {
        let mine = member_lease();
        Ok(self
            .store()
            .live_leases("member:")
            .map_err(Self::state_err)?
            .iter()
            .any(|l| l.name != mine))
    }

    /// Joins the shared run, or opens it (closing one whose writers died).
    async fn join_or_open(&self) -> Result<Option<String>, DestinationError> {
        let mut start = self
            .start
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        let shared = self.store().shared_run().map_err(Self::state_err)?;
        if let Some(run) = &shared {
            if self.others_write()? {
                let opened = chrono::DateTime::from_timestamp_millis(run.opened_at_ms)
                    .unwrap_or_else(chrono::Utc::now);
                self.inner.adopt_run(&run.destination_run, opened);
                self.store()
                    .try_lease(&member_lease(), replica_id(), self.ttl)
                    .map_err(Self::state_err)?;
                tracing::info!(destination_run = %run.destination_run, "writing into the destination run another replica opened");
                return Ok(Some(run.destination_run.clone()));
            }
            // Its writers died: the run is bcq's to close.
            start.own_runs.push(run.destination_run.clone());
        }
        let id = self.inner.open_run(&start).await?;
        if let Some(id) = &id {
            let mut store = self.store();
            store.set_shared_run(id).map_err(Self::state_err)?;
            store
                .try_lease(&member_lease(), replica_id(), self.ttl)
                .map_err(Self::state_err)?;
            tracing::info!(destination_run = %id, "opened the destination run the replicas share");
        }
        Ok(id)
    }

    /// Before a write: this process writes into the shared run.
    async fn ensure_run(&self) -> Result<(), DestinationError> {
        let mut joined = self.joined.lock().await;
        if joined.is_some() {
            return Ok(());
        }
        self.take_turn().await?;
        let r = self.join_or_open().await;
        self.give_turn();
        *joined = Some(r?);
        Ok(())
    }

    /// Closes a shared run whose writers all died, if there is one and
    /// the turn is free (a run that wrote nothing itself).
    async fn close_abandoned(&self, follow: Duration) -> RunEnd {
        let stale = match self.store().shared_run() {
            Ok(Some(run)) => run,
            _ => return RunEnd::default(),
        };
        if !matches!(self.others_write(), Ok(false))
            || !self
                .store()
                .try_lease(TURN, replica_id(), self.ttl)
                .unwrap_or(false)
        {
            return RunEnd::default();
        }
        let mut end = RunEnd::default();
        // Checked again under the turn.
        let current = self.store().shared_run();
        if let (Ok(Some(run)), Ok(false)) = (current, self.others_write())
            && run == stale
        {
            tracing::warn!(destination_run = %run.destination_run, "closing the destination run a stopped replica left open");
            let opened = chrono::DateTime::from_timestamp_millis(run.opened_at_ms)
                .unwrap_or_else(chrono::Utc::now);
            self.inner.adopt_run(&run.destination_run, opened);
            end = self.inner.close_run(follow).await;
            if let Err(e) = self.store().clear_shared_run(&run.destination_run) {
                end.errors.push(format!("forgetting the shared run: {e}"));
            }
        }
        self.give_turn();
        end
    }

    /// After the run: leave the shared run, closing it when this process
    /// is the last one writing into it.
    async fn leave(&self, follow: Duration) -> RunEnd {
        let joined = self.joined.lock().await.take();
        let id = match joined {
            None => return self.close_abandoned(follow).await,
            Some(None) => return self.inner.close_run(follow).await,
            Some(Some(id)) => id,
        };
        if let Err(e) = self.take_turn().await {
            let _ = self.store().release_lease(&member_lease(), replica_id());
            self.inner.forget_run();
            return RunEnd {
                errors: vec![format!("leaving the shared destination run {id}: {e}")],
                run: Some(id),
                ..RunEnd::default()
            };
        }
        let _ = self.store().release_lease(&member_lease(), replica_id());
        let still_shared =
            matches!(self.store().shared_run(), Ok(Some(r)) if r.destination_run == id);
        let end = match self.others_write() {
            Ok(true) if still_shared => {
                tracing::info!(destination_run = %id, "leaving the destination run to the replicas still writing into it");
                self.inner.forget_run();
                RunEnd {
                    run: Some(id),
                    ..RunEnd::default()
                }
            }
            // Unknown whether others still write: leave it open (a later
            // run closes it once its writers are gone) rather than stop a
            // job another replica is writing into.
            Err(e) if still_shared => {
                self.inner.forget_run();
                RunEnd {
                    errors: vec![format!(
                        "leaving the shared destination run {id} open: {}",
                        e.message
                    )],
                    run: Some(id),
                    ..RunEnd::default()
                }
            }
            _ => {
                let mut end = self.inner.close_run(follow).await;
                if let Err(e) = self.store().clear_shared_run(&id) {
                    end.errors.push(format!("forgetting the shared run: {e}"));
                }
                end
            }
        };
        self.give_turn();
        end
    }
}

impl Destination for SharedRun {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn key(&self) -> &'static str {
        self.inner.key()
    }
    fn limits(&self) -> Limits {
        self.inner.limits()
    }
    fn fit(&self, doc: &mut Document) -> Result<Vec<String>, String> {
        self.inner.fit(doc)
    }
    fn check<'a>(
        &'a self,
        attributes: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Vec<Check>> {
        self.inner.check(attributes)
    }
    fn attributes<'a>(
        &'a self,
        wanted: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Result<AttributeCheck, DestinationError>> {
        self.inner.attributes(wanted)
    }
    fn declare_attributes<'a>(
        &'a self,
        wanted: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Result<Vec<String>, DestinationError>> {
        self.inner.declare_attributes(wanted)
    }
    fn sync_groups<'a>(
        &'a self,
        groups: &'a [GroupSpec],
        put_before: Vec<(String, Option<String>)>,
    ) -> BoxFuture<'a, Result<GroupSync, DestinationError>> {
        self.inner.sync_groups(groups, put_before)
    }
    fn open_run<'a>(
        &'a self,
        start: &'a RunStart,
    ) -> BoxFuture<'a, Result<Option<String>, DestinationError>> {
        *self.start.lock().unwrap_or_else(|e| e.into_inner()) = Some(start.clone());
        Box::pin(async { Ok(None) })
    }
    fn close_run(&self, follow: Duration) -> BoxFuture<'_, RunEnd> {
        Box::pin(self.leave(follow))
    }
    fn adopt_run(&self, run: &str, opened_at: chrono::DateTime<chrono::Utc>) {
        self.inner.adopt_run(run, opened_at)
    }
    fn forget_run(&self) {
        self.inner.forget_run()
    }
    fn put(&self, docs: Vec<Document>) -> BoxFuture<'_, Result<Outcome, DestinationError>> {
        Box::pin(async move {
            self.ensure_run().await?;
            self.inner.put(docs).await
        })
    }
    fn delete(&self, ids: Vec<String>) -> BoxFuture<'_, Result<Outcome, DestinationError>> {
        Box::pin(async move {
            self.ensure_run().await?;
            self.inner.delete(ids).await
        })
    }
    fn failed_documents(&self) -> BoxFuture<'_, Result<Vec<Rejected>, DestinationError>> {
        self.inner.failed_documents()
    }
    fn document_ids(&self) -> BoxFuture<'_, Result<Vec<String>, DestinationError>> {
        self.inner.document_ids()
    }
    fn stats(&self) -> Vec<Stat> {
        self.inner.stats()
    }
    fn access_notes(&self) -> Vec<String> {
        self.inner.access_notes()
    }
    fn access_model(&self) -> AccessModel {
        self.inner.access_model()
    }
    fn takes_group_principals(&self) -> bool {
        self.inner.takes_group_principals()
    }
    fn sources_for<'a>(
        &'a self,
        user: &'a str,
        question: &'a str,
        candidates: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Source>, DestinationError>> {
        self.inner.sources_for(user, question, candidates)
    }
}

/// BC's budget of one environment, shared through the state store by
/// every process using it (see [`bcq_bc::budget::SharedBudget`]).
#[derive(Debug)]
pub struct StoreBudget {
    store: Mutex<StateStore>,
    environment: String,
    limit: u32,
    window: Duration,
    max_in_flight: usize,
    /// How long a dead process's request keeps its in-flight slot.
    slot_ttl: Duration,
    /// Said once that the shared count cannot be reached.
    warned: std::sync::atomic::AtomicBool,
}

impl StoreBudget {
    /// The shared budget of `environment` in the store at `location`.
    pub fn open(
        location: &Location,
        environment: &str,
        limit: u32,
        window: Duration,
        max_in_flight: usize,
        slot_ttl: Duration,
    ) -> anyhow::Result<StoreBudget> {
        Ok(StoreBudget {
            store: Mutex::new(
                StateStore::open_at(location)
                    .with_context(|| format!("opening the state in {location} for BC's budget"))?,
            ),
            environment: environment.to_string(),
            limit,
            window,
            max_in_flight,
            slot_ttl,
            warned: Default::default(),
        })
    }
}

impl bcq_bc::budget::SharedBudget for StoreBudget {
    fn take(&self) -> Result<Option<String>, Duration> {
        let r = lock(&self.store).take_bc_slot(
            &self.environment,
            replica_id(),
            self.limit,
            self.window,
            self.max_in_flight,
            self.slot_ttl,
        );
        match r {
            Ok(bcq_state::BcSlot::Granted(slot)) => Ok(Some(slot)),
            Ok(bcq_state::BcSlot::Wait(d)) => Err(d),
            Err(e) => {
                if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(environment = %self.environment, error = %e, "cannot reach the BC budget the replicas share; this process keeps to its own");
                }
                Ok(None)
            }
        }
    }

    fn used(&self) -> Option<u32> {
        lock(&self.store)
            .bc_requests_in_window(&self.environment, self.window)
            .ok()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn give_back(&self, slot: &str) {
        if let Err(e) = lock(&self.store).give_back_bc_slot(slot) {
            tracing::warn!(error = %e, "cannot give a BC request slot back (it expires by itself)");
        }
    }
}
