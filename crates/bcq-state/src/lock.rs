//! The one-writer lock: at most one process syncs with a state file.
//!
//! SQLite already serialises transactions, but two bcq processes syncing the
//! same file would each call `mark_interrupted_runs` on the other's live run
//! and push the same documents twice. The engine takes this lock first.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::StateError;

/// Proof that this process is the only one syncing with a state file (or
/// PostgreSQL database: then a session advisory lock, see
/// [`StateStore::lock_for_sync`](crate::StateStore::lock_for_sync)).
///
/// An advisory OS lock (`flock` on Linux) on `<state file>.lock`, released
/// when this value is dropped *or when the process dies*, even by SIGKILL:
/// unlike a pid file, a crash can never leave a stale lock behind. A
/// separate file, because SQLite holds POSIX `fcntl` locks on the database
/// file and those are dropped when *any* descriptor of the file closes.
#[derive(Debug)]
pub struct SyncLock {
    /// The locked file; `None` for an in-memory store, which no other
    /// process can reach.
    _file: Option<File>,
    /// The PostgreSQL advisory lock, held on a connection of its own.
    _pg: Option<crate::db::PgLock>,
    /// The lock file's path (or the PostgreSQL URL), for logs.
    path: PathBuf,
}

impl SyncLock {
    /// Takes the lock of the state file at `state_path` without opening the
    /// file itself (for removing a file that cannot be opened).
    pub fn acquire(state_path: &Path) -> Result<SyncLock, StateError> {
        try_lock(state_path, false)
    }

    /// A lock held in PostgreSQL.
    pub(crate) fn postgres(lock: crate::db::PgLock, path: PathBuf) -> SyncLock {
        SyncLock {
            _file: None,
            _pg: Some(lock),
            path,
        }
    }

    /// The lock file (`<state file>.lock`), or the PostgreSQL URL.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<state file>.lock`, beside the state file.
fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock for `state_path` without waiting.
pub(crate) fn try_lock(state_path: &Path, in_memory: bool) -> Result<SyncLock, StateError> {
    let path = lock_path(state_path);
    if in_memory {
        return Ok(SyncLock {
            _file: None,
            _pg: None,
            path,
        });
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(|source| StateError::LockFile {
        path: path.clone(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(SyncLock {
            _file: Some(file),
            _pg: None,
            path,
        }),
        Err(TryLockError::WouldBlock) => Err(StateError::Locked { path }),
        Err(TryLockError::Error(source)) => Err(StateError::LockFile { path, source }),
    }
}
