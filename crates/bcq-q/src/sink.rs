//! [`QSink`]: the Q Business custom data source as a [`Sink`].

use crate::convert;
use crate::retry::{Aimd, Backoff, Class, classify, describe};
use aws_sdk_qbusiness::Client;
use aws_sdk_qbusiness::error::SdkError;
use aws_sdk_qbusiness::types::{DataSourceSyncJobStatus, DeleteDocument, ErrorCode};
use bcq_core::document::Document;
use bcq_core::sink::{Outcome, Rejected, Sink, SinkError};
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The Q Business application, index and data source bcq writes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QTarget {
    /// `Q_APPLICATION_ID`.
    pub application_id: String,
    /// `Q_INDEX_ID`.
    pub index_id: String,
    /// `Q_DATASOURCE_ID`.
    pub data_source_id: String,
}

/// How the sink paces itself.
#[derive(Clone, Debug)]
pub struct QOptions {
    /// Calls in flight at most (the adaptive limit grows up to this).
    pub max_concurrency: usize,
    /// Calls in flight at first.
    pub initial_concurrency: usize,
    /// Attempts per call (throttles, 500s, rejected-as-retryable documents).
    pub max_attempts: u32,
    /// First backoff delay.
    pub base_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Bytes of documents per BatchPutDocument (Q's inline payloads are kept
    /// under 10 MB in practice; content travels base64).
    pub max_batch_bytes: usize,
    /// Seed of the jitter, for repeatable tests.
    pub seed: u64,
}

impl Default for QOptions {
    fn default() -> Self {
        QOptions {
            max_concurrency: 16,
            initial_concurrency: 4,
            max_attempts: 10,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_batch_bytes: 6 * 1024 * 1024,
            seed: 0x0062_6371,
        }
    }
}

/// Call counters, for the run summary and benchmarks.
#[derive(Debug, Default)]
pub struct QStats {
    /// BatchPutDocument calls made (including retries).
    pub put_calls: AtomicU64,
    /// BatchDeleteDocument calls made (including retries).
    pub delete_calls: AtomicU64,
    /// Calls answered with ThrottlingException.
    pub throttled: AtomicU64,
    /// Calls retried for any reason.
    pub retries: AtomicU64,
}

/// A sync job that was running on the data source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningJob {
    /// Its execution id.
    pub execution_id: String,
    /// Its status (SYNCING, SYNCING_INDEXING, STOPPING).
    pub status: String,
    /// When it started, as epoch seconds.
    pub started_epoch: Option<i64>,
}

/// Errors of sync job management.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Another job runs on the data source.
    #[error(
        "another sync job is running on data source {data_source_id} (execution {execution_id}); wait for it to end, stop it in the Amazon Q Business console, or run with --wait-for-job"
    )]
    Conflict {
        /// The data source.
        data_source_id: String,
        /// The running job, when known.
        execution_id: String,
    },
    /// Any other failure, with Q's code and message.
    #[error("{action} failed: {detail}{hint}")]
    Call {
        /// What bcq was doing.
        action: &'static str,
        /// Q's error code and message.
        detail: String,
        /// What to check.
        hint: &'static str,
    },
}

/// The Q Business sink: one sync job per run, batched puts and deletes
/// with retries, adaptive concurrency and per-document failure handling.
pub struct QSink {
    client: Client,
    target: QTarget,
    opts: QOptions,
    job: Mutex<Option<String>>,
    limit: Aimd,
    rng: Mutex<rand::rngs::StdRng>,
    staging: Option<crate::s3::S3Staging>,
    /// Call counters.
    pub stats: QStats,
}

fn hint_for(code: Option<&str>) -> &'static str {
    match code {
        Some("ResourceNotFoundException") => {
            "; check Q_APPLICATION_ID, Q_INDEX_ID and Q_DATASOURCE_ID and the AWS region"
        }
        Some("AccessDeniedException") => {
            "; the AWS credentials lack qbusiness permissions for this data source"
        }
        Some("UnrecognizedClientException") | Some("InvalidSignatureException") => {
            "; check the AWS credentials (access key and secret)"
        }
        _ => "",
    }
}

impl QSink {
    /// A sink writing to `target` through `client`.
    pub fn new(client: Client, target: QTarget, opts: QOptions) -> Self {
        let limit = Aimd::new(opts.initial_concurrency, opts.max_concurrency);
        let rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
        QSink {
            client,
            target,
            opts,
            job: Mutex::new(None),
            limit,
            rng: Mutex::new(rng),
            staging: None,
            stats: QStats::default(),
        }
    }

    /// Sends documents too large to travel inline through S3.
    pub fn with_staging(mut self, staging: crate::s3::S3Staging) -> Self {
        self.staging = Some(staging);
        self
    }

    /// The largest content sent inline: its base64 form, with room for the
    /// rest of the document, fits one call of `max_batch_bytes` (4.4 MiB
    /// of file for the default 6 MiB).
    pub fn inline_limit(&self) -> usize {
        (self.opts.max_batch_bytes / 4 * 3).saturating_sub(64 * 1024)
    }

    /// The target.
    pub fn target(&self) -> &QTarget {
        &self.target
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The running job's execution id, once started.
    pub fn job_id(&self) -> Option<String> {
        self.job.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn delay(&self, backoff: &mut Backoff) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        backoff.next_delay(&mut *rng)
    }

    /// Jobs currently running on the data source.
    pub async fn running_jobs(&self) -> Result<Vec<RunningJob>, JobError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_data_source_sync_jobs()
            .application_id(&self.target.application_id)
            .index_id(&self.target.index_id)
            .data_source_id(&self.target.data_source_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| JobError::Call {
                action: "ListDataSourceSyncJobs",
                hint: hint_for(
                    e.as_service_error()
                        .and_then(|s| aws_sdk_qbusiness::error::ProvideErrorMetadata::code(s)),
                ),
                detail: describe(&e),
            })?;
            for j in page.history() {
                let status = j
                    .status()
                    .cloned()
                    .unwrap_or(DataSourceSyncJobStatus::Succeeded);
                if matches!(
                    status,
                    DataSourceSyncJobStatus::Syncing
                        | DataSourceSyncJobStatus::SyncingIndexing
                        | DataSourceSyncJobStatus::Stopping
                ) {
                    out.push(RunningJob {
                        execution_id: j.execution_id().unwrap_or_default().to_string(),
                        status: status.as_str().to_string(),
                        started_epoch: j.start_time().map(|t| t.secs()),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Documents of this data source that Q accepted but then failed to
    /// index (`FAILED`, `DOCUMENT_FAILED_TO_INDEX`), with Q's reason. Q
    /// indexes after the call returns, so only a later look finds these;
    /// it pages through every document of the index (ListDocuments).
    pub async fn failed_to_index(&self) -> Result<Vec<(String, String)>, JobError> {
        use aws_sdk_qbusiness::types::DocumentStatus;
        let mut out = Vec::new();
        self.for_each_document(|d| {
            if matches!(
                d.status(),
                Some(DocumentStatus::Failed) | Some(DocumentStatus::DocumentFailedToIndex)
            ) {
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
                out.push((d.document_id().unwrap_or_default().to_string(), reason));
            }
        })
        .await?;
        Ok(out)
    }

    /// Starts this run's sync job. With `wait`, a job already running is
    /// waited for (polling) up to that long instead of being an error.
    pub async fn start_job(&self, wait: Option<Duration>) -> Result<String, JobError> {
        let deadline = wait.map(|w| Instant::now() + w);
        let mut backoff = Backoff::new(self.opts.base_delay, self.opts.max_delay);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let r = self
                .client
                .start_data_source_sync_job()
                .application_id(&self.target.application_id)
                .index_id(&self.target.index_id)
                .data_source_id(&self.target.data_source_id)
                .send()
                .await;
            match r {
                Ok(out) => {
                    let id = out.execution_id().unwrap_or_default().to_string();
                    *self.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
                    return Ok(id);
                }
                Err(e) => {
                    let code = aws_sdk_qbusiness::error::ProvideErrorMetadata::code(&e)
                        .map(str::to_string);
                    if code.as_deref() == Some("ConflictException") {
                        match deadline {
                            Some(d) if Instant::now() < d => {
                                tokio::time::sleep(Duration::from_secs(2).min(d - Instant::now()))
                                    .await;
                                continue;
                            }
                            _ => {
                                let running = self.running_jobs().await.unwrap_or_default();
                                return Err(JobError::Conflict {
                                    data_source_id: self.target.data_source_id.clone(),
                                    execution_id: running
                                        .first()
                                        .map(|j| j.execution_id.clone())
                                        .unwrap_or_else(|| "unknown".into()),
                                });
                            }
                        }
                    }
                    if classify(&e) != Class::Permanent && attempts < self.opts.max_attempts {
                        tokio::time::sleep(self.delay(&mut backoff)).await;
                        continue;
                    }
                    return Err(JobError::Call {
                        action: "StartDataSourceSyncJob",
                        hint: hint_for(code.as_deref()),
                        detail: describe(&e),
                    });
                }
            }
        }
    }

    /// Stops a sync job by execution id (this run's, or one a killed run left).
    pub async fn stop_job_id(&self, execution_id: &str) -> Result<(), JobError> {
        let mut backoff = Backoff::new(self.opts.base_delay, self.opts.max_delay);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let r = self
                .client
                .stop_data_source_sync_job()
                .application_id(&self.target.application_id)
                .index_id(&self.target.index_id)
                .data_source_id(&self.target.data_source_id)
                .send()
                .await;
            match r {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let code = aws_sdk_qbusiness::error::ProvideErrorMetadata::code(&e)
                        .map(str::to_string);
                    // Nothing running any more: the job already ended.
                    if matches!(
                        code.as_deref(),
                        Some("ResourceNotFoundException") | Some("ConflictException")
                    ) && self
                        .running_jobs()
                        .await
                        .map(|j| j.is_empty())
                        .unwrap_or(false)
                    {
                        return Ok(());
                    }
                    if classify(&e) != Class::Permanent && attempts < self.opts.max_attempts {
                        tokio::time::sleep(self.delay(&mut backoff)).await;
                        continue;
                    }
                    tracing::warn!(execution_id, "stopping the sync job failed");
                    return Err(JobError::Call {
                        action: "StopDataSourceSyncJob",
                        hint: hint_for(code.as_deref()),
                        detail: describe(&e),
                    });
                }
            }
        }
    }

    /// Stops this run's sync job, if one was started. Safe to call twice.
    pub async fn stop_job(&self) -> Result<(), JobError> {
        let id = self.job.lock().unwrap_or_else(|e| e.into_inner()).take();
        match id {
            Some(id) => self.stop_job_id(&id).await,
            None => Ok(()),
        }
    }

    /// Makes one call under the adaptive limit: counts it in `counter`,
    /// and feeds a throttle back to the limit and the stats.
    async fn limited<T, E, R, Fut>(
        &self,
        counter: &AtomicU64,
        call: impl FnOnce() -> Fut,
    ) -> Result<T, SdkError<E, R>>
    where
        Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
        E: aws_sdk_qbusiness::error::ProvideErrorMetadata,
    {
        let permit = self.limit.acquire().await;
        counter.fetch_add(1, Ordering::Relaxed);
        let r = call().await;
        let throttled = r.as_ref().err().map(classify) == Some(Class::Throttled);
        if throttled {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        self.limit.release(permit, throttled);
        r
    }

    /// Sends one batch, retrying throttles, 500s and documents rejected with
    /// a retryable error code; returns the documents refused for good.
    async fn put_batch(&self, docs: Vec<Document>) -> Result<Outcome, SinkError> {
        let job = self.job_id();
        let run_attrs = convert::run_attributes(&self.target.data_source_id, job.as_deref());
        let mut pending: HashMap<String, Document> =
            docs.into_iter().map(|d| (d.id.clone(), d)).collect();
        let mut order: Vec<String> = pending.keys().cloned().collect();
        order.sort();
        let mut backoff = Backoff::new(self.opts.base_delay, self.opts.max_delay);
        let mut rejected = Vec::new();
        let mut last_reasons: HashMap<String, String> = HashMap::new();
        // Files too large to travel inline go through S3, once per call.
        let mut staged: HashMap<String, String> = HashMap::new();
        let inline = self.inline_limit();
        for id in &order {
            let Some(d) = pending.get(id).filter(|d| d.content.len() > inline) else {
                continue;
            };
            let max = bcq_core::wire::MAX_FILE_BYTES;
            let outcome = match &self.staging {
                // Q reads at most 50 MB from S3: never stage what it refuses.
                Some(_) if d.content.len() > max => Err(format!(
                    "the file is {} bytes, more than the {max} bytes Amazon Q Business indexes",
                    d.content.len()
                )),
                Some(st) => st.stage(id, d.content.clone()).await,
                None => Err(format!(
                    "the file is {} bytes, more than can be sent inline ({inline}); set files.s3_bucket (BCQ_S3_BUCKET) to send large files through S3",
                    d.content.len()
                )),
            };
            match outcome {
                Ok(key) => {
                    staged.insert(id.clone(), key);
                }
                Err(reason) => {
                    pending.remove(id);
                    rejected.push(Rejected {
                        doc_id: id.clone(),
                        reason,
                    });
                }
            }
        }
        let role = self
            .staging
            .as_ref()
            .filter(|_| !staged.is_empty())
            .map(|s| s.role_arn.clone());
        for attempt in 1..=self.opts.max_attempts {
            let batch: Vec<_> = order
                .iter()
                .filter_map(|id| pending.get(id))
                .map(|d| {
                    let content = match (staged.get(&d.id), &self.staging) {
                        (Some(key), Some(st)) => convert::s3(&st.bucket, key),
                        _ => convert::blob(d),
                    };
                    convert::document(d, content, &run_attrs)
                })
                .collect();
            if batch.is_empty() {
                break;
            }
            let r = self
                .limited(&self.stats.put_calls, || {
                    self.client
                        .batch_put_document()
                        .application_id(&self.target.application_id)
                        .index_id(&self.target.index_id)
                        .set_data_source_sync_id(job.clone())
                        .set_role_arn(role.clone())
                        .set_documents(Some(batch))
                        .send()
                })
                .await;
            match r {
                Ok(out) => {
                    let failed = out.failed_documents();
                    let all_failed = failed.len() == pending.len();
                    let mut retry_ids = Vec::new();
                    let mut job_gone = all_failed && !failed.is_empty();
                    for f in failed {
                        let id = f.id().unwrap_or_default().to_string();
                        let (code, msg) = f
                            .error()
                            .map(|e| {
                                (
                                    e.error_code().cloned(),
                                    e.error_message().unwrap_or_default().to_string(),
                                )
                            })
                            .unwrap_or((None, String::new()));
                        let reason = format!(
                            "{}: {}",
                            code.as_ref()
                                .map(|c| c.as_str().to_string())
                                .unwrap_or_else(|| "UNKNOWN".into()),
                            msg
                        );
                        let sync_gone = code == Some(ErrorCode::InvalidRequest)
                            && msg.to_ascii_lowercase().contains("sync");
                        job_gone &= sync_gone;
                        if code == Some(ErrorCode::InternalError)
                            && attempt < self.opts.max_attempts
                        {
                            retry_ids.push(id.clone());
                            last_reasons.insert(id, reason);
                        } else {
                            pending.remove(&id);
                            rejected.push(Rejected { doc_id: id, reason });
                        }
                    }
                    if job_gone && job.is_some() {
                        return Err(SinkError {
                            message: format!(
                                "the sync job {} is no longer running on data source {} (stopped outside bcq?): every document was refused; run bcq again",
                                job.unwrap_or_default(),
                                self.target.data_source_id
                            ),
                            fatal: true,
                        });
                    }
                    pending.retain(|id, _| retry_ids.contains(id));
                    if pending.is_empty() {
                        return Ok(Outcome { rejected });
                    }
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.delay(&mut backoff)).await;
                }
                Err(e) => {
                    if classify(&e) == Class::Permanent {
                        let code = aws_sdk_qbusiness::error::ProvideErrorMetadata::code(&e)
                            .map(str::to_string);
                        let detail = describe(&e);
                        // A validation error is about these documents; anything
                        // else (access, missing resources) about every call.
                        let fatal = code.as_deref() != Some("ValidationException");
                        return Err(SinkError {
                            message: format!(
                                "BatchPutDocument failed: {detail}{}",
                                hint_for(code.as_deref())
                            ),
                            fatal,
                        });
                    }
                    if attempt == self.opts.max_attempts {
                        let detail = describe(&e);
                        for id in pending.keys() {
                            last_reasons.insert(id.clone(), detail.clone());
                        }
                        break;
                    }
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.delay(&mut backoff)).await;
                }
            }
        }
        for (id, _) in pending {
            let reason = last_reasons
                .remove(&id)
                .unwrap_or_else(|| "not accepted after all retries".into());
            rejected.push(Rejected {
                doc_id: id,
                reason: format!(
                    "{reason} (gave up after {} attempts)",
                    self.opts.max_attempts
                ),
            });
        }
        Ok(Outcome { rejected })
    }

    async fn delete_batch(&self, ids: Vec<String>) -> Result<Outcome, SinkError> {
        let job = self.job_id();
        let mut backoff = Backoff::new(self.opts.base_delay, self.opts.max_delay);
        for attempt in 1..=self.opts.max_attempts {
            let docs: Vec<DeleteDocument> = ids
                .iter()
                .map(|id| {
                    DeleteDocument::builder()
                        .document_id(id)
                        .build()
                        .expect("id is set")
                })
                .collect();
            let r = self
                .limited(&self.stats.delete_calls, || {
                    self.client
                        .batch_delete_document()
                        .application_id(&self.target.application_id)
                        .index_id(&self.target.index_id)
                        .set_data_source_sync_id(job.clone())
                        .set_documents(Some(docs))
                        .send()
                })
                .await;
            match r {
                Ok(out) => {
                    let rejected: Vec<Rejected> = out
                        .failed_documents()
                        .iter()
                        .map(|f| Rejected {
                            doc_id: f.id().unwrap_or_default().to_string(),
                            reason: f
                                .error()
                                .and_then(|e| e.error_message())
                                .unwrap_or("refused")
                                .to_string(),
                        })
                        .collect();
                    if let Some(st) = &self.staging {
                        let deleted: Vec<String> = ids
                            .iter()
                            .filter(|id| !rejected.iter().any(|r| &r.doc_id == *id))
                            .cloned()
                            .collect();
                        // The documents are gone from Q either way: a file
                        // left in the bucket is worth a warning, not a failure.
                        if let Err(reason) = st.unstage(&deleted).await {
                            tracing::warn!(
                                reason,
                                "staged files of deleted documents remain in S3"
                            );
                        }
                    }
                    return Ok(Outcome { rejected });
                }
                Err(e) => {
                    let class = classify(&e);
                    if class == Class::Permanent || attempt == self.opts.max_attempts {
                        let code = aws_sdk_qbusiness::error::ProvideErrorMetadata::code(&e)
                            .map(str::to_string);
                        return Err(SinkError {
                            message: format!(
                                "BatchDeleteDocument failed: {}{}",
                                describe(&e),
                                hint_for(code.as_deref())
                            ),
                            fatal: class == Class::Permanent,
                        });
                    }
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.delay(&mut backoff)).await;
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }
}

impl Sink for QSink {
    fn max_batch(&self) -> usize {
        10
    }

    fn max_batch_bytes(&self) -> usize {
        self.opts.max_batch_bytes
    }

    fn max_document_bytes(&self) -> usize {
        if self.staging.is_some() {
            bcq_core::wire::MAX_FILE_BYTES
        } else {
            self.inline_limit()
        }
    }

    fn put(
        &self,
        docs: Vec<Document>,
    ) -> impl std::future::Future<Output = Result<Outcome, SinkError>> + Send {
        self.put_batch(docs)
    }

    fn delete(
        &self,
        ids: Vec<String>,
    ) -> impl std::future::Future<Output = Result<Outcome, SinkError>> + Send {
        self.delete_batch(ids)
    }
}
