//! [`StateStore`]: one SQLite connection and the operations on it, one file
//! per table.

mod companies;
mod documents;
mod groups;
mod runs;
mod units;
pub mod webhooks;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior};

use crate::error::StateError;
use crate::{file, schema, time};

/// Where the store reads "now" (for `pushed_at`, run start and end times);
/// replaceable so that tests can pin time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The connector's state: unit cursors, acknowledged document hashes and
/// the run history, in one SQLite file.
///
/// Methods that change state take `&mut self` and run as one transaction
/// each; see the crate doc for what that guarantees. One process should
/// sync with a state file at a time ([`StateStore::lock_for_sync`]);
/// readers in other processes are fine.
pub struct StateStore {
    /// The SQLite connection; `Send`, so the store can move between threads,
    /// but not shared: the engine owns it.
    conn: Connection,
    /// The file path (`:memory:` for an in-memory store), for error context.
    path: PathBuf,
    /// The time source.
    clock: Clock,
    /// False for an in-memory store (no file to lock or protect).
    on_disk: bool,
}

impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StateStore {
    /// Opens (creating if needed) the state file at `path` and migrates it
    /// to the current schema.
    ///
    /// The directory is created if missing and a new file gets mode 0600
    /// before SQLite touches it. A file written by a newer bcq is refused
    /// with [`StateError::SchemaTooNew`] without being modified.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        file::create_owner_only(path)?;
        let conn = Connection::open(path).map_err(|source| StateError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::init(conn, path.to_owned(), true)
    }

    /// Opens a fresh store that lives in memory only (tests, dry runs).
    pub fn open_in_memory() -> Result<Self, StateError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StateError::Open {
            path: path.clone(),
            source,
        })?;
        Self::init(conn, path, false)
    }

    fn init(mut conn: Connection, path: PathBuf, on_disk: bool) -> Result<Self, StateError> {
        let open_err = |source| StateError::Open {
            path: path.clone(),
            source,
        };
        // Check the version before `configure`, which switches the journal
        // mode: a newer bcq's file must be left exactly as it was.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        schema::check_not_newer(&conn, &path)?;
        file::configure(&conn, on_disk).map_err(open_err)?;
        schema::migrate(&mut conn, &path)?;
        Ok(StateStore {
            conn,
            path,
            clock: Arc::new(Utc::now),
            on_disk,
        })
    }

    /// Replaces the clock (tests pin time with it).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The file this store lives in (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's schema version (`PRAGMA user_version`); after a
    /// successful open it is always [`schema::CURRENT_VERSION`].
    pub fn schema_version(&self) -> Result<u32, StateError> {
        schema::version(&self.conn).map_err(self.sql_err("read the schema version"))
    }

    /// Takes the sync lock of this state file without waiting, or fails
    /// with [`StateError::Locked`] if another process holds it.
    ///
    /// Hold the returned [`SyncLock`](crate::SyncLock) for the whole run, and take it before
    /// [`StateStore::mark_interrupted_runs`]: a run that is `running` while
    /// nobody holds the lock belongs to a process that died. Read-only
    /// commands (status) need no lock.
    pub fn lock_for_sync(&self) -> Result<crate::SyncLock, StateError> {
        crate::lock::try_lock(&self.path, !self.on_disk)
    }

    /// Writes a consistent copy of the store to `dest` (SQLite's
    /// `VACUUM INTO`), for runs that must not change the real one
    /// (`bcq sync --dry-run`).
    pub fn snapshot_to(&self, dest: &Path) -> Result<(), StateError> {
        let target = dest.to_string_lossy().into_owned();
        self.conn
            .execute("VACUUM INTO ?1", [target])
            .map(|_| ())
            .map_err(self.sql_err(format!("snapshot to {}", dest.display())))
    }

    /// Forgets everything: documents, units, runs and failures, in one
    /// transaction. The next run is a full sync that re-pushes every
    /// document (Q overwrites by id). Run ids keep increasing.
    pub fn reset(&mut self) -> Result<(), StateError> {
        let err = self.sql_err("reset");
        let tx = self.write_tx().map_err(&err)?;
        // Children before parents: the foreign keys are enforced.
        tx.execute_batch(
            "DELETE FROM failures; DELETE FROM documents; DELETE FROM units; DELETE FROM runs; \
             DELETE FROM companies; DELETE FROM notifications;",
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        tracing::info!(path = %self.path.display(), "state reset");
        Ok(())
    }

    /// The current time as stored text.
    fn now_text(&self) -> String {
        time::encode((self.clock)())
    }

    /// A write transaction that takes the write lock up front, so a
    /// concurrent writer makes it wait (busy timeout) at `BEGIN` instead of
    /// failing half-way when a read lock cannot be upgraded.
    fn write_tx(&mut self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
    }

    /// Maps a SQLite error to [`StateError::Sqlite`] naming `op`.
    fn sql_err<O: Into<String>>(&self, op: O) -> impl Fn(rusqlite::Error) -> StateError + use<O> {
        let path = self.path.clone();
        let op = op.into();
        move |source| StateError::Sqlite {
            path: path.clone(),
            op: op.clone(),
            source,
        }
    }

    /// Parses a stored timestamp, naming the value if it is not one.
    fn decode_time(
        &self,
        text: &str,
        what: impl FnOnce() -> String,
    ) -> Result<DateTime<Utc>, StateError> {
        time::decode(text).map_err(|detail| StateError::Corrupt {
            path: self.path.clone(),
            what: what(),
            detail,
        })
    }

    /// Parses an optional stored timestamp.
    fn decode_opt_time(
        &self,
        text: Option<String>,
        what: impl FnOnce() -> String,
    ) -> Result<Option<DateTime<Utc>>, StateError> {
        text.map(|t| self.decode_time(&t, what)).transpose()
    }
}

/// True if `e` is a foreign key violation (a run or unit that does not exist).
fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}
