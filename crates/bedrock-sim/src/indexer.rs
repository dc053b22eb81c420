//! The background indexer: applies scheduled transitions when their
//! deadline passes, and starts the preparation of accepted versions.
//!
//! Ingestion: STARTING (the answer of IngestKnowledgeBaseDocuments) →
//! PENDING → IN_PROGRESS → INDEXED, or FAILED / IGNORED with a
//! `statusReason`. Deletion: DELETING (the answer of
//! DeleteKnowledgeBaseDocuments) → DELETE_IN_PROGRESS → gone (NOT_FOUND to
//! GetKnowledgeBaseDocuments, absent from ListKnowledgeBaseDocuments).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::content::{S3Reader, prepare};
use crate::shared::{Event, Inner, Shared, Stage};
use crate::state::{Rejected, Version};

/// How long a finishing document whose preparation has not ended waits
/// before looking again.
const PREPARE_POLL: Duration = Duration::from_millis(5);

/// Runs until aborted.
pub async fn run(shared: Arc<Shared>) {
    aws_sim::control::run(shared).await
}

/// The reason of an injected ingestion failure.
pub const INJECTED_FAILURE: &str =
    "The document could not be ingested: failure injected by the emulator (index_failure fault)";

/// Applies one transition whose deadline passed.
pub fn apply(inner: &mut Inner, ev: Event) {
    let Some(ds) = inner.kb.data_sources.get_mut(&ev.ds) else {
        return;
    };
    let Some(d) = ds.documents.get_mut(&ev.doc) else {
        return;
    };
    if d.generation != ev.generation {
        return;
    }
    d.updated_at = Utc::now();
    match ev.stage {
        Stage::Pending => d.status = "PENDING",
        Stage::InProgress => d.status = "IN_PROGRESS",
        Stage::DeleteInProgress => d.status = "DELETE_IN_PROGRESS",
        Stage::Remove => {
            ds.documents.remove(&ev.doc);
        }
        Stage::Finish => {
            let Some(prepared) = d.prepared.take() else {
                inner.schedule(PREPARE_POLL, ev);
                return;
            };
            let id = d.id.clone();
            let outcome = match prepared {
                Ok(_) if inner.faults.index_failure(&id) => Err(Rejected::failed(INJECTED_FAILURE)),
                other => other,
            };
            let ds = inner
                .kb
                .data_sources
                .get_mut(&ev.ds)
                .expect("looked up above");
            let d = ds.documents.get_mut(&ev.doc).expect("looked up above");
            d.pending = None;
            match outcome {
                Ok(indexed) => {
                    d.status = "INDEXED";
                    d.status_reason = None;
                    d.indexed = Some(indexed);
                }
                Err(r) => {
                    d.status = r.status;
                    d.status_reason = Some(r.reason);
                    d.indexed = None;
                }
            }
        }
    }
}

/// Schedules the transitions of an accepted version and starts preparing it
/// on a blocking thread (S3 reads and text extraction stay off the request
/// path and outside the lock).
pub fn start_ingestion(
    shared: &Arc<Shared>,
    inner: &mut Inner,
    ds: &str,
    doc: &str,
    generation: u64,
    version: Version,
) {
    let d = shared.cfg.indexing_delay;
    let stages = [
        (Stage::Pending, d / 4),
        (Stage::InProgress, d / 2),
        (Stage::Finish, d),
    ];
    schedule(shared, inner, ds, doc, generation, &stages);
    let reader = S3Reader {
        endpoint: shared.cfg.s3_endpoint.clone(),
        access_key_id: shared.cfg.access_key_id.clone(),
        secret: shared.cfg.secret_access_key.clone(),
        region: shared.cfg.region.clone(),
    };
    let shared = shared.clone();
    let (ds, doc) = (ds.to_string(), doc.to_string());
    tokio::task::spawn_blocking(move || {
        let prepared = prepare(&version, generation, &reader);
        let mut inner = shared.lock();
        if let Some(d) = inner
            .kb
            .data_sources
            .get_mut(&ds)
            .and_then(|s| s.documents.get_mut(&doc))
            .filter(|d| d.generation == generation)
        {
            d.prepared = Some(prepared);
        }
    });
}

/// Schedules the transitions of an accepted deletion.
pub fn start_deletion(shared: &Shared, inner: &mut Inner, ds: &str, doc: &str, generation: u64) {
    let d = shared.cfg.indexing_delay;
    let stages = [(Stage::DeleteInProgress, d / 2), (Stage::Remove, d)];
    schedule(shared, inner, ds, doc, generation, &stages);
}

/// Schedules the stages of one document, each after its delay.
fn schedule(
    shared: &Shared,
    inner: &mut Inner,
    ds: &str,
    doc: &str,
    generation: u64,
    stages: &[(Stage, Duration)],
) {
    for &(stage, at) in stages {
        inner.schedule(
            at,
            Event {
                ds: ds.to_string(),
                doc: doc.to_string(),
                generation,
                stage,
            },
        );
    }
    shared.wake.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BedrockSimConfig;
    use crate::state::{Doc, Indexed};

    fn shared() -> Arc<Shared> {
        Shared::new(BedrockSimConfig::default())
    }

    fn doc(generation: u64) -> Doc {
        Doc::new("d1", generation)
    }

    fn indexed() -> Indexed {
        Indexed {
            text: "x".into(),
            chunks: std::iter::once(0..1).collect(),
            attributes: vec![],
            acl: None,
            content_type: "TEXT".into(),
            generation: 1,
        }
    }

    fn ev(generation: u64, stage: Stage) -> Event {
        Event {
            ds: "BCQSIMDS01".into(),
            doc: "d1".into(),
            generation,
            stage,
        }
    }

    fn status(inner: &Inner) -> Option<&'static str> {
        inner.kb.data_sources["BCQSIMDS01"]
            .documents
            .get("d1")
            .map(|d| d.status)
    }

    #[test]
    fn ingestion_moves_through_the_statuses_and_waits_for_preparation() {
        let s = shared();
        let mut inner = s.lock();
        let ds = inner.kb.data_sources.get_mut("BCQSIMDS01").unwrap();
        ds.documents.insert("d1".into(), doc(2));
        apply(&mut inner, ev(2, Stage::Pending));
        assert_eq!(status(&inner), Some("PENDING"));
        apply(&mut inner, ev(1, Stage::InProgress));
        assert_eq!(status(&inner), Some("PENDING"), "stale generation ignored");
        apply(&mut inner, ev(2, Stage::InProgress));
        // Not prepared yet: finishing waits.
        apply(&mut inner, ev(2, Stage::Finish));
        assert_eq!(status(&inner), Some("IN_PROGRESS"));
        assert_eq!(inner.queue.len(), 1);
        let d = inner
            .kb
            .data_sources
            .get_mut("BCQSIMDS01")
            .unwrap()
            .documents
            .get_mut("d1")
            .unwrap();
        d.prepared = Some(Ok(indexed()));
        apply(&mut inner, ev(2, Stage::Finish));
        assert_eq!(status(&inner), Some("INDEXED"));
        assert!(
            inner.kb.data_sources["BCQSIMDS01"].documents["d1"]
                .indexed
                .is_some()
        );
    }

    #[test]
    fn failures_injected_or_prepared_end_failed_and_unsearchable() {
        let s = shared();
        let mut inner = s.lock();
        let mut d = doc(1);
        d.indexed = Some(indexed());
        d.prepared = Some(Ok(indexed()));
        d.id = "bad-1".into();
        let ds = inner.kb.data_sources.get_mut("BCQSIMDS01").unwrap();
        ds.documents.insert("d1".into(), d);
        let mut f = aws_sim::faults::FaultSpec::new("index_failure", None);
        f.document_id_contains = Some("bad".into());
        inner.faults.add(f, &crate::shared::BedrockModel).unwrap();
        apply(&mut inner, ev(1, Stage::Finish));
        let d = &inner.kb.data_sources["BCQSIMDS01"].documents["d1"];
        assert_eq!(d.status, "FAILED");
        assert_eq!(d.status_reason.as_deref(), Some(INJECTED_FAILURE));
        assert!(d.indexed.is_none());
        let d = inner
            .kb
            .data_sources
            .get_mut("BCQSIMDS01")
            .unwrap()
            .documents
            .get_mut("d1")
            .unwrap();
        d.id = "ok".into();
        d.prepared = Some(Err(Rejected::failed("no such key")));
        apply(&mut inner, ev(1, Stage::Finish));
        assert_eq!(
            inner.kb.data_sources["BCQSIMDS01"].documents["d1"]
                .status_reason
                .as_deref(),
            Some("no such key")
        );
    }

    #[test]
    fn deletion_ends_with_the_document_gone() {
        let s = shared();
        let mut inner = s.lock();
        let mut d = doc(3);
        d.status = "DELETING";
        inner
            .kb
            .data_sources
            .get_mut("BCQSIMDS01")
            .unwrap()
            .documents
            .insert("d1".into(), d);
        apply(&mut inner, ev(3, Stage::DeleteInProgress));
        assert_eq!(status(&inner), Some("DELETE_IN_PROGRESS"));
        apply(&mut inner, ev(3, Stage::Remove));
        assert_eq!(status(&inner), None);
    }
}
