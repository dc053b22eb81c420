//! Emulator configuration: credentials, the pre-created knowledge base and
//! data sources, timing, rates and limits.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

/// Default pre-created knowledge base id (the model's `Id`: `[0-9a-zA-Z]{10}`).
pub const DEFAULT_KNOWLEDGE_BASE_ID: &str = "BCQSIMKB01";
/// Default pre-created data source id.
pub const DEFAULT_DATA_SOURCE_ID: &str = "BCQSIMDS01";
/// Account of every ARN the emulator writes (AWS's documentation account).
pub const ACCOUNT_ID: &str = "123456789012";

/// One data source of the knowledge base, as `GetDataSource` shows it: a
/// `MANAGED_KNOWLEDGE_BASE_CONNECTOR` source whose connector is described
/// by its `connectorParameters` document.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSourceSpec {
    /// Data source id (`[0-9a-zA-Z]{10}`).
    pub id: String,
    /// Name (the model's `Name`: `([0-9a-zA-Z][_-]?){1,100}`).
    pub name: String,
    /// `managedKnowledgeBaseConnectorConfiguration.connectorParameters`:
    /// `{"type": "CUSTOM", "version": "1", "aclEnabled": true}` for the
    /// custom connector. Its `type` decides what ingestion accepts (only
    /// CUSTOM takes pushed documents) and `aclEnabled` how Retrieve filters.
    pub connector_parameters: Value,
}

impl DataSourceSpec {
    /// A custom connector (documents pushed with IngestKnowledgeBaseDocuments).
    pub fn custom(id: &str, name: &str, acl_enabled: bool) -> DataSourceSpec {
        DataSourceSpec {
            id: id.to_string(),
            name: name.to_string(),
            connector_parameters: json!({"type": "CUSTOM", "version": "1", "aclEnabled": acl_enabled}),
        }
    }
}

/// Configuration of one emulator instance.
///
/// Every field has a default (see [`BedrockSimConfig::default`]) so that a
/// test only sets what it exercises.
#[derive(Clone)]
pub struct BedrockSimConfig {
    /// Access key id every SigV4 signature must name (unknown ids get
    /// `UnrecognizedClientException`, as AWS answers).
    pub access_key_id: String,
    /// Secret used to recompute signatures; never logged nor shown by `Debug`.
    pub secret_access_key: String,
    /// Region the credential scope must name.
    pub region: String,
    /// Knowledge base created at start: type MANAGED, status ACTIVE.
    pub knowledge_base_id: String,
    /// Its name.
    pub knowledge_base_name: String,
    /// The custom data source created at start inside the knowledge base.
    pub data_source_id: String,
    /// Its name.
    pub data_source_name: String,
    /// `aclEnabled` of that data source's connector: Retrieve then returns
    /// a document only to a user its access control list allows.
    pub acl_enabled: bool,
    /// More data sources of the same knowledge base (another custom
    /// connector without ACLs, a crawled connector that takes no pushed
    /// documents, ...).
    pub extra_data_sources: Vec<DataSourceSpec>,
    /// Time between acceptance of a document and its final status
    /// (STARTING → PENDING at a quarter, IN_PROGRESS at half, INDEXED or
    /// FAILED at the end; deletions: DELETING → DELETE_IN_PROGRESS at half,
    /// gone at the end).
    pub indexing_delay: Duration,
    /// Requests per second allowed per operation (token bucket, burst =
    /// max(rate, 1)); operations without a rate are not throttled. AWS
    /// publishes no request rate for these operations: the defaults are
    /// assumptions.
    pub rates: HashMap<String, f64>,
    /// Largest accepted request body. Larger bodies are answered like AWS's
    /// front door does for oversized payloads: 413
    /// `RequestEntityTooLargeException`.
    pub max_body_bytes: usize,
    /// Seed of the fault table's generator (`probability` faults).
    pub fault_seed: u64,
    /// An S3-compatible server (`http://127.0.0.1:port`, path-style) that
    /// S3_LOCATION content and metadata are read from, with this emulator's
    /// credentials standing in for the knowledge base's role. Without it
    /// such documents fail ingestion.
    pub s3_endpoint: Option<String>,
}

impl BedrockSimConfig {
    /// Every data source of the knowledge base, the configured custom one first.
    pub fn data_sources(&self) -> Vec<DataSourceSpec> {
        let mut all = vec![DataSourceSpec::custom(
            &self.data_source_id,
            &self.data_source_name,
            self.acl_enabled,
        )];
        all.extend(self.extra_data_sources.iter().cloned());
        all
    }
}

impl Default for BedrockSimConfig {
    fn default() -> Self {
        let rates = [
            ("IngestKnowledgeBaseDocuments", 10.0),
            ("DeleteKnowledgeBaseDocuments", 10.0),
            ("Retrieve", 20.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        BedrockSimConfig {
            access_key_id: "AKIDBEDROCKSIMEXAMPLE".to_string(),
            secret_access_key: "bedrock-sim-secret-key".to_string(),
            region: "us-east-1".to_string(),
            knowledge_base_id: DEFAULT_KNOWLEDGE_BASE_ID.to_string(),
            knowledge_base_name: "bcq-knowledge-base".to_string(),
            data_source_id: DEFAULT_DATA_SOURCE_ID.to_string(),
            data_source_name: "bcq-business-central".to_string(),
            acl_enabled: true,
            extra_data_sources: Vec::new(),
            indexing_delay: Duration::from_millis(50),
            rates,
            max_body_bytes: 10 * 1024 * 1024,
            fault_seed: 0,
            s3_endpoint: None,
        }
    }
}

impl std::fmt::Debug for BedrockSimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BedrockSimConfig")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("knowledge_base_id", &self.knowledge_base_id)
            .field("knowledge_base_name", &self.knowledge_base_name)
            .field("data_source_id", &self.data_source_id)
            .field("data_source_name", &self.data_source_name)
            .field("acl_enabled", &self.acl_enabled)
            .field("extra_data_sources", &self.extra_data_sources)
            .field("indexing_delay", &self.indexing_delay)
            .field("rates", &self.rates)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("fault_seed", &self.fault_seed)
            .field("s3_endpoint", &self.s3_endpoint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_model_id_pattern_and_hide_the_secret() {
        let c = BedrockSimConfig::default();
        for id in [&c.knowledge_base_id, &c.data_source_id] {
            assert!(id.len() == 10 && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        let ds = c.data_sources();
        assert_eq!(ds[0].connector_parameters["aclEnabled"], true);
        assert!(!format!("{c:?}").contains(&c.secret_access_key));
    }
}
