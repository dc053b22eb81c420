//! The sync job state machine.

mod common;

use common::*;
use serde_json::{Value, json};

async fn start_job(sim: &q_sim::QSim) -> Answer {
    call(
        sim,
        "POST",
        &format!("{}/startsync", ds_path(sim)),
        "",
        None,
    )
    .await
}
async fn stop_job(sim: &q_sim::QSim) -> Answer {
    call(sim, "POST", &format!("{}/stopsync", ds_path(sim)), "", None).await
}
async fn history(sim: &q_sim::QSim, query: &str) -> Value {
    let a = call(
        sim,
        "GET",
        &format!("{}/syncjobs", ds_path(sim)),
        query,
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

#[tokio::test]
async fn start_conflict_stop_and_metrics_as_strings() {
    let sim = start(cfg()).await;
    let a = start_job(&sim).await;
    assert_eq!(a.status, 200);
    let exec = a.body["executionId"].as_str().unwrap().to_string();
    assert_eq!(exec.len(), 36);
    let again = start_job(&sim).await;
    assert_eq!(
        (again.status, again.body["__type"].as_str()),
        (409, Some("ConflictException"))
    );
    assert_eq!(again.body["resourceType"], "DataSource");

    // Two puts of the same id count once; a re-put of an older doc counts as modified.
    assert_eq!(put(&sim, vec![doc("pre", "v1")], None).await.status, 200);
    settle(&sim).await;
    let r = put(
        &sim,
        vec![doc("a", "1"), doc("b", "2"), doc("pre", "v2")],
        Some(&exec),
    )
    .await;
    assert_eq!(r.body["failedDocuments"], json!([]));
    let r = put(&sim, vec![doc("a", "1 again")], Some(&exec)).await;
    assert_eq!(r.body["failedDocuments"], json!([]));
    let h = history(&sim, "").await;
    assert_eq!(h["history"][0]["status"], "SYNCING");
    assert!(h["history"][0].get("endTime").is_none());

    sim.control().set_indexing_paused(true);
    assert_eq!(stop_job(&sim).await.status, 200);
    let h = history(&sim, "").await;
    assert_eq!(h["history"][0]["status"], "SYNCING_INDEXING");
    // Still running while indexing: a new Start conflicts.
    assert_eq!(start_job(&sim).await.status, 409);
    // Put after stop: every document fails with the model's error code.
    let r = put(&sim, vec![doc("x", "1"), doc("y", "2")], Some(&exec)).await;
    let failed = r.body["failedDocuments"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    for f in failed {
        assert_eq!(f["error"]["errorCode"], "InvalidRequest");
        assert_eq!(f["dataSourceId"], sim.config().data_source_id.as_str());
    }
    let del = call(
        &sim,
        "POST",
        &format!("{}/documents/delete", index_path(&sim)),
        "",
        Some(&json!({"documents": [{"documentId": "a"}], "dataSourceSyncId": exec})),
    )
    .await;
    assert_eq!(del.body["failedDocuments"].as_array().unwrap().len(), 1);

    sim.control().set_indexing_paused(false);
    settle(&sim).await;
    let h = history(&sim, "").await;
    let j = &h["history"][0];
    assert_eq!(j["status"], "SUCCEEDED");
    assert!(j["endTime"].as_f64().unwrap() >= j["startTime"].as_f64().unwrap());
    let m = &j["metrics"];
    assert_eq!(m["documentsAdded"], "2");
    assert_eq!(m["documentsModified"], "1");
    assert_eq!(m["documentsDeleted"], "0");
    assert_eq!(m["documentsFailed"], "0");
    assert_eq!(m["documentsScanned"], "3");
    // The documents were never touched by the rejected calls.
    let ids: Vec<String> = sim
        .control()
        .default_documents()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, vec!["a", "b", "pre"]);
    // A new job can start now.
    assert_eq!(start_job(&sim).await.status, 200);
    sim.stop().await;
}

#[tokio::test]
async fn unknown_sync_id_fails_every_document_and_stop_without_job_conflicts() {
    let sim = start(cfg()).await;
    let r = put(
        &sim,
        vec![doc("a", "1"), doc("b", "1")],
        Some("a0b1c2d3-0000-4000-8000-0000000fffff"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["failedDocuments"].as_array().unwrap().len(), 2);
    assert!(r.body["failedDocuments"][0].get("dataSourceId").is_none());
    assert!(sim.control().default_documents().is_empty());
    let s = stop_job(&sim).await;
    assert_eq!(
        (s.status, s.body["__type"].as_str()),
        (409, Some("ConflictException"))
    );
    sim.stop().await;
}

#[tokio::test]
async fn failed_documents_make_the_job_incomplete_or_failed() {
    let sim = start(cfg()).await;
    // INCOMPLETE: one of two documents fails indexing (undeclared attribute).
    let exec = start_job(&sim).await.body["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut bad = doc("bad", "x");
    bad["attributes"] = json!([{"name": "undeclared", "value": {"stringValue": "v"}}]);
    put(&sim, vec![doc("good", "x"), bad], Some(&exec)).await;
    stop_job(&sim).await;
    settle(&sim).await;
    let j = history(&sim, "").await["history"][0].clone();
    assert_eq!(j["status"], "INCOMPLETE");
    assert_eq!(j["metrics"]["documentsFailed"], "1");
    // FAILED: every document fails (partial_failure fault rejects it in the response).
    let exec = start_job(&sim).await.body["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    sim.control()
        .add_fault(q_sim::FaultSpec {
            operation: Some("BatchPutDocument".into()),
            kind: "partial_failure".into(),
            status: None,
            error: None,
            count: Some(1),
            latency_ms: None,
            fail_documents: Some(1),
            document_id_contains: None,
            every: None,
            probability: None,
        })
        .unwrap();
    let r = put(&sim, vec![doc("c", "x")], Some(&exec)).await;
    assert_eq!(
        r.body["failedDocuments"][0]["error"]["errorCode"],
        "InternalError"
    );
    stop_job(&sim).await;
    settle(&sim).await;
    let j = history(&sim, "").await["history"][0].clone();
    assert_eq!(j["status"], "FAILED");
    assert_eq!(j["error"]["errorCode"], "InvalidRequest");
    sim.stop().await;
}

#[tokio::test]
async fn list_filters_and_paginates() {
    let sim = start(cfg()).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            start_job(&sim).await.body["executionId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        stop_job(&sim).await;
        settle(&sim).await;
    }
    start_job(&sim).await;
    let p1 = history(&sim, "maxResults=2").await;
    assert_eq!(p1["history"].as_array().unwrap().len(), 2);
    let token = p1["nextToken"].as_str().unwrap();
    let enc: String =
        percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let p2 = history(&sim, &format!("maxResults=2&nextToken={enc}")).await;
    assert_eq!(p2["history"].as_array().unwrap().len(), 2);
    assert!(p2.get("nextToken").is_none());
    // Newest first: the last of the stopped jobs is the second entry.
    assert_eq!(p1["history"][1]["executionId"], ids[2].as_str());
    let ok = history(&sim, "syncStatus=SUCCEEDED").await;
    assert_eq!(ok["history"].as_array().unwrap().len(), 3);
    let running = history(&sim, "syncStatus=SYNCING").await;
    assert_eq!(running["history"].as_array().unwrap().len(), 1);
    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let none = history(&sim, &format!("startTime={}", future.replace(':', "%3A"))).await;
    assert_eq!(none["history"], json!([]));
    sim.stop().await;
}

#[tokio::test]
async fn a_document_retried_after_rejection_counts_once_as_added() {
    let sim = start(cfg()).await;
    let exec = start_job(&sim).await.body["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    sim.control()
        .add_fault(q_sim::FaultSpec {
            operation: Some("BatchPutDocument".into()),
            kind: "partial_failure".into(),
            status: None,
            error: None,
            count: Some(1),
            latency_ms: None,
            fail_documents: Some(1),
            document_id_contains: None,
            every: None,
            probability: None,
        })
        .unwrap();
    let r = put(&sim, vec![doc("r1", "x"), doc("r2", "x")], Some(&exec)).await;
    assert_eq!(r.body["failedDocuments"].as_array().unwrap().len(), 1);
    let r = put(&sim, vec![doc("r1", "x")], Some(&exec)).await;
    assert_eq!(r.body["failedDocuments"], json!([]));
    stop_job(&sim).await;
    settle(&sim).await;
    let j = history(&sim, "").await["history"][0].clone();
    assert_eq!(j["status"], "SUCCEEDED");
    assert_eq!(j["metrics"]["documentsAdded"], "2");
    assert_eq!(j["metrics"]["documentsFailed"], "0");
    assert_eq!(j["metrics"]["documentsScanned"], "2");
    sim.stop().await;
}
