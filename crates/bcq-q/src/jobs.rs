//! The sync job lifecycle: one job per run, always stopped, then followed
//! until Q finished indexing what the run sent.
//!
//! Q runs one job at a time per data source. A job bcq started and stopped
//! goes on indexing for a while (SYNCING_INDEXING): the next run, seconds
//! later, waits for it, bounded by [`OWN_JOB_WAIT`] and saying so every
//! [`PROGRESS_EVERY`], instead of failing with "another sync job is
//! running". A job a killed bcq left SYNCING is stopped. A job someone else
//! runs is an error, or waited for when `sync.wait_for_job_seconds` says so.

use crate::destination::{QDestination, failed};
use aws_sdk_qbusiness::types::{DataSourceSyncJobStatus, DocumentStatus};
use bcq_aws::code;
use bcq_core::destination::{DestinationError, Rejected, RunEnd, RunStart};
use bcq_retry::Failure;
use std::time::{Duration, Instant};

/// The longest a run waits for bcq's own previous job to finish indexing.
pub const OWN_JOB_WAIT: Duration = Duration::from_secs(15 * 60);

/// How often waiting says where it stands.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// A sync job that was running on the data source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningJob {
    /// Its execution id.
    pub execution_id: String,
    /// Its status (SYNCING, SYNCING_INDEXING, STOPPING).
    pub status: DataSourceSyncJobStatus,
    /// When it started, as epoch seconds.
    pub started_epoch: Option<i64>,
}

/// A job's status and failure count, from the data source's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobState {
    /// Its status.
    pub status: DataSourceSyncJobStatus,
    /// `documentsFailed` of its metrics (Q sends metrics as strings).
    pub failed: u64,
}

fn is_running(s: &DataSourceSyncJobStatus) -> bool {
    matches!(
        s,
        DataSourceSyncJobStatus::Syncing
            | DataSourceSyncJobStatus::SyncingIndexing
            | DataSourceSyncJobStatus::Stopping
    )
}

impl QDestination {
    /// Every job of the data source with its status and metrics.
    async fn history(&self) -> Result<Vec<(String, JobState, Option<i64>)>, DestinationError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .caller
                .call(&self.other_calls, || {
                    self.client
                        .list_data_source_sync_jobs()
                        .application_id(&self.target.application_id)
                        .index_id(&self.target.index_id)
                        .data_source_id(&self.target.data_source_id)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| DestinationError::fatal(failed("ListDataSourceSyncJobs", &e)))?;
            for j in page.history() {
                let failed = j
                    .metrics()
                    .and_then(|m| m.documents_failed())
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                out.push((
                    j.execution_id().unwrap_or_default().to_string(),
                    JobState {
                        status: j
                            .status()
                            .cloned()
                            .unwrap_or(DataSourceSyncJobStatus::Succeeded),
                        failed,
                    },
                    j.start_time().map(|t| t.secs()),
                ));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Jobs currently running on the data source.
    pub async fn running_jobs(&self) -> Result<Vec<RunningJob>, DestinationError> {
        Ok(self
            .history()
            .await?
            .into_iter()
            .filter(|(_, s, _)| is_running(&s.status))
            .map(|(execution_id, s, started_epoch)| RunningJob {
                execution_id,
                status: s.status,
                started_epoch,
            })
            .collect())
    }

    /// Opens this run's sync job (see the module doc).
    pub(crate) async fn start_run(&self, start: &RunStart) -> Result<String, DestinationError> {
        *self.opened_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(chrono::Utc::now());
        let ours = |job: &RunningJob| {
            start.own_runs.contains(&job.execution_id)
                || matches!((job.started_epoch, start.interrupted_since), (Some(s), Some(t)) if s >= t - 5)
        };
        for job in self.running_jobs().await? {
            if ours(&job) && job.status == DataSourceSyncJobStatus::Syncing {
                tracing::warn!(execution_id = %job.execution_id, "stopping the sync job an interrupted bcq run left running");
                self.stop_job_id(&job.execution_id).await?;
            }
        }
        let began = Instant::now();
        let mut said = Instant::now();
        let mut attempts = self.caller.attempts();
        loop {
            attempts.begin();
            let r = self
                .client
                .start_data_source_sync_job()
                .application_id(&self.target.application_id)
                .index_id(&self.target.index_id)
                .data_source_id(&self.target.data_source_id)
                .send()
                .await;
            self.other_calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let e = match r {
                Ok(out) => {
                    let id = out.execution_id().unwrap_or_default().to_string();
                    *self.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
                    return Ok(id);
                }
                Err(e) => e,
            };
            if code(&e) == Some("ConflictException") {
                let running = self.running_jobs().await?;
                // No job listed: the one in the way just ended; try again.
                let all_ours = running.iter().all(&ours);
                let limit = if all_ours {
                    Some(OWN_JOB_WAIT.max(self.wait_for_other_job.unwrap_or_default()))
                } else {
                    self.wait_for_other_job
                };
                let who = running
                    .first()
                    .map(|j| format!("{} ({})", j.execution_id, j.status.as_str()))
                    .unwrap_or_else(|| "unknown".into());
                match limit {
                    Some(l) if began.elapsed() < l => {
                        if said.elapsed() >= PROGRESS_EVERY
                            || began.elapsed() < Duration::from_millis(50)
                        {
                            tracing::info!(
                                job = %who,
                                waited_s = began.elapsed().as_secs(),
                                "waiting for {} sync job to finish before starting this run's",
                                if all_ours { "bcq's previous" } else { "another" }
                            );
                            said = Instant::now();
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    Some(l) => {
                        return Err(DestinationError::fatal(format!(
                            "the sync job {who} on data source {} was still running after {} s of waiting; it may be stuck: stop it in the Amazon Q Business console",
                            self.target.data_source_id,
                            l.as_secs()
                        )));
                    }
                    None => {
                        return Err(DestinationError::fatal(format!(
                            "another sync job is running on data source {} (execution {who}); wait for it to end, stop it in the Amazon Q Business console, or run with --wait-for-job",
                            self.target.data_source_id
                        )));
                    }
                }
            }
            let e = bcq_aws::CallError {
                error: e,
                give_up: None,
            };
            let transient = bcq_aws::classify(&e.error).is_some();
            if transient && let Ok(d) = self.caller.next_delay(&mut attempts, Failure::Transient) {
                self.caller.sleep(d).await;
                continue;
            }
            return Err(DestinationError::fatal(failed(
                "StartDataSourceSyncJob",
                &e,
            )));
        }
    }

    /// Stops a sync job by execution id (this run's, or one a killed run
    /// left); a job that already ended counts as stopped.
    pub async fn stop_job_id(&self, execution_id: &str) -> Result<(), DestinationError> {
        let r = self
            .caller
            .call(&self.other_calls, || {
                self.client
                    .stop_data_source_sync_job()
                    .application_id(&self.target.application_id)
                    .index_id(&self.target.index_id)
                    .data_source_id(&self.target.data_source_id)
                    .send()
            })
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    code(&e.error),
                    Some("ResourceNotFoundException") | Some("ConflictException")
                ) && self.running_jobs().await.is_ok_and(|j| {
                    !j.iter().any(|j| {
                        j.execution_id == execution_id
                            && j.status == DataSourceSyncJobStatus::Syncing
                    })
                }) =>
            {
                Ok(())
            }
            Err(e) => {
                tracing::warn!(execution_id, "stopping the sync job failed");
                Err(DestinationError::fatal(failed("StopDataSourceSyncJob", &e)))
            }
        }
    }

    /// Stops this run's job (once), then follows it for up to `follow`
    /// until Q finished indexing, and reports the documents that failed.
    pub(crate) async fn end_run(&self, follow: Duration) -> RunEnd {
        let mut end = RunEnd::default();
        *self.lazy_start.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let Some(id) = self.job.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return end;
        };
        end.run = Some(id.clone());
        if let Err(e) = self.stop_job_id(&id).await {
            end.errors.push(format!("stopping the sync job: {e}"));
            return end;
        }
        if follow.is_zero() {
            end.still_indexing = true;
            return end;
        }
        let began = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let state = match self.history().await {
                Ok(h) => h.into_iter().find(|(e, ..)| *e == id).map(|(_, s, _)| s),
                Err(e) => {
                    end.errors.push(format!("following the sync job: {e}"));
                    return end;
                }
            };
            match state {
                Some(s) if is_running(&s.status) => {}
                Some(s) => {
                    if s.failed > 0 {
                        let since = *self.opened_at.lock().unwrap_or_else(|e| e.into_inner());
                        match self.failed_to_index(since).await {
                            Ok(f) => end.failed_after_accept = f,
                            Err(e) => end.errors.push(format!("listing failed documents: {e}")),
                        }
                    }
                    return end;
                }
                None => return end,
            }
            if began.elapsed() >= follow {
                tracing::warn!(execution_id = %id, "the sync job is still indexing; the next run checks what failed");
                end.still_indexing = true;
                return end;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Documents of this data source that Q accepted but then failed to
    /// index (`FAILED`, `DOCUMENT_FAILED_TO_INDEX`), updated at or after
    /// `since` when given, with Q's reason (ListDocuments, every page).
    pub async fn failed_to_index(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<Rejected>, DestinationError> {
        let mut out = Vec::new();
        self.for_each_document(|d| {
            let failed = matches!(
                d.status(),
                Some(DocumentStatus::Failed) | Some(DocumentStatus::DocumentFailedToIndex)
            );
            let recent = match (since, d.updated_at()) {
                (Some(s), Some(u)) => u.secs() >= s.timestamp() - 1,
                _ => true,
            };
            if failed && recent {
                let reason = d
                    .error()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.error_code().map(|c| c.as_str()).unwrap_or("UNKNOWN"),
                            e.error_message().unwrap_or("")
                        )
                    })
                    .unwrap_or_else(|| "no reason given".into());
                out.push(Rejected {
                    doc_id: d.document_id().unwrap_or_default().to_string(),
                    reason,
                });
            }
        })
        .await?;
        Ok(out)
    }
}
