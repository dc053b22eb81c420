//! The control API: `/_sim/...` over HTTP (no signature) and the same
//! functions in process through [`Control`].
//!
//! | route | effect |
//! |---|---|
//! | `GET /_sim/documents?applicationId=&indexId=[&ids_only=true]` | `{"documents":[DocumentDump…]}` or `{"ids":[…]}` |
//! | `GET /_sim/counts`, `DELETE /_sim/counts` | [`Counts`], reset |
//! | `GET /_sim/jobs` | `{"jobs":[JobDump…]}` |
//! | `POST /_sim/jobs/stop-running` | `{"stopped":[executionId…]}` (jobs end ABORTED) |
//! | `POST /_sim/faults` [`FaultSpec`], `GET`, `DELETE /_sim/faults` | add, list, clear |
//! | `PUT /_sim/rates` `{"Op": rate}` | change rates, answers all rates |
//! | `POST /_sim/indexing/pause`, `POST /_sim/indexing/resume` | hold / release status transitions |

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::{FaultError, FaultSpec};
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

/// In-process handle on the control API.
#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Control { shared }
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

    /// Adds a fault.
    pub fn add_fault(&self, f: FaultSpec) -> Result<(), FaultError> {
        self.shared.lock().faults.add(f, &crate::faults::QModel)
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Changes per-operation rates at run time.
    pub fn set_rates(&self, rates: HashMap<String, f64>) {
        self.shared.lock().throttle.set_rates(rates);
    }

    /// Current rates.
    pub fn rates(&self) -> HashMap<String, f64> {
        self.shared.lock().throttle.rates().clone()
    }

    /// Holds (`true`) or releases (`false`) every scheduled transition:
    /// documents stay RECEIVED and stopped jobs SYNCING_INDEXING while held,
    /// so tests observe them without racing the clock.
    pub fn set_indexing_paused(&self, paused: bool) {
        self.shared.lock().paused = paused;
        self.shared.wake.notify_one();
    }

    /// Waits until no transition is pending (documents final, stopped jobs
    /// ended) or the timeout passes; returns whether it got idle.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.shared.lock().queue.is_empty() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn json_response(status: StatusCode, v: Value) -> Response {
    aws_sim::http::json_response(status, &v)
}

fn bad(msg: impl std::fmt::Display) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": msg.to_string()}))
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
        ("GET", "/_sim/counts") => json_response(StatusCode::OK, json!(c.counts())),
        ("DELETE", "/_sim/counts") => {
            c.reset_counts();
            json_response(StatusCode::OK, json!({}))
        }
        ("GET", "/_sim/jobs") => json_response(StatusCode::OK, json!({"jobs": c.jobs()})),
        ("POST", "/_sim/jobs/stop-running") => {
            json_response(StatusCode::OK, json!({"stopped": c.stop_running_jobs()}))
        }
        ("POST", "/_sim/faults") => match serde_json::from_slice::<FaultSpec>(body) {
            Ok(f) => match c.add_fault(f) {
                Ok(()) => json_response(StatusCode::OK, json!({})),
                Err(e) => bad(e),
            },
            Err(e) => bad(format!("invalid fault: {e}")),
        },
        ("GET", "/_sim/faults") => {
            let list: Vec<Value> = shared
                .lock()
                .faults
                .list()
                .into_iter()
                .map(|(f, left)| json!({"fault": f, "remaining": left}))
                .collect();
            json_response(StatusCode::OK, json!({"faults": list}))
        }
        ("DELETE", "/_sim/faults") => {
            c.clear_faults();
            json_response(StatusCode::OK, json!({}))
        }
        ("PUT", "/_sim/rates") => match serde_json::from_slice::<HashMap<String, f64>>(body) {
            Ok(r) => {
                c.set_rates(r);
                json_response(StatusCode::OK, json!(c.rates()))
            }
            Err(e) => bad(format!("invalid rates: {e}")),
        },
        ("POST", "/_sim/indexing/pause") => {
            c.set_indexing_paused(true);
            json_response(StatusCode::OK, json!({}))
        }
        ("POST", "/_sim/indexing/resume") => {
            c.set_indexing_paused(false);
            json_response(StatusCode::OK, json!({}))
        }
        ("GET", "/_sim/health") => json_response(StatusCode::OK, json!({"status": "ok"})),
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no control route {method} {path}")}),
        ),
    }
}
