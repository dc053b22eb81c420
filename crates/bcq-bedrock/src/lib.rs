//! bcq's Amazon Bedrock knowledge base destination, on the official
//! `aws-sdk-bedrockagent` (and `aws-sdk-bedrockagentruntime` to ask a
//! question as a user).
//!
//! A *managed* knowledge base takes a custom data source whose documents
//! are pushed, not crawled: `IngestKnowledgeBaseDocuments` (1–10 documents
//! a call, a `clientToken` so that a retried call is idempotent),
//! `DeleteKnowledgeBaseDocuments`, and `GetKnowledgeBaseDocuments` /
//! `ListKnowledgeBaseDocuments` to follow ingestion to INDEXED or FAILED.
//! There is no sync job: a run is the calls it makes, and closing it
//! follows what it sent (every document of a run of up to
//! [`destination::FOLLOWED`] documents, a sample of larger ones) until
//! ingestion ended, reporting failures with their reason.
//!
//! How bcq's documents travel:
//! - rendered records as inline TEXT (Markdown), PDFs and attachments as
//!   inline BYTE with their MIME type, files over 5 MB through S3
//!   (`S3_LOCATION`) when a bucket is configured;
//! - attributes as inline metadata (at most 50): strings as STRING, numbers
//!   as NUMBER, and **dates as NUMBER, epoch seconds** (what Bedrock's
//!   metadata filters compare: `greaterThan` on a date works), with the
//!   title as `_title` and the citation as `_source_uri`, so that a
//!   retrieval result names and links the BC record;
//! - access lists name **users only**: group principals are expanded into
//!   their members from the configuration's `[groups]` (nested groups
//!   included); a rule naming a group that is not defined there, or joining
//!   principals with AND, cannot be expressed and fails the document with
//!   the reason. On an ACL-enabled data source a document without an access
//!   list is never returned, so bcq refuses to sync units no rule restricts
//!   (see [`bcq_core::destination::AccessModel`]).
//!
//! # Layout
//!
//! - [`settings`]: its settings ([`KIND`]) and how it is opened
//! - [`convert`]: bcq documents → SDK types (content, metadata, access lists)
//! - [`destination`]: [`BedrockDestination`]: checks, puts, deletes, the run
//!   and its follow-up, questions asked as a user

#![warn(missing_docs)]

pub mod convert;
pub mod destination;
pub mod settings;

pub use destination::{BedrockDestination, BedrockTarget};
pub use settings::KIND;

/// The name of the service, in messages.
pub const SERVICE: &str = "Amazon Bedrock";
