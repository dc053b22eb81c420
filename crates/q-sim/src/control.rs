//! The control API: `/_sim/...` over HTTP (no signature) and the same
//! functions in process through [`Control`].
//!
//! | route | effect |
//! |---|---|
//! | `GET /_sim/documents?applicationId=&indexId=[&ids_only=true]` | `{"documents":[DocumentDump…]}` or `{"ids":[…]}` |
//! | `GET /_sim/counts`, `DELETE /_sim/counts` | [`Counts`], reset |
//! | `GET /_sim/jobs` | `{"jobs":[JobDump…]}` |
//! | `POST /_sim/jobs/stop-running` | `{"stopped":[executionId…]}` (jobs end ABORTED) |
//! | `POST /_sim/faults` [`FaultSpec`](crate::FaultSpec), `GET`, `DELETE /_sim/faults` | add, list, clear |
//! | `PUT /_sim/rates` `{"Op": rate}` | change rates, answers all rates |
//! | `POST /_sim/indexing/pause`, `POST /_sim/indexing/resume` | hold / release status transitions |
//!
//! The faults, rates, indexing and counts routes are [`aws_sim::control`]'s,
//! the same in every emulator.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sim::control::Controls;

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::shared::{Counts, Shared};
use crate::state::{Doc, ErrorDetail};

/// A document as stored, for tests (`GET /_sim/documents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentDump {
    /// Document id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Content type.
    pub content_type: Option<String>,
    /// Attributes: string, list, number, or date as an RFC 3339 string.
    pub attributes: BTreeMap<String, Value>,
    /// `accessConfiguration` as sent.
    pub access_configuration: Option<Value>,
    /// Extracted text (None when extraction failed).
    pub text: Option<String>,
    /// `DocumentStatus`.
    pub status: String,
    /// Error of a failed document.
    pub error: Option<ErrorDetail>,
    /// Data source the document came through.
    pub data_source_id: Option<String>,
    /// Last change, epoch seconds.
    pub updated_at: f64,
}

impl DocumentDump {
    fn from_doc(d: &Doc) -> Self {
        DocumentDump {
            id: d.id.clone(),
            title: d.title.clone(),
            content_type: d.content_type.clone(),
            attributes: d
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.to_dump()))
                .collect(),
            access_configuration: d.access.clone(),
            text: d.text.clone(),
            status: d.status.clone(),
            error: d.error.clone(),
            data_source_id: d.data_source_id.clone(),
            updated_at: d.updated_at,
        }
    }
}

/// A sync job with its place, for tests (`GET /_sim/jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDump {
    /// Application.
    pub application_id: String,
    /// Index.
    pub index_id: String,
    /// Data source.
    pub data_source_id: String,
    /// Execution id.
    pub execution_id: String,
    /// Status.
    pub status: String,
    /// The `DataSourceSyncJob` JSON as ListDataSourceSyncJobs returns it.
    pub job: Value,
}

/// In-process handle on the control API: Q's own controls, and through
/// `Deref` the ones every emulator has ([`Controls`]: faults, rates,
/// pausing indexing, waiting until idle).
#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
    common: Controls<Shared>,
}

impl std::ops::Deref for Control {
    type Target = Controls<Shared>;
    fn deref(&self) -> &Controls<Shared> {
        &self.common
    }
}

impl Control {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Control {
            common: Controls::new(shared.clone()),
            shared,
        }
    }

    /// Every document of an index (empty when the index does not exist).
    pub fn documents(&self, application_id: &str, index_id: &str) -> Vec<DocumentDump> {
        let mut inner = self.shared.lock();
        inner
            .state
            .index(application_id, index_id)
            .map(|i| i.documents.values().map(DocumentDump::from_doc).collect())
            .unwrap_or_default()
    }

    /// Documents of the pre-created index.
    pub fn default_documents(&self) -> Vec<DocumentDump> {
        self.documents(&self.shared.cfg.application_id, &self.shared.cfg.index_id)
    }

    /// Document ids of an index.
    pub fn document_ids(&self, application_id: &str, index_id: &str) -> Vec<String> {
        let mut inner = self.shared.lock();
        inner
            .state
            .index(application_id, index_id)
            .map(|i| i.documents.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Request counters.
    pub fn counts(&self) -> Counts {
        self.shared.lock().counts.clone()
    }

    /// Resets the counters.
    pub fn reset_counts(&self) {
        self.shared.lock().counts = Counts::default();
    }

    /// Every sync job of every data source, oldest first.
    pub fn jobs(&self) -> Vec<JobDump> {
        let inner = self.shared.lock();
        let mut out = Vec::new();
        for a in inner.state.apps.values() {
            for i in a.indices.values() {
                for d in i.data_sources.values() {
                    for j in &d.jobs {
                        out.push(JobDump {
                            application_id: a.id.clone(),
                            index_id: i.id.clone(),
                            data_source_id: d.id.clone(),
                            execution_id: j.execution_id.clone(),
                            status: j.status.clone(),
                            job: j.to_json(),
                        });
                    }
                }
            }
        }
        out
    }

    /// Stops every SYNCING job (it ends ABORTED); returns their execution ids.
    pub fn stop_running_jobs(&self) -> Vec<String> {
        let running: Vec<JobDump> = self
            .jobs()
            .into_iter()
            .filter(|j| j.status == "SYNCING")
            .collect();
        let mut inner = self.shared.lock();
        running
            .iter()
            .filter_map(|j| {
                crate::ops::stop_job_for_control(
                    &self.shared,
                    &mut inner,
                    &j.application_id,
                    &j.index_id,
                    &j.data_source_id,
                )
                .ok()
            })
            .collect()
    }
}

fn json_response(status: StatusCode, v: Value) -> Response {
    aws_sim::http::json_response(status, &v)
}

/// Serves one `/_sim` request.
pub fn handle_http(
    shared: &Arc<Shared>,
    method: &str,
    path: &str,
    raw_query: &str,
    body: &[u8],
) -> Response {
    let c = Control::new(shared.clone());
    let q = crate::server::parse_query(raw_query);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (method, path) {
        ("GET", "/_sim/documents") => {
            let app = get("applicationId").unwrap_or_else(|| shared.cfg.application_id.clone());
            let index = get("indexId").unwrap_or_else(|| shared.cfg.index_id.clone());
            if get("ids_only").as_deref() == Some("true") {
                json_response(StatusCode::OK, json!({"ids": c.document_ids(&app, &index)}))
            } else {
                json_response(
                    StatusCode::OK,
                    json!({"documents": c.documents(&app, &index)}),
                )
            }
        }
        ("GET", "/_sim/jobs") => json_response(StatusCode::OK, json!({"jobs": c.jobs()})),
        ("POST", "/_sim/jobs/stop-running") => {
            json_response(StatusCode::OK, json!({"stopped": c.stop_running_jobs()}))
        }
        _ => c
            .handle_http(method, path, body)
            .unwrap_or_else(|| aws_sim::control::unknown(method, path)),
    }
}
