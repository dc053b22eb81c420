//! Test helpers: start an emulator, an SDK client, and a raw signed client.
#![allow(dead_code)]

use std::time::Duration;

use aws_sdk_qbusiness::config::retry::RetryConfig;
use aws_sdk_qbusiness::config::{BehaviorVersion, Credentials, Region};
use q_sim::{QSim, QSimConfig};
use serde_json::Value;

/// Starts an emulator on 127.0.0.1:0.
pub async fn start(cfg: QSimConfig) -> QSim {
    QSim::start("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .expect("q-sim starts")
}

/// Config with a short indexing delay.
pub fn cfg() -> QSimConfig {
    // Rates high enough that only the throttling tests throttle.
    let rates = [
        ("BatchPutDocument".to_string(), 10_000.0),
        ("BatchDeleteDocument".to_string(), 10_000.0),
    ]
    .into();
    QSimConfig {
        indexing_delay: Duration::from_millis(20),
        rates,
        ..QSimConfig::default()
    }
}

/// SDK client with explicit keys, no retries (so a 429 is visible).
pub fn sdk_with(sim: &QSim, ak: &str, sk: &str) -> aws_sdk_qbusiness::Client {
    let conf = aws_sdk_qbusiness::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(sim.config().region.clone()))
        .endpoint_url(sim.endpoint())
        .credentials_provider(Credentials::new(ak, sk, None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_qbusiness::Client::from_conf(conf)
}

/// SDK client with the emulator's credentials.
pub fn sdk(sim: &QSim) -> aws_sdk_qbusiness::Client {
    let c = sim.config().clone();
    sdk_with(sim, &c.access_key_id, &c.secret_access_key)
}

/// A raw HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Sends a request signed with the emulator's credentials. `path` is sent
/// as is (already percent-encoded), `query` raw.
pub async fn call(
    sim: &QSim,
    method: &str,
    path: &str,
    query: &str,
    body: Option<&Value>,
) -> Answer {
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    call_raw(sim, method, path, query, bytes, true).await
}

/// Sends raw bytes, signed or not.
pub async fn call_raw(
    sim: &QSim,
    method: &str,
    path: &str,
    query: &str,
    bytes: Vec<u8>,
    signed: bool,
) -> Answer {
    let c = sim.config();
    let host = sim.addr().to_string();
    let url = if query.is_empty() {
        format!("{}{}", sim.endpoint(), path)
    } else {
        format!("{}{}?{}", sim.endpoint(), path, query)
    };
    let mut rb = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("content-type", "application/json");
    if signed {
        for (k, v) in q_sim::sigv4::sign(
            &q_sim::sigv4::Signer {
                access_key_id: &c.access_key_id,
                secret: &c.secret_access_key,
                region: &c.region,
            },
            method,
            &host,
            path,
            query,
            &bytes,
            chrono::Utc::now(),
        ) {
            rb = rb.header(k, v);
        }
    }
    let r = rb.body(bytes).send().await.expect("request sent");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

/// `/applications/{a}/indices/{i}` of the pre-created index.
pub fn index_path(sim: &QSim) -> String {
    format!(
        "/applications/{}/indices/{}",
        sim.config().application_id,
        sim.config().index_id
    )
}

/// `.../datasources/{d}` of the pre-created data source.
pub fn ds_path(sim: &QSim) -> String {
    format!(
        "{}/datasources/{}",
        index_path(sim),
        sim.config().data_source_id
    )
}

/// Base64 of bytes.
pub fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A minimal valid document JSON.
pub fn doc(id: &str, text: &str) -> Value {
    serde_json::json!({"id": id, "title": id, "contentType": "PLAIN_TEXT", "content": {"blob": b64(text.as_bytes())}})
}

/// Puts documents through the raw API (no sync job).
pub async fn put(sim: &QSim, docs: Vec<Value>, sync: Option<&str>) -> Answer {
    let mut body = serde_json::json!({"documents": docs});
    if let Some(s) = sync {
        body["dataSourceSyncId"] = serde_json::json!(s);
    }
    call(
        sim,
        "POST",
        &format!("{}/documents", index_path(sim)),
        "",
        Some(&body),
    )
    .await
}

/// Waits until indexing settled.
pub async fn settle(sim: &QSim) {
    assert!(
        sim.control().wait_idle(Duration::from_secs(10)).await,
        "indexer did not settle"
    );
}
