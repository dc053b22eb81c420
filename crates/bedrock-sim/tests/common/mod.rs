//! Test helpers: start an emulator, SDK clients of both services, a raw
//! signed client, and moto's S3 server.
#![allow(dead_code)]

use std::time::Duration;

use aws_sdk_bedrockagent::config::retry::RetryConfig;
use aws_sdk_bedrockagent::config::{BehaviorVersion, Credentials, Region};
use bedrock_sim::{BedrockSim, BedrockSimConfig};
use serde_json::{Value, json};

/// Starts an emulator on 127.0.0.1:0.
pub async fn start(cfg: BedrockSimConfig) -> BedrockSim {
    BedrockSim::start("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .expect("bedrock-sim starts")
}

/// Config with a short indexing delay and rates high enough that only the
/// throttling tests throttle.
pub fn cfg() -> BedrockSimConfig {
    let mut c = BedrockSimConfig {
        indexing_delay: Duration::from_millis(20),
        ..BedrockSimConfig::default()
    };
    for r in c.rates.values_mut() {
        *r = 10_000.0;
    }
    c
}

/// bedrock-agent client configured with only an endpoint override and
/// static credentials (retries off, so that a 429 is seen).
pub fn agent(sim: &BedrockSim) -> aws_sdk_bedrockagent::Client {
    let c = sim.config();
    let conf = aws_sdk_bedrockagent::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(c.region.clone()))
        .endpoint_url(sim.endpoint())
        .credentials_provider(Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            None,
            None,
            "test",
        ))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_bedrockagent::Client::from_conf(conf)
}

/// bedrock-agent-runtime client, likewise.
pub fn runtime(sim: &BedrockSim) -> aws_sdk_bedrockagentruntime::Client {
    use aws_sdk_bedrockagentruntime::config as rc;
    let c = sim.config();
    let conf = rc::Config::builder()
        .behavior_version(rc::BehaviorVersion::latest())
        .region(rc::Region::new(c.region.clone()))
        .endpoint_url(sim.endpoint())
        .credentials_provider(rc::Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            None,
            None,
            "test",
        ))
        .retry_config(rc::retry::RetryConfig::disabled())
        .build();
    aws_sdk_bedrockagentruntime::Client::from_conf(conf)
}

/// A raw HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Sends a JSON body signed with the emulator's credentials; `path` as sent.
pub async fn call(sim: &BedrockSim, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    call_raw(sim, method, path, bytes, true).await
}

/// Sends raw bytes, signed (service `bedrock`) or not.
pub async fn call_raw(
    sim: &BedrockSim,
    method: &str,
    path: &str,
    bytes: Vec<u8>,
    signed: bool,
) -> Answer {
    let c = sim.config();
    let host = sim.addr().to_string();
    let mut rb = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("{}{}", sim.endpoint(), path),
        )
        .header("content-type", "application/json");
    if signed {
        let signer = aws_sim::sigv4::Signer {
            access_key_id: &c.access_key_id,
            secret: &c.secret_access_key,
            region: &c.region,
            service: "bedrock",
        };
        for (k, v) in signer.sign(method, &host, path, "", &bytes, chrono::Utc::now()) {
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

/// `/knowledgebases/{kb}/datasources/{ds}` of the pre-created data source.
pub fn ds_path(sim: &BedrockSim) -> String {
    format!(
        "/knowledgebases/{}/datasources/{}",
        sim.config().knowledge_base_id,
        sim.config().data_source_id
    )
}

/// A TEXT document JSON with an ACL allowing `user`.
pub fn text_doc(id: &str, text: &str, user: &str) -> Value {
    json!({
        "content": {"dataSourceType": "CUSTOM", "custom": {
            "customDocumentIdentifier": {"id": id}, "sourceType": "IN_LINE",
            "inlineContent": {"type": "TEXT", "textContent": {"data": text}}}},
        "metadata": {"type": "IN_LINE_ATTRIBUTE",
            "inlineAttributes": [{"key": "title", "value": {"type": "STRING", "stringValue": id}}],
            "accessControlList": [{"name": user, "type": "USER", "access": "ALLOW"}]}
    })
}

/// Ingests documents through the raw API.
pub async fn ingest(sim: &BedrockSim, docs: Vec<Value>) -> Answer {
    call(
        sim,
        "PUT",
        &format!("{}/documents", ds_path(sim)),
        Some(&json!({"documents": docs})),
    )
    .await
}

/// Waits until every document is final or gone.
pub async fn settle(sim: &BedrockSim) {
    assert!(
        sim.control().wait_idle(Duration::from_secs(20)).await,
        "indexer did not settle"
    );
}

pub use aws_sim::moto::Moto;

/// An S3 client of a moto server.
pub fn s3_client(moto: &Moto) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new("moto", "moto", None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .credentials_provider(creds)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
