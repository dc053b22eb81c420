//! One test per validation rule of the served operations (raw signed HTTP,
//! so the exact wire answer is checked).

mod common;

use common::*;
use serde_json::{Value, json};

async fn expect_field(sim: &q_sim::QSim, body: Value, field: &str, needle: &str) {
    let a = call(
        sim,
        "POST",
        &format!("{}/documents", index_path(sim)),
        "",
        Some(&body),
    )
    .await;
    assert_eq!(a.status, 400, "{field}: {}", a.body);
    assert_eq!(a.headers["x-amzn-errortype"], "ValidationException");
    assert_eq!(a.body["__type"], "ValidationException");
    assert_eq!(a.body["reason"], "FIELD_VALIDATION_FAILED", "{}", a.body);
    let fields = a.body["fields"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f["name"] == field && f["message"].as_str().unwrap().contains(needle)),
        "expected {field} / {needle} in {}",
        a.body
    );
}

fn with(mut d: Value, k: &str, v: Value) -> Value {
    d[k] = v;
    d
}

#[tokio::test]
async fn batch_put_document_rules() {
    let sim = start(cfg()).await;
    let ok = doc("ok", "text");
    // 1..10 documents.
    expect_field(
        &sim,
        json!({"documents": []}),
        "documents",
        "greater than or equal to 1",
    )
    .await;
    let eleven: Vec<Value> = (0..11).map(|i| doc(&format!("d{i}"), "x")).collect();
    expect_field(
        &sim,
        json!({"documents": eleven}),
        "documents",
        "less than or equal to 10",
    )
    .await;
    expect_field(&sim, json!({}), "documents", "must not be null").await;
    // Document id: length and no control characters.
    expect_field(
        &sim,
        json!({"documents": [with(ok.clone(), "id", json!(""))]}),
        "documents.1.member.id",
        "greater than or equal to 1",
    )
    .await;
    expect_field(
        &sim,
        json!({"documents": [with(ok.clone(), "id", json!("x".repeat(1826)))]}),
        "documents.1.member.id",
        "1825",
    )
    .await;
    expect_field(
        &sim,
        json!({"documents": [with(ok.clone(), "id", json!("a\u{0007}b"))]}),
        "documents.1.member.id",
        "\\P{C}*",
    )
    .await;
    // Title length.
    expect_field(
        &sim,
        json!({"documents": [with(ok.clone(), "title", json!("t".repeat(1025)))]}),
        "documents.1.member.title",
        "1024",
    )
    .await;
    // Content type enum.
    expect_field(
        &sim,
        json!({"documents": [with(ok.clone(), "contentType", json!("DOCX"))]}),
        "documents.1.member.contentType",
        "enum value set",
    )
    .await;
    // Content union: exactly one of blob / s3.
    let both = with(
        ok.clone(),
        "content",
        json!({"blob": b64(b"x"), "s3": {"bucket": "b-1", "key": "k"}}),
    );
    expect_field(
        &sim,
        json!({"documents": [both]}),
        "documents.1.member.content",
        "exactly one",
    )
    .await;
    let bad_bucket = with(
        ok.clone(),
        "content",
        json!({"s3": {"bucket": "UPPER", "key": "k"}}),
    );
    expect_field(
        &sim,
        json!({"documents": [bad_bucket]}),
        "documents.1.member.content.s3.bucket",
        "pattern",
    )
    .await;
    // Attributes: count, name pattern and length, value union, string lengths.
    let many: Vec<Value> = (0..501)
        .map(|i| json!({"name": format!("a{i}"), "value": {"longValue": i}}))
        .collect();
    expect_field(
        &sim,
        json!({"documents": [with(ok.clone(), "attributes", json!(many))]}),
        "documents.1.member.attributes",
        "500",
    )
    .await;
    let attr = |name: &str, value: Value| {
        with(
            ok.clone(),
            "attributes",
            json!([{"name": name, "value": value}]),
        )
    };
    expect_field(
        &sim,
        json!({"documents": [attr("-bad", json!({"stringValue": "x"}))]}),
        "documents.1.member.attributes.1.member.name",
        "pattern",
    )
    .await;
    expect_field(
        &sim,
        json!({"documents": [attr(&"n".repeat(201), json!({"stringValue": "x"}))]}),
        "documents.1.member.attributes.1.member.name",
        "200",
    )
    .await;
    expect_field(
        &sim,
        json!({"documents": [attr("a", json!({"stringValue": "x".repeat(2049)}))]}),
        "documents.1.member.attributes.1.member.value.stringValue",
        "2048",
    )
    .await;
    expect_field(
        &sim,
        json!({"documents": [attr("a", json!({"stringListValue": [""]}))]}),
        "documents.1.member.attributes.1.member.value.stringListValue.1.member",
        "greater than or equal to 1",
    )
    .await;
    expect_field(
        &sim,
        json!({"documents": [attr("a", json!({"stringValue": "x", "longValue": 1}))]}),
        "documents.1.member.attributes.1.member.value",
        "exactly one",
    )
    .await;
    expect_field(
        &sim,
        json!({"documents": [attr("a", json!({}))]}),
        "documents.1.member.attributes.1.member.value",
        "exactly one",
    )
    .await;
    // Access configuration shape.
    let acl = |v: Value| with(ok.clone(), "accessConfiguration", v);
    expect_field(
        &sim,
        json!({"documents": [acl(json!({}))]}),
        "documents.1.member.accessConfiguration.accessControls",
        "must not be null",
    )
    .await;
    expect_field(
        &sim,
        json!({"documents": [acl(json!({"accessControls": [], "memberRelation": "XOR"}))]}),
        "documents.1.member.accessConfiguration.memberRelation",
        "enum",
    )
    .await;
    let no_access = json!({"accessControls": [{"principals": [{"user": {"id": "u"}}]}]});
    expect_field(&sim, json!({"documents": [acl(no_access)]}), "documents.1.member.accessConfiguration.accessControls.1.member.principals.1.member.user.access", "must not be null").await;
    let both_p = json!({"accessControls": [{"principals": [{"user": {"id": "u", "access": "ALLOW"}, "group": {"name": "g", "access": "ALLOW"}}]}]});
    expect_field(
        &sim,
        json!({"documents": [acl(both_p)]}),
        "documents.1.member.accessConfiguration.accessControls.1.member.principals.1.member",
        "exactly one",
    )
    .await;
    // dataSourceSyncId pattern.
    expect_field(
        &sim,
        json!({"documents": [ok.clone()], "dataSourceSyncId": "not-an-id"}),
        "dataSourceSyncId",
        "[a-zA-Z0-9][a-zA-Z0-9-]{35}",
    )
    .await;
    // Several errors are reported together.
    let a = put(
        &sim,
        vec![with(with(ok.clone(), "id", json!("")), "title", json!(""))],
        None,
    )
    .await;
    assert_eq!(a.body["fields"].as_array().unwrap().len(), 2, "{}", a.body);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("2 validation errors detected")
    );
    // Nothing was stored by any rejected request.
    assert!(sim.control().default_documents().is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn cannot_parse_and_unknown_operation() {
    let sim = start(cfg()).await;
    let a = call_raw(
        &sim,
        "POST",
        &format!("{}/documents", index_path(&sim)),
        "",
        b"{not json".to_vec(),
        true,
    )
    .await;
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (400, Some("CANNOT_PARSE"))
    );
    let a = put(&sim, vec![json!({"id": 5})], None).await;
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (400, Some("CANNOT_PARSE"))
    );
    let a = put(
        &sim,
        vec![with(doc("a", "x"), "content", json!({"blob": "%%%"}))],
        None,
    )
    .await;
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (400, Some("CANNOT_PARSE"))
    );
    let a = call(&sim, "GET", "/nothing/here", "", None).await;
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (400, Some("UNKNOWN_OPERATION"))
    );
    sim.stop().await;
}

#[tokio::test]
async fn path_query_and_other_operation_rules() {
    let sim = start(cfg()).await;
    let c = sim.config().clone();
    // Path ids must match the 36-char id pattern.
    let a = call(&sim, "GET", "/applications/short", "", None).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["fields"][0]["name"], "applicationId");
    // maxResults ranges.
    let docs = format!(
        "/applications/{}/index/{}/documents",
        c.application_id, c.index_id
    );
    for bad in ["0", "101"] {
        let a = call(&sim, "GET", &docs, &format!("maxResults={bad}"), None).await;
        assert_eq!(
            (a.status, a.body["fields"][0]["name"].as_str()),
            (400, Some("maxResults")),
            "{bad}"
        );
    }
    assert_eq!(
        call(&sim, "GET", &docs, "maxResults=100", None)
            .await
            .status,
        200
    );
    let jobs = format!("{}/syncjobs", ds_path(&sim));
    assert_eq!(
        call(&sim, "GET", &jobs, "maxResults=11", None).await.status,
        400
    );
    assert_eq!(
        call(&sim, "GET", &jobs, "syncStatus=RUNNING", None)
            .await
            .status,
        400
    );
    let a = call(&sim, "GET", &docs, "nextToken=garbage", None).await;
    assert_eq!(a.status, 400);
    // dataSourceIds holds at most one id.
    let two = format!(
        "dataSourceIds={}&dataSourceIds={}",
        c.data_source_id, c.data_source_id
    );
    assert_eq!(call(&sim, "GET", &docs, &two, None).await.status, 400);
    // UpdateIndex: attribute name ≤ 30, type enum.
    let upd = |cfgs: Value| json!({"documentAttributeConfigurations": cfgs});
    let a = call(
        &sim,
        "PUT",
        &index_path(&sim),
        "",
        Some(&upd(json!([{"name": "n".repeat(31), "type": "STRING"}]))),
    )
    .await;
    assert_eq!(
        (a.status, a.body["fields"][0]["name"].as_str()),
        (400, Some("documentAttributeConfigurations.1.member.name"))
    );
    let a = call(
        &sim,
        "PUT",
        &index_path(&sim),
        "",
        Some(&upd(json!([{"name": "n", "type": "BOOLEAN"}]))),
    )
    .await;
    assert_eq!(a.status, 400);
    let a = call(&sim, "PUT", &index_path(&sim), "", Some(&upd(json!([])))).await;
    assert_eq!(a.status, 400, "empty list is below min 1");
    assert_eq!(
        call(
            &sim,
            "PUT",
            &index_path(&sim),
            "",
            Some(&upd(json!([{"name": "bc_no", "type": "STRING"}])))
        )
        .await
        .status,
        200
    );
    let a = call(
        &sim,
        "PUT",
        &index_path(&sim),
        "",
        Some(&upd(json!([{"name": "bc_no", "type": "NUMBER"}]))),
    )
    .await;
    assert_eq!(a.status, 400, "type of a declared attribute cannot change");
    // CreateDataSource: CUSTOM configuration document.
    let dss = format!("{}/datasources", index_path(&sim));
    let a = call(
        &sim,
        "POST",
        &dss,
        "",
        Some(&json!({"displayName": "x", "configuration": {"type": "CUSTOM", "version": "2.0"}})),
    )
    .await;
    assert_eq!(
        (a.status, a.body["fields"][0]["name"].as_str()),
        (400, Some("configuration.version"))
    );
    let a = call(&sim, "POST", &dss, "", Some(&json!({"displayName": "x"}))).await;
    assert_eq!(a.status, 400);
    let a = call(
        &sim,
        "POST",
        &dss,
        "",
        Some(
            &json!({"displayName": "_x", "configuration": {"type": "CUSTOM", "version": "1.0.0"}}),
        ),
    )
    .await;
    assert_eq!(
        (a.status, a.body["fields"][0]["name"].as_str()),
        (400, Some("displayName"))
    );
    // CreateApplication name pattern.
    let a = call(
        &sim,
        "POST",
        "/applications",
        "",
        Some(&json!({"displayName": "bad name"})),
    )
    .await;
    assert_eq!(a.status, 400);
    // PutGroup requires type and groupMembers.
    let a = call(
        &sim,
        "PUT",
        &format!("{}/groups", index_path(&sim)),
        "",
        Some(&json!({"groupName": "g"})),
    )
    .await;
    assert_eq!(a.body["fields"].as_array().unwrap().len(), 2, "{}", a.body);
    sim.stop().await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let sim = start(q_sim::QSimConfig {
        max_body_bytes: 1000,
        ..cfg()
    })
    .await;
    let a = put(&sim, vec![doc("big", &"x".repeat(2000))], None).await;
    assert_eq!(a.status, 413);
    assert_eq!(a.body["__type"], "RequestEntityTooLargeException");
    assert_eq!(put(&sim, vec![doc("small", "x")], None).await.status, 200);
    sim.stop().await;
}

#[tokio::test]
async fn unknown_resources_are_404() {
    let sim = start(cfg()).await;
    let c = sim.config().clone();
    let other = "zzzzzzzz-0000-4000-8000-000000000000";
    let a = call(&sim, "GET", &format!("/applications/{other}"), "", None).await;
    assert_eq!(
        (
            a.status,
            a.body["resourceType"].as_str(),
            a.body["resourceId"].as_str()
        ),
        (404, Some("Application"), Some(other))
    );
    let a = call(
        &sim,
        "POST",
        &format!(
            "/applications/{}/indices/{other}/documents",
            c.application_id
        ),
        "",
        Some(&json!({"documents": [doc("a", "b")]})),
    )
    .await;
    assert_eq!(
        (a.status, a.body["resourceType"].as_str()),
        (404, Some("Index"))
    );
    let a = call(
        &sim,
        "POST",
        &format!("{}/datasources/{other}/startsync", index_path(&sim)),
        "",
        None,
    )
    .await;
    assert_eq!(
        (a.status, a.body["resourceType"].as_str()),
        (404, Some("DataSource"))
    );
    sim.stop().await;
}

#[tokio::test]
async fn create_calls_are_idempotent_per_client_token() {
    let sim = start(cfg()).await;
    let dss = format!("{}/datasources", index_path(&sim));
    let body = json!({"displayName": "bc", "configuration": {"type": "CUSTOM", "version": "1.0.0"}, "clientToken": "tok-1"});
    let a = call(&sim, "POST", &dss, "", Some(&body)).await;
    let b = call(&sim, "POST", &dss, "", Some(&body)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["dataSourceId"], b.body["dataSourceId"]);
    let other = json!({"displayName": "bc", "configuration": {"type": "CUSTOM", "version": "1.0.0"}, "clientToken": "tok-2"});
    let c = call(&sim, "POST", &dss, "", Some(&other)).await;
    assert_ne!(a.body["dataSourceId"], c.body["dataSourceId"]);
    let app1 = call(
        &sim,
        "POST",
        "/applications",
        "",
        Some(&json!({"displayName": "a", "clientToken": "t"})),
    )
    .await;
    let app2 = call(
        &sim,
        "POST",
        "/applications",
        "",
        Some(&json!({"displayName": "a", "clientToken": "t"})),
    )
    .await;
    assert_eq!(app1.body["applicationId"], app2.body["applicationId"]);
    sim.stop().await;
}
