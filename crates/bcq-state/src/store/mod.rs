//! [`StateStore`]: one connection (SQLite or PostgreSQL) and the operations
//! on it, one file per table.

mod companies;
mod documents;
mod groups;
pub mod leases;
mod runs;
mod units;
pub mod webhooks;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::db::{Conn, DbError, PgConn, PgTarget, vals};
use crate::error::StateError;
use crate::{file, schema, time};

/// Where the store reads "now" (for `pushed_at`, run start and end times);
/// replaceable so that tests can pin time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Where the state lives: a SQLite file (the embedded default) or a
/// PostgreSQL database (`BCQ_STATE_URL`).
#[derive(Clone, Debug)]
pub enum Location {
    /// A SQLite file, created if missing.
    File(PathBuf),
    /// A PostgreSQL database (or schema, through `options=-csearch_path=`).
    Postgres(Box<PgTarget>),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(target) => write!(f, "{target}"),
        }
    }
}

/// Which backend a store runs on.
#[derive(Clone, Debug)]
enum Backend {
    Memory,
    File,
    Postgres,
}

/// The connector's state: unit cursors, acknowledged document hashes and
/// the run history, in one SQLite file or one PostgreSQL database.
///
/// Methods that change state take `&mut self` and run as one transaction
/// each; see the crate doc for what that guarantees. One process should
/// sync with a given state at a time ([`StateStore::lock_for_sync`]);
/// readers in other processes are fine.
pub struct StateStore {
    /// The connection; `Send`, so the store can move between threads, but
    /// not shared: the engine owns it.
    conn: Conn,
    /// The file path (`:memory:` for an in-memory store) or the PostgreSQL
    /// URL without its password, for error context.
    path: PathBuf,
    /// The time source.
    clock: Clock,
    /// Which backend, for locking and snapshots.
    backend: Backend,
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
        let conn = rusqlite::Connection::open(path).map_err(|source| StateError::Open {
            path: path.to_owned(),
            source: source.into(),
        })?;
        Self::init_sqlite(conn, path.to_owned(), Backend::File)
    }

    /// Opens a fresh store that lives in memory only (tests, dry runs).
    pub fn open_in_memory() -> Result<Self, StateError> {
        let path = PathBuf::from(":memory:");
        let conn = rusqlite::Connection::open_in_memory().map_err(|source| StateError::Open {
            path: path.clone(),
            source: source.into(),
        })?;
        Self::init_sqlite(conn, path, Backend::Memory)
    }

    /// Opens the state in a PostgreSQL database, creating its tables on
    /// first use and migrating them like a SQLite file's. A database whose
    /// schema a newer bcq wrote is refused with [`StateError::SchemaTooNew`].
    pub fn open_postgres(target: &PgTarget) -> Result<Self, StateError> {
        let path = PathBuf::from(target.to_string());
        let conn = PgConn::connect(target).map_err(|source| StateError::Open {
            path: path.clone(),
            source,
        })?;
        let conn = Conn::Postgres(conn);
        schema::migrate(&conn, &path)?;
        Ok(StateStore {
            conn,
            path,
            clock: Arc::new(Utc::now),
            backend: Backend::Postgres,
        })
    }

    /// Opens the state wherever `location` says.
    pub fn open_at(location: &Location) -> Result<Self, StateError> {
        match location {
            Location::File(path) => Self::open(path),
            Location::Postgres(target) => Self::open_postgres(target),
        }
    }

    fn init_sqlite(
        conn: rusqlite::Connection,
        path: PathBuf,
        backend: Backend,
    ) -> Result<Self, StateError> {
        let open_err = |source: rusqlite::Error| StateError::Open {
            path: path.clone(),
            source: source.into(),
        };
        // Check the version before `configure`, which switches the journal
        // mode: a newer bcq's file must be left exactly as it was.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let on_disk = !matches!(backend, Backend::Memory);
        let conn = Conn::Sqlite(conn);
        schema::check_not_newer(&conn, &path)?;
        if let Conn::Sqlite(raw) = &conn {
            file::configure(raw, on_disk).map_err(open_err)?;
        }
        schema::migrate(&conn, &path)?;
        Ok(StateStore {
            conn,
            path,
            clock: Arc::new(Utc::now),
            backend,
        })
    }

    /// Replaces the clock (tests pin time with it).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The file this store lives in (`:memory:` for an in-memory store), or
    /// the PostgreSQL URL without its password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if the state lives in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres)
    }

    /// The store's schema version (SQLite's `PRAGMA user_version`,
    /// PostgreSQL's `bcq_schema` table); after a successful open it is
    /// always [`schema::CURRENT_VERSION`].
    pub fn schema_version(&self) -> Result<u32, StateError> {
        schema::version(&self.conn).map_err(self.sql_err("read the schema version"))
    }

    /// Takes the sync lock of this state without waiting, or fails with
    /// [`StateError::Locked`] if another process holds it.
    ///
    /// For a file, an OS lock on `<file>.lock`; for PostgreSQL, a session
    /// advisory lock on a connection of its own. Both are released when the
    /// lock is dropped or the process dies, even by SIGKILL.
    ///
    /// Hold the returned [`SyncLock`](crate::SyncLock) for the whole run, and take it before
    /// [`StateStore::mark_interrupted_runs`]: a run that is `running` while
    /// nobody holds the lock belongs to a process that died. Read-only
    /// commands (status) need no lock.
    pub fn lock_for_sync(&self) -> Result<crate::SyncLock, StateError> {
        self.sync_lock(false)
    }

    /// The sync lock for one of several replicas of a PostgreSQL state:
    /// shared with the other replicas' runs, which coordinate through
    /// leases, and exclusive of [`StateStore::lock_for_sync`] (a reset, a
    /// copy, a process that is not a replica). On SQLite, the same
    /// exclusive lock as `lock_for_sync`.
    pub fn lock_for_shared_sync(&self) -> Result<crate::SyncLock, StateError> {
        self.sync_lock(true)
    }

    fn sync_lock(&self, shared: bool) -> Result<crate::SyncLock, StateError> {
        match (&self.backend, &self.conn) {
            (Backend::Postgres, Conn::Postgres(pg)) => {
                let lock = pg
                    .try_lock("bcq sync ", shared)
                    .map_err(self.sql_err("take the sync lock"))?;
                match lock {
                    Some(lock) => Ok(crate::SyncLock::postgres(lock, self.path.clone())),
                    None => Err(StateError::Locked {
                        path: self.path.clone(),
                    }),
                }
            }
            (backend, _) => crate::lock::try_lock(&self.path, matches!(backend, Backend::Memory)),
        }
    }

    /// Writes a consistent copy of the store to the SQLite file `dest`, for
    /// runs that must not change the real one (`bcq sync --dry-run`):
    /// SQLite's `VACUUM INTO` for a file, a table-by-table copy in one
    /// read transaction for PostgreSQL.
    pub fn snapshot_to(&self, dest: &Path) -> Result<(), StateError> {
        match &self.conn {
            Conn::Sqlite(_) => {
                let target = dest.to_string_lossy().into_owned();
                self.conn
                    .execute("VACUUM INTO ?1", vals![target])
                    .map(drop)
                    .map_err(self.sql_err(format!("snapshot to {}", dest.display())))
            }
            Conn::Postgres(_) => {
                let mut copy = StateStore::open(dest)?;
                self.copy_to(&mut copy).map(drop)
            }
        }
    }

    /// Copies every table of this store into `dest`, which must be empty
    /// (just opened); returns the rows copied. This is how state moves
    /// between backends (a SQLite file into PostgreSQL, and back), with the
    /// source read in one transaction and the destination written in one.
    pub fn copy_to(&self, dest: &mut StateStore) -> Result<u64, StateError> {
        let read_err = self.sql_err("read the state to copy");
        let tables = self.conn.write(&read_err, |tx| {
            schema::TABLES
                .iter()
                .map(|table| {
                    tx.query(&format!("SELECT * FROM {table} ORDER BY 1"), &[])
                        .map(|rows| (*table, rows))
                })
                .collect::<Result<Vec<_>, DbError>>()
                .map_err(&read_err)
        })?;
        let write_err = dest.sql_err(format!("copy the state from {}", self.path.display()));
        let is_pg = dest.is_postgres();
        dest.conn.write(&write_err, |tx| {
            let mut copied = 0;
            for (table, rows) in &tables {
                if tx
                    .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])
                    .map_err(&write_err)?
                    .is_some()
                {
                    return Err(StateError::Corrupt {
                        path: dest.path.clone(),
                        what: format!("table {table}"),
                        detail: "is not empty: state is copied only into an empty store".into(),
                    });
                }
                let Some(first) = rows.first() else { continue };
                let marks: Vec<String> = (1..=first.0.len()).map(|i| format!("?{i}")).collect();
                let sql = format!("INSERT INTO {table} VALUES ({})", marks.join(", "));
                for row in rows {
                    tx.execute(&sql, &row.0).map_err(&write_err)?;
                    copied += 1;
                }
            }
            if is_pg {
                // Explicit ids do not move identity sequences: move them
                // past the copied ids, so new runs never reuse one.
                for table in ["runs", "failures", "notifications"] {
                    tx.query(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                             COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
                        ),
                        &[],
                    )
                    .map_err(&write_err)?;
                }
            }
            Ok(copied)
        })
    }

    /// Forgets everything: documents, units, runs and failures, in one
    /// transaction. The next run is a full sync that re-pushes every
    /// document (Q overwrites by id). Run ids keep increasing.
    pub fn reset(&mut self) -> Result<(), StateError> {
        let err = self.sql_err("reset");
        // Children before parents: the foreign keys are enforced.
        self.write(&err, |tx| {
            tx.batch(
                "DELETE FROM failures; DELETE FROM documents; DELETE FROM units; DELETE FROM runs; \
                 DELETE FROM companies; DELETE FROM notifications;",
            )
            .map_err(&err)
        })?;
        tracing::info!(path = %self.path.display(), "state reset");
        Ok(())
    }

    /// The current time as stored text.
    fn now_text(&self) -> String {
        time::encode((self.clock)())
    }

    /// Runs `f` as one write transaction; `err` names the operation if
    /// BEGIN or COMMIT fails.
    fn write<T>(
        &mut self,
        err: &impl Fn(DbError) -> StateError,
        f: impl FnOnce(&Conn) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        self.conn.write(err, f)
    }

    /// Maps a database error to [`StateError::Database`] naming `op`.
    fn sql_err<O: Into<String>>(&self, op: O) -> impl Fn(DbError) -> StateError + use<O> {
        let path = self.path.clone();
        let op = op.into();
        move |source| StateError::Database {
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
