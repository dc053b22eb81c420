//! The knowledge base, its data sources and their documents.
//!
//! A document keeps two things apart: the version being ingested (what the
//! last accepted IngestKnowledgeBaseDocuments sent, moving through the
//! statuses) and the version Retrieve searches (the last one that reached
//! INDEXED). A re-ingested document stays searchable in its previous version
//! until the new one is indexed; a failed version is not searchable; a
//! deleted document stops being searchable as soon as its deletion is
//! accepted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{ACCOUNT_ID, BedrockSimConfig, DataSourceSpec};

/// Now, as the models' `DateTimestamp` (ISO 8601) writes it.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A typed inline attribute value (`MetadataAttributeValue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttrValue {
    /// `STRING` with `stringValue`.
    String {
        /// The value.
        #[serde(rename = "stringValue")]
        value: String,
    },
    /// `NUMBER` with `numberValue`.
    Number {
        /// The value.
        #[serde(rename = "numberValue")]
        value: f64,
    },
    /// `BOOLEAN` with `booleanValue`.
    Boolean {
        /// The value.
        #[serde(rename = "booleanValue")]
        value: bool,
    },
    /// `STRING_LIST` with `stringListValue`.
    StringList {
        /// The values.
        #[serde(rename = "stringListValue")]
        value: Vec<String>,
    },
}

impl AttrValue {
    /// The value as Retrieve's `metadata` map carries it (a JSON document:
    /// string, number, boolean or list of strings).
    pub fn to_document(&self) -> Value {
        match self {
            AttrValue::String { value } => json!(value),
            AttrValue::Number { value } => json!(value),
            AttrValue::Boolean { value } => json!(value),
            AttrValue::StringList { value } => json!(value),
        }
    }

    /// The words this value adds to the searchable text.
    pub fn words(&self) -> Vec<&str> {
        match self {
            AttrValue::String { value } => vec![value.as_str()],
            AttrValue::StringList { value } => value.iter().map(String::as_str).collect(),
            _ => vec![],
        }
    }
}

/// One inline attribute (`MetadataAttribute`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attr {
    /// Key.
    pub key: String,
    /// Typed value.
    pub value: AttrValue,
}

/// `ALLOW` or `DENY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Access {
    /// The user may read the document.
    Allow,
    /// The user may not, whatever else the list says.
    Deny,
}

/// One access control entry (`DocumentAccessControlEntry`; principals are
/// users only: the model's `AccessControlPrincipalType` is `USER`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclEntry {
    /// The user's name (an email address for Amazon Quick).
    pub name: String,
    /// Always `USER`.
    #[serde(rename = "type")]
    pub principal_type: String,
    /// Allow or deny.
    pub access: Access,
}

/// Where a version's content comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `inlineContent` of type TEXT.
    Text(String),
    /// `inlineContent` of type BYTE.
    Bytes {
        /// `byteContent.mimeType`.
        mime: String,
        /// Decoded `byteContent.data`.
        data: Vec<u8>,
    },
    /// `s3Location` of a S3_LOCATION source.
    S3 {
        /// `s3://bucket/key`.
        uri: String,
    },
}

impl Source {
    /// What `GET /_sim/documents` calls its content type.
    pub fn content_type(&self) -> String {
        match self {
            Source::Text(_) => "TEXT".into(),
            Source::Bytes { mime, .. } => mime.clone(),
            Source::S3 { uri } => format!("S3_LOCATION {uri}"),
        }
    }
}

/// What one accepted IngestKnowledgeBaseDocuments sent for a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Content.
    pub source: Source,
    /// Inline attributes (IN_LINE_ATTRIBUTE metadata).
    pub attributes: Vec<Attr>,
    /// Access control list (`None`: the document has none).
    pub acl: Option<Vec<AclEntry>>,
    /// `metadata.s3Location.uri` of S3_LOCATION metadata (read at ingestion).
    pub metadata_s3: Option<String>,
}

/// A version made searchable: its text cut into passages.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed {
    /// Extracted text.
    pub text: String,
    /// Passages Retrieve returns (`content.text`): byte ranges of `text`
    /// (see [`Indexed::passages`]).
    pub chunks: Vec<std::ops::Range<usize>>,
    /// Attributes (inline, or read from S3 metadata).
    pub attributes: Vec<Attr>,
    /// Access control list.
    pub acl: Option<Vec<AclEntry>>,
    /// Content type as dumped.
    pub content_type: String,
    /// Generation of the version, for chunk ids.
    pub generation: u64,
}

impl Indexed {
    /// The passages, in order.
    pub fn passages(&self) -> impl Iterator<Item = &str> {
        self.chunks.iter().map(|r| &self.text[r.clone()])
    }
}

/// Why a version was not indexed: its final status (`FAILED`, or `IGNORED`
/// for a file type knowledge bases do not read) and `statusReason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// `FAILED` or `IGNORED`.
    pub status: &'static str,
    /// `statusReason`.
    pub reason: String,
}

impl Rejected {
    /// A FAILED outcome.
    pub fn failed(reason: impl Into<String>) -> Rejected {
        Rejected {
            status: "FAILED",
            reason: reason.into(),
        }
    }
}

/// The outcome of preparing a version (reading S3, extracting text).
pub type Prepared = Result<Indexed, Rejected>;

/// One document of a data source.
#[derive(Debug, Clone)]
pub struct Doc {
    /// `customDocumentIdentifier.id`.
    pub id: String,
    /// `DocumentStatus`.
    pub status: &'static str,
    /// `statusReason` (FAILED and IGNORED documents).
    pub status_reason: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Bumped by every accepted ingest or delete: scheduled transitions of
    /// older generations are ignored.
    pub generation: u64,
    /// The version being ingested (`None` once final, or while deleting).
    pub pending: Option<Version>,
    /// Its preparation, once the background reader finished it.
    pub prepared: Option<Prepared>,
    /// What Retrieve searches.
    pub indexed: Option<Indexed>,
}

impl Doc {
    /// A document just accepted: STARTING, nothing prepared nor indexed.
    pub fn new(id: &str, generation: u64) -> Doc {
        Doc {
            id: id.to_string(),
            status: "STARTING",
            status_reason: None,
            updated_at: Utc::now(),
            generation,
            pending: None,
            prepared: None,
            indexed: None,
        }
    }

    /// `KnowledgeBaseDocumentDetail` of the document.
    pub fn detail(&self, kb: &str, ds: &str) -> Value {
        let mut d = detail(kb, ds, &self.id, self.status);
        d["updatedAt"] = json!(iso(self.updated_at));
        if let Some(r) = &self.status_reason {
            d["statusReason"] = json!(r);
        }
        d
    }

    /// Whether the document is being deleted.
    pub fn deleting(&self) -> bool {
        matches!(self.status, "DELETING" | "DELETE_IN_PROGRESS")
    }
}

/// A `KnowledgeBaseDocumentDetail` without timestamp (also for ids the data
/// source does not hold: status NOT_FOUND).
pub fn detail(kb: &str, ds: &str, id: &str, status: &str) -> Value {
    json!({
        "knowledgeBaseId": kb,
        "dataSourceId": ds,
        "status": status,
        "identifier": {"dataSourceType": "CUSTOM", "custom": {"id": id}},
    })
}

/// A data source with its documents.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// Id, name and connector.
    pub spec: DataSourceSpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Documents by id.
    pub documents: BTreeMap<String, Doc>,
}

impl DataSource {
    /// `connectorParameters.type` (`CUSTOM` for the custom connector).
    pub fn connector_type(&self) -> &str {
        self.spec.connector_parameters["type"]
            .as_str()
            .unwrap_or("")
    }

    /// `connectorParameters.aclEnabled`.
    pub fn acl_enabled(&self) -> bool {
        self.spec.connector_parameters["aclEnabled"]
            .as_bool()
            .unwrap_or(false)
    }

    /// The `DataSource` of GetDataSource.
    pub fn to_json(&self, kb: &str) -> Value {
        json!({
            "knowledgeBaseId": kb,
            "dataSourceId": self.spec.id,
            "name": self.spec.name,
            "status": "AVAILABLE",
            "dataDeletionPolicy": "DELETE",
            "dataSourceConfiguration": {
                "type": "MANAGED_KNOWLEDGE_BASE_CONNECTOR",
                "managedKnowledgeBaseConnectorConfiguration": {
                    "connectorParameters": self.spec.connector_parameters,
                },
            },
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.created_at),
        })
    }

    /// The `DataSourceSummary` of ListDataSources.
    pub fn summary(&self, kb: &str) -> Value {
        json!({
            "knowledgeBaseId": kb,
            "dataSourceId": self.spec.id,
            "name": self.spec.name,
            "status": "AVAILABLE",
            "updatedAt": iso(self.created_at),
        })
    }
}

/// The knowledge base.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Region of its ARN.
    pub region: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Data sources by id.
    pub data_sources: BTreeMap<String, DataSource>,
}

impl KnowledgeBase {
    /// The pre-created knowledge base of a configuration.
    pub fn from_config(cfg: &BedrockSimConfig) -> KnowledgeBase {
        let now = Utc::now();
        KnowledgeBase {
            id: cfg.knowledge_base_id.clone(),
            name: cfg.knowledge_base_name.clone(),
            region: cfg.region.clone(),
            created_at: now,
            data_sources: cfg
                .data_sources()
                .into_iter()
                .map(|spec| {
                    (
                        spec.id.clone(),
                        DataSource {
                            spec,
                            created_at: now,
                            documents: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
        }
    }

    /// Its ARN.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:bedrock:{}:{ACCOUNT_ID}:knowledge-base/{}",
            self.region, self.id
        )
    }

    /// The `KnowledgeBase` of GetKnowledgeBase: type MANAGED, ACTIVE.
    pub fn to_json(&self) -> Value {
        json!({
            "knowledgeBaseId": self.id,
            "name": self.name,
            "knowledgeBaseArn": self.arn(),
            "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/bedrock-sim-knowledge-base"),
            "knowledgeBaseConfiguration": {
                "type": "MANAGED",
                "managedKnowledgeBaseConfiguration": {"embeddingModelType": "MANAGED"},
            },
            "status": "ACTIVE",
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.created_at),
        })
    }

    /// The `KnowledgeBaseSummary` of ListKnowledgeBases.
    pub fn summary(&self) -> Value {
        json!({
            "knowledgeBaseId": self.id,
            "name": self.name,
            "status": "ACTIVE",
            "updatedAt": iso(self.created_at),
        })
    }
}
