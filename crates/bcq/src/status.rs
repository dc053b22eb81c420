//! `bcq status` (what the state store knows) and `bcq reset` (forget it).

use bcq_state::{Location, StateStore};
use std::fmt::Write;
use std::path::Path;

/// Renders the last `runs` runs, the cursor of every unit and the failures
/// of the latest run.
pub fn render(location: &Location, runs: usize) -> anyhow::Result<String> {
    if let Location::File(path) = location
        && !path.exists()
    {
        return Ok(format!(
            "no state file at {}: bcq has not synced from here yet (run bcq sync)\n",
            path.display()
        ));
    }
    let store = StateStore::open_at(location)?;
    let mut out = String::new();
    let what = match location {
        Location::File(_) => "state file",
        Location::Postgres(_) => "state in PostgreSQL",
    };
    let _ = writeln!(
        out,
        "{what} {location} (schema v{})",
        store.schema_version()?
    );
    let _ = writeln!(out, "documents known: {}", store.count_documents(None)?);
    if store.is_postgres() {
        replicas(&store, &mut out)?;
    }
    let _ = writeln!(out, "\nruns (newest first):");
    let recent = store.recent_runs(runs)?;
    if recent.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for r in &recent {
        let _ = writeln!(
            out,
            "  #{:<4} {:<11} {:<11} started {}  ended {}  added {} updated {} deleted {} unchanged {} failed {}",
            r.id,
            r.outcome.as_str(),
            r.kind.as_str(),
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.ended_at
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
            r.counts.added,
            r.counts.updated,
            r.counts.deleted,
            r.counts.unchanged,
            r.counts.failed
        );
    }
    let _ = writeln!(out, "\nunits:");
    let subs = store.subscriptions()?;
    for (key, u) in store.units()? {
        // Which units BC notifies (bcq serve with BCQ_PUBLIC_URL) and which
        // are only read on a schedule.
        let fresh = match subs.iter().find(|s| s.unit == key) {
            Some(s) => format!(
                "webhook (subscription {} until {})",
                s.id,
                s.expires_at.format("%Y-%m-%d %H:%M")
            ),
            None => "polled".into(),
        };
        let _ = writeln!(
            out,
            "  {key}: {fresh}, cursor {}, last reconciled {}, {} documents",
            u.cursor
                .map(|c| c.to_rfc3339())
                .unwrap_or_else(|| "-".into()),
            u.last_reconciled_at
                .map(|c| c.to_rfc3339())
                .unwrap_or_else(|| "never".into()),
            store.count_documents(Some(&key))?
        );
    }
    let pending = store.pending_notifications()?;
    if !pending.is_empty() {
        let _ = writeln!(
            out,
            "\nnotifications waiting: {} (received {}; bcq serve handles them)",
            pending.len(),
            store
                .oldest_notification()?
                .map(|t| format!("since {}", t.to_rfc3339()))
                .unwrap_or_default()
        );
    }
    if let Some(last) = recent.first() {
        let failures = store.failures(last.id)?;
        if !failures.is_empty() {
            let _ = writeln!(out, "\nfailures of run #{}:", last.id);
            for (id, reason) in failures.iter().take(100) {
                let _ = writeln!(out, "  {id}: {reason}");
            }
            if failures.len() > 100 {
                let _ = writeln!(out, "  ... and {} more", failures.len() - 100);
            }
        }
    }
    Ok(out)
}

/// What replicas sharing the state are doing now: the live ones, the units
/// they hold, the destination run they share.
fn replicas(store: &StateStore, out: &mut String) -> anyhow::Result<()> {
    let live = store.live_leases("replica:")?;
    let units = store.live_leases("unit:")?;
    let _ = writeln!(out, "replicas syncing now: {}", live.len());
    for l in &units {
        let _ = writeln!(
            out,
            "  {} held by {} (lease {:.0} s)",
            l.name.trim_start_matches("unit:"),
            l.holder,
            l.expires_in_ms as f64 / 1000.0
        );
    }
    if let Some(run) = store.shared_run()? {
        let _ = writeln!(
            out,
            "shared destination run: {} (opened {})",
            run.destination_run,
            chrono::DateTime::from_timestamp_millis(run.opened_at_ms)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Forgets everything the state store knows. The next sync reads BC in
/// full and pushes every document again; the destination keeps what it
/// has meanwhile. A state file that cannot be opened (corrupt, or written
/// by a newer bcq) is removed instead, with its `-wal` and `-shm` files;
/// returns what was removed (empty when the store was reset in place).
pub fn reset(location: &Location) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let path = match location {
        Location::File(path) => path,
        Location::Postgres(_) => {
            let mut store = StateStore::open_at(location)?;
            let _lock = store.lock_for_sync()?;
            store.reset()?;
            return Ok(Vec::new());
        }
    };
    match StateStore::open(path) {
        Ok(mut store) => {
            store.reset()?;
            Ok(Vec::new())
        }
        Err(open_error) => {
            // Not while a sync holds it.
            let _lock = bcq_state::SyncLock::acquire(path)?;
            tracing::warn!(error = %open_error, "the state file cannot be opened; removing it");
            let mut removed = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let p = std::path::PathBuf::from(name);
                if p.exists() {
                    std::fs::remove_file(&p)
                        .map_err(|e| anyhow::anyhow!("removing {}: {e}", p.display()))?;
                    removed.push(p);
                }
            }
            Ok(removed)
        }
    }
}

/// Copies the SQLite state file `from` into the state at `to`, which must
/// be empty; returns the rows copied. Both are locked for the copy, so no
/// sync changes either meanwhile.
pub fn copy_state(from: &Path, to: &Location) -> anyhow::Result<u64> {
    if !from.is_file() {
        anyhow::bail!(
            "no state file at {}: name the file to copy with --from",
            from.display()
        );
    }
    if matches!(to, Location::File(p) if p == from) {
        anyhow::bail!(
            "the state to copy into is {} itself: set BCQ_STATE_URL (or sync.state_url) to the PostgreSQL database to copy into",
            from.display()
        );
    }
    let source = StateStore::open(from)?;
    let _source_lock = source.lock_for_sync()?;
    let mut dest = StateStore::open_at(to)?;
    let _dest_lock = dest.lock_for_sync()?;
    Ok(source.copy_to(&mut dest)?)
}
