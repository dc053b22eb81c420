//! bcq's core: Business Central records become documents, and the sync
//! engine that moves them to a destination.
//!
//! # The guarantee
//!
//! Every record read is delivered to the destination at least once per
//! change. Only an acknowledgement moves state: a document's content hash
//! is stored after the destination accepted it; a unit's cursor moves only
//! after every document of the read was accepted, and never past BC's own
//! clock. A crash (even `kill -9`) leaves at worst documents the
//! destination has and the state store does not know: the next run
//! re-reads from the old cursor and pushes them again, which the
//! destination treats as a replace. A complete read (first run,
//! `--reconcile`, `--full`, or entities without `lastModifiedDateTime`),
//! and only a complete one, also deletes what BC no longer has, unless the
//! deletion guard refuses (see [`engine`]).
//!
//! # Layout
//!
//! - [`acl`]: access rules from configuration → documents' access control
//! - [`files`]: files behind records (PDFs, attachments): content types, ids
//! - [`document`]: the destination-neutral document and its content hash
//! - [`wire`]: BC's wire quirks and Markdown text
//! - [`catalog`]: the entities bcq knows, as data
//! - [`render`]: records → documents, ids and web client links
//! - [`settings`]: settings as data, read the same way by every part
//! - [`destination`]: the one interface of every destination
//! - [`engine`]: the pipeline of one unit (environment, company, entity)

pub mod acl;
pub mod bc_access;
pub mod catalog;
pub mod destination;
pub mod document;
pub mod engine;
pub mod files;
pub mod render;
pub mod settings;
pub mod wire;
