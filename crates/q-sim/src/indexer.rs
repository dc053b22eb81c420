//! The background indexer: applies scheduled transitions when their deadline
//! passes. Documents go RECEIVED → PROCESSING → INDEXED/UPDATED (or
//! DOCUMENT_FAILED_TO_INDEX); deletes go DELETING → DELETED → removed from
//! ListDocuments; stopped jobs go SYNCING_INDEXING → final status.

use std::sync::Arc;

use crate::shared::{Event, Inner, Shared};
use crate::state::{Doc, ErrorDetail, Index, Outcome, now_secs};

/// Reserved attributes and their types (Q's "document attributes" page).
pub const RESERVED: &[(&str, &str)] = &[
    ("_source_uri", "STRING"),
    ("_created_at", "DATE"),
    ("_last_updated_at", "DATE"),
    ("_category", "STRING"),
    ("_authors", "STRING_LIST"),
    ("_version", "STRING"),
    ("_data_source_id", "STRING"),
    ("_data_source_sync_job_execution_id", "STRING"),
    ("_file_type", "STRING"),
    ("_language_code", "STRING"),
    ("_document_title", "STRING"),
    ("_view_count", "NUMBER"),
    ("_excerpt_page_number", "NUMBER"),
];

/// Runs until aborted.
pub async fn run(shared: Arc<Shared>) {
    aws_sim::control::run(shared).await
}

/// Applies one transition whose deadline passed (the state changed: it is
/// written again when `data_dir` is set).
pub fn apply(inner: &mut Inner, ev: Event) {
    inner.dirty = true;
    match ev {
        Event::Doc {
            app,
            index,
            doc,
            generation,
            stage,
        } => {
            let Ok(idx) = inner.state.index(&app, &index) else {
                return;
            };
            let Some(d) = idx.documents.get(&doc) else {
                return;
            };
            if d.generation != generation {
                return;
            }
            let deleting = d.status == "DELETING" || d.status == "DELETED";
            match (deleting, stage) {
                (true, 1) => {
                    let d = idx.documents.get_mut(&doc).expect("checked above");
                    d.status = "DELETED".into();
                    d.updated_at = now_secs();
                }
                (true, _) => {
                    idx.documents.remove(&doc);
                }
                (false, 1) => {
                    let d = idx.documents.get_mut(&doc).expect("checked above");
                    d.status = "PROCESSING".into();
                    d.updated_at = now_secs();
                }
                (false, _) => finish_doc(idx, &doc),
            }
        }
        Event::Job {
            app,
            index,
            ds,
            exec,
        } => {
            let Ok(idx) = inner.state.index(&app, &index) else {
                return;
            };
            let Some(ds) = idx.data_sources.get_mut(&ds) else {
                return;
            };
            let Some(job) = ds.jobs.iter_mut().find(|j| j.execution_id == exec) else {
                return;
            };
            let [_, _, _, failed, scanned] = job.metrics();
            job.end_time = Some(now_secs());
            job.status = if job.aborted {
                "ABORTED".into()
            } else if failed == 0 {
                "SUCCEEDED".into()
            } else if failed == scanned {
                job.error = Some(ErrorDetail::invalid(format!(
                    "all {failed} documents of the sync job failed"
                )));
                "FAILED".into()
            } else {
                "INCOMPLETE".into()
            };
        }
    }
}

/// Decides the final status of an accepted document.
fn finish_doc(idx: &mut Index, doc_id: &str) {
    let err = {
        let d = &idx.documents[doc_id];
        d.pending_error.clone().or_else(|| attribute_error(idx, d))
    };
    let d = idx.documents.get_mut(doc_id).expect("caller checked");
    d.updated_at = now_secs();
    let job = d.job_id.clone();
    let ds = d.data_source_id.clone();
    match err {
        Some(e) => {
            d.status = "DOCUMENT_FAILED_TO_INDEX".into();
            d.error = Some(e);
            d.text = None;
            if let (Some(job), Some(ds)) = (job, ds)
                && let Some(j) = idx
                    .data_sources
                    .get_mut(&ds)
                    .and_then(|s| s.jobs.iter_mut().find(|j| j.execution_id == job))
            {
                j.record(doc_id, Outcome::Failed);
            }
        }
        None => {
            d.status = if d.was_indexed {
                "UPDATED".into()
            } else {
                "INDEXED".into()
            };
            d.was_indexed = true;
            d.error = None;
        }
    }
}

/// A custom attribute must be declared on the index with the same type; a
/// reserved one must have its reserved type.
pub fn attribute_error(idx: &Index, d: &Doc) -> Option<ErrorDetail> {
    for (name, v) in &d.attributes {
        let ty = v.attribute_type();
        if let Some((_, want)) = RESERVED.iter().find(|(n, _)| n == name) {
            if *want != ty {
                return Some(ErrorDetail::invalid(format!(
                    "The reserved attribute {name} must be of type {want}, but a value of type {ty} was provided."
                )));
            }
        } else if !name.starts_with('_') {
            match idx.attributes.iter().find(|a| &a.name == name) {
                None => {
                    return Some(ErrorDetail::invalid(format!(
                        "The attribute {name} is not configured on the index. Add it with UpdateIndex documentAttributeConfigurations."
                    )));
                }
                Some(a) if a.ty.as_deref() != Some(ty) => {
                    return Some(ErrorDetail::invalid(format!(
                        "The attribute {name} is configured as {} on the index, but a value of type {ty} was provided.",
                        a.ty.as_deref().unwrap_or("unknown")
                    )));
                }
                Some(_) => {}
            }
        }
    }
    None
}
