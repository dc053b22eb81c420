//! The store's single error type.
//!
//! Every variant names the state file, so that an operator running several
//! bcq instances (one state file each) can tell which one failed; variants
//! about a unit or a run carry it too. Nothing stored here is secret, and no
//! credential ever passes through this crate.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

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

    /// SQLite could not open or configure the file (not a database, locked,
    /// unreadable, ...).
    #[error("cannot open state file {path}")]
    Open {
        /// The state file.
        path: PathBuf,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// The file was written by a newer bcq whose schema this code does not
    /// know; reading it could silently misinterpret it, so it is refused.
    #[error(
        "state file {path} has schema version {found}, this bcq knows up to {known}; upgrade bcq"
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
    #[error("cannot migrate state file {path} from schema version {from} to {to}")]
    Migrate {
        /// The state file.
        path: PathBuf,
        /// The file's version before the attempt.
        from: u32,
        /// The version the failing step would have produced.
        to: u32,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// A cursor would move backwards. This means the caller is about to
    /// record a read that ended before one already recorded, which would
    /// re-read data at best and hide an ordering bug at worst.
    #[error("cursor of unit {unit} in state file {path} would move backwards from {old} to {new}")]
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
    #[error("run {run_id} does not exist in state file {path}")]
    RunNotFound {
        /// The state file.
        path: PathBuf,
        /// The unknown run id.
        run_id: i64,
    },

    /// `finish_run` on a run that is no longer `running` (finished twice, or
    /// marked `interrupted` by another process).
    #[error("run {run_id} in state file {path} is already {outcome}")]
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
    #[error("state file {path}: cannot {op}")]
    Sqlite {
        /// The state file.
        path: PathBuf,
        /// The operation, e.g. `commit acks for unit production/<id>/customers`.
        op: String,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// Another process holds the sync lock of this state file.
    #[error("state file is in use by another bcq process (lock {path} is held)")]
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
    #[error("state file {path}: invalid stored {what}: {detail}")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// Which value, e.g. `cursor of unit ...`.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
}
