//! Emulator configuration: credentials, pre-created resource ids, limits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Default pre-created application id (36 chars, matches the model's `ApplicationId` pattern).
pub const DEFAULT_APPLICATION_ID: &str = "a0b1c2d3-0000-4000-8000-00000000a001";
/// Default pre-created index id.
pub const DEFAULT_INDEX_ID: &str = "a0b1c2d3-0000-4000-8000-00000000b001";
/// Default pre-created custom data source id.
pub const DEFAULT_DATA_SOURCE_ID: &str = "a0b1c2d3-0000-4000-8000-00000000c001";

/// Configuration of one emulator instance.
///
/// Every field has a default (see [`QSimConfig::default`]) so that a test only
/// sets what it exercises.
#[derive(Clone)]
pub struct QSimConfig {
    /// Access key id every SigV4 signature must name (unknown ids get
    /// `UnrecognizedClientException`, as AWS answers).
    pub access_key_id: String,
    /// Secret used to recompute signatures; never logged nor shown by `Debug`.
    pub secret_access_key: String,
    /// Region the credential scope must name.
    pub region: String,
    /// Application created (ACTIVE) at start.
    pub application_id: String,
    /// Index created (ACTIVE) at start inside [`Self::application_id`].
    pub index_id: String,
    /// CUSTOM data source created (ACTIVE) at start inside [`Self::index_id`].
    pub data_source_id: String,
    /// Largest accepted request body. Larger bodies are answered like the AWS
    /// front door does for oversized payloads: 413 `RequestEntityTooLargeException`.
    pub max_body_bytes: usize,
    /// Requests per second allowed per operation (token bucket, burst = max(rate, 1)).
    /// AWS publishes no TPS quota for Q Business: these numbers are assumptions.
    pub rates: HashMap<String, f64>,
    /// Time between acceptance of a document and its final status
    /// (RECEIVED → PROCESSING at half of it, final status at the end).
    pub indexing_delay: Duration,
    /// When set, state is persisted to `<data_dir>/q-sim-state.json` and reloaded on start.
    pub data_dir: Option<PathBuf>,
    /// An S3-compatible server (`http://127.0.0.1:port`, path-style,
    /// unsigned reads) that `content.s3` documents are read from, as Q
    /// reads them with the batch's `roleArn`. Without it they fail to index.
    pub s3_endpoint: Option<String>,
}

impl Default for QSimConfig {
    fn default() -> Self {
        let mut rates = HashMap::new();
        rates.insert("BatchPutDocument".to_string(), 10.0);
        rates.insert("BatchDeleteDocument".to_string(), 10.0);
        QSimConfig {
            access_key_id: "AKIDBCQSIMEXAMPLE".to_string(),
            secret_access_key: "bcq-sim-secret-key".to_string(),
            region: "us-east-1".to_string(),
            application_id: DEFAULT_APPLICATION_ID.to_string(),
            index_id: DEFAULT_INDEX_ID.to_string(),
            data_source_id: DEFAULT_DATA_SOURCE_ID.to_string(),
            max_body_bytes: 10 * 1024 * 1024,
            rates,
            indexing_delay: Duration::from_millis(50),
            data_dir: None,
            s3_endpoint: None,
        }
    }
}

impl std::fmt::Debug for QSimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QSimConfig")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("application_id", &self.application_id)
            .field("index_id", &self.index_id)
            .field("data_source_id", &self.data_source_id)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("rates", &self.rates)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("indexing_delay", &self.indexing_delay)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}
