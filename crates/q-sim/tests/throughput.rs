//! Throughput measurement (ignored by default; prints numbers, asserts only
//! correctness). Run: `cargo test -p q-sim --release --test throughput -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use aws_sdk_qbusiness::primitives::Blob;
use aws_sdk_qbusiness::types::{ContentType, Document, DocumentContent};
use common::*;

async fn run(persist: bool) {
    let dir = std::env::temp_dir().join(format!("q-sim-tp-{}", uuid::Uuid::new_v4()));
    let mut config = cfg();
    if persist {
        config.data_dir = Some(dir.clone());
    }
    let sim = start(config).await;
    let c = sdk(&sim);
    let (app, index) = (
        sim.config().application_id.clone(),
        sim.config().index_id.clone(),
    );
    let total = 10_000;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (c, app, index) = (c.clone(), app.clone(), index.clone());
        tasks.push(tokio::spawn(async move {
            for b in (w * 10..total).step_by(80) {
                let mut req = c.batch_put_document().application_id(&app).index_id(&index);
                for i in b..(b + 10).min(total) {
                    let text = format!(
                        "Sales invoice {i} for customer {} amount {}.00",
                        i % 97,
                        i * 3
                    );
                    req = req.documents(
                        Document::builder()
                            .id(format!("inv-{i}"))
                            .title(format!("Invoice {i}"))
                            .content_type(ContentType::PlainText)
                            .content(DocumentContent::Blob(Blob::new(text.into_bytes())))
                            .build()
                            .unwrap(),
                    );
                }
                let r = req.send().await.unwrap();
                assert!(r.failed_documents().is_empty());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let put_secs = started.elapsed().as_secs_f64();
    settle(&sim).await;
    assert_eq!(sim.control().default_documents().len(), total);
    println!(
        "persist={persist}: {total} docs in {put_secs:.2}s = {:.0} docs/s ({:.0} BatchPutDocument/s)",
        total as f64 / put_secs,
        total as f64 / 10.0 / put_secs
    );
    sim.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run explicitly"]
async fn batch_put_throughput() {
    run(false).await;
    run(true).await;
}
