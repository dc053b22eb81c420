//! Benchmark: one 20,000-invoice page with expanded lines through the real
//! HTTP stack, then paging through 1,000,000 invoices; prints ms/page and
//! peak RSS (VmHWM). Run: `cargo bench -p bc-sim --bench page`.

use bc_sim::{BcSim, SimConfig};
use std::time::Instant;

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "n/a".into())
}

fn next_link(body: &[u8]) -> Option<String> {
    let tail = &body[body.len().saturating_sub(4096)..];
    let s = String::from_utf8_lossy(tail);
    let i = s.rfind("\"@odata.nextLink\":\"")?;
    let rest = &s[i + 19..];
    Some(rest[..rest.find('"')?].to_string())
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::var("BCSIM_BENCH_INVOICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let sim = BcSim::start(
        "127.0.0.1:0".parse().unwrap(),
        SimConfig {
            invoices_per_company: n,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let cfg = sim.config().clone();
    let http = reqwest::Client::new();
    let tok: serde_json::Value = http
        .post(format!("{}/oauth2/v2.0/token", sim.authority()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &cfg.client_id),
            ("client_secret", &cfg.client_secret),
            ("scope", "https://api.businesscentral.dynamics.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tok = tok["access_token"].as_str().unwrap().to_string();
    let first = format!(
        "{}/companies({})/salesInvoices?$expand=salesInvoiceLines",
        sim.api_root("production"),
        sim.companies("production")[0].id
    );

    let iters = 5;
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..iters {
        let b = http
            .get(&first)
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        bytes = b.len();
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / f64::from(iters);
    println!(
        "one 20,000-invoice page with $expand=salesInvoiceLines: {ms:.1} ms/page ({:.1} MB)",
        bytes as f64 / 1e6
    );

    let t = Instant::now();
    let (mut url, mut pages, mut total) = (
        Some(format!(
            "{}/companies({})/salesInvoices",
            sim.api_root("production"),
            sim.companies("production")[0].id
        )),
        0,
        0usize,
    );
    while let Some(u) = url {
        let b = http
            .get(&u)
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        total += b.len();
        pages += 1;
        url = next_link(&b);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "paged {n} invoices (no expand): {pages} pages, {:.0} MB in {secs:.1} s = {:.1} ms/page; peak RSS (VmHWM): {}",
        total as f64 / 1e6,
        secs * 1000.0 / f64::from(pages),
        vm_hwm()
    );
    sim.stop().await;
}
