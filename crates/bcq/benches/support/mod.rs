//! Helpers shared by the benches that run `bcq serve` processes.

use serde_json::Value;

/// A loopback port nothing listens on (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `url` as JSON.
pub async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}
