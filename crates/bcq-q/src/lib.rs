//! bcq's Amazon Q Business destination, on the official `aws-sdk-qbusiness`.
//!
//! One sync job per run (`StartDataSourceSyncJob`, `dataSourceSyncId` on
//! every call, `StopDataSourceSyncJob` always, then the job followed until
//! Q finished indexing, so that documents Q accepted and then failed to
//! index are reported by the run that sent them); batches of at most ten
//! documents, several in flight under bcq's retry policy and adaptive limit;
//! a 200 with `failedDocuments` is a normal answer: documents failed with
//! `INTERNAL_ERROR` are retried alone, the others reported by id and reason.
//! A job bcq started and stopped that is still indexing is bcq's own to wait
//! for, not a conflict.
//!
//! # Layout
//!
//! - [`settings`]: the settings Q needs ([`KIND`]) and how it is opened
//! - [`constraints`]: Q's model constraints, and how a document is fitted to them
//! - [`convert`]: bcq documents → SDK types, plus the per-run attributes
//! - [`destination`]: [`QDestination`] and its puts and deletes
//! - [`jobs`]: the sync job lifecycle
//! - [`schema`]: the custom attributes declared on the index
//! - [`admin`]: groups (PutGroup, DeleteGroup) and listing documents

#![warn(missing_docs)]

pub mod admin;
pub mod constraints;
pub mod convert;
pub mod destination;
pub mod jobs;
pub mod schema;
pub mod settings;

pub use destination::{QDestination, QTarget};
pub use settings::KIND;

/// The name of the service, in messages.
pub const SERVICE: &str = "Amazon Q Business";
