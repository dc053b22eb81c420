//! End-to-end: the real `bcq` binary against both emulators.

mod common;

use common::{World, bc, q_fast};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

fn attr<'a>(d: &'a Value, name: &str) -> &'a Value {
    &d["attributes"][name]
}

fn by_id(docs: &[Value]) -> HashMap<String, Value> {
    docs.iter()
        .map(|d| (d["id"].as_str().unwrap().to_string(), d.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_of_25000_invoices_over_several_pages() {
    let w = World::start(bc(25_000), q_fast()).await;
    let run = w
        .bcq(&["sync", "--no-progress"], &[("BC_PAGE_SIZE", "10000")])
        .await;
    run.assert_ok();
    assert!(
        run.stdout.contains("added           25000"),
        "{}",
        run.stdout
    );

    let invoices = w.bc_invoices().await;
    assert_eq!(invoices.len(), 25_000);
    let docs = w.q_documents().await;
    assert_eq!(docs.len(), 25_000, "Q must hold exactly BC's invoices");
    let docs = by_id(&docs);
    let company = w.company_id().to_ascii_lowercase();
    for (i, inv) in invoices.iter().enumerate() {
        let id = inv["id"].as_str().unwrap().to_ascii_lowercase();
        let doc_id = format!("bc/production/{company}/salesInvoices/{id}");
        let d = docs
            .get(&doc_id)
            .unwrap_or_else(|| panic!("{doc_id} missing from Q"));
        let number = inv["number"].as_str().unwrap();
        let customer = inv["customerName"].as_str().unwrap();
        let status = inv["status"].as_str().unwrap();
        let draft = matches!(status, "Draft" | "In_x0020_Review");
        let expected_title = format!(
            "{}Sales Invoice {number} · {customer}",
            if draft { "Draft " } else { "" }
        );
        assert_eq!(
            d["title"].as_str().unwrap(),
            expected_title
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        );
        let uri = attr(d, "_source_uri").as_str().unwrap();
        assert!(
            uri.contains(&format!("&page={}&", if draft { 43 } else { 132 })),
            "{uri}"
        );
        assert!(
            uri.starts_with("https://businesscentral.dynamics.com/"),
            "{uri}"
        );
        assert_eq!(attr(d, "_category"), "Sales Invoices");
        assert_eq!(d["status"], "INDEXED", "{doc_id}: {:?}", d["error"]);
        if i % 50 == 0 {
            // Bodies: every line with its description and amount.
            let text = d["text"].as_str().unwrap();
            assert!(text.contains(number));
            for line in inv["salesInvoiceLines"].as_array().unwrap() {
                if let Some(desc) = line["description"].as_str().filter(|s| !s.is_empty()) {
                    let shown: String = desc.chars().filter(|c| *c != '|').take(20).collect();
                    assert!(
                        text.contains(shown.trim()),
                        "{doc_id}: line '{desc}' missing"
                    );
                }
            }
            let total = inv["totalAmountIncludingTax"].as_f64().unwrap();
            assert_eq!(
                attr(d, "bc_amount_incl_tax").as_f64().unwrap(),
                total.round()
            );
        }
    }
    // The job was stopped and Q counted each document once.
    let jobs = w.q_jobs().await;
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_ne!(jobs[0]["status"], "SYNCING");

    // A second run with nothing changed pushes nothing.
    let again = w
        .bcq(&["sync", "--no-progress"], &[("BC_PAGE_SIZE", "10000")])
        .await;
    again.assert_ok();
    assert!(
        again.stdout.contains("added               0"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("updated             0"),
        "{}",
        again.stdout
    );
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_both_sides_end_with_everything_synced() {
    let mut b = bc(2_000);
    b.token_lifetime = Duration::from_secs(3);
    b.latency = Duration::from_millis(150);
    let w = World::start(b, q_fast()).await;
    let bc_base = w.emu.bc.base_url();
    let q_base = w.emu.q.endpoint();
    w.fault(&bc_base, json!({"path_contains": "salesInvoices", "kind": "status", "status": 429, "retry_after_secs": 1, "count": 6})).await;
    w.fault(&bc_base, json!({"path_contains": "salesInvoices", "kind": "status", "status": 503, "retry_after_secs": 1, "count": 2})).await;
    w.fault(
        &q_base,
        json!({"operation": "BatchPutDocument", "kind": "throttle_burst", "count": 8}),
    )
    .await;
    w.fault(&q_base, json!({"operation": "BatchPutDocument", "kind": "partial_failure", "count": 3, "fail_documents": 2})).await;

    let run = w
        .bcq(&["sync", "--no-progress"], &[("BC_PAGE_SIZE", "100")])
        .await;
    run.assert_ok();
    let docs = w.q_documents().await;
    assert_eq!(docs.len(), 2_000, "{}", run.stdout);
    assert!(docs.iter().all(|d| d["status"] == "INDEXED"));

    let counts: Value = reqwest::get(format!("{bc_base}/_sim/counts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens = counts["by_route"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.contains("token"))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum::<u64>();
    assert!(
        tokens >= 2,
        "the 3 s token must have been renewed mid-run: {counts}"
    );
    assert!(run.stdout.contains("throttled"), "{}", run.stdout);
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_secret_unknown_company_and_wrong_environment_fail_clearly() {
    let w = World::start(bc(20), q_fast()).await;

    let secret = "wrong-secret-value-7e3b";
    let r = w
        .bcq(&["sync", "--no-progress"], &[("DYNAMICS_SECRET", secret)])
        .await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("DYNAMICS_SECRET"), "{}", r.both());
    assert!(r.stderr.contains("AADSTS7000215"), "{}", r.both());
    assert!(
        !r.both().contains(secret),
        "the secret leaked: {}",
        r.both()
    );

    let r = w
        .bcq(
            &["sync", "--no-progress"],
            &[(
                "DYNAMICS_COMPANY_ID",
                "00000000-1111-2222-3333-444444444444",
            )],
        )
        .await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("company 00000000-1111-2222-3333-444444444444 does not exist"),
        "{}",
        r.both()
    );
    assert!(r.stderr.contains("DYNAMICS_COMPANY_ID"), "{}", r.both());

    let r = w
        .bcq(&["sync", "--no-progress"], &[("BC_ENVIRONMENT", "nope")])
        .await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("'nope' does not exist"), "{}", r.both());

    // No sync job was left running by any of them.
    let jobs = w.q_jobs().await;
    assert!(
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] != "SYNCING"),
        "{jobs}"
    );
    // A configuration error is exit code 2 and names the variable.
    let r = w.bcq(&["sync"], &[("DYNAMICS_COMPANY_ID", "CRONUS")]).await;
    assert_eq!(r.code, 2, "{}", r.both());
    assert!(
        r.stderr.contains("DYNAMICS_COMPANY_ID is 'CRONUS'"),
        "{}",
        r.both()
    );
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_sync_job_is_a_clear_conflict_or_is_waited_for() {
    let w = World::start(bc(30), q_fast()).await;
    let qc = w.emu.q.config().clone();
    let client = w.q_sdk().await;
    let other_id = common::start_q_job(&client, &qc).await;

    let r = w.bcq(&["sync", "--no-progress"], &[]).await;
    assert_eq!(r.code, 1, "{}", r.both());
    assert!(
        r.stderr.contains("another sync job is running"),
        "{}",
        r.both()
    );
    assert!(r.stderr.contains(&other_id), "{}", r.both());

    // With --wait-for-job, bcq waits for the other job to end, then syncs.
    let stopper = {
        let client = client.clone();
        let qc = qc.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            common::stop_q_job(&client, &qc).await;
        })
    };
    let r = w
        .bcq(&["sync", "--no-progress", "--wait-for-job", "60"], &[])
        .await;
    stopper.await.unwrap();
    r.assert_ok();
    assert_eq!(w.q_documents().await.len(), 30);
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdfs_are_indexed_beside_their_invoices() {
    let w = World::start(bc(25), q_fast()).await;
    let r = w
        .bcq(&["sync", "--no-progress", "--include-pdf"], &[])
        .await;
    r.assert_ok();
    let docs = w.q_documents().await;
    assert_eq!(docs.len(), 50, "{}", r.stdout);
    let by = by_id(&docs);
    for inv in w.bc_invoices().await {
        let id = inv["id"].as_str().unwrap().to_ascii_lowercase();
        let pdf_id = format!(
            "bc/production/{}/salesInvoices/{id}/pdf",
            w.company_id().to_ascii_lowercase()
        );
        let pdf = by
            .get(&pdf_id)
            .unwrap_or_else(|| panic!("{pdf_id} missing"));
        assert_eq!(pdf["contentType"], "PDF");
        assert_eq!(pdf["status"], "INDEXED", "{:?}", pdf["error"]);
        assert!(
            pdf["text"]
                .as_str()
                .unwrap()
                .contains(inv["number"].as_str().unwrap())
        );
        assert_eq!(attr(pdf, "bc_kind"), "pdf");
    }
    w.emu.stop().await;
}

/// The demo runs end to end into each destination, and its question shows
/// the access rules at work: Finance's member sees company A's invoices
/// only, the CFO both companies', a user no rule names nothing.
#[test]
fn demo_runs_end_to_end() {
    for (destination, name) in [
        ("qbusiness", "Amazon Q Business"),
        ("bedrock-kb", "Amazon Bedrock"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcq"))
            .args([
                "demo",
                "--invoices",
                "40",
                "--no-progress",
                "--destination",
                destination,
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("{name} now holds 80 documents")),
            "{stdout}"
        );
        let asked = |user: &str| -> Vec<String> {
            let start = stdout
                .find(&format!("  {user}: "))
                .unwrap_or_else(|| panic!("{user}: {stdout}"));
            stdout[start..]
                .lines()
                .skip(1)
                .take_while(|l| l.starts_with("    "))
                .filter(|l| l.contains("Sales Invoice"))
                .map(str::to_string)
                .collect()
        };
        let ap = asked("ap@contoso.example");
        assert!(
            !ap.is_empty() && ap.iter().all(|l| l.contains("(CRONUS USA, Inc.)")),
            "{destination}: {ap:?}"
        );
        assert!(!asked("cfo@contoso.example").is_empty(), "{stdout}");
        assert!(
            stdout.contains("  guest@contoso.example: 0 cited records"),
            "{stdout}"
        );
        if destination == "bedrock-kb" {
            assert!(
                stdout.contains("      https://businesscentral.dynamics.com/"),
                "{stdout}"
            );
        }
    }
}
