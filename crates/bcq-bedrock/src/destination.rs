//! [`BedrockDestination`]: a managed knowledge base's custom data source as
//! a bcq destination.

use crate::convert::{self, Content};
use aws_sdk_bedrockagent::types::{DocumentStatus, KnowledgeBaseDocumentDetail};
use aws_smithy_types::Document as SmithyDocument;
use bcq_aws::{CallError, Caller, S3Staging, code, describe};
use bcq_core::acl::GroupSpec;
use bcq_core::catalog::AttrKind;
use bcq_core::destination::{
    AccessModel, AttributeCheck, BoxFuture, Check, CommonSettings, Destination, DestinationError,
    Limits, Outcome, Rejected, RunEnd, RunStart, Source, Stat,
};
use bcq_core::document::Document;
use bcq_retry::RetryPolicy;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The knowledge base and data source bcq writes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BedrockTarget {
    /// `BEDROCK_KNOWLEDGE_BASE_ID`.
    pub knowledge_base_id: String,
    /// `BEDROCK_DATA_SOURCE_ID`.
    pub data_source_id: String,
}

/// Documents of a run whose ingestion is followed to its end: every one of
/// a run up to this many, a uniform sample of larger runs (a reconciling
/// run lists every failed document anyway).
pub const FOLLOWED: usize = 1000;

/// Bytes of documents per call (content travels base64).
pub const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;

/// Statuses of a document whose ingestion has not ended.
fn in_progress(s: &DocumentStatus) -> bool {
    matches!(
        s,
        DocumentStatus::Pending
            | DocumentStatus::Starting
            | DocumentStatus::InProgress
            | DocumentStatus::Deleting
            | DocumentStatus::DeleteInProgress
    )
}

/// Statuses of a document that did not make it (with `statusReason`).
fn failed_status(s: &DocumentStatus) -> bool {
    matches!(
        s,
        DocumentStatus::Failed
            | DocumentStatus::PartiallyIndexed
            | DocumentStatus::MetadataPartiallyIndexed
            | DocumentStatus::MetadataUpdateFailed
            | DocumentStatus::Ignored
    )
}

fn detail_id(d: &KnowledgeBaseDocumentDetail) -> String {
    d.identifier()
        .and_then(|i| i.custom())
        .map(|c| c.id().to_string())
        .unwrap_or_default()
}

fn reason(d: &KnowledgeBaseDocumentDetail) -> String {
    format!(
        "{}: {}",
        d.status().as_str(),
        d.status_reason().unwrap_or("no reason given")
    )
}

/// What closing a run follows: a uniform sample of the ids it sent.
#[derive(Debug, Default)]
struct Followed {
    sent: u64,
    ids: Vec<String>,
}

impl Followed {
    fn note(&mut self, id: &str) {
        self.sent += 1;
        if self.ids.len() < FOLLOWED {
            self.ids.push(id.to_string());
        } else {
            // Reservoir sampling: each id sent is kept with equal chance.
            let j = rand::thread_rng().gen_range(0..self.sent) as usize;
            if j < FOLLOWED {
                self.ids[j] = id.to_string();
            }
        }
    }
}

/// The Bedrock destination.
pub struct BedrockDestination {
    agent: aws_sdk_bedrockagent::Client,
    runtime: aws_sdk_bedrockagentruntime::Client,
    target: BedrockTarget,
    caller: Caller,
    staging: Option<S3Staging>,
    /// `[groups]`, to expand group principals into users.
    groups: Vec<GroupSpec>,
    /// Whether the data source enforces access lists, once read (assumed
    /// until then: a managed custom connector is created with them on).
    acl_enabled: Mutex<Option<bool>>,
    followed: Mutex<Followed>,
    ingest_calls: AtomicU64,
    delete_calls: AtomicU64,
    other_calls: AtomicU64,
}

impl std::fmt::Debug for BedrockDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BedrockDestination")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// A Bedrock call's error as a message, with what to check.
fn failed<E>(action: &str, e: &CallError<E, aws_smithy_runtime_api::http::Response>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    let hint = match code(&e.error) {
        Some("ResourceNotFoundException") => {
            "; check BEDROCK_KNOWLEDGE_BASE_ID and BEDROCK_DATA_SOURCE_ID and the AWS region"
        }
        Some("AccessDeniedException") => {
            "; the AWS credentials lack bedrock permissions for this knowledge base (bcq iam-policy prints what they need)"
        }
        Some("UnrecognizedClientException") | Some("InvalidSignatureException") => {
            "; check the AWS credentials (access key and secret)"
        }
        _ => "",
    };
    format!(
        "{action} failed: {}{}{hint}",
        describe(crate::SERVICE, &e.error),
        e.retried()
    )
}

/// A fresh `clientToken` (33 to 256 letters and digits): the same token on
/// every attempt of one logical call makes a retried call idempotent.
fn client_token() -> String {
    format!("bcq{}", uuid::Uuid::new_v4().simple())
}

impl BedrockDestination {
    /// A destination writing to `target`.
    pub fn new(
        agent: aws_sdk_bedrockagent::Client,
        runtime: aws_sdk_bedrockagentruntime::Client,
        target: BedrockTarget,
        common: &CommonSettings,
    ) -> Self {
        let max = common.push_concurrency.max(1);
        BedrockDestination {
            agent,
            runtime,
            target,
            caller: Caller::new(RetryPolicy::default(), 4.min(max), max, 0x0062_6372),
            staging: None,
            groups: common.groups.clone(),
            acl_enabled: Mutex::new(None),
            followed: Mutex::new(Followed::default()),
            ingest_calls: AtomicU64::new(0),
            delete_calls: AtomicU64::new(0),
            other_calls: AtomicU64::new(0),
        }
    }

    /// Sends files too large to travel inline through S3.
    pub fn with_staging(mut self, staging: Option<S3Staging>) -> Self {
        self.staging = staging;
        self
    }

    fn acl_enabled(&self) -> bool {
        self.acl_enabled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(true)
    }

    /// The data source's `aclEnabled`, read (and remembered) from its
    /// connector parameters.
    async fn read_data_source(&self) -> Result<(bool, String), String> {
        let t = &self.target;
        let out = self
            .caller
            .call(&self.other_calls, || {
                self.agent
                    .get_data_source()
                    .knowledge_base_id(&t.knowledge_base_id)
                    .data_source_id(&t.data_source_id)
                    .send()
            })
            .await
            .map_err(|e| failed("GetDataSource", &e))?;
        let ds = out.data_source();
        let cfg = ds.and_then(|d| d.data_source_configuration());
        let kind = cfg
            .map(|c| c.r#type().as_str().to_string())
            .unwrap_or_default();
        if kind != "MANAGED_KNOWLEDGE_BASE_CONNECTOR" {
            return Err(format!(
                "the data source is of type {kind}; bcq pushes documents to a managed knowledge base connector (type MANAGED_KNOWLEDGE_BASE_CONNECTOR, connectorParameters type CUSTOM)"
            ));
        }
        let params = cfg
            .and_then(|c| c.managed_knowledge_base_connector_configuration())
            .and_then(|m| m.connector_parameters());
        let field = |name: &str| match params {
            Some(SmithyDocument::Object(o)) => o.get(name).cloned(),
            _ => None,
        };
        if !matches!(field("type"), Some(SmithyDocument::String(s)) if s == "CUSTOM") {
            return Err("the data source's connector is not of type CUSTOM: bcq pushes documents to a custom connector".into());
        }
        let acl = matches!(field("aclEnabled"), Some(SmithyDocument::Bool(true)));
        *self.acl_enabled.lock().unwrap_or_else(|e| e.into_inner()) = Some(acl);
        let status = ds
            .map(|d| d.status().as_str().to_string())
            .unwrap_or_default();
        Ok((acl, status))
    }

    async fn preflight(&self) -> Vec<Check> {
        let t = &self.target;
        let mut out = Vec::new();
        let what = format!("bedrock knowledge base {}", t.knowledge_base_id);
        match self
            .caller
            .call(&self.other_calls, || {
                self.agent
                    .get_knowledge_base()
                    .knowledge_base_id(&t.knowledge_base_id)
                    .send()
            })
            .await
        {
            Ok(kb) => {
                let kb = kb.knowledge_base();
                let status = kb.map(|k| k.status().as_str()).unwrap_or("unknown");
                let kind = kb
                    .and_then(|k| k.knowledge_base_configuration())
                    .map(|c| c.r#type().as_str())
                    .unwrap_or("unknown");
                out.push(if status == "ACTIVE" && kind == "MANAGED" {
                    Check::pass(what, format!("{status}, type {kind}"))
                } else {
                    Check::fail(
                        what,
                        format!("{status}, type {kind}: bcq writes to an ACTIVE knowledge base of type MANAGED"),
                    )
                });
            }
            Err(e) => {
                out.push(Check::fail(what, failed("GetKnowledgeBase", &e)));
                return out;
            }
        }
        let what = format!("bedrock data source {}", t.data_source_id);
        match self.read_data_source().await {
            Ok((acl, status)) if status == "AVAILABLE" => out.push(Check::pass(
                what,
                format!(
                    "{status}, managed custom connector, access lists {}",
                    if acl { "enabled" } else { "disabled" }
                ),
            )),
            Ok((_, status)) => {
                out.push(Check::fail(what, format!("{status}: it must be AVAILABLE")))
            }
            Err(e) => out.push(Check::fail(what, e)),
        }
        // Reading documents proves the data-plane permissions (an unknown
        // id answers NOT_FOUND, not an error).
        let what = "bedrock document permissions";
        match self
            .caller
            .call(&self.other_calls, || {
                self.agent
                    .get_knowledge_base_documents()
                    .knowledge_base_id(&t.knowledge_base_id)
                    .data_source_id(&t.data_source_id)
                    .document_identifiers(convert::identifier("bcq-check"))
                    .send()
            })
            .await
        {
            Ok(_) => out.push(Check::pass(
                what,
                "bedrock:GetKnowledgeBaseDocuments allowed",
            )),
            Err(e) => out.push(Check::fail(what, failed("GetKnowledgeBaseDocuments", &e))),
        }
        out
    }

    /// Stages what is too large to go inline; returns the staged URIs and
    /// the documents that could not be staged.
    async fn stage_large(
        &self,
        docs: &mut Vec<Document>,
    ) -> (HashMap<String, String>, Vec<Rejected>) {
        let mut staged = HashMap::new();
        let mut rejected = Vec::new();
        let mut kept = Vec::with_capacity(docs.len());
        for d in docs.drain(..) {
            if d.content.len() <= convert::MAX_INLINE_BYTES {
                kept.push(d);
                continue;
            }
            let outcome = match &self.staging {
                Some(st) => st
                    .stage(&d.id, d.content.clone(), convert::extension(d.content_type))
                    .await
                    .map(|k| st.uri(&k)),
                None => Err(format!(
                    "the file is {} bytes, more than Amazon Bedrock takes inline ({}); set files.s3_bucket (BCQ_S3_BUCKET) to send large files through S3",
                    d.content.len(),
                    convert::MAX_INLINE_BYTES
                )),
            };
            match outcome {
                Ok(uri) => {
                    staged.insert(d.id.clone(), uri);
                    kept.push(d);
                }
                Err(reason) => rejected.push(Rejected {
                    doc_id: d.id,
                    reason,
                }),
            }
        }
        *docs = kept;
        (staged, rejected)
    }

    async fn ingest(&self, mut docs: Vec<Document>) -> Result<Outcome, DestinationError> {
        let (staged, mut rejected) = self.stage_large(&mut docs).await;
        if docs.is_empty() {
            return Ok(Outcome { rejected });
        }
        // Each attempt converts the documents anew: the SDK takes its input
        // by value, and converting costs what a clone would, so the usual
        // single attempt converts once and copies nothing.
        let batch = || -> Vec<_> {
            docs.iter()
                .map(|d| {
                    let content = match staged.get(&d.id) {
                        Some(uri) => Content::S3(uri),
                        None => Content::Inline,
                    };
                    convert::document(d, content)
                })
                .collect()
        };
        let t = &self.target;
        let token = client_token();
        let out = self
            .caller
            .call(&self.ingest_calls, || {
                self.agent
                    .ingest_knowledge_base_documents()
                    .knowledge_base_id(&t.knowledge_base_id)
                    .data_source_id(&t.data_source_id)
                    .client_token(&token)
                    .set_documents(Some(batch()))
                    .send()
            })
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                let message = failed("IngestKnowledgeBaseDocuments", &e);
                if e.give_up.is_some() || code(&e.error) == Some("ValidationException") {
                    // These documents failed; the run goes on.
                    rejected.extend(docs.into_iter().map(|d| Rejected {
                        doc_id: d.id,
                        reason: message.clone(),
                    }));
                    return Ok(Outcome { rejected });
                }
                return Err(DestinationError::fatal(message));
            }
        };
        let mut followed = self.followed.lock().unwrap_or_else(|e| e.into_inner());
        for d in out.document_details() {
            let id = detail_id(d);
            if failed_status(d.status()) {
                rejected.push(Rejected {
                    doc_id: id,
                    reason: reason(d),
                });
            } else {
                followed.note(&id);
            }
        }
        Ok(Outcome { rejected })
    }

    async fn remove(&self, ids: Vec<String>) -> Result<Outcome, DestinationError> {
        let t = &self.target;
        let token = client_token();
        let identifiers: Vec<_> = ids.iter().map(|id| convert::identifier(id)).collect();
        let out = self
            .caller
            .call(&self.delete_calls, || {
                self.agent
                    .delete_knowledge_base_documents()
                    .knowledge_base_id(&t.knowledge_base_id)
                    .data_source_id(&t.data_source_id)
                    .client_token(&token)
                    .set_document_identifiers(Some(identifiers.clone()))
                    .send()
            })
            .await
            .map_err(|e| DestinationError {
                message: failed("DeleteKnowledgeBaseDocuments", &e),
                fatal: e.give_up.is_none(),
            })?;
        let rejected: Vec<Rejected> = out
            .document_details()
            .iter()
            .filter(|d| d.status() == &DocumentStatus::Failed)
            .map(|d| Rejected {
                doc_id: detail_id(d),
                reason: reason(d),
            })
            .collect();
        if let Some(st) = &self.staging {
            let deleted: Vec<String> = ids
                .iter()
                .filter(|id| !rejected.iter().any(|r| &r.doc_id == *id))
                .cloned()
                .collect();
            if let Err(reason) = st.unstage(&deleted, &convert::EXTENSIONS).await {
                tracing::warn!(reason, "staged files of deleted documents remain in S3");
            }
        }
        Ok(Outcome { rejected })
    }

    /// The statuses of `ids` (10 a call).
    async fn statuses(
        &self,
        ids: &[String],
    ) -> Result<Vec<KnowledgeBaseDocumentDetail>, DestinationError> {
        let t = &self.target;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(10) {
            let identifiers: Vec<_> = chunk.iter().map(|id| convert::identifier(id)).collect();
            let page = self
                .caller
                .call(&self.other_calls, || {
                    self.agent
                        .get_knowledge_base_documents()
                        .knowledge_base_id(&t.knowledge_base_id)
                        .data_source_id(&t.data_source_id)
                        .set_document_identifiers(Some(identifiers.clone()))
                        .send()
                })
                .await
                .map_err(|e| DestinationError::fatal(failed("GetKnowledgeBaseDocuments", &e)))?;
            out.extend(page.document_details().iter().cloned());
        }
        Ok(out)
    }

    /// Every document of the data source (ListKnowledgeBaseDocuments, all pages).
    async fn all_documents(&self) -> Result<Vec<KnowledgeBaseDocumentDetail>, DestinationError> {
        let t = &self.target;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .caller
                .call(&self.other_calls, || {
                    self.agent
                        .list_knowledge_base_documents()
                        .knowledge_base_id(&t.knowledge_base_id)
                        .data_source_id(&t.data_source_id)
                        .max_results(1000)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| DestinationError::fatal(failed("ListKnowledgeBaseDocuments", &e)))?;
            out.extend(page.document_details().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Follows the run's documents until their ingestion ended, or `follow`.
    async fn follow(&self, follow: Duration) -> RunEnd {
        let mut end = RunEnd::default();
        let mut pending =
            std::mem::take(&mut *self.followed.lock().unwrap_or_else(|e| e.into_inner())).ids;
        if pending.is_empty() {
            return end;
        }
        if follow.is_zero() {
            end.still_indexing = true;
            return end;
        }
        let began = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let details = match self.statuses(&pending).await {
                Ok(d) => d,
                Err(e) => {
                    end.errors.push(format!("following ingestion: {e}"));
                    return end;
                }
            };
            pending.clear();
            for d in &details {
                if in_progress(d.status()) {
                    pending.push(detail_id(d));
                } else if failed_status(d.status()) || d.status() == &DocumentStatus::NotFound {
                    end.failed_after_accept.push(Rejected {
                        doc_id: detail_id(d),
                        reason: reason(d),
                    });
                }
            }
            if pending.is_empty() {
                return end;
            }
            if began.elapsed() >= follow {
                tracing::warn!(
                    documents = pending.len(),
                    "still being ingested; the next run checks what failed"
                );
                end.still_indexing = true;
                return end;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    async fn retrieve(&self, user: &str, question: &str) -> Result<Vec<Source>, DestinationError> {
        use aws_sdk_bedrockagentruntime::types::{KnowledgeBaseQuery, UserContext};
        let t = &self.target;
        let out = self
            .caller
            .call(&self.other_calls, || {
                self.runtime
                    .retrieve()
                    .knowledge_base_id(&t.knowledge_base_id)
                    .retrieval_query(KnowledgeBaseQuery::builder().text(question).build())
                    .user_context(
                        UserContext::builder()
                            .user_id(user)
                            .build()
                            .expect("user id is set"),
                    )
                    .send()
            })
            .await
            .map_err(|e| DestinationError::fatal(failed("Retrieve", &e)))?;
        let text = |v: Option<&SmithyDocument>| match v {
            Some(SmithyDocument::String(s)) => Some(s.clone()),
            _ => None,
        };
        Ok(out
            .retrieval_results()
            .iter()
            .map(|r| {
                let meta = r.metadata();
                Source {
                    doc_id: r
                        .location()
                        .and_then(|l| l.custom_document_location())
                        .and_then(|c| c.id())
                        .unwrap_or_default()
                        .to_string(),
                    title: text(meta.and_then(|m| m.get(convert::TITLE_ATTRIBUTE))),
                    source_uri: text(meta.and_then(|m| m.get("_source_uri"))),
                    score: r.score(),
                }
            })
            .collect())
    }
}

impl Destination for BedrockDestination {
    fn name(&self) -> &'static str {
        crate::SERVICE
    }

    fn key(&self) -> &'static str {
        "bedrock-kb"
    }

    fn limits(&self) -> Limits {
        Limits {
            docs_per_call: 10,
            bytes_per_call: MAX_BATCH_BYTES,
            max_document_bytes: if self.staging.is_some() {
                convert::MAX_FILE_BYTES
            } else {
                convert::MAX_INLINE_BYTES
            },
            max_file_bytes: convert::MAX_FILE_BYTES,
            too_large_hint: Some(
                "set files.s3_bucket (BCQ_S3_BUCKET) to send large files through S3".into(),
            ),
        }
    }

    fn fit(&self, doc: &mut Document) -> Result<Vec<String>, String> {
        convert::fit(doc, &self.groups, self.acl_enabled())
    }

    fn check<'a>(&'a self, _: &'a [(&'static str, AttrKind)]) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(self.preflight())
    }

    fn attributes<'a>(
        &'a self,
        _: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Result<AttributeCheck, DestinationError>> {
        Box::pin(async {
            Ok(AttributeCheck {
                not_needed: Some(
                    "a knowledge base takes documents' inline attributes without declaring them: nothing to do".into(),
                ),
                ..AttributeCheck::default()
            })
        })
    }

    fn open_run<'a>(
        &'a self,
        _: &'a RunStart,
    ) -> BoxFuture<'a, Result<Option<String>, DestinationError>> {
        Box::pin(async move {
            // There is no job; what the run needs is whether access lists
            // are enforced, which decides how documents are fitted.
            self.read_data_source()
                .await
                .map_err(DestinationError::fatal)?;
            Ok(None)
        })
    }

    fn close_run(&self, follow: Duration) -> BoxFuture<'_, RunEnd> {
        Box::pin(self.follow(follow))
    }

    fn put(&self, docs: Vec<Document>) -> BoxFuture<'_, Result<Outcome, DestinationError>> {
        Box::pin(self.ingest(docs))
    }

    fn delete(&self, ids: Vec<String>) -> BoxFuture<'_, Result<Outcome, DestinationError>> {
        Box::pin(self.remove(ids))
    }

    fn failed_documents(&self) -> BoxFuture<'_, Result<Vec<Rejected>, DestinationError>> {
        Box::pin(async move {
            Ok(self
                .all_documents()
                .await?
                .iter()
                .filter(|d| failed_status(d.status()))
                .map(|d| Rejected {
                    doc_id: detail_id(d),
                    reason: reason(d),
                })
                .collect())
        })
    }

    fn document_ids(&self) -> BoxFuture<'_, Result<Vec<String>, DestinationError>> {
        Box::pin(async move {
            Ok(self
                .all_documents()
                .await?
                .iter()
                .filter(|d| {
                    !matches!(
                        d.status(),
                        DocumentStatus::Deleting
                            | DocumentStatus::DeleteInProgress
                            | DocumentStatus::NotFound
                    )
                })
                .map(detail_id)
                .collect())
        })
    }

    fn stats(&self) -> Vec<Stat> {
        let mut stats = vec![
            Stat {
                name: "ingest_calls",
                value: self.ingest_calls.load(Ordering::Relaxed),
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

    fn access_notes(&self) -> Vec<String> {
        let mut notes = vec![
            "Amazon Bedrock's access lists name users only: bcq expands the groups of [[access]] rules into their members from [groups]".to_string(),
        ];
        notes.push(if self.acl_enabled() {
            "this data source enforces access lists: a document without one is never returned, so every unit needs an [[access]] rule that restricts it (public = true cannot be honoured)".into()
        } else {
            "this data source has access lists disabled: every document is readable by everyone who can query the knowledge base; restricting [[access]] rules cannot be honoured".into()
        });
        notes
    }

    fn takes_group_principals(&self) -> bool {
        false
    }

    fn access_model(&self) -> AccessModel {
        if self.acl_enabled() {
            AccessModel::ClosedByDefault
        } else {
            AccessModel::NoAccessLists
        }
    }

    fn sources_for<'a>(
        &'a self,
        user: &'a str,
        question: &'a str,
        _candidates: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Source>, DestinationError>> {
        Box::pin(self.retrieve(user, question))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn following_keeps_a_bounded_uniform_sample() {
        let mut f = Followed::default();
        for i in 0..(FOLLOWED * 3) {
            f.note(&i.to_string());
        }
        assert_eq!(f.sent as usize, FOLLOWED * 3);
        assert_eq!(f.ids.len(), FOLLOWED);
        // Some ids of each third of the run were kept.
        let third = |lo: usize, hi: usize| {
            f.ids
                .iter()
                .filter(|i| (lo..hi).contains(&i.parse::<usize>().unwrap()))
                .count()
        };
        assert!(third(0, FOLLOWED) > 0 && third(FOLLOWED * 2, FOLLOWED * 3) > 0);
        let t = client_token();
        assert!((33..=256).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
