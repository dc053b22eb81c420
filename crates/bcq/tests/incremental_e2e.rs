//! End-to-end: incremental sync, deletions, the deletion guard,
//! reconciliation and crash-safe resume, through the real binary.

mod common;

use common::{World, bc, q_fast};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::time::Duration;

fn put_count(counts: &Value) -> u64 {
    counts["documents_put"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_percent_changed_pushes_exactly_those() {
    let w = World::start(bc(2_000), q_fast()).await;
    w.bcq(&["sync", "--no-progress"], &[]).await.assert_ok();
    let invoices = w.bc_invoices().await;
    let before = put_count(&w.q_counts().await);
    assert_eq!(before, 2_000);

    let changed: Vec<&Value> = invoices.iter().step_by(100).collect();
    assert_eq!(changed.len(), 20);
    for (i, inv) in changed.iter().enumerate() {
        w.bc_update(
            "salesInvoices",
            inv["id"].as_str().unwrap(),
            json!({"externalDocumentNumber": format!("CHANGED-{i}")}),
        )
        .await;
    }
    let run = w.bcq(&["sync", "--no-progress"], &[]).await;
    run.assert_ok();
    assert!(
        run.stdout.contains("updated            20"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("added               0"),
        "{}",
        run.stdout
    );
    assert_eq!(
        put_count(&w.q_counts().await) - before,
        20,
        "exactly the changed invoices are pushed"
    );
    let docs = w.q_documents().await;
    for (i, inv) in changed.iter().enumerate() {
        let id = w.invoice_doc_id(inv["id"].as_str().unwrap());
        let d = docs.iter().find(|d| d["id"] == id.as_str()).unwrap();
        assert!(
            d["text"]
                .as_str()
                .unwrap()
                .contains(&format!("CHANGED-{i}")),
            "{id} not updated"
        );
    }
    w.assert_q_equals_bc().await;

    // Nothing changed: nothing pushed, one sync job, one BC request.
    let bc_before: Value = reqwest::get(format!("{}/_sim/counts", w.emu.bc.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = w.bcq(&["sync", "--no-progress"], &[]).await;
    run.assert_ok();
    let bc_after: Value = reqwest::get(format!("{}/_sim/counts", w.emu.bc.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_requests = |c: &Value| -> u64 {
        c["by_route"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !k.contains("token"))
            .map(|(_, v)| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        api_requests(&bc_after) - api_requests(&bc_before),
        1,
        "{bc_before}\n{bc_after}"
    );
    assert_eq!(put_count(&w.q_counts().await) - before, 20);
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_reach_q_and_the_guard_holds() {
    let w = World::start(bc(200), q_fast()).await;
    w.bcq(&["sync", "--no-progress"], &[]).await.assert_ok();
    let invoices = w.bc_invoices().await;

    for inv in invoices.iter().take(5) {
        w.bc_delete("salesInvoices", inv["id"].as_str().unwrap())
            .await;
    }
    let run = w.bcq(&["sync", "--no-progress", "--reconcile"], &[]).await;
    run.assert_ok();
    assert!(
        run.stdout.contains("deleted             5"),
        "{}",
        run.stdout
    );
    w.assert_q_equals_bc().await;

    // 40 of 195 (20%) is more than the 10% guard: nothing is deleted.
    for inv in invoices.iter().skip(5).take(40) {
        w.bc_delete("salesInvoices", inv["id"].as_str().unwrap())
            .await;
    }
    let run = w.bcq(&["sync", "--no-progress", "--reconcile"], &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(run.stdout.contains("deletion guard"), "{}", run.stdout);
    assert!(run.stdout.contains("--allow-mass-delete"), "{}", run.stdout);
    assert_eq!(
        w.q_documents().await.len(),
        195,
        "the guard must delete nothing"
    );

    let run = w
        .bcq(
            &[
                "sync",
                "--no-progress",
                "--reconcile",
                "--allow-mass-delete",
            ],
            &[],
        )
        .await;
    run.assert_ok();
    assert!(
        run.stdout.contains("deleted            40"),
        "{}",
        run.stdout
    );
    w.assert_q_equals_bc().await;
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_only_edit_is_caught_by_reconciliation() {
    let w = World::start(bc(50), q_fast()).await;
    w.bcq(&["sync", "--no-progress"], &[]).await.assert_ok();
    let inv = w.bc_invoices().await[7].clone();
    let seq = inv["salesInvoiceLines"][0]["sequence"].as_i64().unwrap();
    w.bc_update_line(
        inv["id"].as_str().unwrap(),
        seq,
        json!({"description": "Edited line only"}),
    )
    .await;

    // The header's timestamp did not move: an incremental run cannot see it.
    let run = w.bcq(&["sync", "--no-progress"], &[]).await;
    run.assert_ok();
    assert!(
        run.stdout.contains("updated             0"),
        "{}",
        run.stdout
    );

    let run = w.bcq(&["sync", "--no-progress", "--reconcile"], &[]).await;
    run.assert_ok();
    assert!(
        run.stdout.contains("updated             1"),
        "{}",
        run.stdout
    );
    let id = w.invoice_doc_id(inv["id"].as_str().unwrap());
    let docs = w.q_documents().await;
    let d = docs.iter().find(|d| d["id"] == id.as_str()).unwrap();
    assert!(d["text"].as_str().unwrap().contains("Edited line only"));
    w.emu.stop().await;
}

/// Kills the real binary with SIGKILL at a random moment of a run, makes
/// more changes in BC, and checks that the next run converges to Q = BC and
/// stops the sync job the killed run left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_then_the_next_run_converges() {
    let mut killed_mid_run = 0;
    for seed in [1u64, 2, 3, 4] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut q = q_fast();
        // Slow enough that a kill lands during reads, pushes and commits.
        q.rates.insert("BatchPutDocument".into(), 100.0);
        let mut b = bc(3_000);
        b.latency = Duration::from_millis(30);
        b.latency_per_record = Duration::from_micros(300);
        let w = World::start(b, q).await;
        let first_run_completes = seed % 2 == 0;
        if first_run_completes {
            w.bcq(&["sync", "--no-progress"], &[("BC_PAGE_SIZE", "200")])
                .await
                .assert_ok();
            let invoices = w.bc_invoices().await;
            for inv in invoices.iter().step_by(37) {
                w.bc_update(
                    "salesInvoices",
                    inv["id"].as_str().unwrap(),
                    json!({"externalDocumentNumber": format!("S{seed}")}),
                )
                .await;
            }
            for inv in invoices.iter().skip(3).step_by(300) {
                w.bc_delete("salesInvoices", inv["id"].as_str().unwrap())
                    .await;
            }
        }
        let mut child = w.command(&["sync", "--no-progress", "--reconcile"]);
        child.env("BC_PAGE_SIZE", "200");
        child
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = child.spawn().unwrap();
        // A first run pushes 3,000 documents (~3 s); a reconciling run after
        // a clean sync reads everything (~1 s) and pushes the ~100 changes.
        let window = if first_run_completes {
            100..900
        } else {
            150..2_500
        };
        let after = Duration::from_millis(rng.gen_range(window));
        tokio::time::sleep(after).await;
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        // More changes while bcq is down.
        let invoices = w.bc_invoices().await;
        w.bc_update(
            "salesInvoices",
            invoices[11]["id"].as_str().unwrap(),
            json!({"externalDocumentNumber": "AFTER-KILL"}),
        )
        .await;

        let run = w
            .bcq(
                &["sync", "--no-progress", "--reconcile"],
                &[("BC_PAGE_SIZE", "200")],
            )
            .await;
        assert_eq!(
            run.code,
            0,
            "seed {seed}, killed after {after:?}:\n{}",
            run.both()
        );
        w.assert_q_equals_bc().await;
        let jobs = w.q_jobs().await;
        assert!(
            jobs["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|j| j["status"] != "SYNCING"),
            "seed {seed}: a sync job was left running: {jobs}"
        );
        w.emu.stop().await;
    }
    assert!(
        killed_mid_run >= 3,
        "only {killed_mid_run} of 4 kills landed during a run"
    );
}

/// Acknowledgements are committed in groups; a run that stops on a fatal
/// Q error still records what Q accepted before it, so the next run pushes
/// only the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_q_accepted_before_a_fatal_error_is_not_pushed_again() {
    let w = World::start(bc(600), q_fast()).await;
    let q_base = w.emu.q.endpoint();
    // Every 8th BatchPutDocument is refused for good (403: not retried,
    // fatal for the run): several batches are accepted before it, fewer
    // than one group of acknowledgements.
    w.fault(
        &q_base,
        json!({"operation": "BatchPutDocument", "kind": "status", "status": 403, "every": 8, "count": 1000}),
    )
    .await;
    let first = w.bcq(&["sync", "--no-progress"], &[]).await;
    assert_eq!(first.code, 1, "{}", first.both());
    let accepted = w.q_documents().await.len() as u64;
    assert!(
        (10..600).contains(&accepted),
        "some but not all documents were accepted before the failure: {accepted}\n{}",
        first.both()
    );

    w.clear_faults(&q_base).await;
    let before = put_count(&w.q_counts().await);
    w.bcq(&["sync", "--no-progress"], &[]).await.assert_ok();
    let pushed = put_count(&w.q_counts().await) - before;
    assert_eq!(
        pushed,
        600 - accepted,
        "the second run pushes exactly what the first did not get accepted"
    );
    w.assert_q_equals_bc().await;
    w.emu.stop().await;
}
