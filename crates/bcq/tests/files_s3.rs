//! End-to-end: files too large to send inline go through S3, against a real
//! S3-compatible server (moto's server mode, `aws_sim::moto`) that the test
//! starts and stops itself. `scripts/test` installs moto where it is
//! missing and names the Python that has it in `BCQ_TEST_PYTHON`.

mod common;

use aws_sim::moto::Moto;
use common::{World, bc, moto_s3, q_fast, staged};
use serde_json::Value;

fn attr<'a>(d: &'a Value, name: &str) -> &'a str {
    d["attributes"][name].as_str().unwrap_or_default()
}

/// A Word document of `size` bytes whose text is small: a page of text and
/// a large embedded picture, as scanned delivery notes are.
fn big_docx(text: &str, size: usize) -> Vec<u8> {
    bc_sim::attachments::stored_zip(&[
        (
            "word/document.xml",
            format!(
                "<w:document><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"
            )
            .into_bytes(),
        ),
        ("word/media/image1.png", vec![0x5a; size]),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_too_large_for_inline_goes_through_s3() {
    let moto = Moto::start();
    let s3 = moto_s3(&moto.url);
    s3.create_bucket().bucket("bcq-files").send().await.unwrap();
    let mut q = q_fast();
    q.s3_endpoint = Some(moto.url.clone());
    let w = World::start(bc(200), q).await;
    let env = [
        ("BCQ_ENTITIES", "salesInvoices,customers,items"),
        ("BCQ_INCLUDE_ATTACHMENTS", "true"),
        ("BCQ_S3_BUCKET", "bcq-files"),
        (
            "BCQ_S3_ROLE_ARN",
            "arn:aws:iam::123456789012:role/q-reads-bcq-files",
        ),
        ("AWS_ENDPOINT_URL_S3", moto.url.as_str()),
    ];
    w.bcq(&["index-schema", "--apply"], &env).await.assert_ok();
    w.bcq(&["sync", "--no-progress"], &env).await.assert_ok();
    let docs = w.q_documents().await;
    let docx: Vec<Value> = docs
        .iter()
        .filter(|d| attr(d, "bc_file_name").ends_with(".docx"))
        .cloned()
        .collect();
    assert_eq!(docx.len(), 2, "two Word attachments among ten");

    // 12 MB: over what one call carries inline (4.4 MiB), under Q's 50 MB.
    w.bc_upload_attachment(
        attr(&docx[0], "bc_id"),
        big_docx("Scanned delivery note HUGE-ONE", 12 << 20),
    )
    .await;
    let r = w.bcq(&["sync", "--no-progress"], &env).await;
    r.assert_ok();
    assert!(r.stdout.contains("updated             1"), "{}", r.stdout);
    // The staging call is counted with the destination's calls.
    assert!(r.stdout.contains("1 s3 calls"), "{}", r.stdout);
    let docs = w.q_documents().await;
    let d = docs.iter().find(|d| d["id"] == docx[0]["id"]).unwrap();
    assert!(
        matches!(d["status"].as_str(), Some("INDEXED" | "UPDATED")),
        "{d}"
    );
    assert!(d["text"].as_str().unwrap().contains("HUGE-ONE"), "{d}");
    // The object is in the bucket under a key derived from the document id.
    let keys = staged(&s3, "bcq-files").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].1 > 12 << 20, "{keys:?}");

    // A bucket that does not exist: that file is reported, the rest goes on.
    w.bc_upload_attachment(
        attr(&docx[1], "bc_id"),
        big_docx("Scanned delivery note HUGE-TWO", 12 << 20),
    )
    .await;
    let other = w.bc_invoices().await[5]["id"].as_str().unwrap().to_string();
    w.bc_update(
        "salesInvoices",
        &other,
        serde_json::json!({"externalDocumentNumber": "STILL-SYNCED"}),
    )
    .await;
    let mut wrong = env;
    wrong[2] = ("BCQ_S3_BUCKET", "no-such-bucket");
    let r = w.bcq(&["sync", "--no-progress"], &wrong).await;
    assert_eq!(r.code, 1, "{}", r.both());
    assert!(r.stdout.contains("failed              1"), "{}", r.stdout);
    assert!(r.stdout.contains("s3://no-such-bucket"), "{}", r.stdout);
    assert!(r.stdout.contains("BCQ_S3_BUCKET"), "{}", r.stdout);
    let docs = w.q_documents().await;
    let inv = docs
        .iter()
        .find(|d| d["id"] == w.invoice_doc_id(&other).as_str())
        .unwrap();
    assert!(inv["text"].as_str().unwrap().contains("STILL-SYNCED"));
    // The next run with the right bucket sends it.
    w.bcq(&["sync", "--no-progress"], &env).await.assert_ok();
    let docs = w.q_documents().await;
    let d = docs.iter().find(|d| d["id"] == docx[1]["id"]).unwrap();
    assert!(d["text"].as_str().unwrap().contains("HUGE-TWO"), "{d}");
    let both = staged(&s3, "bcq-files").await;
    assert_eq!(both.len(), 2, "{both:?}");

    // Deleted in BC: gone from Q, and its staged file gone from the bucket.
    w.bc_delete("documentAttachments", attr(&docx[0], "bc_id"))
        .await;
    // One of nine attachments is over the deletion guard's 10%.
    w.bcq(
        &[
            "sync",
            "--no-progress",
            "--reconcile",
            "--allow-mass-delete",
        ],
        &env,
    )
    .await
    .assert_ok();
    let docs = w.q_documents().await;
    assert!(docs.iter().all(|d| d["id"] != docx[0]["id"]));
    let left = staged(&s3, "bcq-files").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(both.contains(&left[0]), "the other file stays: {left:?}");
    w.emu.stop().await;
}

const ROLE: &str = "arn:aws:iam::123456789012:role/q-reads-bcq-files";

/// Q's 50 MB limit holds for S3 content too: the emulator fails an object
/// over it, and a missing one, each with a reason, and indexes the rest of
/// the call; bcq's sink never stages a file over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_over_50_mb_or_missing_fail_alone_and_are_never_staged() {
    use aws_sdk_qbusiness::types::{ContentType, Document as QDoc, DocumentContent, S3};
    use aws_sdk_s3::primitives::ByteStream;
    use bcq_core::destination::Destination;
    let moto = Moto::start();
    let s3 = moto_s3(&moto.url);
    s3.create_bucket().bucket("bcq-files").send().await.unwrap();
    let over = bcq_q::constraints::MAX_FILE_BYTES + 1;
    for (key, body) in [
        ("big.txt", vec![b'a'; over]),
        ("small.txt", b"Delivery note SMALL-ONE".to_vec()),
    ] {
        s3.put_object()
            .bucket("bcq-files")
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    let mut q = q_fast();
    q.s3_endpoint = Some(moto.url.clone());
    let w = World::start(bc(1), q).await;
    let qc = w.emu.q.config().clone();
    let sdk = w.q_sdk().await;
    let doc = |id: &str, key: &str| {
        QDoc::builder()
            .id(id)
            .title(id)
            .content_type(ContentType::PlainText)
            .content(DocumentContent::S3(
                S3::builder().bucket("bcq-files").key(key).build().unwrap(),
            ))
            .build()
            .unwrap()
    };
    let out = sdk
        .batch_put_document()
        .application_id(&qc.application_id)
        .index_id(&qc.index_id)
        .role_arn(ROLE)
        .documents(doc("big", "big.txt"))
        .documents(doc("small", "small.txt"))
        .documents(doc("missing", "bcq/no-such-key"))
        .send()
        .await
        .unwrap();
    assert!(out.failed_documents().is_empty(), "{out:?}");
    let docs = w.q_documents().await;
    assert_eq!(docs.len(), 3, "{docs:?}");
    let listed = sdk
        .list_documents()
        .application_id(&qc.application_id)
        .index_id(&qc.index_id)
        .send()
        .await
        .unwrap();
    let detail = |id: &str| {
        let d = listed
            .document_detail_list()
            .iter()
            .find(|d| d.document_id() == Some(id))
            .unwrap_or_else(|| panic!("{id} listed: {listed:?}"));
        (
            d.status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            d.error()
                .and_then(|e| e.error_message())
                .unwrap_or_default()
                .to_string(),
        )
    };
    assert_eq!(detail("small").0, "INDEXED", "{listed:?}");
    let small = docs.iter().find(|d| d["id"] == "small").unwrap();
    assert!(
        small["text"].as_str().unwrap().contains("SMALL-ONE"),
        "{small}"
    );
    let (status, error) = detail("big");
    assert_eq!(status, "DOCUMENT_FAILED_TO_INDEX", "{listed:?}");
    assert!(error.contains("50 MB"), "{error}");
    let (status, error) = detail("missing");
    assert_eq!(status, "DOCUMENT_FAILED_TO_INDEX", "{listed:?}");
    assert!(error.contains("NoSuchKey"), "{error}");

    // bcq's sink refuses the file instead of staging or sending it, and
    // sends the rest of the call.
    let target = bcq_q::QTarget {
        application_id: qc.application_id.clone(),
        index_id: qc.index_id.clone(),
        data_source_id: qc.data_source_id.clone(),
    };
    let common = bcq_core::destination::CommonSettings {
        push_concurrency: 4,
        ..Default::default()
    };
    let sink = bcq_q::QDestination::new(sdk.clone(), target, &common).with_staging(
        Some(bcq_aws::S3Staging::new(s3.clone(), "bcq-files", "bcq/")),
        Some(ROLE.to_string()),
    );
    assert_eq!(
        sink.limits().max_document_bytes,
        bcq_q::constraints::MAX_FILE_BYTES
    );
    let file = |id: &str, content: Vec<u8>| bcq_core::document::Document {
        id: id.to_string(),
        title: id.to_string(),
        content_type: bcq_core::document::ContentType::PlainText,
        content,
        attributes: Vec::new(),
        access: None,
    };
    let outcome = sink
        .put(vec![
            file("too-big", vec![b'a'; over]),
            file("fits", b"Delivery note FITS".to_vec()),
        ])
        .await
        .unwrap();
    assert_eq!(outcome.rejected.len(), 1, "{outcome:?}");
    assert_eq!(outcome.rejected[0].doc_id, "too-big");
    assert!(
        outcome.rejected[0].reason.contains("52428800"),
        "{outcome:?}"
    );
    let keys = staged(&s3, "bcq-files").await;
    assert!(keys.is_empty(), "{keys:?}");
    let docs = w.q_documents().await;
    assert!(docs.iter().any(|d| d["id"] == "fits"), "{docs:?}");
    assert!(!docs.iter().any(|d| d["id"] == "too-big"), "{docs:?}");
    w.emu.stop().await;
}
