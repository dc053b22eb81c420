//! The state file on disk: creation, permissions, reopening, migration.

mod support;

use bcq_state::schema::CURRENT_VERSION;
use bcq_state::{RunCounts, StateError, StateStore, UnitState};
use rusqlite::Connection;
use support::{TempDir, ack, at, hash, unit};

#[test]
fn open_creates_missing_directories_and_a_current_schema() {
    let dir = TempDir::new("create");
    let path = dir.join("nested/deeper/state.db");
    let store = StateStore::open(&path).unwrap();
    assert!(path.is_file());
    assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
    assert_eq!(store.path(), path.as_path());
    assert_eq!(
        StateStore::open_in_memory()
            .unwrap()
            .schema_version()
            .unwrap(),
        CURRENT_VERSION
    );
    let raw = Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[cfg(unix)]
#[test]
fn file_wal_and_new_directory_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let path = dir.join("new-dir/state.db");
    let mut store = StateStore::open(&path).unwrap();
    // Write something so SQLite creates the -wal and -shm files.
    let run = store.begin_run(bcq_state::RunKind::Full).unwrap();
    store
        .commit_acks(&unit("items"), run, &[ack("i-1", 1)])
        .unwrap();

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "state file");
    let wal = dir.join("new-dir/state.db-wal");
    assert!(wal.exists());
    assert_eq!(mode(&wal), 0o600, "wal file inherits the file's mode");
    assert_eq!(mode(&dir.join("new-dir")), 0o700, "created directory");
}

#[test]
fn reopen_after_drop_sees_committed_data() {
    let dir = TempDir::new("reopen");
    let path = dir.join("state.db");
    let c = unit("customers");
    let run;
    {
        let mut store = StateStore::open(&path).unwrap();
        run = store.begin_run(bcq_state::RunKind::Full).unwrap();
        store.set_run_sync_job(run, "exec-1").unwrap();
        store
            .commit_acks(&c, run, &[ack("c-1", 1), ack("c-2", 3)])
            .unwrap();
        store.advance_cursor(&c, at(42, 123)).unwrap();
        store.mark_reconciled(&c, at(43, 0)).unwrap();
        store.record_failure(run, "c-3", "rejected").unwrap();
        store
            .finish_run(
                run,
                bcq_state::RunOutcome::Failed,
                RunCounts {
                    added: 2,
                    failed: 1,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let store = StateStore::open(&path).unwrap();
    assert_eq!(store.hash_of("c-2").unwrap(), Some(hash("c-2", 3)));
    assert_eq!(store.count_documents(Some(&c)).unwrap(), 2);
    assert_eq!(
        store.unit(&c).unwrap(),
        UnitState {
            cursor: Some(at(42, 123)),
            last_reconciled_at: Some(at(43, 0))
        }
    );
    let r = &store.recent_runs(1).unwrap()[0];
    assert_eq!((r.id, r.outcome.as_str()), (run, "failed"));
    assert_eq!(r.counts.added, 2);
    assert_eq!(r.sync_job_id.as_deref(), Some("exec-1"));
    assert_eq!(
        store.failures(run).unwrap(),
        vec![("c-3".into(), "rejected".into())]
    );
}

/// Schema version 1 exactly as released; frozen here so that an edit of
/// `MIGRATIONS[0]` (which would break existing files) fails this test.
const V1_SQL: &str = "
    CREATE TABLE units (
        unit TEXT PRIMARY KEY, environment TEXT NOT NULL, company_id TEXT NOT NULL,
        entity TEXT NOT NULL, cursor TEXT, last_reconciled_at TEXT, updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, ended_at TEXT,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
        mode TEXT NOT NULL,
        added INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0, unchanged INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE documents (
        doc_id TEXT PRIMARY KEY CHECK (length(doc_id) > 0),
        unit TEXT NOT NULL REFERENCES units (unit),
        bc_id TEXT NOT NULL,
        content_hash BLOB NOT NULL CHECK (length(content_hash) = 32),
        pushed_at TEXT NOT NULL,
        run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL
    ) WITHOUT ROWID;
    CREATE INDEX documents_by_unit ON documents (unit);
    PRAGMA user_version = 1;
";

#[test]
fn a_v1_file_is_migrated_with_its_data_kept() {
    let dir = TempDir::new("migrate");
    let path = dir.join("state.db");
    let c = unit("customers");
    {
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch(V1_SQL).unwrap();
        raw.execute(
            "INSERT INTO units VALUES (?1, ?2, ?3, ?4, '2024-05-01T00:00:10.500000000Z', NULL,
                                       '2024-05-01T00:00:11.000000000Z')",
            (c.to_string(), &c.environment, &c.company_id, &c.entity),
        )
        .unwrap();
        raw.execute_batch(
            "INSERT INTO runs (id, started_at, ended_at, outcome, mode, added)
             VALUES (7, '2024-05-01T00:00:00.000000000Z', '2024-05-01T00:01:00.000000000Z',
                     'succeeded', 'full', 1);",
        )
        .unwrap();
        raw.execute(
            "INSERT INTO documents VALUES ('c-1', ?1, 'bc-c-1', ?2,
                                           '2024-05-01T00:00:30.000000000Z', 7)",
            (c.to_string(), hash("c-1", 1)),
        )
        .unwrap();
    }

    let mut store = StateStore::open(&path).unwrap();

    assert_eq!(
        store.schema_version().unwrap(),
        bcq_state::schema::CURRENT_VERSION
    );
    assert!(
        store.company("production", "x").unwrap().is_none(),
        "v3 table exists"
    );
    assert_eq!(store.hash_of("c-1").unwrap(), Some(hash("c-1", 1)));
    assert_eq!(store.unit(&c).unwrap().cursor, Some(at(10, 500)));
    let runs = store.recent_runs(10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (
            runs[0].id,
            runs[0].counts.added,
            runs[0].sync_job_id.clone()
        ),
        (7, 1, None)
    );
    // What v2 added works on the migrated file.
    store.set_run_sync_job(7, "exec-7").unwrap();
    store.record_failure(7, "c-2", "rejected").unwrap();
    assert_eq!(store.failures(7).unwrap().len(), 1);
    assert_eq!(
        store.recent_runs(1).unwrap()[0].sync_job_id.as_deref(),
        Some("exec-7")
    );
    // New run ids continue after the migrated ones.
    assert_eq!(store.begin_run(bcq_state::RunKind::Incremental).unwrap(), 8);
    drop(store);
    // Opening again finds nothing to migrate.
    assert_eq!(
        StateStore::open(&path).unwrap().failures(7).unwrap().len(),
        1
    );
}

#[test]
fn a_file_from_a_newer_bcq_is_refused_and_left_untouched() {
    let dir = TempDir::new("newer");
    let path = dir.join("state.db");
    {
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();

    let err = StateStore::open(&path).unwrap_err();

    assert!(
        matches!(err, StateError::SchemaTooNew { found: 99, known, .. } if known == CURRENT_VERSION),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "state in {} has schema version 99, this bcq knows up to {CURRENT_VERSION}; upgrade bcq",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "file unchanged");
    assert!(
        !dir.join("state.db-wal").exists(),
        "journal mode not switched"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_an_open_error_naming_it() {
    let dir = TempDir::new("garbage");
    let path = dir.join("state.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = StateStore::open(&path).unwrap_err();
    assert!(matches!(err, StateError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_directory_that_cannot_be_created_is_a_create_dir_error() {
    let dir = TempDir::new("blocked");
    let file = dir.join("plain-file");
    std::fs::write(&file, b"").unwrap();
    let err = StateStore::open(&file.join("sub/state.db")).unwrap_err();
    assert!(matches!(err, StateError::CreateDir { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot create state directory "),
        "{err}"
    );
}

#[test]
fn a_second_store_on_the_same_file_sees_commits() {
    // `bcq status` reads while a sync writes: WAL lets both proceed.
    let dir = TempDir::new("two");
    let path = dir.join("state.db");
    let mut writer = StateStore::open(&path).unwrap();
    let reader = StateStore::open(&path).unwrap();
    let run = writer.begin_run(bcq_state::RunKind::Full).unwrap();
    writer
        .commit_acks(&unit("items"), run, &[ack("i-1", 1)])
        .unwrap();
    assert_eq!(reader.hash_of("i-1").unwrap(), Some(hash("i-1", 1)));
    assert_eq!(reader.recent_runs(1).unwrap()[0].id, run);
}

#[test]
fn only_one_process_at_a_time_holds_the_sync_lock() {
    let dir = TempDir::new("lock");
    let path = dir.join("state.db");
    let first = StateStore::open(&path).unwrap();
    let second = StateStore::open(&path).unwrap();

    let held = first.lock_for_sync().unwrap();
    assert_eq!(held.path(), dir.join("state.db.lock"));
    let err = second.lock_for_sync().unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("in use by another bcq process"),
        "{err}"
    );

    drop(held);
    let _again = second.lock_for_sync().unwrap();
    // In-memory stores have nothing to share.
    let mem = StateStore::open_in_memory().unwrap();
    let _a = mem.lock_for_sync().unwrap();
    let _b = mem.lock_for_sync().unwrap();
}

#[test]
fn a_malformed_stored_cursor_is_reported_not_guessed() {
    let dir = TempDir::new("corrupt");
    let path = dir.join("state.db");
    let c = unit("customers");
    let mut store = StateStore::open(&path).unwrap();
    store.advance_cursor(&c, at(1, 0)).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE units SET cursor = 'last tuesday'", [])
        .unwrap();

    let err = store.unit(&c).unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("cursor of unit production/") && msg.contains("last tuesday"),
        "{msg}"
    );
    // Advancing over a corrupt cursor is refused too, not silently reset.
    let err = store.advance_cursor(&c, at(2, 0)).unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
}

#[test]
fn the_store_can_move_to_another_thread() {
    // The engine keeps it in an `Arc<Mutex<_>>` shared by async tasks.
    fn assert_send<T: Send + 'static>() {}
    assert_send::<StateStore>();
    let dir = TempDir::new("thread");
    let path = dir.join("state.db");
    let mut store = StateStore::open(&path).unwrap();
    let run = std::thread::spawn(move || store.begin_run(bcq_state::RunKind::Full).unwrap())
        .join()
        .unwrap();
    assert_eq!(
        StateStore::open(&path).unwrap().recent_runs(1).unwrap()[0].id,
        run
    );
}
