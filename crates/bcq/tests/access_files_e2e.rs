//! End-to-end: who may read what (access rules, groups), the files behind
//! records (PDFs, attachments) following their record, and moving from the
//! sample connector, through the real binary against the emulators.

mod common;

use aws_sdk_qbusiness::primitives::Blob;
use aws_sdk_qbusiness::types::{ContentType, Document, DocumentContent};
use common::{World, bc, q_fast};
use serde_json::Value;
use std::collections::BTreeSet;

fn live(docs: &[Value]) -> Vec<&Value> {
    docs.iter()
        .filter(|d| !matches!(d["status"].as_str(), Some("DELETED" | "DELETING")))
        .collect()
}

fn attr<'a>(d: &'a Value, name: &str) -> &'a str {
    d["attributes"][name].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_rules_decide_who_reads_what() {
    let w = World::start(bc(30), q_fast()).await;
    // Without rules, check and sync say loudly that everyone can read everything.
    let r = w.bcq(&["check"], &[]).await;
    assert!(r.stdout.contains("⚠ access control"), "{}", r.stdout);
    let r = w
        .bcq(
            &["sync", "--no-progress"],
            &[("BCQ_REQUIRE_ACCESS", "true")],
        )
        .await;
    assert_eq!(r.code, 1, "{}", r.both());
    assert!(
        r.both().contains("no [[access]] rule covers"),
        "{}",
        r.both()
    );

    let cfg = w.dir.path().join("bcq.toml");
    std::fs::write(
        &cfg,
        r#"
[sync]
entities = ["salesInvoices", "customers"]
include_pdf = true

[[access]]
entities = ["salesInvoices"]
allow_users = ["cfo@contoso.com"]
allow_groups = ["Finance"]
deny_users = ["intern@contoso.com"]

[[access]]
entities = ["customers"]
public = true

[groups.Finance]
users = ["ap@contoso.com", "intern@contoso.com"]
"#,
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    w.bcq(&["--config", c, "index-schema", "--apply"], &[])
        .await
        .assert_ok();
    let r = w.bcq(&["--config", c, "check"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.both());
    assert!(r.stdout.contains("✔ access control"), "{}", r.stdout);
    let r = w
        .bcq(
            &["--config", c, "sync", "--no-progress"],
            &[("BCQ_REQUIRE_ACCESS", "true")],
        )
        .await;
    r.assert_ok();
    assert!(!r.stdout.contains("WITHOUT access control"), "{}", r.stdout);

    let invoices = w.bc_invoices().await;
    let doc = w.invoice_doc_id(invoices[0]["id"].as_str().unwrap());
    let pdf = format!("{doc}/pdf");
    for (user, want) in [
        ("cfo@contoso.com", true),
        ("AP@contoso.com", true), // through the Finance group (PutGroup)
        ("intern@contoso.com", false), // in Finance, but denied by name
        ("someone@contoso.com", false), // nobody named them
    ] {
        assert_eq!(w.has_access(user, &doc).await, want, "{user} on {doc}");
        assert_eq!(w.has_access(user, &pdf).await, want, "{user} on {pdf}");
    }
    let docs = w.q_documents().await;
    let customer = live(&docs)
        .into_iter()
        .find(|d| d["id"].as_str().unwrap().contains("/customers/"))
        .expect("customers are synced");
    assert!(customer["accessConfiguration"].is_null());
    assert!(
        w.has_access("someone@contoso.com", customer["id"].as_str().unwrap())
            .await
    );

    // Changing who may read re-pushes the documents with the new rule.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("cfo@contoso.com", "controller@contoso.com");
    std::fs::write(&cfg, text).unwrap();
    w.bcq(&["--config", c, "sync", "--no-progress"], &[])
        .await
        .assert_ok();
    assert!(!w.has_access("cfo@contoso.com", &doc).await);
    assert!(w.has_access("controller@contoso.com", &doc).await);

    // A group removed from the configuration is deleted from Q as well;
    // its members lose what it gave them.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            r#"allow_groups = ["Finance"]"#,
            r#"allow_groups = ["Auditors"]"#,
        )
        .replace("[groups.Finance]", "[groups.Auditors]")
        .replace(
            r#""ap@contoso.com", "intern@contoso.com""#,
            r#""auditor@contoso.com""#,
        );
    std::fs::write(&cfg, text).unwrap();
    w.bcq(&["--config", c, "sync", "--no-progress"], &[])
        .await
        .assert_ok();
    let q = w.q_sdk().await;
    let qc = w.emu.q.config();
    let group = |name: &'static str| {
        q.get_group()
            .application_id(&qc.application_id)
            .index_id(&qc.index_id)
            .group_name(name)
            .send()
    };
    let gone = group("Finance").await.unwrap_err();
    assert_eq!(
        aws_sdk_qbusiness::error::ProvideErrorMetadata::code(&gone),
        Some("ResourceNotFoundException"),
        "{gone:?}"
    );
    group("Auditors")
        .await
        .expect("the configured group is in Q");
    assert!(!w.has_access("ap@contoso.com", &doc).await);
    assert!(w.has_access("auditor@contoso.com", &doc).await);
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_index_with_their_type_and_follow_their_record() {
    // 200 invoices → 10 attachments: every kind the emulator makes.
    let w = World::start(bc(200), q_fast()).await;
    let env = [
        ("BCQ_ENTITIES", "salesInvoices,customers,items"),
        ("BCQ_INCLUDE_ATTACHMENTS", "true"),
        ("BCQ_MAX_DELETE_SHARE", "0.5"),
    ];
    // bcq.toml in the working directory is read by every run.
    std::fs::write(
        w.dir.path().join("bcq.toml"),
        "[[access]]\nentities = [\"salesInvoices\"]\nallow_users = [\"cfo@contoso.com\"]\n\n[[access]]\npublic = true\n",
    )
    .unwrap();
    w.bcq(&["index-schema", "--apply"], &env).await.assert_ok();
    let r = w.bcq(&["sync", "--no-progress"], &env).await;
    r.assert_ok();
    assert!(
        r.stdout.contains("skipped             1 files"),
        "{}",
        r.stdout
    );

    let docs = w.q_documents().await;
    let ids: BTreeSet<&str> = live(&docs)
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let att: Vec<&Value> = live(&docs)
        .into_iter()
        .filter(|d| d["id"].as_str().unwrap().contains("/documentAttachments/"))
        .collect();
    assert_eq!(att.len(), 9, "10 attachments, the image skipped");
    let types: BTreeSet<&str> = att
        .iter()
        .map(|d| d["contentType"].as_str().unwrap())
        .collect();
    for t in ["PDF", "MS_WORD", "MS_EXCEL", "CSV", "HTML", "PLAIN_TEXT"] {
        assert!(types.contains(t), "no {t} attachment in {types:?}");
    }
    for d in &att {
        assert_eq!(d["status"], "INDEXED", "{d}");
        assert!(
            d["text"].as_str().unwrap().contains("Delivery note"),
            "text not extracted from {d}"
        );
        assert!(
            d["title"].as_str().unwrap().contains("(attached to "),
            "{d}"
        );
        assert!(
            ids.contains(attr(d, "bc_parent")),
            "{} is attached to a record Q does not have",
            d["id"]
        );
        assert!(attr(d, "_source_uri").contains("filter="), "{d}");
        // An attachment is readable by exactly who may read its record.
        let on_invoice = attr(d, "bc_parent").contains("/salesInvoices/");
        let id = d["id"].as_str().unwrap();
        assert_eq!(
            w.has_access("someone@contoso.com", id).await,
            !on_invoice,
            "{id}"
        );
        assert!(w.has_access("cfo@contoso.com", id).await, "{id}");
    }
    let status = w.bcq(&["status"], &env).await;
    assert!(status.stdout.contains(".png"), "{}", status.stdout);

    // A new version of a file is pushed again, alone.
    let txt = att
        .iter()
        .find(|d| attr(d, "bc_file_name").ends_with(".txt"))
        .unwrap();
    w.bc_upload_attachment(attr(txt, "bc_id"), b"Delivery note REVISED\r\n".to_vec())
        .await;
    let r = w.bcq(&["sync", "--no-progress"], &env).await;
    r.assert_ok();
    assert!(r.stdout.contains("updated             1"), "{}", r.stdout);
    let docs = w.q_documents().await;
    let again = docs.iter().find(|d| d["id"] == txt["id"]).unwrap();
    assert!(again["text"].as_str().unwrap().contains("REVISED"));

    // Deleting the record deletes its attachments (BC cascades; bcq's
    // reconciliation removes both from Q).
    let on_invoice = att
        .iter()
        .find(|d| attr(d, "bc_parent").contains("/salesInvoices/"))
        .unwrap();
    let invoice_id = attr(on_invoice, "bc_parent").rsplit('/').next().unwrap();
    w.bc_delete("salesInvoices", invoice_id).await;
    let r = w.bcq(&["sync", "--no-progress", "--reconcile"], &env).await;
    r.assert_ok();
    let docs = w.q_documents().await;
    let still: BTreeSet<&str> = live(&docs)
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert!(!still.contains(attr(on_invoice, "bc_parent")));
    assert!(!still.contains(on_invoice["id"].as_str().unwrap()));
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_samples_documents_are_deleted_once_replaced() {
    let w = World::start(bc(30), q_fast()).await;
    let invoices = w.bc_invoices().await;
    let qc = w.emu.q.config();
    let q = w.q_sdk().await;
    // What the sample left: `<number>.pdf`, pushed inside a sync job.
    let job = common::start_q_job(&q, qc).await;
    let mut numbers: Vec<String> = invoices
        .iter()
        .take(5)
        .map(|i| i["number"].as_str().unwrap().to_string())
        .collect();
    numbers.push("NOT-IN-BC".into());
    let mut put = q
        .batch_put_document()
        .application_id(&qc.application_id)
        .index_id(&qc.index_id)
        .data_source_sync_id(&job);
    for n in &numbers {
        put = put.documents(
            Document::builder()
                .id(format!("{n}.pdf"))
                .title(format!("{n}.pdf"))
                .content_type(ContentType::Pdf)
                .content(DocumentContent::Blob(Blob::new(bc_sim::pdf::text_pdf(&[
                    format!("Invoice {n}"),
                ]))))
                .build()
                .unwrap(),
        );
    }
    assert!(put.send().await.unwrap().failed_documents().is_empty());
    common::stop_q_job(&q, qc).await;
    w.q_documents().await;

    let r = w
        .bcq(
            &["sync", "--no-progress"],
            &[("BCQ_DELETE_SAMPLE_DOCUMENTS", "true")],
        )
        .await;
    r.assert_ok();
    assert!(r.stdout.contains("5 deleted of 6 found"), "{}", r.stdout);
    let docs = w.q_documents().await;
    let ids: BTreeSet<&str> = live(&docs)
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    for n in &numbers[..5] {
        assert!(!ids.contains(format!("{n}.pdf").as_str()), "{n}.pdf kept");
    }
    assert!(
        ids.contains("NOT-IN-BC.pdf"),
        "a document with no invoice is kept"
    );
    assert_eq!(
        ids.iter().filter(|i| i.contains("/salesInvoices/")).count(),
        invoices.len()
    );
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_too_large_are_skipped_and_reported_without_failing_the_run() {
    let w = World::start(bc(200), q_fast()).await;
    let env = [
        ("BCQ_ENTITIES", "salesInvoices,customers,items"),
        ("BCQ_INCLUDE_ATTACHMENTS", "true"),
    ];
    w.bcq(&["index-schema", "--apply"], &env).await.assert_ok();
    w.bcq(&["sync", "--no-progress"], &env).await.assert_ok();
    let docs = w.q_documents().await;
    let txt: Vec<&Value> = live(&docs)
        .into_iter()
        .filter(|d| {
            attr(d, "bc_file_name").ends_with(".txt") || attr(d, "bc_file_name").ends_with(".csv")
        })
        .collect();
    assert!(txt.len() >= 2, "{txt:?}");
    // Over what one call can carry inline (no S3 configured), and over Q's 50 MB.
    w.bc_upload_attachment(attr(txt[0], "bc_id"), vec![b'a'; 12 * 1024 * 1024])
        .await;
    w.bc_upload_attachment(attr(txt[1], "bc_id"), vec![b'b'; 51 * 1024 * 1024])
        .await;
    let r = w.bcq(&["sync", "--no-progress"], &env).await;
    r.assert_ok();
    let status = w.bcq(&["status"], &env).await;
    assert!(
        r.stdout.contains("skipped             2 files"),
        "{}\n{}",
        r.stdout,
        status.stdout
    );
    assert!(r.stdout.contains("failed              0"), "{}", r.stdout);
    assert!(status.stdout.contains("S3"), "{}", status.stdout);
    assert!(status.stdout.contains("50 MB"), "{}", status.stdout);
    // What Q had stays: a skipped new version does not delete the old one.
    let after = w.q_documents().await;
    for d in &txt[..2] {
        let now = after.iter().find(|x| x["id"] == d["id"]).unwrap();
        assert_eq!(now["text"], d["text"]);
    }
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdfs_of_every_document_kind_follow_their_record() {
    let w = World::start(bc(60), q_fast()).await;
    let env = [
        (
            "BCQ_ENTITIES",
            "salesInvoices,salesQuotes,salesCreditMemos,purchaseInvoices,purchaseCreditMemos",
        ),
        ("BCQ_INCLUDE_PDF", "true"),
    ];
    w.bcq(&["index-schema", "--apply"], &env).await.assert_ok();
    w.bcq(&["sync", "--no-progress"], &env).await.assert_ok();
    let docs = w.q_documents().await;
    for entity in [
        "salesInvoices",
        "salesQuotes",
        "salesCreditMemos",
        "purchaseInvoices",
        "purchaseCreditMemos",
    ] {
        let records: Vec<&Value> = live(&docs)
            .into_iter()
            .filter(|d| {
                let id = d["id"].as_str().unwrap();
                id.contains(&format!("/{entity}/")) && !id.ends_with("/pdf")
            })
            .collect();
        assert!(!records.is_empty(), "no {entity}");
        for r in records {
            let pdf_id = format!("{}/pdf", r["id"].as_str().unwrap());
            let pdf = docs
                .iter()
                .find(|d| d["id"] == pdf_id.as_str())
                .unwrap_or_else(|| panic!("{pdf_id} missing"));
            assert_eq!(pdf["contentType"], "PDF");
            assert_eq!(pdf["status"], "INDEXED", "{pdf}");
            assert_eq!(attr(pdf, "_source_uri"), attr(r, "_source_uri"));
            assert_eq!(attr(pdf, "bc_kind"), "pdf");
        }
    }

    // A changed record takes its PDF along; nothing else is fetched again.
    let invoices = w.bc_invoices().await;
    let changed = invoices[3]["id"].as_str().unwrap().to_string();
    w.bc_update(
        "salesInvoices",
        &changed,
        serde_json::json!({"externalDocumentNumber": "PO-CHANGED"}),
    )
    .await;
    let before = w.q_counts().await["documents_put"].as_u64().unwrap();
    let r = w.bcq(&["sync", "--no-progress"], &env).await;
    r.assert_ok();
    assert!(r.stdout.contains("updated             2"), "{}", r.stdout);
    assert_eq!(
        w.q_counts().await["documents_put"].as_u64().unwrap() - before,
        2
    );

    // A deleted record takes its PDF along.
    w.bc_delete("salesInvoices", &changed).await;
    let r = w.bcq(&["sync", "--no-progress", "--reconcile"], &env).await;
    r.assert_ok();
    let docs = w.q_documents().await;
    let doc = w.invoice_doc_id(&changed);
    let ids: BTreeSet<&str> = live(&docs)
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(doc.as_str()));
    assert!(!ids.contains(format!("{doc}/pdf").as_str()));
    w.emu.stop().await;
}

/// Attachments of records bcq does not sync are not indexed, and the
/// summary says so instead of counting them as unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_of_records_not_synced_are_counted_apart() {
    // 200 invoices → 10 attachments on invoices, customers and items.
    let w = World::start(bc(200), q_fast()).await;
    let env = [
        ("BCQ_ENTITIES", "salesInvoices"),
        ("BCQ_INCLUDE_ATTACHMENTS", "true"),
    ];
    w.bcq(&["index-schema", "--apply"], &env).await.assert_ok();
    let r = w
        .bcq(&["sync", "--no-progress", "--log-format", "json"], &env)
        .await;
    r.assert_ok();
    let summary: Value = r
        .stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("a JSON summary");
    let unattached = summary["unattached"].as_u64().unwrap();
    let docs = w.q_documents().await;
    let files: Vec<&Value> = live(&docs)
        .into_iter()
        .filter(|d| d["id"].as_str().unwrap().contains("/documentAttachments/"))
        .collect();
    assert!(
        files
            .iter()
            .all(|d| attr(d, "bc_parent").contains("/salesInvoices/")),
        "only invoices' files are indexed"
    );
    let skipped = summary["skipped"].as_u64().unwrap();
    assert!(unattached > 0, "{summary}");
    assert_eq!(
        files.len() as u64 + skipped + unattached,
        10,
        "every attachment is indexed, skipped or not indexed: {summary}"
    );
    assert_eq!(summary["unchanged"], 0, "{summary}");
    // The text summary names them too (a complete read sees them all again).
    let r = w.bcq(&["sync", "--no-progress", "--reconcile"], &env).await;
    r.assert_ok();
    assert!(
        r.stdout
            .contains(&format!("not indexed {unattached:>9} attachments")),
        "{}",
        r.stdout
    );
    w.emu.stop().await;
}
