//! Creating the state file safely and configuring each connection.

use std::fs;
use std::path::Path;

use rusqlite::Connection;

use crate::error::StateError;

/// How long a statement waits for another process's write lock before
/// failing with `SQLITE_BUSY` (e.g. `bcq status` reading during a sync).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Creates the directory (0700) and an empty file (0600) if missing, so that
/// SQLite never creates the file with the process umask: state names every
/// synced document and company, which other local users need not read.
/// An existing file is left as it is, with a warning if others can read it.
pub(crate) fn create_owner_only(path: &Path) -> Result<(), StateError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|source| StateError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
    }
    let mut options = fs::OpenOptions::new();
    // create without truncate: an existing state file must survive.
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .map_err(|source| StateError::CreateFile {
            path: path.to_owned(),
            source,
        })?;
    #[cfg(unix)]
    if let Ok(meta) = file.metadata() {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "state file is readable by other users"
            );
        }
    }
    drop(file);
    Ok(())
}

/// Per-connection settings that must be in force before any statement.
///
/// `foreign_keys` is off by default in SQLite and per connection; without
/// it a document could point at a unit or run that does not exist.
pub(crate) fn configure(conn: &Connection, on_disk: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    if on_disk {
        // WAL: readers (status commands) never block the syncing writer, and
        // a commit is one append. NORMAL: see "Durability" in the crate doc.
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        } else {
            // Some file systems refuse WAL; a rollback journal is only
            // power-safe with FULL, so pay for it rather than risk the file.
            tracing::warn!(mode, "state file could not switch to WAL mode");
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
    }
    Ok(())
}
