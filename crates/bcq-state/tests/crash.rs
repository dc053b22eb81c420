//! A process killed with SIGKILL between (and inside) transactions leaves a
//! file that opens and holds exactly the committed transactions.
//!
//! The child is this test binary itself, started with `CHILD_ENV` set so
//! that only `child_entry` does anything in it. It writes through the real
//! store on a real file, reports each commit on stdout, and the parent kills
//! it with SIGKILL (`Child::kill` on unix) — no chance to roll back, flush
//! or checkpoint.

#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use bcq_state::{Ack, StateStore};
use rusqlite::Connection;
use support::{TempDir, ack, at, hash, unit};

const CHILD_ENV: &str = "BCQ_STATE_CRASH_CHILD";
const FILE_ENV: &str = "BCQ_STATE_CRASH_FILE";
/// Documents per acknowledged batch.
const BATCH: u32 = 4;
/// Committed batches before the child opens a transaction it never ends.
const EXACT_BATCHES: u32 = 25;

fn batch(i: u32) -> Vec<Ack> {
    (0..BATCH)
        .map(|j| ack(&format!("doc-{i}-{j}"), i))
        .collect()
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// The child's work; a no-op when this binary runs as a normal test.
#[test]
fn child_entry() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    // The harness printed "test child_entry ... " without a newline; end
    // that line so every report below is a line of its own.
    say("");
    let path = std::env::var(FILE_ENV).unwrap();
    let mut store = StateStore::open(Path::new(&path)).unwrap();
    let unit = unit("salesInvoices");
    let _lock = store.lock_for_sync().unwrap();
    let run = store.begin_run(bcq_state::RunKind::Incremental).unwrap();
    match mode.as_str() {
        // Commit EXACT_BATCHES (acks, then cursor), then start a large
        // transaction that spills uncommitted pages into the WAL, and wait
        // to be killed inside it.
        "exact" => {
            for i in 0..EXACT_BATCHES {
                store.commit_acks(&unit, run, &batch(i)).unwrap();
                store.advance_cursor(&unit, at(i.into(), 0)).unwrap();
            }
            let wal = std::fs::metadata(format!("{path}-wal")).unwrap().len();
            say(&format!("wal {wal}"));
            let raw = Connection::open(&path).unwrap();
            // A tiny page cache forces SQLite to write dirty pages of the
            // open transaction to the WAL before commit.
            raw.execute_batch("PRAGMA cache_size = 8; BEGIN IMMEDIATE;")
                .unwrap();
            for k in 0..3_000 {
                raw.execute(
                    "INSERT INTO documents VALUES (?1, ?2, ?3, ?4, 'x', NULL)",
                    (
                        format!("uncommitted-{k}"),
                        unit.to_string(),
                        "b".repeat(500),
                        [7u8; 32],
                    ),
                )
                .unwrap();
            }
            raw.execute(
                "UPDATE units SET cursor = '2099-01-01T00:00:00.000000000Z'",
                [],
            )
            .unwrap();
            say("inside-transaction");
            // Bounded, so an orphaned child (parent died) ends by itself.
            std::thread::sleep(std::time::Duration::from_secs(120));
        }
        // Commit as fast as possible, reporting each commit, until killed.
        "race" => {
            for i in 0..100_000 {
                store.commit_acks(&unit, run, &batch(i)).unwrap();
                say(&format!("acked {i}"));
                store.advance_cursor(&unit, at(i.into(), 0)).unwrap();
                say(&format!("cursor {i}"));
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// Starts the child in `mode` on `path`, reads its stdout until `stop_at`,
/// SIGKILLs it and returns the lines read.
fn run_child_until(mode: &str, path: &Path, stop_at: &str) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env(FILE_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line == stop_at;
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        lines.last().map(String::as_str) == Some(stop_at),
        "child ended before {stop_at:?} ({status}); output: {lines:?}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "child was killed by SIGKILL");
    lines
}

fn integrity_ok(path: &Path) {
    let raw = Connection::open(path).unwrap();
    let check: String = raw
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn sigkill_inside_a_transaction_keeps_exactly_the_committed_ones() {
    let dir = TempDir::new("crash-exact");
    let path = dir.join("state.db");
    let lines = run_child_until("exact", &path, "inside-transaction");

    // The kill really happened with uncommitted frames in the WAL (more
    // than 1 MB appended after the last commit), so recovery had to ignore
    // them rather than there being nothing to ignore.
    let committed_wal: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("wal "))
        .expect("child reports its wal size")
        .parse()
        .unwrap();
    let wal_at_kill = std::fs::metadata(dir.join("state.db-wal")).unwrap().len();
    assert!(
        wal_at_kill > committed_wal + 1_000_000,
        "wal grew from {committed_wal} to {wal_at_kill} bytes"
    );

    integrity_ok(&path);
    let mut store = StateStore::open(&path).unwrap();
    let unit = unit("salesInvoices");
    assert_eq!(
        store.count_documents(None).unwrap(),
        u64::from(EXACT_BATCHES * BATCH),
        "no uncommitted row survived"
    );
    for i in 0..EXACT_BATCHES {
        for a in batch(i) {
            assert_eq!(store.hash_of(&a.doc_id).unwrap(), Some(hash(&a.doc_id, i)));
        }
    }
    assert_eq!(
        store.unit(&unit).unwrap().cursor,
        Some(at((EXACT_BATCHES - 1).into(), 0)),
        "the last committed cursor, not the uncommitted one"
    );
    // The killed child held the sync lock; its death released it.
    let _lock = store.lock_for_sync().unwrap();
    // The killed run is still `running` until the next start-up says so.
    assert_eq!(store.mark_interrupted_runs().unwrap(), 1);
}

#[test]
fn sigkill_between_commits_never_leaves_a_cursor_past_its_acks() {
    let dir = TempDir::new("crash-race");
    let path = dir.join("state.db");
    let reported = 30;
    run_child_until("race", &path, &format!("cursor {reported}"));

    integrity_ok(&path);
    let store = StateStore::open(&path).unwrap();
    let unit = unit("salesInvoices");
    // Batches are whole: the store holds batches 0..m for some m, each
    // complete, and nothing else.
    let docs = store.count_documents(None).unwrap();
    assert_eq!(docs % u64::from(BATCH), 0, "no partial batch");
    let m = u32::try_from(docs / u64::from(BATCH)).unwrap();
    assert!(m > reported, "every reported commit survived ({m} batches)");
    for i in 0..m {
        for a in batch(i) {
            assert_eq!(store.hash_of(&a.doc_id).unwrap(), Some(hash(&a.doc_id, i)));
        }
    }
    // The cursor is the one of batch m-1 (killed after its cursor commit)
    // or m-2 (killed between acks and cursor): never past acknowledged data.
    let cursor = store.unit(&unit).unwrap().cursor.unwrap();
    assert!(cursor >= at(reported.into(), 0), "reported cursor survived");
    assert!(
        cursor == at((m - 1).into(), 0) || cursor == at((m - 2).into(), 0),
        "cursor {cursor} with {m} acknowledged batches"
    );
}
