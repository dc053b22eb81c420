//! The `runs` and `failures` tables: the history `bcq status` shows.

use super::StateStore;
use crate::db::vals;
use crate::error::StateError;
use crate::model::{RunCounts, RunKind, RunOutcome, RunRecord};

impl StateStore {
    /// Starts a run of `kind` (what it was asked to do; see
    /// [`StateStore::set_run_kind`]); returns its id, greater than every id
    /// returned before.
    pub fn begin_run(&mut self, kind: RunKind) -> Result<i64, StateError> {
        let now = self.now_text();
        let err = self.sql_err(format!("begin a {kind} run"));
        let rows = self
            .conn
            .query(
                "INSERT INTO runs (started_at, outcome, mode) VALUES (?1, 'running', ?2) RETURNING id",
                vals![now, kind.as_str()],
            )
            .map_err(&err)?;
        rows.first().map_or(Ok(0), |r| r.int(0)).map_err(err)
    }

    /// Names the process running `run_id` (a replica): while that process
    /// holds its live lease `replica:<holder>`,
    /// [`StateStore::mark_interrupted_runs`] leaves the run alone.
    pub fn set_run_holder(&mut self, run_id: i64, holder: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "UPDATE runs SET holder = ?2 WHERE id = ?1",
                vals![run_id, holder],
            )
            .map(drop)
            .map_err(self.sql_err(format!("name the holder of run {run_id}")))
    }

    /// Labels a run by what it did (a first sync asked as incremental read
    /// everything: a reconcile).
    pub fn set_run_kind(&mut self, run_id: i64, kind: RunKind) -> Result<(), StateError> {
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET mode = ?2 WHERE id = ?1",
                vals![run_id, kind.as_str()],
            )
            .map_err(self.sql_err(format!("label run {run_id}")))?;
        if changed == 0 {
            return Err(self.run_not_found(run_id));
        }
        Ok(())
    }

    /// Records the destination's run (a Q sync job's `executionId`) the run
    /// pushes under.
    pub fn set_run_sync_job(&mut self, run_id: i64, job_id: &str) -> Result<(), StateError> {
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET sync_job_id = ?2 WHERE id = ?1",
                vals![run_id, job_id],
            )
            .map_err(self.sql_err(format!("set the sync job of run {run_id}")))?;
        if changed == 0 {
            return Err(self.run_not_found(run_id));
        }
        Ok(())
    }

    /// Ends a running run with `outcome` and its counts, in one
    /// transaction (`Running` is refused: it is not an end).
    pub fn finish_run(
        &mut self,
        run_id: i64,
        outcome: RunOutcome,
        counts: RunCounts,
    ) -> Result<(), StateError> {
        if outcome == RunOutcome::Running {
            return Err(StateError::InvalidOutcome {
                outcome: outcome.as_str().to_owned(),
            });
        }
        let err = self.sql_err(format!("finish run {run_id}"));
        let now = self.now_text();
        let path = self.path.clone();
        self.write(&err, |tx| {
            let current = tx
                .query_opt("SELECT outcome FROM runs WHERE id = ?1", vals![run_id])
                .and_then(|row| row.map(|r| r.text(0)).transpose())
                .map_err(&err)?;
            match current.as_deref() {
                None => return Err(StateError::RunNotFound { path, run_id }),
                Some("running") => {}
                Some(other) => {
                    return Err(StateError::RunNotRunning {
                        path,
                        run_id,
                        outcome: other.to_owned(),
                    });
                }
            }
            tx.execute(
                "UPDATE runs SET ended_at = ?2, outcome = ?3,
                     added = ?4, updated = ?5, deleted = ?6, unchanged = ?7, failed = ?8
                 WHERE id = ?1",
                vals![
                    run_id,
                    &now,
                    outcome.as_str(),
                    counts.added,
                    counts.updated,
                    counts.deleted,
                    counts.unchanged,
                    counts.failed
                ],
            )
            .map_err(&err)?;
            Ok(())
        })
    }

    /// Records why `doc_id` failed in run `run_id` (rejected by Q in
    /// `failedDocuments`, too large, not renderable, ...).
    pub fn record_failure(
        &mut self,
        run_id: i64,
        doc_id: &str,
        reason: &str,
    ) -> Result<(), StateError> {
        let now = self.now_text();
        self.conn
            .execute(
                "INSERT INTO failures (run_id, doc_id, reason, at) VALUES (?1, ?2, ?3, ?4)",
                vals![run_id, doc_id, reason, now],
            )
            .map_err(|e| {
                if e.is_foreign_key_violation() {
                    self.run_not_found(run_id)
                } else {
                    self.sql_err(format!("record a failure of run {run_id}"))(e)
                }
            })?;
        Ok(())
    }

    /// `(doc_id, reason)` of every failure recorded for `run_id`, in the
    /// order recorded.
    pub fn failures(&self, run_id: i64) -> Result<Vec<(String, String)>, StateError> {
        let err = self.sql_err(format!("list the failures of run {run_id}"));
        self.conn
            .query(
                "SELECT doc_id, reason FROM failures WHERE run_id = ?1 ORDER BY id",
                vals![run_id],
            )
            .and_then(|rows| rows.iter().map(|r| Ok((r.text(0)?, r.text(1)?))).collect())
            .map_err(err)
    }

    /// The `n` most recent runs, newest first.
    pub fn recent_runs(&self, n: usize) -> Result<Vec<RunRecord>, StateError> {
        let err = self.sql_err("list recent runs");
        let rows = self
            .conn
            .query(
                "SELECT id, started_at, ended_at, outcome, mode,
                        added, updated, deleted, unchanged, failed, sync_job_id
                 FROM runs ORDER BY id DESC LIMIT ?1",
                vals![i64::try_from(n).unwrap_or(i64::MAX)],
            )
            .map_err(&err)?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.int(0).map_err(&err)?;
            let (started_at, ended_at, outcome, mode) = (
                row.text(1).map_err(&err)?,
                row.opt_text(2).map_err(&err)?,
                row.text(3).map_err(&err)?,
                row.text(4).map_err(&err)?,
            );
            let counts = RunCounts {
                added: row.count(5).map_err(&err)?,
                updated: row.count(6).map_err(&err)?,
                deleted: row.count(7).map_err(&err)?,
                unchanged: row.count(8).map_err(&err)?,
                failed: row.count(9).map_err(&err)?,
            };
            let sync_job_id = row.opt_text(10).map_err(&err)?;
            let corrupt = |what: &str, value: &str| StateError::Corrupt {
                path: self.path.clone(),
                what: format!("{what} of run {id}"),
                detail: format!("unknown value {value:?}"),
            };
            runs.push(RunRecord {
                id,
                started_at: self.decode_time(&started_at, || format!("started_at of run {id}"))?,
                ended_at: self.decode_opt_time(ended_at, || format!("ended_at of run {id}"))?,
                outcome: RunOutcome::parse(&outcome).ok_or_else(|| corrupt("outcome", &outcome))?,
                kind: RunKind::parse(&mode).ok_or_else(|| corrupt("mode", &mode))?,
                counts,
                sync_job_id,
            });
        }
        Ok(runs)
    }

    /// Marks every run still `running` as `interrupted` and returns how many
    /// there were.
    ///
    /// A run is left `running` only by a process that was killed or lost
    /// power; call this at start-up, while holding
    /// [`StateStore::lock_for_sync`] (so no live run is among them). Their unacknowledged documents are simply
    /// pushed again by the next run.
    pub fn mark_interrupted_runs(&mut self) -> Result<u64, StateError> {
        let now = self.now_text();
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET outcome = 'interrupted', ended_at = ?1 WHERE outcome = 'running' \
                 AND (holder IS NULL OR NOT EXISTS \
                 (SELECT 1 FROM leases l WHERE l.name = 'replica:' || runs.holder AND l.expires_at > ?2))",
                vals![now, self.db_now_ms()?],
            )
            .map_err(self.sql_err("mark interrupted runs"))?;
        if changed > 0 {
            tracing::warn!(
                path = %self.path.display(),
                runs = changed,
                "runs left running by an earlier process marked interrupted"
            );
        }
        Ok(changed)
    }

    fn run_not_found(&self, run_id: i64) -> StateError {
        StateError::RunNotFound {
            path: self.path.clone(),
            run_id,
        }
    }
}
