//! The Amazon Q Business sink of bcq, on the official `aws-sdk-qbusiness`.
//!
//! One sync job per run (`StartDataSourceSyncJob`, `dataSourceSyncId` on
//! every call, `StopDataSourceSyncJob` always), batches of at most ten
//! documents, several in flight under an adaptive limit that halves on
//! `ThrottlingException` and grows while calls are accepted. A 200 with
//! `failedDocuments` is a normal answer: documents failed with
//! `INTERNAL_ERROR` are retried alone, the others reported by id and reason.
//!
//! # Layout
//!
//! - [`admin`]: group memberships (PutGroup) and listing the index
//! - [`convert`]: bcq documents → SDK types, plus the per-run attributes
//! - [`retry`]: error classification, backoff, adaptive concurrency
//! - [`sink`]: [`QSink`], sync jobs and the [`bcq_core::sink::Sink`] impl
//! - [`s3`]: large files staged in S3 for Q to read
//! - [`schema`]: the custom attributes declared on the index

pub mod admin;
pub mod convert;
pub mod retry;
pub mod s3;
pub mod schema;
pub mod sink;

pub use sink::{JobError, QOptions, QSink, QStats, QTarget, RunningJob};
