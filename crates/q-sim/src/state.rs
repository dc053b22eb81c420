//! The emulated resources: applications → indices → data sources, documents,
//! groups and sync jobs. Plain data, serialisable for persistence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Seconds since the epoch with millisecond precision (the wire format of
/// rest-json timestamps).
pub fn now_secs() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

/// `ErrorDetail` of the model (errorCode enum: InternalError, InvalidRequest,
/// ResourceInactive, ResourceNotFound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `ErrorCode` value.
    #[serde(rename = "errorCode")]
    pub error_code: String,
    /// Message.
    #[serde(rename = "errorMessage")]
    pub error_message: String,
}

impl ErrorDetail {
    /// `InvalidRequest` error.
    pub fn invalid(msg: impl Into<String>) -> Self {
        ErrorDetail {
            error_code: "InvalidRequest".into(),
            error_message: msg.into(),
        }
    }
    /// `InternalError` error.
    pub fn internal(msg: impl Into<String>) -> Self {
        ErrorDetail {
            error_code: "InternalError".into(),
            error_message: msg.into(),
        }
    }
    /// Wire JSON.
    pub fn to_json(&self) -> Value {
        json!({"errorCode": self.error_code, "errorMessage": self.error_message})
    }
}

/// A document attribute value (`DocumentAttributeValue` union).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    /// `stringValue`.
    String(String),
    /// `stringListValue`.
    StringList(Vec<String>),
    /// `longValue`.
    Long(i64),
    /// `dateValue`, epoch seconds.
    Date(f64),
}

impl AttrValue {
    /// The index attribute type this value has (`AttributeType`).
    pub fn attribute_type(&self) -> &'static str {
        match self {
            AttrValue::String(_) => "STRING",
            AttrValue::StringList(_) => "STRING_LIST",
            AttrValue::Long(_) => "NUMBER",
            AttrValue::Date(_) => "DATE",
        }
    }

    /// Control-API rendering: dates as RFC 3339 strings.
    pub fn to_dump(&self) -> Value {
        match self {
            AttrValue::String(s) => json!(s),
            AttrValue::StringList(l) => json!(l),
            AttrValue::Long(n) => json!(n),
            AttrValue::Date(d) => {
                let ms = (d * 1000.0).round() as i64;
                let dt = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
                json!(dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
        }
    }
}

/// An index attribute declaration (`DocumentAttributeConfiguration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrConfig {
    /// Name.
    pub name: String,
    /// `AttributeType`.
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// `Status` of search.
    pub search: Option<String>,
}

/// An application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct App {
    /// Id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Identity type.
    pub identity_type: Option<String>,
    /// Role ARN.
    pub role_arn: Option<String>,
    /// Creation time.
    pub created_at: f64,
    /// Last update.
    pub updated_at: f64,
    /// Indices by id.
    pub indices: BTreeMap<String, Index>,
}

/// An index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    /// Id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// ENTERPRISE | STARTER.
    pub index_type: String,
    /// Capacity units.
    pub units: Option<i64>,
    /// Creation time.
    pub created_at: f64,
    /// Last update.
    pub updated_at: f64,
    /// Declared attributes (UpdateIndex replaces/merges by name).
    pub attributes: Vec<AttrConfig>,
    /// Data sources by id.
    pub data_sources: BTreeMap<String, DataSource>,
    /// Documents by id (ListDocuments order).
    pub documents: BTreeMap<String, Doc>,
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
}

/// A data source and its sync jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataSource {
    /// Id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// `type` member of the configuration document (CUSTOM for custom sources).
    pub ds_type: String,
    /// The configuration document as given.
    pub configuration: Value,
    /// Description.
    pub description: Option<String>,
    /// Role ARN.
    pub role_arn: Option<String>,
    /// Sync schedule.
    pub sync_schedule: Option<String>,
    /// Creation time.
    pub created_at: f64,
    /// Last update.
    pub updated_at: f64,
    /// Jobs, oldest first.
    pub jobs: Vec<Job>,
}

/// What a job did to one document (each document counted once per job).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// New document.
    Added,
    /// Re-put of a document that existed before this job touched it.
    Modified,
    /// Deleted.
    Deleted,
    /// Rejected in `failedDocuments` or failed indexing.
    Failed,
}

/// A sync job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// `executionId`.
    pub execution_id: String,
    /// Start.
    pub start_time: f64,
    /// End (set when the final status is reached).
    pub end_time: Option<f64>,
    /// `DataSourceSyncJobStatus`.
    pub status: String,
    /// Error of a FAILED job.
    pub error: Option<ErrorDetail>,
    /// Stopped through the control API (ends ABORTED).
    pub aborted: bool,
    /// Per-document outcome; metrics are counted from it.
    pub outcomes: BTreeMap<String, Outcome>,
}

impl Job {
    /// Metric counts: added, modified, deleted, failed, scanned.
    pub fn metrics(&self) -> [usize; 5] {
        let mut m = [0usize; 5];
        for o in self.outcomes.values() {
            let i = match o {
                Outcome::Added => 0,
                Outcome::Modified => 1,
                Outcome::Deleted => 2,
                Outcome::Failed => 3,
            };
            m[i] += 1;
        }
        m[4] = self.outcomes.len();
        m
    }

    /// Records an outcome; the latest wins (a document rejected and then
    /// re-put successfully in the same job counts as added or modified, not
    /// failed), except that a document added by this job stays `Added` when
    /// re-put.
    pub fn record(&mut self, doc_id: &str, o: Outcome) {
        let e = self.outcomes.entry(doc_id.to_string()).or_insert(o);
        if !(*e == Outcome::Added && o == Outcome::Modified) {
            *e = o;
        }
    }

    /// `DataSourceSyncJob` wire JSON; metrics are strings as the model says.
    pub fn to_json(&self) -> Value {
        let [a, m, d, f, s] = self.metrics();
        let mut v = json!({
            "executionId": self.execution_id,
            "startTime": self.start_time,
            "status": self.status,
            "metrics": {
                "documentsAdded": a.to_string(),
                "documentsModified": m.to_string(),
                "documentsDeleted": d.to_string(),
                "documentsFailed": f.to_string(),
                "documentsScanned": s.to_string(),
            },
        });
        if let Some(e) = self.end_time {
            v["endTime"] = json!(e);
        }
        if let Some(e) = &self.error {
            v["error"] = e.to_json();
            v["dataSourceErrorCode"] = json!(e.error_code);
        }
        v
    }
}

/// A stored document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Doc {
    /// Id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Content type.
    pub content_type: Option<String>,
    /// Attributes in request order.
    pub attributes: Vec<(String, AttrValue)>,
    /// `accessConfiguration` as sent.
    pub access: Option<Value>,
    /// Extracted text (None until extracted or when extraction failed).
    pub text: Option<String>,
    /// Failure decided at acceptance (extraction, injected fault), applied when indexing ends.
    pub pending_error: Option<ErrorDetail>,
    /// `DocumentStatus`.
    pub status: String,
    /// Error of a failed document.
    pub error: Option<ErrorDetail>,
    /// Data source the document came through.
    pub data_source_id: Option<String>,
    /// Job that last put or deleted it.
    pub job_id: Option<String>,
    /// Whether an earlier version was indexed (final status UPDATED instead of INDEXED).
    pub was_indexed: bool,
    /// Bumped on each put/delete so that stale scheduled transitions are ignored.
    pub generation: u64,
    /// First acceptance.
    pub created_at: f64,
    /// Last acceptance or transition.
    pub updated_at: f64,
}

/// A group (PutGroup).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Membership type.
    pub membership_type: String,
    /// Data source scope.
    pub data_source_id: Option<String>,
    /// Member user ids.
    pub users: Vec<String>,
    /// Member group names (nested groups).
    pub groups: Vec<String>,
    /// Last update.
    pub updated_at: f64,
}

/// Everything persisted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Applications by id.
    pub apps: BTreeMap<String, App>,
    /// Responses of Create* calls by `operation:clientToken`: the SDK fills
    /// the idempotency token, and a retried create must not create twice.
    #[serde(default)]
    pub client_tokens: BTreeMap<String, Value>,
}

impl State {
    /// Creates the pre-configured application, index and CUSTOM data source
    /// when missing (a reloaded state keeps its own).
    pub fn ensure_precreated(&mut self, app_id: &str, index_id: &str, ds_id: &str) {
        let now = now_secs();
        let app = self.apps.entry(app_id.to_string()).or_insert_with(|| App {
            id: app_id.to_string(),
            display_name: "bcq-sim".into(),
            description: None,
            identity_type: Some("ANONYMOUS".into()),
            role_arn: None,
            created_at: now,
            updated_at: now,
            indices: BTreeMap::new(),
        });
        let idx = app
            .indices
            .entry(index_id.to_string())
            .or_insert_with(|| new_index(index_id, "bcq-sim-index", None, "ENTERPRISE", None));
        idx.data_sources
            .entry(ds_id.to_string())
            .or_insert_with(|| DataSource {
                id: ds_id.to_string(),
                display_name: "bcq-sim-custom".into(),
                ds_type: "CUSTOM".into(),
                configuration: json!({"type": "CUSTOM", "version": "1.0.0"}),
                description: None,
                role_arn: None,
                sync_schedule: None,
                created_at: now,
                updated_at: now,
                jobs: Vec::new(),
            });
    }

    /// Looks an application up.
    pub fn app(&mut self, app_id: &str) -> Result<&mut App, crate::error::QError> {
        self.apps
            .get_mut(app_id)
            .ok_or_else(|| crate::error::QError::not_found("Application", app_id))
    }

    /// Looks an index up.
    pub fn index(
        &mut self,
        app_id: &str,
        index_id: &str,
    ) -> Result<&mut Index, crate::error::QError> {
        self.app(app_id)?
            .indices
            .get_mut(index_id)
            .ok_or_else(|| crate::error::QError::not_found("Index", index_id))
    }
}

/// A fresh ACTIVE index.
pub fn new_index(
    id: &str,
    name: &str,
    description: Option<String>,
    ty: &str,
    units: Option<i64>,
) -> Index {
    let now = now_secs();
    Index {
        id: id.to_string(),
        display_name: name.to_string(),
        description,
        index_type: ty.to_string(),
        units,
        created_at: now,
        updated_at: now,
        attributes: Vec::new(),
        data_sources: BTreeMap::new(),
        documents: BTreeMap::new(),
        groups: BTreeMap::new(),
    }
}

/// ARN of a resource (account id fixed: the emulator has one account).
pub fn arn(region: &str, path: &str) -> String {
    format!("arn:aws:qbusiness:{region}:123456789012:{path}")
}
