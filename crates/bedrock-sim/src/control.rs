//! The control API: `/_sim/...` over HTTP (no signature) and the same
//! functions in process through [`Control`].
//!
//! | route | effect |
//! |---|---|
//! | `GET /_sim/documents[?dataSourceId=][&ids_only=true]` | `{"documents":[DocumentDump…]}` or `{"ids":[…]}` |
//! | `GET /_sim/counts`, `DELETE /_sim/counts` | [`Counts`], reset |
//! | `POST /_sim/faults` [`FaultSpec`](crate::FaultSpec), `GET`, `DELETE /_sim/faults` | add (`{}`), list (`{"faults":[{"fault","remaining"}]}`), clear |
//! | `PUT /_sim/rates` `{"Op": rate}` | change rates, answers all rates |
//! | `POST /_sim/indexing/pause`, `POST /_sim/indexing/resume` | hold / release status transitions |
//! | `GET /_sim/health` | `{"status":"ok"}` |
//!
//! A refused control call answers 400 `{"error": "..."}`. The faults,
//! rates, indexing and counts routes are [`aws_sim::control`]'s, the same
//! in every emulator.

use std::sync::Arc;

use aws_sim::control::{Controls, ok};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::shared::{Counts, Shared};
use crate::state::{AclEntry, Attr, Doc, iso};

/// A document as stored, for tests (`GET /_sim/documents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentDump {
    /// Data source.
    pub data_source_id: String,
    /// `customDocumentIdentifier.id`.
    pub id: String,
    /// `DocumentStatus`.
    pub status: String,
    /// `statusReason` of a FAILED or IGNORED document.
    pub status_reason: Option<String>,
    /// `TEXT`, the BYTE content's MIME type, or `S3_LOCATION s3://...`
    /// (of the version being ingested, else of the indexed one).
    pub content_type: Option<String>,
    /// Characters of extracted text of the indexed version.
    pub text_length: Option<usize>,
    /// Passages of the indexed version.
    pub passages: usize,
    /// Inline attributes (of the version being ingested, else of the indexed one).
    pub inline_attributes: Vec<Attr>,
    /// Access control list (likewise).
    pub access_control_list: Option<Vec<AclEntry>>,
    /// Whether Retrieve can find it (a version reached INDEXED and no
    /// deletion was accepted since).
    pub searchable: bool,
    /// Last change (ISO 8601).
    pub updated_at: String,
}

impl DocumentDump {
    fn from_doc(ds: &str, d: &Doc) -> Self {
        let (content_type, attrs, acl) = match (&d.pending, &d.indexed) {
            (Some(p), _) => (
                Some(p.source.content_type()),
                p.attributes.clone(),
                p.acl.clone(),
            ),
            (None, Some(i)) => (
                Some(i.content_type.clone()),
                i.attributes.clone(),
                i.acl.clone(),
            ),
            (None, None) => (None, vec![], None),
        };
        DocumentDump {
            data_source_id: ds.to_string(),
            id: d.id.clone(),
            status: d.status.to_string(),
            status_reason: d.status_reason.clone(),
            content_type,
            text_length: d.indexed.as_ref().map(|i| i.text.chars().count()),
            passages: d.indexed.as_ref().map_or(0, |i| i.chunks.len()),
            inline_attributes: attrs,
            access_control_list: acl,
            searchable: d.indexed.is_some(),
            updated_at: iso(d.updated_at),
        }
    }
}

/// In-process handle on the control API: the emulator's own controls,
/// and through `Deref` the ones every emulator has ([`Controls`]:
/// `add_fault`, `faults`, `clear_faults`, `set_rates`, `rates`,
/// `set_indexing_paused`, `wait_idle`).
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

    /// Every document of every data source (or of one), by data source then id.
    pub fn documents(&self, data_source_id: Option<&str>) -> Vec<DocumentDump> {
        self.each_document(data_source_id, DocumentDump::from_doc)
    }

    /// The ids of every document of every data source (or of one), by data
    /// source then id: what a count needs, without a dump of each document.
    pub fn document_ids(&self, data_source_id: Option<&str>) -> Vec<String> {
        self.each_document(data_source_id, |_, d| d.id.clone())
    }

    /// `f(data source id, document)` for every document of every data
    /// source (or of one), by data source then id.
    fn each_document<T>(
        &self,
        data_source_id: Option<&str>,
        f: impl Fn(&str, &Doc) -> T,
    ) -> Vec<T> {
        let inner = self.shared.lock();
        inner
            .kb
            .data_sources
            .values()
            .filter(|ds| data_source_id.is_none_or(|id| id == ds.spec.id))
            .flat_map(|ds| ds.documents.values().map(|d| f(&ds.spec.id, d)))
            .collect()
    }

    /// One document of the pre-created custom data source.
    pub fn document(&self, id: &str) -> Option<DocumentDump> {
        self.documents(Some(&self.shared.cfg.data_source_id))
            .into_iter()
            .find(|d| d.id == id)
    }

    /// Request counters.
    pub fn counts(&self) -> Counts {
        self.shared.lock().counts.clone()
    }

    /// Resets the counters.
    pub fn reset_counts(&self) {
        self.shared.lock().counts = Counts::default();
    }
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
    let q = aws_sim::http::parse_query(raw_query);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (method, path) {
        ("GET", "/_sim/documents") => {
            let ds = get("dataSourceId");
            if get("ids_only").as_deref() == Some("true") {
                ok(json!({"ids": c.document_ids(ds.as_deref())}))
            } else {
                ok(json!({"documents": c.documents(ds.as_deref())}))
            }
        }
        _ => c
            .handle_http(method, path, body)
            .unwrap_or_else(|| aws_sim::control::unknown(method, path)),
    }
}
