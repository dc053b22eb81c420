//! The API the sync engine is written against, checked at compile time, so
//! that a change of signature fails here first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bcq_bc::{
    AuthConfig, BcClient, BcConfig, BcError, Company, Credential, Page, Query, RequestBudget,
    RetryConfig, Secret, Stats, collection_url, odata_datetime,
};
use chrono::{DateTime, Utc};

#[test]
fn signatures_are_the_agreed_ones() {
    let _: fn(String) -> Secret = Secret::new;
    let _: fn(&Secret) -> &str = Secret::expose;
    let _: fn(u32, Duration, usize) -> Arc<RequestBudget> = RequestBudget::new;
    let _: fn() -> Arc<RequestBudget> = RequestBudget::bc_default;
    let _: fn(BcConfig, Arc<RequestBudget>) -> Result<BcClient, BcError> = BcClient::new;
    let _: fn(&BcClient) -> &str = BcClient::api_root;
    let _: fn(&BcClient) -> Stats = BcClient::stats;
    let _: fn(&str, &str, &str, &Query) -> String = collection_url;
    let _: fn(DateTime<Utc>) -> String = odata_datetime;
    let _: fn(&BcError) -> bool = BcError::is_retryable;
}

#[test]
fn config_and_wire_types_have_the_agreed_fields() {
    let credential = Credential::CertificatePkcs12 {
        path: PathBuf::from("x.p12"),
        password: None,
    };
    let _ = Credential::CertificatePem {
        path: PathBuf::from("x.pem"),
    };
    let auth = AuthConfig {
        authority: "https://login.microsoftonline.com/t".into(),
        client_id: "c".into(),
        credential: Credential::Secret(Secret::new("s".to_string())),
        scope: "https://api.businesscentral.dynamics.com/.default".into(),
        min_token_lifetime: Duration::from_secs(300),
    };
    let cfg = BcConfig {
        auth,
        api_base: "https://api.businesscentral.dynamics.com/v2.0".into(),
        tenant: "t".into(),
        environment: "production".into(),
        page_size: Some(1000),
        request_timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(5),
        retry: RetryConfig {
            max_attempts: 8,
            max_elapsed: Duration::from_secs(600),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_decode_attempts: 3,
        },
    };
    let client = BcClient::new(cfg, RequestBudget::bc_default()).unwrap();
    assert_eq!(
        client.api_root(),
        "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0"
    );
    let _ = credential;
    let company = Company {
        id: "i".into(),
        name: "n".into(),
        display_name: "d".into(),
    };
    let page: Page = Page {
        values: vec![],
        url: "u".into(),
        date: None,
    };
    let query = Query {
        filter: None,
        select: vec![],
        expand: None,
        orderby: None,
        top: None,
    };
    let stats: Stats = client.stats();
    assert_eq!(
        (
            stats.requests,
            stats.retries,
            stats.throttled,
            stats.token_requests,
            stats.bytes
        ),
        (0, 0, 0, 0, 0)
    );
    let _ = (company, page, query);
    // The async methods exist with these shapes (not polled: no server).
    fn is_send<T: Send>(_: &T) {}
    let c2 = client.clone();
    let fut = async move {
        let _: Result<(), BcError> = c2.token_check().await;
        let _: Result<Vec<Company>, BcError> = c2.companies().await;
        let _: Result<serde_json::Value, BcError> = c2.get_json("u").await;
        let _: Result<bytes::Bytes, BcError> = c2.get_bytes("u").await;
    };
    is_send(&fut);
    let stream = client.pages("u".to_string());
    is_send(&stream);
}
