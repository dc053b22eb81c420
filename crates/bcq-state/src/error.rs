//! The store's single error type.
//!
//! Every variant names where the state lives (the SQLite file, or the
//! PostgreSQL URL without its password), so that an operator running several
//! bcq instances can tell which one failed; variants
//! about a unit or a run carry it too. Nothing stored here is secret, and no
//! credential ever passes through this crate.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::db::DbError;
use crate::model::UnitKey;

/// A failure of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The directory that should hold the state file could not be created.
    #[error("cannot create state directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The state file could not be created with owner-only permissions.
    #[error("cannot create state file {path}")]
    CreateFile {
        /// The state file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The store could not be opened or configured (a file that is not a
    /// database, unreadable, PostgreSQL unreachable or refusing the login).
    #[error("cannot open the state in {path}")]
    Open {
        /// The state file or PostgreSQL URL.
        path: PathBuf,
        /// The underlying database error.
        #[source]
        source: DbError,
    },

    /// The file was written by a newer bcq whose schema this code does not
    /// know; reading it could silently misinterpret it, so it is refused.
    #[error(
        "state in {path} has schema version {found}, this bcq knows up to {known}; upgrade bcq"
    )]
    SchemaTooNew {
        /// The state file.
        path: PathBuf,
        /// The file's `PRAGMA user_version`.
        found: u32,
        /// The newest version this code knows.
        known: u32,
    },

    /// Applying a migration failed; the transaction was rolled back and the
    /// file is still at version `from`.
    #[error("cannot migrate the state in {path} from schema version {from} to {to}")]
    Migrate {
        /// The state file.
        path: PathBuf,
        /// The file's version before the attempt.
        from: u32,
        /// The version the failing step would have produced.
        to: u32,
        /// The underlying database error.
        #[source]
        source: DbError,
    },

    /// A cursor would move backwards. This means the caller is about to
    /// record a read that ended before one already recorded, which would
    /// re-read data at best and hide an ordering bug at worst.
    #[error(
        "cursor of unit {unit} in the state in {path} would move backwards from {old} to {new}"
    )]
    CursorBackwards {
        /// The state file.
        path: PathBuf,
        /// The unit whose cursor was to move.
        unit: UnitKey,
        /// The stored cursor.
        old: DateTime<Utc>,
        /// The refused new cursor.
        new: DateTime<Utc>,
    },

    /// A run id that `begin_run` never returned (or that `reset` forgot).
    #[error("run {run_id} does not exist in the state in {path}")]
    RunNotFound {
        /// The state file.
        path: PathBuf,
        /// The unknown run id.
        run_id: i64,
    },

    /// `finish_run` on a run that is no longer `running` (finished twice, or
    /// marked `interrupted` by another process).
    #[error("run {run_id} in the state in {path} is already {outcome}")]
    RunNotRunning {
        /// The state file.
        path: PathBuf,
        /// The run.
        run_id: i64,
        /// Its current outcome.
        outcome: String,
    },

    /// `finish_run` with an outcome other than `succeeded`, `failed` or
    /// `interrupted`.
    #[error(
        "invalid run outcome {outcome:?} to finish a run with, expected succeeded, failed or interrupted"
    )]
    InvalidOutcome {
        /// The refused outcome.
        outcome: String,
    },

    /// A statement failed; `op` says which operation, with its unit or run.
    #[error("state in {path}: cannot {op}")]
    Database {
        /// The state file or PostgreSQL URL.
        path: PathBuf,
        /// The operation, e.g. `commit acks for unit production/<id>/customers`.
        op: String,
        /// The underlying database error.
        #[source]
        source: DbError,
    },

    /// Another process holds the sync lock of this state.
    #[error("the state is in use by another bcq process (lock {path} is held)")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// The lock file could not be created or locked.
    #[error("cannot lock {path}")]
    LockFile {
        /// The lock file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A stored value does not have the shape this code writes (edited by
    /// hand, or a bug): reported rather than guessed around.
    #[error("state in {path}: invalid stored {what}: {detail}")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// Which value, e.g. `cursor of unit ...`.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
}
