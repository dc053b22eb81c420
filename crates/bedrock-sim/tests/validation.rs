//! The wire, byte for byte where the SDKs hide it: front-door errors, the
//! shapes of validation errors in each service, what a data source refuses,
//! and the control API.

mod common;

use bedrock_sim::{BedrockSimConfig, DataSourceSpec};
use common::*;
use serde_json::{Value, json};

fn fields(a: &Answer) -> Vec<String> {
    a.body["fieldList"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|f| f["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn front_door_errors() {
    let sim = start(BedrockSimConfig {
        max_body_bytes: 1000,
        ..cfg()
    })
    .await;
    let kb = format!("/knowledgebases/{}", sim.config().knowledge_base_id);
    // Oversized: refused before authentication.
    let a = call_raw(
        &sim,
        "PUT",
        &format!("{}/documents", ds_path(&sim)),
        vec![b' '; 2000],
        false,
    )
    .await;
    assert_eq!(a.status, 413);
    assert_eq!(
        a.headers["x-amzn-errortype"],
        "RequestEntityTooLargeException"
    );
    // Unsigned, unknown key, wrong service.
    let a = call_raw(&sim, "GET", &kb, vec![], false).await;
    assert_eq!(
        (a.status, a.body["__type"].as_str()),
        (403, Some("MissingAuthenticationTokenException"))
    );
    assert_eq!(a.body["message"], "Missing Authentication Token");
    let host = sim.addr().to_string();
    for (key, service, want) in [
        ("AKIDOTHER", "bedrock", "UnrecognizedClientException"),
        (
            sim.config().access_key_id.as_str(),
            "qbusiness",
            "InvalidSignatureException",
        ),
    ] {
        let signer = aws_sim::sigv4::Signer {
            access_key_id: key,
            secret: &sim.config().secret_access_key,
            region: "us-east-1",
            service,
        };
        let mut rb = reqwest::Client::new().get(format!("{}{kb}", sim.endpoint()));
        for (k, v) in signer.sign("GET", &host, &kb, "", b"", chrono::Utc::now()) {
            rb = rb.header(k, v);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403);
        assert_eq!(r.headers()["x-amzn-errortype"], want);
        let body: Value = r.json().await.unwrap();
        if service == "qbusiness" {
            assert!(
                body["message"].as_str().unwrap().contains("'bedrock'"),
                "{body}"
            );
        }
    }
    // No route.
    let a = call(&sim, "DELETE", &kb, None).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.headers["x-amzn-errortype"], "UnknownOperationException");
    sim.stop().await;
}

#[tokio::test]
async fn validation_errors_name_every_member_in_each_service_format() {
    let sim = start(cfg()).await;
    let bad = json!({
        "clientToken": "x",
        "documents": [{
            "content": {"dataSourceType": "CUSTOM", "custom": {
                "customDocumentIdentifier": {"id": ""}, "sourceType": "INLINE",
                "inlineContent": {"type": "TEXT", "textContent": {"data": "x"}}}},
            "metadata": {"type": "IN_LINE_ATTRIBUTE", "inlineAttributes": [],
                "accessControlList": [{"name": "a", "type": "USER", "access": "MAYBE"}]}
        }]
    });
    let a = call(
        &sim,
        "PUT",
        &format!("{}/documents", ds_path(&sim)),
        Some(&bad),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.headers["x-amzn-errortype"], "ValidationException");
    let f = fields(&a);
    for want in [
        "clientToken",
        "documents.1.member.content.custom.customDocumentIdentifier.id",
        "documents.1.member.content.custom.sourceType",
        "documents.1.member.metadata.inlineAttributes",
        "documents.1.member.metadata.accessControlList.1.member.access",
    ] {
        assert!(f.iter().any(|x| x == want), "{want} missing from {f:?}");
    }
    let msg = a.body["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!("{} validation errors detected: ", f.len())),
        "{msg}"
    );
    assert!(
        msg.contains("Member must satisfy enum value set: [IN_LINE, S3_LOCATION]"),
        "{msg}"
    );
    // Not JSON, and a wrong JSON type.
    let a = call_raw(
        &sim,
        "POST",
        &format!("{}/documents", ds_path(&sim)),
        b"{".to_vec(),
        true,
    )
    .await;
    assert_eq!(a.status, 400);
    let a = call(
        &sim,
        "POST",
        &format!("{}/documents", ds_path(&sim)),
        Some(&json!({"maxResults": "ten"})),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"].as_str().unwrap().contains("maxResults"));
    // bedrock-agent-runtime's ValidationException has no fieldList.
    let kb = format!("/knowledgebases/{}", sim.config().knowledge_base_id);
    let a = call(
        &sim,
        "POST",
        &format!("{kb}/retrieve"),
        Some(&json!({"retrievalQuery": {"text": "x"},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 0,
            "filter": {"andAll": [{"equals": {"key": "a", "value": 1}}]}}}})),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body.get("fieldList").is_none(), "{}", a.body);
    let msg = a.body["message"].as_str().unwrap();
    assert!(
        msg.contains("retrievalConfiguration.vectorSearchConfiguration.numberOfResults"),
        "{msg}"
    );
    assert!(
        msg.contains("retrievalConfiguration.vectorSearchConfiguration.filter.andAll"),
        "{msg}"
    );
    // Unsupported by the emulator, and no such guardrail.
    let a = call(
        &sim,
        "POST",
        &format!("{kb}/retrieve"),
        Some(&json!({"retrievalQuery": {"type": "IMAGE"}})),
    )
    .await;
    assert_eq!(a.status, 400);
    let a = call(
        &sim,
        "POST",
        &format!("{kb}/retrieve"),
        Some(&json!({"retrievalQuery": {"text": "x"},
        "guardrailConfiguration": {"guardrailId": "abc", "guardrailVersion": "DRAFT"}})),
    )
    .await;
    assert_eq!(a.status, 404);
    // A knowledge base ARN is a valid identifier.
    let arn = format!(
        "arn:aws:bedrock:us-east-1:123456789012:knowledge-base/{}",
        sim.config().knowledge_base_id
    );
    let a = call(
        &sim,
        "POST",
        &format!(
            "/knowledgebases/{}/retrieve",
            arn.replace(':', "%3A").replace('/', "%2F")
        ),
        Some(&json!({"retrievalQuery": {"text": "x"}})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // A nextToken the emulator never issued.
    let a = call(
        &sim,
        "POST",
        &format!("{}/documents", ds_path(&sim)),
        Some(&json!({"nextToken": "forged"})),
    )
    .await;
    assert_eq!(a.status, 400);
    sim.stop().await;
}

fn custom_doc(id: &str, custom: Value, metadata: Option<Value>) -> Value {
    let mut c = json!({"customDocumentIdentifier": {"id": id}});
    c.as_object_mut()
        .unwrap()
        .extend(custom.as_object().unwrap().clone());
    let mut d = json!({"content": {"dataSourceType": "CUSTOM", "custom": c}});
    if let Some(m) = metadata {
        d["metadata"] = m;
    }
    d
}

#[tokio::test]
async fn data_sources_refuse_what_they_cannot_take() {
    let sim = start(BedrockSimConfig {
        extra_data_sources: vec![
            DataSourceSpec::custom("OPENDOCS01", "open-docs", false),
            DataSourceSpec {
                id: "CRAWLED001".into(),
                name: "crawled".into(),
                connector_parameters: json!({"type": "SHAREPOINT", "version": "1"}),
            },
        ],
        ..cfg()
    })
    .await;
    let kb = sim.config().knowledge_base_id.clone();
    let put = |ds: &str, docs: Value| {
        let path = format!("/knowledgebases/{kb}/datasources/{ds}/documents");
        let sim = &sim;
        async move { call(sim, "PUT", &path, Some(&json!({"documents": docs}))).await }
    };
    let text = json!({"sourceType": "IN_LINE", "inlineContent": {"type": "TEXT", "textContent": {"data": "x"}}});
    let acl = json!({"type": "IN_LINE_ATTRIBUTE", "accessControlList": [{"name": "a@x.com", "type": "USER", "access": "ALLOW"}]});
    let cases = [
        (
            "DS",
            json!([{"content": {"dataSourceType": "S3", "s3": {"s3Location": {"uri": "s3://b/k"}}}}]),
            vec![
                "documents.1.member.content.dataSourceType",
                "documents.1.member.content.s3",
            ],
        ),
        (
            "OPENDOCS01",
            json!([custom_doc("a", text.clone(), Some(acl.clone()))]),
            vec!["documents.1.member.metadata.accessControlList"],
        ),
        (
            "DS",
            json!([custom_doc(
                "a",
                json!({"sourceType": "IN_LINE", "s3Location": {"uri": "s3://bucket/k"}}),
                None
            )]),
            vec![
                "documents.1.member.content.custom.inlineContent",
                "documents.1.member.content.custom.s3Location",
            ],
        ),
        (
            "DS",
            json!([custom_doc(
                "a",
                json!({"sourceType": "IN_LINE", "inlineContent": {"type": "TEXT",
                "byteContent": {"mimeType": "text/plain", "data": "eA=="}}}),
                None
            )]),
            vec![
                "documents.1.member.content.custom.inlineContent.textContent",
                "documents.1.member.content.custom.inlineContent.byteContent",
            ],
        ),
        (
            "DS",
            json!([custom_doc(
                "a",
                text.clone(),
                Some(json!({"type": "IN_LINE_ATTRIBUTE", "inlineAttributes": [
                {"key": "k", "value": {"type": "NUMBER", "stringValue": "1"}},
                {"key": "k", "value": {"type": "BOOLEAN", "booleanValue": true}}]}))
            )]),
            vec![
                "documents.1.member.metadata.inlineAttributes.1.member.value",
                "documents.1.member.metadata.inlineAttributes.2.member.key",
            ],
        ),
        (
            "DS",
            json!([
                custom_doc("a", text.clone(), None),
                custom_doc("a", text.clone(), None)
            ]),
            vec!["documents.2.member.content.custom.customDocumentIdentifier.id"],
        ),
        (
            "DS",
            json!([custom_doc(
                "a",
                text.clone(),
                Some(json!({"type": "S3_LOCATION",
                "s3Location": {"uri": "s3://bucket/m.json"}, "inlineAttributes": [{"key": "k", "value": {"type": "BOOLEAN", "booleanValue": true}}]}))
            )]),
            vec!["documents.1.member.metadata.inlineAttributes"],
        ),
    ];
    for (ds, docs, want) in cases {
        let ds = if ds == "DS" {
            sim.config().data_source_id.clone()
        } else {
            ds.to_string()
        };
        let a = put(&ds, docs).await;
        assert_eq!(a.status, 400, "{}", a.body);
        let mut f = fields(&a);
        f.sort();
        let mut sorted = want.clone();
        sorted.sort();
        assert_eq!(f, sorted, "{}", a.body);
        for w in want {
            assert!(a.body["message"].as_str().unwrap().contains(w));
        }
    }
    // A crawled connector takes no pushed documents at all.
    let a = put("CRAWLED001", json!([custom_doc("a", text.clone(), None)])).await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["message"].as_str().unwrap().contains("SHAREPOINT"),
        "{}",
        a.body
    );
    // Unknown resources.
    let a = put("NOSUCHDS01", json!([custom_doc("a", text.clone(), None)])).await;
    assert_eq!(
        (a.status, a.body["__type"].as_str()),
        (404, Some("ResourceNotFoundException"))
    );
    assert!(sim.control().documents(None).is_empty());

    // Retrieve spans data sources: the open one answers everyone, the
    // ACL-enabled one only users its lists allow.
    assert_eq!(
        put(
            "OPENDOCS01",
            json!([custom_doc(
                "open",
                json!({"sourceType": "IN_LINE",
        "inlineContent": {"type": "TEXT", "textContent": {"data": "shared handbook"}}}),
                None
            )])
        )
        .await
        .status,
        202
    );
    let ds = sim.config().data_source_id.clone();
    assert_eq!(put(&ds, json!([
        custom_doc("closed", json!({"sourceType": "IN_LINE", "inlineContent": {"type": "TEXT", "textContent": {"data": "private handbook"}}}), Some(acl.clone())),
        custom_doc("no-acl", json!({"sourceType": "IN_LINE", "inlineContent": {"type": "TEXT", "textContent": {"data": "orphan handbook"}}}), None),
    ])).await.status, 202);
    settle(&sim).await;
    let found = |body: Value| {
        let path = format!("/knowledgebases/{kb}/retrieve");
        let sim = &sim;
        async move {
            let a = call(sim, "POST", &path, Some(&body)).await;
            assert_eq!(a.status, 200, "{}", a.body);
            let mut ids: Vec<String> = a.body["retrievalResults"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r["location"]["customDocumentLocation"]["id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        found(json!({"retrievalQuery": {"text": "handbook"}})).await,
        ["open"]
    );
    assert_eq!(
        found(
            json!({"retrievalQuery": {"text": "handbook"}, "userContext": {"userId": "A@X.com"}})
        )
        .await,
        ["closed", "open"]
    );
    sim.stop().await;
}

#[tokio::test]
async fn control_api_over_http() {
    let sim = start(cfg()).await;
    let ctl = |method: &'static str, path: &'static str, body: Option<Value>| {
        let url = format!("{}{path}", sim.endpoint());
        async move {
            let mut rb = reqwest::Client::new().request(method.parse().unwrap(), url);
            if let Some(b) = body {
                rb = rb.json(&b);
            }
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(ctl("POST", "/_sim/indexing/pause", None).await.0, 200);
    ingest(&sim, vec![text_doc("d1", "hello world", "a@x.com")]).await;
    let (_, docs) = ctl("GET", "/_sim/documents", None).await;
    let d = &docs["documents"][0];
    assert_eq!(d["status"], "STARTING");
    assert_eq!(d["contentType"], "TEXT");
    assert_eq!(
        d["inlineAttributes"][0],
        json!({"key": "title", "value": {"type": "STRING", "stringValue": "d1"}})
    );
    assert_eq!(
        d["accessControlList"][0],
        json!({"name": "a@x.com", "type": "USER", "access": "ALLOW"})
    );
    assert_eq!(d["searchable"], false);
    assert_eq!(ctl("POST", "/_sim/indexing/resume", None).await.0, 200);
    settle(&sim).await;
    let (_, docs) = ctl("GET", "/_sim/documents", None).await;
    assert_eq!(docs["documents"][0]["status"], "INDEXED");
    assert_eq!(docs["documents"][0]["textLength"], 11);
    let (_, ids) = ctl("GET", "/_sim/documents?ids_only=true", None).await;
    assert_eq!(ids, json!({"ids": ["d1"]}));
    let (_, ids) = ctl(
        "GET",
        "/_sim/documents?dataSourceId=NOSUCHDS01&ids_only=true",
        None,
    )
    .await;
    assert_eq!(ids, json!({"ids": []}));
    let (_, counts) = ctl("GET", "/_sim/counts", None).await;
    assert_eq!(counts["by_operation"]["IngestKnowledgeBaseDocuments"], 1);
    assert_eq!(counts["documents_ingested"], 1);
    // Faults: refused when not modeled, listed, spread with `every`, cleared.
    let (st, e) = ctl(
        "POST",
        "/_sim/faults",
        Some(json!({"operation": "ListKnowledgeBases", "kind": "status", "status": 404})),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    let (st, _) = ctl("POST", "/_sim/faults", Some(json!({"operation": "ListKnowledgeBases", "kind": "status", "status": 500, "every": 2, "count": 5}))).await;
    assert_eq!(st, 200);
    let (_, list) = ctl("GET", "/_sim/faults", None).await;
    assert_eq!(list["faults"][0]["remaining"], 5);
    let statuses: Vec<u16> = futures_statuses(&sim, 4).await;
    assert_eq!(statuses, [200, 500, 200, 500]);
    assert_eq!(ctl("DELETE", "/_sim/faults", None).await.0, 200);
    assert_eq!(
        ctl("GET", "/_sim/faults", None).await.1["faults"],
        json!([])
    );
    // Rates.
    let (_, rates) = ctl(
        "PUT",
        "/_sim/rates",
        Some(json!({"ListKnowledgeBases": 0.0})),
    )
    .await;
    assert_eq!(rates["ListKnowledgeBases"], 0.0);
    assert_eq!(futures_statuses(&sim, 1).await, [429]);
    assert_eq!(ctl("GET", "/_sim/counts", None).await.1["throttled"], 1);
    assert_eq!(ctl("DELETE", "/_sim/counts", None).await.0, 200);
    assert_eq!(ctl("GET", "/_sim/counts", None).await.1["throttled"], 0);
    assert_eq!(ctl("GET", "/_sim/nothing", None).await.0, 404);
    sim.stop().await;
}

/// Statuses of `n` ListKnowledgeBases calls, one after the other.
async fn futures_statuses(sim: &bedrock_sim::BedrockSim, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            call(sim, "POST", "/knowledgebases/", Some(&json!({})))
                .await
                .status,
        );
    }
    out
}
