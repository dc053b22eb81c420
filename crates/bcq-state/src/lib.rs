//! bcq's embedded state store: what Amazon Q Business has acknowledged, and
//! how far each Business Central (BC) entity has been read.
//!
//! # Delivery guarantee
//!
//! bcq reads BC records changed since a cursor (`lastModifiedDateTime`, the
//! only change feed left since BC v24 removed delta links), renders each to a
//! Q document, pushes it to Q Business and records here what Q accepted.
//! **Only an acknowledgement moves state:**
//!
//! - a document's content hash is stored only after Q accepted the document
//!   ([`StateStore::commit_acks`]; documents listed in Q's `failedDocuments`
//!   are never acknowledged);
//! - a unit's cursor moves only after every document of that read was
//!   accepted ([`StateStore::advance_cursor`]), and never backwards;
//! - each call to [`StateStore::commit_acks`] is one SQLite transaction
//!   (the sync engine gathers acknowledgements into groups of up to 250,
//!   or what arrived within a second, and commits every group before it
//!   moves the cursor).
//!
//! A crash therefore leaves, at worst, documents that Q has but this store
//! does not know (those of the group not yet committed): the next run sees no stored hash, pushes them again and Q
//! overwrites them by id (at-least-once). It never leaves a cursor past an
//! unacknowledged change, because the cursor is written in a later
//! transaction than the acknowledgements it summarises.
//!
//! # Durability
//!
//! The file runs in WAL mode with `synchronous=NORMAL`. A committed
//! transaction is in the WAL (in the OS page cache at least) before
//! `COMMIT` returns, so a `kill -9` of bcq cannot lose it; the crash test in
//! `tests/crash.rs` checks exactly that. A power loss can lose the last few
//! commits, but WAL replays a *prefix* of them, so the store goes back in
//! time consistently: every cursor still trails its acknowledgements, which
//! is the at-least-once direction above. That is why NORMAL (one fsync per
//! checkpoint instead of per commit) is acceptable here.
//!
//! The file is created with mode 0600 before SQLite opens it (SQLite gives
//! its `-wal`/`-shm` files the same mode), and its directory is created
//! (0700) if missing.
//!
//! # Schema
//!
//! `PRAGMA user_version` holds the schema version. Opening an older file
//! applies the missing steps of [`schema::MIGRATIONS`] in one transaction;
//! opening a file written by a newer bcq is refused with
//! [`StateError::SchemaTooNew`].
//!
//! # Layout
//!
//! - [`error`]: [`StateError`], every failure with the state file path and,
//!   where it applies, the unit or run.
//! - [`model`]: the plain data types ([`UnitKey`], [`Ack`], [`DocState`],
//!   [`UnitState`], [`RunCounts`], [`RunRecord`], [`RunOutcome`], [`RunKind`]).
//! - [`hash`]: [`content_hash`], the SHA-256 that decides "unchanged".
//! - [`schema`]: the ordered migrations and the code that applies them.
//! - `file`: creating the file and directory with owner-only permissions and
//!   the per-connection pragmas.
//! - `lock`: [`SyncLock`], the advisory lock that keeps a second bcq
//!   process from syncing with the same file.
//! - `time`: the fixed-width RFC 3339 text form of timestamps in the file.
//! - `store`: [`StateStore`], split by table: `documents`, `units`, `runs`,
//!   `companies`, `groups`, `webhooks` (subscriptions and notifications).

mod db;
pub mod error;
mod file;
pub mod hash;
mod lock;
pub mod model;
pub mod schema;
mod store;
pub mod testing;
mod time;

pub use db::{DbError, PgTarget};
pub use error::StateError;
pub use hash::content_hash;
pub use lock::SyncLock;
pub use model::{Ack, DocState, RunCounts, RunKind, RunOutcome, RunRecord, UnitKey, UnitState};
pub use store::leases::{BcSlot, Lease, SharedRun};
pub use store::webhooks::{Change, Notification, Subscription};
pub use store::{Clock, Location, StateStore};
