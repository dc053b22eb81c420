//! The `/_sim` control API, faults, throttling and persistence.

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::json;

async fn ctl(
    sim: &q_sim::QSim,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Answer {
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    call_raw(sim, method, p, q, bytes, false).await
}

#[tokio::test]
async fn documents_counts_and_jobs_over_http() {
    let sim = start(cfg()).await;
    let mut d = doc("inv-1", "Invoice one");
    d["attributes"] = json!([
        {"name": "_category", "value": {"stringValue": "Sales Invoices"}},
        {"name": "_created_at", "value": {"dateValue": 1704067200}},
    ]);
    d["accessConfiguration"] = json!({"accessControls": [{"principals": [{"group": {"name": "sales", "access": "ALLOW"}}]}]});
    put(&sim, vec![d], None).await;
    settle(&sim).await;
    let c = sim.config().clone();
    let a = ctl(
        &sim,
        "GET",
        &format!(
            "/_sim/documents?applicationId={}&indexId={}",
            c.application_id, c.index_id
        ),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    let doc0 = &a.body["documents"][0];
    assert_eq!(doc0["id"], "inv-1");
    assert_eq!(doc0["text"], "Invoice one");
    assert_eq!(doc0["status"], "INDEXED");
    assert_eq!(doc0["attributes"]["_category"], "Sales Invoices");
    assert_eq!(doc0["attributes"]["_created_at"], "2024-01-01T00:00:00Z");
    assert_eq!(
        doc0["accessConfiguration"]["accessControls"][0]["principals"][0]["group"]["name"],
        "sales"
    );
    assert!(doc0["error"].is_null());
    let ids = ctl(&sim, "GET", "/_sim/documents?ids_only=true", None).await;
    assert_eq!(ids.body["ids"], json!(["inv-1"]));
    let counts = ctl(&sim, "GET", "/_sim/counts", None).await;
    assert_eq!(counts.body["by_operation"]["BatchPutDocument"], 1);
    assert_eq!(counts.body["documents_put"], 1);
    assert_eq!(counts.body["throttled"], 0);
    assert_eq!(ctl(&sim, "DELETE", "/_sim/counts", None).await.status, 200);
    assert_eq!(sim.control().counts(), q_sim::Counts::default());

    // stop-running: the job ends ABORTED and its id no longer accepts puts.
    let exec = call(
        &sim,
        "POST",
        &format!("{}/startsync", ds_path(&sim)),
        "",
        None,
    )
    .await
    .body["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    let stopped = ctl(&sim, "POST", "/_sim/jobs/stop-running", None).await;
    assert_eq!(stopped.body["stopped"], json!([exec]));
    let r = put(&sim, vec![doc("late", "x")], Some(&exec)).await;
    assert_eq!(r.body["failedDocuments"][0]["id"], "late");
    settle(&sim).await;
    let jobs = ctl(&sim, "GET", "/_sim/jobs", None).await;
    assert_eq!(jobs.body["jobs"][0]["status"], "ABORTED");
    assert_eq!(
        jobs.body["jobs"][0]["job"]["metrics"]["documentsScanned"],
        "0"
    );
    assert_eq!(ctl(&sim, "GET", "/_sim/nothing", None).await.status, 404);
    sim.stop().await;
}

#[tokio::test]
async fn faults_over_http() {
    let sim = start(cfg()).await;
    // status: 500 twice, then success.
    let f = json!({"operation": "BatchPutDocument", "kind": "status", "status": 500, "count": 2});
    assert_eq!(ctl(&sim, "POST", "/_sim/faults", Some(f)).await.status, 200);
    for _ in 0..2 {
        let a = put(&sim, vec![doc("a", "x")], None).await;
        assert_eq!(
            (a.status, a.headers["x-amzn-errortype"].to_str().unwrap()),
            (500, "InternalServerException")
        );
    }
    assert_eq!(put(&sim, vec![doc("a", "x")], None).await.status, 200);
    // A status the model does not list for the operation is refused.
    let f = json!({"operation": "ListDocuments", "kind": "status", "status": 409});
    assert_eq!(ctl(&sim, "POST", "/_sim/faults", Some(f)).await.status, 400);
    assert_eq!(
        ctl(
            &sim,
            "POST",
            "/_sim/faults",
            Some(json!({"kind": "explode"}))
        )
        .await
        .status,
        400
    );
    // throttle_burst counts as throttled.
    let f = json!({"operation": "BatchDeleteDocument", "kind": "throttle_burst", "count": 2});
    ctl(&sim, "POST", "/_sim/faults", Some(f)).await;
    let del = json!({"documents": [{"documentId": "a"}]});
    let path = format!("{}/documents/delete", index_path(&sim));
    assert_eq!(call(&sim, "POST", &path, "", Some(&del)).await.status, 429);
    assert_eq!(call(&sim, "POST", &path, "", Some(&del)).await.status, 429);
    assert_eq!(call(&sim, "POST", &path, "", Some(&del)).await.status, 200);
    assert_eq!(sim.control().counts().throttled, 2);
    // partial_failure: the first N documents fail with InternalError, the rest are stored.
    let f = json!({"operation": "BatchPutDocument", "kind": "partial_failure", "fail_documents": 2, "count": 1});
    ctl(&sim, "POST", "/_sim/faults", Some(f)).await;
    let r = put(
        &sim,
        vec![doc("p1", "x"), doc("p2", "x"), doc("p3", "x")],
        None,
    )
    .await;
    let failed: Vec<&str> = r.body["failedDocuments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec!["p1", "p2"]);
    assert_eq!(
        r.body["failedDocuments"][0]["error"]["errorCode"],
        "InternalError"
    );
    // index_failure: matching documents end DOCUMENT_FAILED_TO_INDEX.
    let f = json!({"kind": "index_failure", "document_id_contains": "poison"});
    ctl(&sim, "POST", "/_sim/faults", Some(f)).await;
    put(&sim, vec![doc("poison-1", "x"), doc("fine-1", "x")], None).await;
    // latency: the call still succeeds.
    let f = json!({"operation": "GetIndex", "kind": "latency", "latency_ms": 30});
    ctl(&sim, "POST", "/_sim/faults", Some(f)).await;
    assert_eq!(
        call(&sim, "GET", &index_path(&sim), "", None).await.status,
        200
    );
    settle(&sim).await;
    let docs = sim.control().default_documents();
    let status = |id: &str| docs.iter().find(|d| d.id == id).map(|d| d.status.clone());
    assert_eq!(
        status("poison-1").as_deref(),
        Some("DOCUMENT_FAILED_TO_INDEX")
    );
    assert_eq!(status("fine-1").as_deref(), Some("INDEXED"));
    assert_eq!(status("p1"), None);
    assert_eq!(status("p3").as_deref(), Some("INDEXED"));
    assert_eq!(ctl(&sim, "DELETE", "/_sim/faults", None).await.status, 200);
    assert_eq!(
        ctl(&sim, "GET", "/_sim/faults", None).await.body["faults"],
        json!([])
    );
    sim.stop().await;
}

#[tokio::test]
async fn throttling_with_a_tiny_rate_and_rates_at_run_time() {
    let rates = HashMap::from([("BatchPutDocument".to_string(), 0.001)]);
    let sim = start(q_sim::QSimConfig { rates, ..cfg() }).await;
    // Burst of one, then 429 until the (very slow) refill.
    assert_eq!(put(&sim, vec![doc("a", "x")], None).await.status, 200);
    let a = put(&sim, vec![doc("b", "x")], None).await;
    assert_eq!(
        (a.status, a.body["__type"].as_str()),
        (429, Some("ThrottlingException"))
    );
    // The SDK maps it to the modeled variant.
    let c = sdk(&sim);
    let e = c
        .batch_put_document()
        .application_id(&sim.config().application_id)
        .index_id(&sim.config().index_id)
        .documents(
            aws_sdk_qbusiness::types::Document::builder()
                .id("c")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_throttling_exception());
    assert_eq!(sim.control().counts().throttled, 2);
    // Other operations have no bucket.
    for _ in 0..20 {
        assert_eq!(
            call(&sim, "GET", &index_path(&sim), "", None).await.status,
            200
        );
    }
    let r = ctl(
        &sim,
        "PUT",
        "/_sim/rates",
        Some(json!({"BatchPutDocument": 1000.0})),
    )
    .await;
    assert_eq!(r.body["BatchPutDocument"], 1000.0);
    assert_eq!(put(&sim, vec![doc("d", "x")], None).await.status, 200);
    sim.stop().await;
}

#[tokio::test]
async fn state_persists_across_restart() {
    let dir = std::env::temp_dir().join(format!("q-sim-persist-{}", uuid::Uuid::new_v4()));
    let config = q_sim::QSimConfig {
        data_dir: Some(dir.clone()),
        ..cfg()
    };
    let sim = start(config.clone()).await;
    let exec = call(
        &sim,
        "POST",
        &format!("{}/startsync", ds_path(&sim)),
        "",
        None,
    )
    .await
    .body["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    put(&sim, vec![doc("persisted", "kept text")], Some(&exec)).await;
    let upd = json!({"documentAttributeConfigurations": [{"name": "bc_no", "type": "STRING"}]});
    call(&sim, "PUT", &index_path(&sim), "", Some(&upd)).await;
    settle(&sim).await;
    sim.stop().await;
    assert!(dir.join(q_sim::persist::FILE_NAME).exists());
    assert!(
        !dir.join(format!("{}.tmp", q_sim::persist::FILE_NAME))
            .exists()
    );

    let sim = start(config).await;
    let docs = sim.control().default_documents();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].text.as_deref(), Some("kept text"));
    assert_eq!(docs[0].status, "INDEXED");
    // The running job survived: it still accepts puts, and Start still conflicts.
    assert_eq!(
        put(&sim, vec![doc("second", "x")], Some(&exec)).await.body["failedDocuments"],
        json!([])
    );
    assert_eq!(
        call(
            &sim,
            "POST",
            &format!("{}/startsync", ds_path(&sim)),
            "",
            None
        )
        .await
        .status,
        409
    );
    let gi = call(&sim, "GET", &index_path(&sim), "", None).await;
    assert_eq!(
        gi.body["documentAttributeConfigurations"][0]["name"],
        "bc_no"
    );
    sim.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn check_document_access_allow_deny_groups_and_relations() {
    let sim = start(cfg()).await;
    let groups = format!("{}/groups", index_path(&sim));
    let g = |name: &str, users: &[&str], subgroups: &[&str]| {
        json!({"groupName": name, "type": "INDEX", "groupMembers": {
            "memberUsers": users.iter().map(|u| json!({"userId": u})).collect::<Vec<_>>(),
            "memberGroups": subgroups.iter().map(|s| json!({"groupName": s})).collect::<Vec<_>>(),
        }})
    };
    assert_eq!(
        call(
            &sim,
            "PUT",
            &groups,
            "",
            Some(&g("emea", &["carol@x.com"], &[]))
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(
            &sim,
            "PUT",
            &groups,
            "",
            Some(&g("sales", &["dave@x.com"], &["emea"]))
        )
        .await
        .status,
        200
    );
    let user = |id: &str, access: &str| json!({"user": {"id": id, "access": access}});
    let group = |n: &str, access: &str| json!({"group": {"name": n, "access": access}});
    let with_acl = |id: &str, acl: serde_json::Value| {
        let mut d = doc(id, "x");
        d["accessConfiguration"] = acl;
        d
    };
    put(
        &sim,
        vec![
            with_acl("sales-doc", json!({"accessControls": [{"principals": [group("sales", "ALLOW"), user("eve@x.com", "DENY")]}]})),
            with_acl("both", json!({"memberRelation": "AND", "accessControls": [
                {"principals": [group("sales", "ALLOW")]},
                {"principals": [user("carol@x.com", "ALLOW")]},
            ]})),
            with_acl("deny-carol", json!({"accessControls": [{"principals": [group("sales", "ALLOW"), user("CAROL@x.com", "DENY")]}]})),
            doc("public", "x"),
            with_acl("deny-only", json!({"accessControls": [{"principals": [user("eve@x.com", "DENY")]}]})),
        ],
        None,
    )
    .await;
    let c = sim.config().clone();
    let check = |u: &str, d: &str| {
        let path = format!(
            "/applications/{}/index/{}/users/{}/documents/{}/check-document-access",
            c.application_id, c.index_id, u, d
        );
        let sim = &sim;
        async move { call(sim, "GET", &path, "", None).await }
    };
    // carol is in sales through emea (nested group).
    let a = check("carol@x.com", "sales-doc").await;
    assert_eq!(a.body["hasAccess"], true, "{}", a.body);
    let gnames: Vec<&str> = a.body["userGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(gnames, vec!["emea", "sales"]);
    assert_eq!(a.body["userAliases"][0]["id"], "carol@x.com");
    assert_eq!(
        a.body["documentAcl"]["allowlist"]["conditions"][0]["groups"][0]["name"],
        "sales"
    );
    assert_eq!(
        a.body["documentAcl"]["denyList"]["conditions"][0]["users"][0]["id"],
        "eve@x.com"
    );
    assert_eq!(
        check("eve@x.com", "sales-doc").await.body["hasAccess"],
        false
    );
    assert_eq!(
        check("frank@x.com", "sales-doc").await.body["hasAccess"],
        false
    );
    // AND across access controls.
    assert_eq!(check("carol@x.com", "both").await.body["hasAccess"], true);
    assert_eq!(check("dave@x.com", "both").await.body["hasAccess"], false);
    // DENY wins over ALLOW, user ids compare case-insensitively.
    assert_eq!(
        check("carol@x.com", "deny-carol").await.body["hasAccess"],
        false
    );
    assert_eq!(
        check("dave@x.com", "deny-carol").await.body["hasAccess"],
        true
    );
    assert_eq!(check("anyone", "public").await.body["hasAccess"], true);
    assert_eq!(check("anyone", "deny-only").await.body["hasAccess"], true);
    assert_eq!(
        check("eve@x.com", "deny-only").await.body["hasAccess"],
        false
    );
    let missing = check("anyone", "nope").await;
    assert_eq!(
        (missing.status, missing.body["resourceType"].as_str()),
        (404, Some("Document"))
    );
    let g = call(
        &sim,
        "GET",
        &format!("{}/groups/sales", index_path(&sim)),
        "",
        None,
    )
    .await;
    assert_eq!(g.body["status"]["status"], "SUCCEEDED");
    assert_eq!(
        call(
            &sim,
            "GET",
            &format!("{}/groups/none", index_path(&sim)),
            "",
            None
        )
        .await
        .status,
        404
    );
    // DeleteGroup: the mapping goes, its members lose what it gave them,
    // and deleting it again is a 404 naming the group.
    let url = format!("{}/groups/sales", index_path(&sim));
    let before = check("dave@x.com", "sales-doc").await.body["hasAccess"].clone();
    let d = call(&sim, "DELETE", &url, "", None).await;
    assert_eq!((d.status, d.body.clone()), (200, json!({})));
    assert_eq!(call(&sim, "GET", &url, "", None).await.status, 404);
    let again = call(&sim, "DELETE", &url, "", None).await;
    assert_eq!(
        (again.status, again.body["resourceType"].as_str()),
        (404, Some("Group"))
    );
    assert_eq!(before, true);
    assert_eq!(
        check("dave@x.com", "sales-doc").await.body["hasAccess"],
        false
    );
    sim.stop().await;
}
