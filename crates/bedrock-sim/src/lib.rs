//! # bedrock-sim — an Amazon Bedrock managed knowledge base emulator
//!
//! Serves the parts of two rest-json services that a connector pushing
//! documents into a Bedrock *managed* knowledge base uses, on one local
//! port (their routes do not overlap):
//!
//! - **bedrock-agent** (model `bedrock/bedrock-agent-service-2.json`,
//!   2023-06-05): GetKnowledgeBase, ListKnowledgeBases, GetDataSource,
//!   ListDataSources, IngestKnowledgeBaseDocuments,
//!   DeleteKnowledgeBaseDocuments, GetKnowledgeBaseDocuments,
//!   ListKnowledgeBaseDocuments;
//! - **bedrock-agent-runtime** (`bedrock/bedrock-agent-runtime-service-2.json`,
//!   2023-07-26): Retrieve.
//!
//! A knowledge base of type MANAGED (ACTIVE) is pre-created with a data
//! source of type `MANAGED_KNOWLEDGE_BASE_CONNECTOR` whose connector is
//! `{"type": "CUSTOM", "version": "1", "aclEnabled": true}`. Requests must be
//! SigV4-signed (signing name `bedrock` for both services) with the
//! configured credentials; every model constraint of the served operations
//! is checked server-side (the SDKs check none), with AWS's Coral wording;
//! documents are ingested asynchronously (STARTING → PENDING → IN_PROGRESS →
//! INDEXED, or FAILED / IGNORED with a `statusReason`) with real text
//! extraction; Retrieve filters by each document's access control list.
//! Throttling and faults are configurable through a control API.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = bedrock_sim::BedrockSim::start(
//!     "127.0.0.1:0".parse().unwrap(),
//!     bedrock_sim::BedrockSimConfig::default(),
//! )
//! .await?;
//! println!("AWS_ENDPOINT_URL_BEDROCK_AGENT={}", sim.endpoint());
//! println!("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME={}", sim.endpoint());
//! sim.stop().await;
//! # Ok(()) }
//! ```
//!
//! With boto3: `boto3.client("bedrock-agent", endpoint_url=...)` and
//! `boto3.client("bedrock-agent-runtime", endpoint_url=...)`, with the
//! configured access key (default `AKIDBEDROCKSIMEXAMPLE` /
//! `bedrock-sim-secret-key`) and region `us-east-1`.
//!
//! Retrieval is **not semantic search**: passages are ranked lexically
//! (BM25 over the words they share with the query), see [`search`].
//!
//! ## Choices where AWS documents nothing
//! - Statuses: IngestKnowledgeBaseDocuments answers STARTING ("you submitted
//!   the ingestion job", AWS's definition), then the document is PENDING at
//!   a quarter of `indexing_delay`, IN_PROGRESS at half, and INDEXED,
//!   FAILED or IGNORED at the end (later if its S3 content is still being
//!   read). DeleteKnowledgeBaseDocuments answers DELETING, then
//!   DELETE_IN_PROGRESS at half; at the end the document is gone.
//! - A file type knowledge bases do not read (a BYTE `mimeType`, or an S3
//!   key extension, outside text, Markdown, HTML, CSV, PDF, Word and Excel)
//!   ends IGNORED with a `statusReason`; content that cannot be read (a
//!   broken PDF, a missing S3 object, an S3 object over 50 MB, no S3
//!   endpoint configured, more than 5 MB of extracted text) ends FAILED
//!   with a `statusReason`. Text is extracted with `aws_sim::extract` (the
//!   extractors q-sim uses).
//! - Re-ingesting an id replaces the document (a new version): the previous
//!   indexed version stays searchable until the new one is INDEXED; a
//!   FAILED or IGNORED version leaves the document unsearchable; an
//!   accepted deletion makes it unsearchable at once.
//! - GetKnowledgeBaseDocuments and DeleteKnowledgeBaseDocuments answer an id
//!   the data source does not hold with status NOT_FOUND (no error).
//! - `clientToken`: the same token with the same request (path and body
//!   without the token) returns the first answer again, and ingests or
//!   deletes nothing; the same token with another request is a
//!   `ValidationException` (neither operation models a ConflictException).
//!   Tokens are remembered per operation and data source for the
//!   emulator's life.
//! - Only a CUSTOM connector takes the KnowledgeBaseDocuments operations;
//!   another connector answers `ValidationException`. On a custom source a
//!   document with `dataSourceType` S3 (or `content.s3`, or an `s3`
//!   identifier), an `accessControlList` when `aclEnabled` is false,
//!   members that do not match their `sourceType` / inline `type` /
//!   attribute `type`, a key given twice or an id given twice in one call
//!   are a `ValidationException` whose `fieldList` names each member
//!   (message `member: problem; ...`). A document without an access list
//!   is accepted on an ACL-enabled source (AWS: it is simply never
//!   returned).
//! - Metadata of type S3_LOCATION is read at ingestion from
//!   `metadata.s3Location.uri` (at most 10 KB): `{"metadataAttributes":
//!   {key: value}}` with plain JSON values (string, number, boolean, list of
//!   strings) or typed ones (`{"value": {"type": "STRING", "stringValue":
//!   ...}}`), and an optional `accessControlList` in the API's shape; inline
//!   attributes or an inline ACL beside it are refused.
//! - Documents per call: the model's 1–10, although the user guide
//!   mentions 25 for the API.
//! - Lists are ordered by id; the default page size is 100; `nextToken` is
//!   an opaque cursor the emulator keeps in memory (a token it did not issue
//!   is a `ValidationException`).
//! - Retrieve: passages of 120 words overlapping by 20; attribute string
//!   values count as words of each passage of their document (keys
//!   containing `title` or `name` twice); score `s / (s + 1)` of the BM25
//!   score `s`; passages sharing no word with the query are not returned;
//!   `numberOfResults` defaults to 5, from `vectorSearchConfiguration` or
//!   `managedSearchConfiguration` (at most one of them). Filters are
//!   applied to the inline attributes (`equals` compares JSON values
//!   exactly; a comparison on a missing key fails except `notEquals` and
//!   `notIn`). `rerankingConfiguration`, `implicitFilterConfiguration` and
//!   image queries are refused (`ValidationException`: no model runs here);
//!   a `guardrailConfiguration` is a `ResourceNotFoundException` (the
//!   emulator has no guardrails); Retrieve returns no `nextToken` and
//!   refuses one.
//! - Retrieve results: `content` `{type: TEXT, text}`, `location`
//!   `{type: CUSTOM, customDocumentLocation: {id}}`, `documentId` (when the
//!   id fits the model's `DocumentId`), `score`, and `metadata`: the inline
//!   attributes as JSON values (keys over 100 characters left out, the
//!   model's limit) plus `x-amz-bedrock-kb-data-source-id` and
//!   `x-amz-bedrock-kb-chunk-id`.
//! - Access control: an entry names a user; names match `userContext.userId`
//!   case-insensitively (Amazon Quick treats email addresses so); a DENY
//!   for the user wins over an ALLOW; on an ACL-enabled source a document
//!   without a list is never returned and a query without `userContext`
//!   gets nothing from it; sources without ACLs answer everyone.
//! - Front door: a body over `max_body_bytes` (default 10 MiB, an
//!   assumption) is 413 `RequestEntityTooLargeException` before
//!   authentication; a method and path no route matches is 404
//!   `UnknownOperationException`; both, and signature errors, are written in
//!   bedrock-agent's format unless the path is a runtime route.
//! - Throttling: per-operation token buckets; AWS publishes no request
//!   rate for these operations: the defaults (10/s for
//!   IngestKnowledgeBaseDocuments and DeleteKnowledgeBaseDocuments, 20/s for
//!   Retrieve, the rest unthrottled) are assumptions.
//! - The knowledge base's ARN and role use account `123456789012`; its
//!   `managedKnowledgeBaseConfiguration` is `{"embeddingModelType":
//!   "MANAGED"}`; data sources are AVAILABLE with `dataDeletionPolicy`
//!   DELETE.
//! - A `status` fault picks the operation's modeled error with that HTTP
//!   status; bedrock-agent-runtime's 400 is `ValidationException`, its 400
//!   `ServiceQuotaExceededException` is asked for by name (`"error"`).
//!
//! # Layout
//! - [`config`] — [`BedrockSimConfig`], [`DataSourceSpec`].
//! - [`routes`](mod@routes) — the route table of both services ([`routes()`], [`RouteSpec`]).
//! - [`server`] — the HTTP front (body limit, SigV4, throttle, faults, dispatch).
//! - [`validate`] — the constraint tables of both models.
//! - [`ops`] — one handler per operation (resources, documents, retrieve).
//! - [`state`] — the knowledge base, data sources, documents and their versions.
//! - [`content`] — reading S3 content and metadata, extracting text.
//! - [`indexer`] — the background task moving documents through their statuses.
//! - [`search`] — passages, lexical ranking, access control, filters.
//! - [`shared`] — state shared by handlers, indexer and control (counters, queue).
//! - [`control`] — the `/_sim` control API and its in-process mirror [`Control`].
//! - [`error`] — [`BedrockError`], rendered in each service's rest-json format.
//!
//! What both AWS emulators share (SigV4, throttling, faults, validation, S3
//! reads, text extraction) is in the `aws-sim` crate.

#![warn(missing_docs)]

pub mod config;
pub mod content;
pub mod control;
pub mod error;
pub mod indexer;
pub mod ops;
pub mod routes;
pub mod search;
pub mod server;
pub mod shared;
pub mod state;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;

pub use aws_sim::faults::FaultSpec;
pub use config::{BedrockSimConfig, DataSourceSpec};
pub use control::{Control, DocumentDump};
pub use error::{BedrockError, Service};
pub use routes::{RouteSpec, routes};
pub use shared::Counts;

use shared::Shared;

/// A running emulator. Dropping it without [`BedrockSim::stop`] aborts its tasks.
pub struct BedrockSim {
    serving: aws_sim::serve::Serving,
    shared: Arc<Shared>,
    control: Control,
    indexer: tokio::task::JoinHandle<()>,
}

impl BedrockSim {
    /// Starts the emulator on `addr` (port 0 picks a free port), creating
    /// the configured knowledge base and data sources.
    pub async fn start(addr: SocketAddr, cfg: BedrockSimConfig) -> std::io::Result<BedrockSim> {
        let shared = Shared::new(cfg);
        let serving =
            aws_sim::serve::Serving::bind(addr, server::app(shared.clone()), "bedrock-sim").await?;
        let indexer = tokio::spawn(indexer::run(shared.clone()));
        Ok(BedrockSim {
            serving,
            control: Control::new(shared.clone()),
            shared,
            indexer,
        })
    }

    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    /// `http://127.0.0.1:PORT`, for both `AWS_ENDPOINT_URL_BEDROCK_AGENT`
    /// and `AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME` (boto3 / SDK
    /// `endpoint_url`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Configuration in use.
    pub fn config(&self) -> &BedrockSimConfig {
        &self.shared.cfg
    }

    /// In-process control API.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Stops serving (in-flight requests finish) and stops the indexer.
    pub async fn stop(mut self) {
        self.serving.stop().await;
        self.indexer.abort();
        let _ = (&mut self.indexer).await;
    }
}

impl Drop for BedrockSim {
    fn drop(&mut self) {
        self.indexer.abort();
    }
}
