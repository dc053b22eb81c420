//! bcq's core: Business Central records become Q documents, and the sync
//! engine that moves them.
//!
//! # The guarantee
//!
//! Every record read is delivered to the sink at least once per change.
//! Only an acknowledgement moves state: a document's content hash is stored
//! after the sink accepted it, in the same transaction as the rest of its
//! batch; a unit's cursor moves only after every document of the read was
//! accepted. A crash (even `kill -9`) leaves at worst documents the sink has
//! and the state store does not know: the next run re-reads from the old
//! cursor and pushes them again, which the sink treats as a replace. A
//! complete read (first run, `--reconcile`, `--full`, or entities without
//! `lastModifiedDateTime`) also deletes from the sink what BC no longer has,
//! unless the deletion guard refuses.
//!
//! # Layout
//!
//! - [`acl`]: access rules from configuration → documents' access control
//! - [`files`]: files behind records (PDFs, attachments): content types, ids
//! - [`document`]: the sink-neutral document and its content hash
//! - [`wire`]: BC's wire quirks and Q's limits
//! - [`catalog`]: the entities bcq knows, as data
//! - [`render`]: records → documents, ids and web client links
//! - [`constraints`]: Q's model constraints on a document
//! - [`sink`]: the trait a destination implements
//! - [`engine`]: the pipeline of one unit (environment, company, entity)

pub mod acl;
pub mod catalog;
pub mod constraints;
pub mod document;
pub mod engine;
pub mod files;
pub mod render;
pub mod sink;
pub mod wire;
