//! [`QDestination`]: a Q Business custom data source as a bcq destination.

use crate::constraints;
use crate::convert;
use aws_sdk_qbusiness::Client;
use aws_sdk_qbusiness::types::{DeleteDocument, ErrorCode};
use bcq_aws::{CallError, Caller, S3Staging, code, describe};
use bcq_core::acl::GroupSpec;
use bcq_core::catalog::AttrKind;
use bcq_core::destination::{
    AttributeCheck, BoxFuture, Check, CommonSettings, Destination, DestinationError, GroupSync,
    Limits, Outcome, Rejected, RunEnd, RunStart, Source, Stat,
};
use bcq_core::document::Document;
use bcq_retry::{Failure, RetryPolicy};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// Bytes of documents per BatchPutDocument: Q's inline payloads are kept
/// under 10 MB in practice, and content travels base64.
pub const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;

/// The Q Business destination: one sync job per run, batched puts and
/// deletes under bcq's retry policy, per-document failure handling.
pub struct QDestination {
    pub(crate) client: Client,
    pub(crate) target: QTarget,
    pub(crate) caller: Caller,
    /// This run's sync job, once started.
    pub(crate) job: Mutex<Option<String>>,
    /// When this process opened its run (documents failed since are its own).
    pub(crate) opened_at: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// With lazy runs: what `open_run` was given, until the first write
    /// starts the job.
    pub(crate) lazy_start: Mutex<Option<RunStart>>,
    /// Serialises the lazy start among concurrent writes.
    starting: tokio::sync::Mutex<()>,
    lazy_runs: bool,
    staging: Option<S3Staging>,
    /// The role Q assumes to read staged files.
    role_arn: Option<String>,
    /// Wait this long for a job someone else runs.
    pub(crate) wait_for_other_job: Option<Duration>,
    max_batch_bytes: usize,
    pub(crate) put_calls: AtomicU64,
    pub(crate) delete_calls: AtomicU64,
    pub(crate) other_calls: AtomicU64,
}

impl std::fmt::Debug for QDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QDestination")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// A Q call's error as a message, with what to check.
pub(crate) fn failed<E>(
    action: &str,
    e: &CallError<E, aws_smithy_runtime_api::http::Response>,
) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    format!(
        "{action} failed: {}{}{}",
        describe(crate::SERVICE, &e.error),
        e.retried(),
        hint_for(code(&e.error))
    )
}

/// What to check for an error code.
pub(crate) fn hint_for(code: Option<&str>) -> &'static str {
    match code {
        Some("ResourceNotFoundException") => {
            "; check Q_APPLICATION_ID, Q_INDEX_ID and Q_DATASOURCE_ID and the AWS region"
        }
        Some("AccessDeniedException") => {
            "; the AWS credentials lack qbusiness permissions for this data source (bcq iam-policy prints what they need)"
        }
        Some("UnrecognizedClientException") | Some("InvalidSignatureException") => {
            "; check the AWS credentials (access key and secret)"
        }
        _ => "",
    }
}

impl QDestination {
    /// A destination writing to `target` through `client`.
    pub fn new(client: Client, target: QTarget, common: &CommonSettings) -> Self {
        let max = common.push_concurrency.max(1);
        QDestination {
            client,
            target,
            caller: Caller::new(RetryPolicy::default(), 4.min(max), max, 0x0062_6371),
            job: Mutex::new(None),
            opened_at: Mutex::new(None),
            lazy_start: Mutex::new(None),
            starting: tokio::sync::Mutex::new(()),
            lazy_runs: common.lazy_runs,
            staging: None,
            role_arn: None,
            wait_for_other_job: common.wait_for_run,
            max_batch_bytes: MAX_BATCH_BYTES,
            put_calls: AtomicU64::new(0),
            delete_calls: AtomicU64::new(0),
            other_calls: AtomicU64::new(0),
        }
    }

    /// Sends documents too large to travel inline through S3, read by Q
    /// with `role_arn`.
    pub fn with_staging(mut self, staging: Option<S3Staging>, role_arn: Option<String>) -> Self {
        self.staging = staging;
        self.role_arn = role_arn;
        self
    }

    /// With another retry policy (tests use short delays).
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        let max = self.caller.limit().max(1);
        self.caller = Caller::new(policy, max, max, 0x0062_6371);
        self
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

    /// The job writes go into: the running one, or, with lazy runs, one
    /// started now (once, whatever the number of concurrent writes).
    async fn job_for_write(&self) -> Result<Option<String>, DestinationError> {
        if let Some(j) = self.job_id() {
            return Ok(Some(j));
        }
        let _one = self.starting.lock().await;
        if let Some(j) = self.job_id() {
            return Ok(Some(j));
        }
        let start = self
            .lazy_start
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match start {
            Some(start) => self.start_run(&start).await.map(Some),
            None => Ok(None),
        }
    }

    /// The largest content sent inline: its base64 form, with room for the
    /// rest of the document, fits one call (4.4 MiB of file for 6 MiB).
    pub fn inline_limit(&self) -> usize {
        (self.max_batch_bytes / 4 * 3).saturating_sub(64 * 1024)
    }

    /// Stages what is too large to go inline; returns the staged keys and
    /// the documents that could not be staged.
    async fn stage_large(
        &self,
        pending: &mut HashMap<String, Document>,
        order: &[String],
    ) -> (HashMap<String, String>, Vec<Rejected>) {
        let mut staged = HashMap::new();
        let mut rejected = Vec::new();
        let inline = self.inline_limit();
        for id in order {
            let Some(d) = pending.get(id).filter(|d| d.content.len() > inline) else {
                continue;
            };
            let outcome = match &self.staging {
                // Q reads at most 50 MB from S3: never stage what it refuses.
                Some(_) if d.content.len() > constraints::MAX_FILE_BYTES => Err(format!(
                    "the file is {} bytes, more than the {} bytes Amazon Q Business indexes",
                    d.content.len(),
                    constraints::MAX_FILE_BYTES
                )),
                Some(st) => st.stage(id, d.content.clone(), "").await,
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
        (staged, rejected)
    }

    /// Sends one batch; documents rejected with a retryable code are sent
    /// again alone (bcq's retry policy); returns those refused for good.
    async fn put_batch(&self, docs: Vec<Document>) -> Result<Outcome, DestinationError> {
        let job = self.job_for_write().await?;
        let run_attrs = convert::run_attributes(&self.target.data_source_id, job.as_deref());
        let mut pending: HashMap<String, Document> =
            docs.into_iter().map(|d| (d.id.clone(), d)).collect();
        let mut order: Vec<String> = pending.keys().cloned().collect();
        order.sort();
        let (staged, mut rejected) = self.stage_large(&mut pending, &order).await;
        let role = self.role_arn.clone().filter(|_| !staged.is_empty());
        let mut attempts = self.caller.attempts();
        loop {
            attempts.begin();
            if pending.is_empty() {
                return Ok(Outcome { rejected });
            }
            // Each attempt converts the documents anew: the SDK takes its
            // input by value, and converting costs what a clone would, so
            // the usual single attempt converts once and copies nothing.
            let batch = || -> Vec<_> {
                order
                    .iter()
                    .filter_map(|id| pending.get(id))
                    .map(|d| {
                        let content = match (staged.get(&d.id), &self.staging) {
                            (Some(key), Some(st)) => convert::s3(&st.bucket, key),
                            _ => convert::blob(d),
                        };
                        convert::document(d, content, &run_attrs)
                    })
                    .collect()
            };
            let r = self
                .caller
                .call(&self.put_calls, || {
                    self.client
                        .batch_put_document()
                        .application_id(&self.target.application_id)
                        .index_id(&self.target.index_id)
                        .set_data_source_sync_id(job.clone())
                        .set_role_arn(role.clone())
                        .set_documents(Some(batch()))
                        .send()
                })
                .await;
            let out = match r {
                Ok(out) => out,
                Err(e) => {
                    let detail = failed("BatchPutDocument", &e);
                    if e.give_up.is_some() {
                        // Retried out: these documents failed, the run goes on.
                        rejected.extend(pending.into_keys().map(|doc_id| Rejected {
                            doc_id,
                            reason: detail.clone(),
                        }));
                        return Ok(Outcome { rejected });
                    }
                    // A validation error is about these documents; anything
                    // else (access, missing resources) about every call.
                    let fatal = code(&e.error) != Some("ValidationException");
                    return Err(DestinationError {
                        message: detail,
                        fatal,
                    });
                }
            };
            let failed_docs = out.failed_documents();
            let all_failed = !failed_docs.is_empty() && failed_docs.len() == pending.len();
            let mut job_gone = all_failed;
            let mut retry_ids = Vec::new();
            let mut reasons = HashMap::new();
            for f in failed_docs {
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
                    "{}: {msg}",
                    code.as_ref().map(|c| c.as_str()).unwrap_or("UNKNOWN")
                );
                job_gone &= code == Some(ErrorCode::InvalidRequest)
                    && msg.to_ascii_lowercase().contains("sync");
                if code == Some(ErrorCode::InternalError) {
                    retry_ids.push(id.clone());
                    reasons.insert(id, reason);
                } else {
                    pending.remove(&id);
                    rejected.push(Rejected { doc_id: id, reason });
                }
            }
            if job_gone && job.is_some() {
                return Err(DestinationError::fatal(format!(
                    "the sync job {} is no longer running on data source {} (stopped outside bcq?): every document was refused; run bcq again",
                    job.unwrap_or_default(),
                    self.target.data_source_id
                )));
            }
            pending.retain(|id, _| retry_ids.contains(id));
            if pending.is_empty() {
                return Ok(Outcome { rejected });
            }
            match self.caller.next_delay(&mut attempts, Failure::Transient) {
                Ok(d) => self.caller.sleep(d).await,
                Err(give_up) => {
                    rejected.extend(pending.into_keys().map(|id| {
                        let reason = reasons.remove(&id).unwrap_or_default();
                        Rejected {
                            doc_id: id,
                            reason: format!("{reason} ({give_up})"),
                        }
                    }));
                    return Ok(Outcome { rejected });
                }
            }
        }
    }

    /// Whether `user` may read document `id` (CheckDocumentAccess).
    pub async fn can_read(&self, user: &str, id: &str) -> Result<bool, DestinationError> {
        let t = &self.target;
        let out = self
            .caller
            .call(&self.other_calls, || {
                self.client
                    .check_document_access()
                    .application_id(&t.application_id)
                    .index_id(&t.index_id)
                    .user_id(user)
                    .document_id(id)
                    .data_source_id(&t.data_source_id)
                    .send()
            })
            .await
            .map_err(|e| DestinationError::fatal(failed("CheckDocumentAccess", &e)))?;
        Ok(out.has_access().unwrap_or(false))
    }

    async fn delete_batch(&self, ids: Vec<String>) -> Result<Outcome, DestinationError> {
        let job = self.job_for_write().await?;
        let docs: Vec<DeleteDocument> = ids
            .iter()
            .map(|id| {
                DeleteDocument::builder()
                    .document_id(id)
                    .build()
                    .expect("id is set")
            })
            .collect();
        let out = self
            .caller
            .call(&self.delete_calls, || {
                self.client
                    .batch_delete_document()
                    .application_id(&self.target.application_id)
                    .index_id(&self.target.index_id)
                    .set_data_source_sync_id(job.clone())
                    .set_documents(Some(docs.clone()))
                    .send()
            })
            .await
            .map_err(|e| DestinationError {
                message: failed("BatchDeleteDocument", &e),
                fatal: e.give_up.is_none(),
            })?;
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
            // The documents are gone from Q either way: a file left in the
            // bucket is worth a warning, not a failure.
            if let Err(reason) = st.unstage(&deleted, &[""]).await {
                tracing::warn!(reason, "staged files of deleted documents remain in S3");
            }
        }
        Ok(Outcome { rejected })
    }
}

impl Destination for QDestination {
    fn name(&self) -> &'static str {
        crate::SERVICE
    }

    fn key(&self) -> &'static str {
        "qbusiness"
    }

    fn limits(&self) -> Limits {
        Limits {
            docs_per_call: 10,
            bytes_per_call: self.max_batch_bytes,
            max_document_bytes: if self.staging.is_some() {
                constraints::MAX_FILE_BYTES
            } else {
                self.inline_limit()
            },
            max_file_bytes: constraints::MAX_FILE_BYTES,
            too_large_hint: Some(
                "set files.s3_bucket (BCQ_S3_BUCKET) to send large files through S3".to_string(),
            ),
        }
    }

    fn fit(&self, doc: &mut Document) -> Result<Vec<String>, String> {
        constraints::fit(doc)
    }

    fn check<'a>(
        &'a self,
        attributes: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(self.preflight(attributes))
    }

    fn attributes<'a>(
        &'a self,
        wanted: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Result<AttributeCheck, DestinationError>> {
        Box::pin(self.check_schema(wanted))
    }

    fn declare_attributes<'a>(
        &'a self,
        wanted: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Result<Vec<String>, DestinationError>> {
        Box::pin(self.declare_schema(wanted))
    }

    fn sync_groups<'a>(
        &'a self,
        groups: &'a [GroupSpec],
        put_before: Vec<(String, Option<String>)>,
    ) -> BoxFuture<'a, Result<GroupSync, DestinationError>> {
        Box::pin(self.keep_groups(groups, put_before))
    }

    fn open_run<'a>(
        &'a self,
        start: &'a RunStart,
    ) -> BoxFuture<'a, Result<Option<String>, DestinationError>> {
        Box::pin(async move {
            if self.lazy_runs {
                *self.lazy_start.lock().unwrap_or_else(|e| e.into_inner()) = Some(start.clone());
                return Ok(None);
            }
            self.start_run(start).await.map(Some)
        })
    }

    fn close_run(&self, follow: Duration) -> BoxFuture<'_, RunEnd> {
        Box::pin(self.end_run(follow))
    }

    fn adopt_run(&self, run: &str, opened_at: chrono::DateTime<chrono::Utc>) {
        *self.opened_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(opened_at);
        *self.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(run.to_string());
    }

    fn forget_run(&self) {
        *self.lazy_start.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn put(&self, docs: Vec<Document>) -> BoxFuture<'_, Result<Outcome, DestinationError>> {
        Box::pin(self.put_batch(docs))
    }

    fn delete(&self, ids: Vec<String>) -> BoxFuture<'_, Result<Outcome, DestinationError>> {
        Box::pin(self.delete_batch(ids))
    }

    fn failed_documents(&self) -> BoxFuture<'_, Result<Vec<Rejected>, DestinationError>> {
        Box::pin(async move { self.failed_to_index(None).await })
    }

    fn document_ids(&self) -> BoxFuture<'_, Result<Vec<String>, DestinationError>> {
        Box::pin(self.live_document_ids())
    }

    fn sources_for<'a>(
        &'a self,
        user: &'a str,
        _question: &'a str,
        candidates: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Source>, DestinationError>> {
        // Q's retrieval for a signed-in user (SearchRelevantContent) takes
        // the user's identity from IAM Identity Center, which SigV4
        // credentials do not carry; its access check names the user.
        Box::pin(async move {
            let mut out = Vec::new();
            for id in candidates {
                if self.can_read(user, id).await? {
                    out.push(Source {
                        doc_id: id.clone(),
                        title: None,
                        source_uri: None,
                        score: None,
                    });
                }
            }
            Ok(out)
        })
    }

    fn stats(&self) -> Vec<Stat> {
        let mut stats = vec![
            Stat {
                name: "put_calls",
                value: self.put_calls.load(Ordering::Relaxed),
            },
            Stat {
                name: "delete_calls",
                value: self.delete_calls.load(Ordering::Relaxed),
            },
            Stat {
                name: "throttled",
                value: self.caller.throttled.load(Ordering::Relaxed),
            },
            Stat {
                name: "retries",
                value: self.caller.retries.load(Ordering::Relaxed),
            },
        ];
        if let Some(st) = &self.staging {
            stats.push(Stat {
                name: "s3_calls",
                value: st.calls(),
            });
        }
        stats
    }
}
