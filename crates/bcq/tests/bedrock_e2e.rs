//! End-to-end into the Amazon Bedrock knowledge base emulator: the real
//! `bcq` binary with `BCQ_DESTINATION=bedrock-kb` and the documented
//! variables only. Full sync, incremental, deletions, access through
//! `Retrieve` with `userContext`, faults (throttling, 500s, an ingestion
//! that fails after acceptance), and large files through S3 (moto).

mod common;

use aws_sim::moto::Moto;
use common::{World, bc, moto_s3, pairs, q_fast, staged};
use serde_json::{Value, json};

/// Finance (ap@, and through Controllers the CFO) reads sales invoices; the
/// intern is in Finance but denied.
const RULES: &str = r#"
[[access]]
entities = ["salesInvoices", "customers", "items"]
allow_groups = ["Finance"]
deny_users = ["intern@x.example"]

[groups.Finance]
users = ["ap@x.example", "intern@x.example"]
groups = ["Controllers"]

[groups.Controllers]
users = ["cfo@x.example"]
"#;

/// The value of an inline attribute, whatever its type.
fn attr<'a>(d: &'a Value, key: &str) -> Option<&'a Value> {
    let v = &d["inlineAttributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"];
    [
        "stringValue",
        "numberValue",
        "booleanValue",
        "stringListValue",
    ]
    .iter()
    .find_map(|k| v.get(*k))
}

fn kb_doc<'a>(docs: &'a [Value], id: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_incremental_deletions_and_access_through_retrieve() {
    let w = World::start(bc(60), q_fast()).await;
    w.write_config(RULES);
    let env = w.bedrock_env();
    let r = w.bcq(&["sync", "--no-progress"], &pairs(&env)).await;
    r.assert_ok();
    assert!(r.stdout.contains("added              60"), "{}", r.stdout);
    assert!(
        r.stdout.contains("(reconcile run 1, bedrock-kb run -)"),
        "{}",
        r.stdout
    );
    let docs = w.kb_documents().await;
    assert_eq!(docs.len(), 60);
    let invoices = w.bc_invoices().await;
    for inv in &invoices {
        let id = w.invoice_doc_id(inv["id"].as_str().unwrap());
        let d = kb_doc(&docs, &id).unwrap_or_else(|| panic!("{id} not in the knowledge base"));
        assert_eq!(d["status"], "INDEXED", "{d}");
        let title = attr(d, "_title").unwrap().as_str().unwrap();
        assert!(title.contains(inv["number"].as_str().unwrap()), "{d}");
        assert!(
            attr(d, "_source_uri")
                .unwrap()
                .as_str()
                .unwrap()
                .contains("businesscentral.dynamics.com"),
            "{d}"
        );
        // Dates travel as epoch seconds (NUMBER), the same instant as BC's.
        let t = chrono::DateTime::parse_from_rfc3339(inv["lastModifiedDateTime"].as_str().unwrap())
            .unwrap()
            .timestamp() as f64;
        assert_eq!(
            attr(d, "_last_updated_at").unwrap().as_f64(),
            Some(t),
            "{d}"
        );
        // Users only: Finance expanded through Controllers, the intern denied.
        let acl = d["accessControlList"].to_string();
        for user in ["ap@x.example", "cfo@x.example", "intern@x.example"] {
            assert!(acl.contains(user), "{acl}");
        }
        assert!(
            !acl.contains("Finance"),
            "groups do not reach Bedrock: {acl}"
        );
    }

    // Access: an allowed user (directly, and through a nested group) gets
    // the invoice; a denied member and a stranger do not.
    let inv = &invoices[7];
    let id = w.invoice_doc_id(inv["id"].as_str().unwrap());
    let q = format!(
        "invoice {} {}",
        inv["number"].as_str().unwrap(),
        inv["customerName"].as_str().unwrap()
    );
    assert!(w.retrieve("ap@x.example", &q).await.contains(&id));
    assert!(
        w.retrieve("CFO@x.example", &q).await.contains(&id),
        "users match case-insensitively"
    );
    assert!(
        !w.retrieve("intern@x.example", &q).await.contains(&id),
        "DENY wins"
    );
    assert!(w.retrieve("stranger@x.example", &q).await.is_empty());

    // Incremental: two changed invoices are pushed, nothing else.
    for inv in &invoices[10..12] {
        w.bc_update(
            "salesInvoices",
            inv["id"].as_str().unwrap(),
            json!({"externalDocumentNumber": "KB-CHANGED"}),
        )
        .await;
    }
    let r = w.bcq(&["sync", "--no-progress"], &pairs(&env)).await;
    r.assert_ok();
    assert!(r.stdout.contains("updated             2"), "{}", r.stdout);
    assert!(r.stdout.contains("(incremental run 2"), "{}", r.stdout);
    let docs = w.kb_documents().await;
    let changed = kb_doc(
        &docs,
        &w.invoice_doc_id(invoices[10]["id"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(changed["status"], "INDEXED");

    // Deletions: a record deleted in BC leaves the knowledge base at the
    // next reconciliation.
    let gone = invoices[3]["id"].as_str().unwrap();
    w.bc_delete("salesInvoices", gone).await;
    let r = w
        .bcq(&["sync", "--no-progress", "--reconcile"], &pairs(&env))
        .await;
    r.assert_ok();
    assert!(r.stdout.contains("deleted             1"), "{}", r.stdout);
    let docs = w.kb_documents().await;
    let d = kb_doc(&docs, &w.invoice_doc_id(gone));
    assert!(d.is_none_or(|d| d["status"] == "NOT_FOUND"), "{d:?}");
    assert!(
        !w.retrieve("ap@x.example", &q)
            .await
            .contains(&w.invoice_doc_id(gone))
    );
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_the_knowledge_base_would_hide_are_refused_before_anything_is_sent() {
    let w = World::start(bc(5), q_fast()).await;
    let env = w.bedrock_env();
    // No rule: an ACL-enabled data source would never return the documents.
    let r = w.bcq(&["sync", "--no-progress"], &pairs(&env)).await;
    assert_eq!(r.code, 1, "{}", r.both());
    assert!(
        r.stderr.contains("never returned") || r.stderr.contains("never returns"),
        "{}",
        r.both()
    );
    assert!(
        r.stderr.contains("no [[access]] rule covers it"),
        "{}",
        r.both()
    );
    let check = w.bcq(&["check"], &pairs(&env)).await;
    assert_eq!(check.code, 1);
    assert!(
        check
            .stdout
            .contains("✖ access control: Amazon Bedrock cannot honour"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("✔ bedrock data source"),
        "{}",
        check.stdout
    );
    assert!(w.kb_documents().await.is_empty());
    // A group no [groups] defines cannot be expanded: the documents fail,
    // saying why.
    w.write_config("[[access]]\nallow_groups = [\"Nobody\"]\n");
    let r = w.bcq(&["sync", "--no-progress"], &pairs(&env)).await;
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("[groups.Nobody]"), "{}", r.stdout);
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttles_500s_and_failed_ingestion_are_survived_or_reported() {
    let w = World::start(bc(40), q_fast()).await;
    w.write_config(RULES);
    let env = w.bedrock_env();
    let faults = format!("{}/_sim/faults", w.emu.bedrock.endpoint());
    let client = reqwest::Client::new();
    let fault = |f: Value| {
        let client = client.clone();
        let faults = faults.clone();
        async move {
            let r = client.post(&faults).json(&f).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    };
    // Throttled: each throttled call keeps its place and is sent again.
    fault(
        json!({"kind": "throttle_burst", "operation": "IngestKnowledgeBaseDocuments", "count": 3}),
    )
    .await;
    let r = w
        .bcq(
            &["sync", "--no-progress", "--log-format", "json"],
            &pairs(&env),
        )
        .await;
    r.assert_ok();
    let summary: Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["added"], 40);
    assert_eq!(summary["bedrock-kb"]["throttled"], 3, "{summary}");
    assert!(
        w.kb_documents()
            .await
            .iter()
            .all(|d| d["status"] == "INDEXED")
    );
    // 500s: retried within the policy's bounds.
    let invoices = w.bc_invoices().await;
    for inv in &invoices[..12] {
        w.bc_update(
            "salesInvoices",
            inv["id"].as_str().unwrap(),
            json!({"externalDocumentNumber": "KB-500"}),
        )
        .await;
    }
    fault(json!({"kind": "status", "status": 500, "operation": "IngestKnowledgeBaseDocuments", "count": 2})).await;
    let r = w
        .bcq(
            &["sync", "--no-progress", "--log-format", "json"],
            &pairs(&env),
        )
        .await;
    r.assert_ok();
    let summary: Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["updated"], 12, "{summary}");
    assert_eq!(summary["bedrock-kb"]["retries"], 2, "{summary}");
    assert!(
        w.kb_documents()
            .await
            .iter()
            .all(|d| d["status"] == "INDEXED")
    );

    // One document fails after it was accepted: the run that sent it
    // reports it with Bedrock's reason, the next run sends it again.
    let target = w.invoice_doc_id(invoices[4]["id"].as_str().unwrap());
    client
        .post(&faults)
        .json(&json!({"kind": "index_failure", "document_id_contains": target}))
        .send()
        .await
        .unwrap();
    w.bc_update(
        "salesInvoices",
        invoices[4]["id"].as_str().unwrap(),
        json!({"externalDocumentNumber": "WILL-FAIL"}),
    )
    .await;
    let r = w.bcq(&["sync", "--no-progress"], &pairs(&env)).await;
    assert_eq!(r.code, 1, "{}", r.both());
    assert!(
        r.stdout.contains(&format!(
            "not indexed {target} (accepted, then failed to index: FAILED:"
        )),
        "{}",
        r.stdout
    );
    let status = w.bcq(&["status"], &pairs(&env)).await;
    assert!(
        status.stdout.contains("failed to index"),
        "{}",
        status.stdout
    );
    client.delete(&faults).send().await.unwrap();
    let r = w.bcq(&["sync", "--no-progress"], &pairs(&env)).await;
    r.assert_ok();
    let docs = w.kb_documents().await;
    assert_eq!(kb_doc(&docs, &target).unwrap()["status"], "INDEXED");
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_too_large_to_go_inline_goes_through_s3() {
    let moto = Moto::start();
    let s3 = moto_s3(&moto.url);
    s3.create_bucket()
        .bucket("bcq-kb-files")
        .send()
        .await
        .unwrap();
    let bcfg = bedrock_sim::BedrockSimConfig {
        s3_endpoint: Some(moto.url.clone()),
        ..Default::default()
    };
    let w = World {
        emu: bcq::demo::Emulators::start_all(bc(200), q_fast(), bcfg)
            .await
            .unwrap(),
        dir: tempfile::tempdir().unwrap(),
        env: "production".into(),
    };
    w.write_config(RULES);
    let mut env = w.bedrock_env();
    env.extend([
        ("BCQ_ENTITIES", "salesInvoices,customers,items".to_string()),
        ("BCQ_INCLUDE_ATTACHMENTS", "true".to_string()),
        ("BCQ_S3_BUCKET", "bcq-kb-files".to_string()),
        ("AWS_ENDPOINT_URL_S3", moto.url.clone()),
    ]);
    w.bcq(&["sync", "--no-progress"], &pairs(&env))
        .await
        .assert_ok();
    let docs = w.kb_documents().await;
    let docx = docs
        .iter()
        .find(|d| {
            attr(d, "bc_file_name")
                .and_then(Value::as_str)
                .is_some_and(|f| f.ends_with(".docx"))
        })
        .expect("a Word attachment")
        .clone();
    let bc_id = attr(&docx, "bc_id").unwrap().as_str().unwrap().to_string();
    // 8 MB: over the 5 MB Bedrock takes inline.
    let big = bc_sim::attachments::stored_zip(&[
        (
            "word/document.xml",
            b"<w:document><w:body><w:p><w:r><w:t>Delivery note KB-HUGE</w:t></w:r></w:p></w:body></w:document>".to_vec(),
        ),
        ("word/media/image1.png", vec![0x5a; 8 << 20]),
    ]);
    w.bc_upload_attachment(&bc_id, big).await;
    let r = w.bcq(&["sync", "--no-progress"], &pairs(&env)).await;
    r.assert_ok();
    assert!(r.stdout.contains("updated             1"), "{}", r.stdout);
    let docs = w.kb_documents().await;
    let d = kb_doc(&docs, docx["id"].as_str().unwrap()).unwrap();
    assert_eq!(d["status"], "INDEXED", "{d}");
    assert!(
        d["contentType"]
            .as_str()
            .unwrap()
            .starts_with("S3_LOCATION s3://bcq-kb-files/bcq/"),
        "{d}"
    );
    assert_eq!(staged(&s3, "bcq-kb-files").await.len(), 1);
    let q = "Delivery note KB-HUGE";
    assert!(
        w.retrieve("ap@x.example", q)
            .await
            .contains(&docx["id"].as_str().unwrap().to_string())
    );
    w.emu.stop().await;
}
