//! Asynchronous indexing: statuses, extraction per content type, failures.

mod common;

use common::*;
use serde_json::{Value, json};

fn typed(id: &str, ct: &str, bytes: &[u8]) -> Value {
    json!({"id": id, "title": id, "contentType": ct, "content": {"blob": b64(bytes)}})
}

async fn statuses(sim: &q_sim::QSim) -> Vec<(String, String, Value)> {
    let c = sim.config();
    let a = call(
        sim,
        "GET",
        &format!(
            "/applications/{}/index/{}/documents",
            c.application_id, c.index_id
        ),
        "",
        None,
    )
    .await;
    a.body["documentDetailList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["documentId"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
                d["error"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn received_then_indexed_then_updated() {
    let sim = start(cfg()).await;
    sim.control().set_indexing_paused(true);
    put(&sim, vec![doc("d1", "hello")], None).await;
    let s = statuses(&sim).await;
    assert_eq!(s[0].1, "RECEIVED");
    let c = sim.config();
    let a = call(
        &sim,
        "GET",
        &format!(
            "/applications/{}/index/{}/documents",
            c.application_id, c.index_id
        ),
        "",
        None,
    )
    .await;
    let d = &a.body["documentDetailList"][0];
    assert!(
        d["createdAt"].is_number() && d["updatedAt"].is_number(),
        "timestamps are epoch seconds: {d}"
    );
    sim.control().set_indexing_paused(false);
    settle(&sim).await;
    assert_eq!(statuses(&sim).await[0].1, "INDEXED");
    put(&sim, vec![doc("d1", "hello again")], None).await;
    settle(&sim).await;
    assert_eq!(statuses(&sim).await[0].1, "UPDATED");
    assert_eq!(
        sim.control().default_documents()[0].text.as_deref(),
        Some("hello again")
    );
    sim.stop().await;
}

#[tokio::test]
async fn extraction_per_content_type() {
    let sim = start(cfg()).await;
    let pdf = q_sim::pdf::make_pdf(
        &[
            "Posted Sales Invoice 103021",
            "Customer: Adatum Corporation",
        ],
        true,
    );
    // A hand-written PDF with an uncompressed content stream and a TJ array.
    let hand = b"%PDF-1.4\n1 0 obj\n<< /Length 44 >>\nstream\nBT /F1 12 Tf [(Hand) -300 (made)] TJ ET\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    let docs = vec![
        typed("a.pdf", "PDF", &pdf),
        typed("b.pdf", "PDF", hand),
        typed(
            "c.html",
            "HTML",
            b"<html><script>x()</script><body><p>Order &lt;42&gt;</p><p>shipped</p></body></html>",
        ),
        typed("d.md", "MD", b"# Item 1000\n*Bicycle*"),
        typed("e.txt", "PLAIN_TEXT", "Caf\u{e9} au lait".as_bytes()),
        typed(
            "f.json",
            "JSON",
            br#"{"number":"S-ORD101001","amount":1200.5}"#,
        ),
        typed("g.csv", "CSV", b"no,name\n10000,Adatum"),
        typed(
            "h.xml",
            "XML",
            b"<customer><name>Trey Research</name></customer>",
        ),
        typed(
            "i.docx",
            "MS_WORD",
            &q_sim::ooxml::make_zip(&[(
                "word/document.xml",
                b"<w:p><w:t>Vendor 20000</w:t></w:p>",
            )]),
        ),
    ];
    assert_eq!(
        put(&sim, docs, None).await.body["failedDocuments"],
        json!([])
    );
    settle(&sim).await;
    let dump = sim.control().default_documents();
    let text = |id: &str| {
        dump.iter()
            .find(|d| d.id == id)
            .unwrap()
            .text
            .clone()
            .unwrap()
    };
    assert_eq!(
        text("a.pdf"),
        "Posted Sales Invoice 103021\nCustomer: Adatum Corporation"
    );
    assert_eq!(text("b.pdf"), "Hand made");
    assert_eq!(text("c.html"), "Order <42> shipped");
    assert_eq!(text("d.md"), "# Item 1000\n*Bicycle*");
    assert_eq!(text("e.txt"), "Caf\u{e9} au lait");
    assert_eq!(
        text("f.json"),
        r#"{"number":"S-ORD101001","amount":1200.5}"#
    );
    assert_eq!(text("g.csv"), "no,name\n10000,Adatum");
    assert_eq!(text("h.xml"), "Trey Research");
    assert_eq!(text("i.docx"), "Vendor 20000");
    assert!(dump.iter().all(|d| d.status == "INDEXED"));
    sim.stop().await;
}

#[tokio::test]
async fn unextractable_content_and_bad_attributes_fail_to_index() {
    let sim = start(cfg()).await;
    let idx = index_path(&sim);
    let upd = json!({"documentAttributeConfigurations": [{"name": "bc_amount", "type": "NUMBER", "search": "DISABLED"}]});
    assert_eq!(call(&sim, "PUT", &idx, "", Some(&upd)).await.status, 200);
    let with_attr = |id: &str, name: &str, value: Value| {
        let mut d = doc(id, "text");
        d["attributes"] = json!([{"name": name, "value": value}]);
        d
    };
    let docs = vec![
        typed("not-a-pdf", "PDF", b"this is no pdf"),
        typed("bad-utf8", "PLAIN_TEXT", &[0xff, 0xfe, 0xfd]),
        typed("bad-json", "JSON", b"{oops"),
        with_attr("undeclared", "bc_region", json!({"stringValue": "EU"})),
        with_attr("wrong-type", "bc_amount", json!({"stringValue": "12"})),
        with_attr("reserved-wrong", "_source_uri", json!({"longValue": 1})),
        with_attr(
            "reserved-date",
            "_created_at",
            json!({"stringValue": "2024-01-01"}),
        ),
        with_attr("ok-number", "bc_amount", json!({"longValue": 12})),
        with_attr(
            "ok-date",
            "_last_updated_at",
            json!({"dateValue": 1700000000.5}),
        ),
        with_attr(
            "ok-list",
            "_authors",
            json!({"stringListValue": ["a", "b"]}),
        ),
    ];
    assert_eq!(
        put(&sim, docs, None).await.body["failedDocuments"],
        json!([]),
        "failures are asynchronous"
    );
    settle(&sim).await;
    for (id, status, error) in statuses(&sim).await {
        if id.starts_with("ok-") {
            assert_eq!(status, "INDEXED", "{id}: {error}");
        } else {
            assert_eq!(status, "DOCUMENT_FAILED_TO_INDEX", "{id}");
            assert_eq!(error["errorCode"], "InvalidRequest", "{id}");
            assert!(
                error["errorMessage"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    }
    let dump = sim.control().default_documents();
    let undeclared = dump.iter().find(|d| d.id == "undeclared").unwrap();
    assert!(
        undeclared
            .error
            .as_ref()
            .unwrap()
            .error_message
            .contains("bc_region")
    );
    assert_eq!(
        dump.iter().find(|d| d.id == "ok-date").unwrap().attributes["_last_updated_at"],
        "2023-11-14T22:13:20.500Z"
    );
    assert_eq!(
        dump.iter().find(|d| d.id == "ok-list").unwrap().attributes["_authors"],
        json!(["a", "b"])
    );
    sim.stop().await;
}

#[tokio::test]
async fn text_over_5_mb_fails() {
    let sim = start(q_sim::QSimConfig {
        max_body_bytes: 20 * 1024 * 1024,
        ..cfg()
    })
    .await;
    let big = vec![b'a'; 5 * 1024 * 1024 + 1];
    put(&sim, vec![typed("big.txt", "PLAIN_TEXT", &big)], None).await;
    settle(&sim).await;
    let s = statuses(&sim).await;
    assert_eq!(s[0].1, "DOCUMENT_FAILED_TO_INDEX");
    assert!(s[0].2["errorMessage"].as_str().unwrap().contains("5 MB"));
    sim.stop().await;
}

#[tokio::test]
async fn delete_goes_deleting_deleted_then_gone() {
    let sim = start(cfg()).await;
    put(&sim, vec![doc("keep", "x"), doc("drop", "y")], None).await;
    settle(&sim).await;
    sim.control().set_indexing_paused(true);
    let del = json!({"documents": [{"documentId": "drop"}, {"documentId": "never-existed"}]});
    let a = call(
        &sim,
        "POST",
        &format!("{}/documents/delete", index_path(&sim)),
        "",
        Some(&del),
    )
    .await;
    assert_eq!(a.body["failedDocuments"], json!([]));
    let s = statuses(&sim).await;
    assert_eq!(s.iter().find(|d| d.0 == "drop").unwrap().1, "DELETING");
    sim.control().set_indexing_paused(false);
    settle(&sim).await;
    let s = statuses(&sim).await;
    assert_eq!(
        s.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
        vec!["keep"]
    );
    assert_eq!(sim.control().counts().documents_deleted, 2);
    sim.stop().await;
}

#[tokio::test]
async fn list_documents_paginates_and_filters_by_data_source() {
    let sim = start(cfg()).await;
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
    let docs: Vec<Value> = (0..7).map(|i| doc(&format!("doc-{i}"), "x")).collect();
    put(&sim, docs, Some(&exec)).await;
    put(&sim, vec![doc("loose", "x")], None).await;
    let c = sim.config().clone();
    let path = format!(
        "/applications/{}/index/{}/documents",
        c.application_id, c.index_id
    );
    let mut seen = Vec::new();
    let mut query = "maxResults=3".to_string();
    loop {
        let a = call(&sim, "GET", &path, &query, None).await;
        let page = a.body["documentDetailList"].as_array().unwrap();
        assert!(page.len() <= 3);
        seen.extend(
            page.iter()
                .map(|d| d["documentId"].as_str().unwrap().to_string()),
        );
        match a.body["nextToken"].as_str() {
            Some(t) => {
                query = format!(
                    "maxResults=3&nextToken={}",
                    percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC)
                )
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let a = call(
        &sim,
        "GET",
        &path,
        &format!("dataSourceIds={}", c.data_source_id),
        None,
    )
    .await;
    assert_eq!(a.body["documentDetailList"].as_array().unwrap().len(), 7);
    sim.stop().await;
}
