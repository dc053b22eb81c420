//! Throughput of acknowledgements on a real file (WAL, synchronous=NORMAL)
//! and in PostgreSQL (the local server of `BCQ_TEST_PG_URL`, a schema of
//! its own).
//!
//! Run with `cargo bench -p bcq-state`. Reports acks/s for `commit_acks`
//! batches of 10 (one BatchPutDocument response: Q takes at most 10
//! documents a call), 250 (the sync engine's group) and 1000, plus the
//! batch hash lookup the engine does per BC page. Plain `Instant` timing:
//! a rough figure for sizing, not a statistical benchmark.

use std::time::Instant;

use bcq_state::{Ack, StateStore, UnitKey, content_hash};

fn acks(start: u64, n: u64) -> Vec<Ack> {
    (start..start + n)
        .map(|i| Ack {
            doc_id: format!("production/salesInvoices/{i:08}.pdf"),
            bc_id: format!("{i:08x}-0000-0000-0000-000000000000"),
            content_hash: content_hash(&i.to_le_bytes()),
        })
        .collect()
}

fn bench_commit(backend: &str, mut store: StateStore, batch: u64, total: u64) {
    let unit = UnitKey::new(
        "production",
        "5d115c9c-44e3-ea11-bb43-000d3a2feca1",
        "salesInvoices",
    );
    let run = store
        .begin_run(bcq_state::RunKind::Full)
        .expect("begin run");
    let batches: Vec<Vec<Ack>> = (0..total / batch).map(|b| acks(b * batch, batch)).collect();

    let started = Instant::now();
    for b in &batches {
        store.commit_acks(&unit, run, b).expect("commit acks");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{backend:<10} commit_acks batch {batch:>4}: {total} acks in {secs:.3} s = {:>9.0} acks/s ({:.0} transactions/s)",
        total as f64 / secs,
        (total / batch) as f64 / secs
    );

    let ids: Vec<String> = batches.iter().flatten().map(|a| a.doc_id.clone()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let started = Instant::now();
    let found = store.hashes(&refs).expect("hashes");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(found.len() as u64, total);
    println!(
        "{backend:<10} hashes over {total} ids: {secs:.3} s = {:>9.0} lookups/s",
        total as f64 / secs
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("bcq-state-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create bench dir");
    for (batch, total) in [(10, 20_000), (250, 100_000), (1000, 200_000)] {
        let file =
            StateStore::open(&dir.join(format!("bench-{batch}.db"))).expect("open state file");
        bench_commit("SQLite", file, batch, total);
        let schema = bcq_state::testing::PgSchema::new();
        let pg = StateStore::open_postgres(&schema.target()).expect("open PostgreSQL");
        bench_commit("PostgreSQL", pg, batch, total);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
