//! Shared helpers: start the emulator on port 0 and fetch tokens over HTTP.
#![allow(dead_code)]

use bc_sim::{BcSim, SimConfig};
use serde_json::Value;

pub async fn start(cfg: SimConfig) -> BcSim {
    BcSim::start("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .expect("start sim")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn token(sim: &BcSim) -> String {
    let cfg = sim.config();
    let r = client()
        .post(format!("{}/oauth2/v2.0/token", sim.authority()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.as_str()),
            ("scope", "https://api.businesscentral.dynamics.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

pub async fn get(url: &str, tok: &str) -> reqwest::Response {
    client().get(url).bearer_auth(tok).send().await.unwrap()
}

pub async fn get_json(url: &str, tok: &str) -> Value {
    let r = get(url, tok).await;
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().await.unwrap()
}

pub fn company_url(sim: &BcSim, env: &str, i: usize) -> String {
    format!(
        "{}/companies({})",
        sim.api_root(env),
        sim.companies(env)[i].id
    )
}
