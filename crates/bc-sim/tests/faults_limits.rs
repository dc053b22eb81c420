//! Each fault kind and each limit, observed from a plain HTTP client.

mod common;
use bc_sim::{Fault, SimConfig};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn each_fault_kind_is_observable() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim).await;
    let base = company_url(&sim, "production", 0);
    let inv = format!("{base}/salesInvoices");
    let cust = format!("{base}/customers");
    let post = |f: Value| {
        let u = format!("{}/_sim/faults", sim.base_url());
        async move {
            assert_eq!(
                client().post(u).json(&f).send().await.unwrap().status(),
                204
            )
        }
    };

    post(json!({"path_contains":"salesInvoices","kind":"status","status":429,"retry_after_secs":2,"count":2})).await;
    for _ in 0..2 {
        let r = get(&inv, &tok).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "2");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "Application_TooManyRequests");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("  CorrelationId:  ")
        );
    }
    assert_eq!(
        get(&cust, &tok).await.status(),
        200,
        "path_contains limits the fault"
    );
    assert_eq!(get(&inv, &tok).await.status(), 200, "count exhausted");

    for (status, code) in [
        (503, "Application_ServiceUnavailable"),
        (500, "Internal_ServerError"),
        (504, "Application_GatewayTimeout"),
    ] {
        post(json!({"path_contains":"salesInvoices","kind":"status","status":status})).await;
        let r = get(&inv, &tok).await;
        assert_eq!(r.status(), status);
        if status == 503 {
            assert!(r.headers().contains_key("retry-after"));
        }
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], code);
    }

    post(json!({"path_contains":"customers","kind":"truncate"})).await;
    let r = get(&cust, &tok).await;
    assert_eq!(r.status(), 200);
    let full = get(&cust, &tok).await.text().await.unwrap();
    let text = r.text().await.unwrap();
    assert_eq!(text.len(), full.len() / 2);
    assert!(serde_json::from_str::<Value>(&text).is_err());

    post(json!({"path_contains":"customers","kind":"malformed"})).await;
    let r = get(&cust, &tok).await;
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());

    post(json!({"path_contains":"customers","kind":"latency","latency_ms":50})).await;
    assert_eq!(get(&cust, &tok).await.status(), 200);

    post(json!({"kind":"revoke_tokens"})).await;
    assert_eq!(get(&cust, &tok).await.status(), 401);
    let tok = token(&sim).await;

    post(json!({"kind":"token_endpoint_down","count":2})).await;
    let cfg = sim.config().clone();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", cfg.client_secret.as_str()),
        ("scope", "https://api.businesscentral.dynamics.com/.default"),
    ];
    for _ in 0..2 {
        let r = client()
            .post(format!("{}/oauth2/v2.0/token", sim.authority()))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
    }
    let _ = token(&sim).await;

    post(json!({"path_contains":"customers","kind":"status","status":500,"count":5})).await;
    assert_eq!(
        client()
            .delete(format!("{}/_sim/faults", sim.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(get(&cust, &tok).await.status(), 200, "faults cleared");

    let counts: Value = client()
        .get(format!("{}/_sim/counts", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        counts["by_route"]["GET companies/salesInvoices"]
            .as_u64()
            .unwrap()
            >= 6
    );
    assert!(counts["by_route"]["POST token"].as_u64().unwrap() >= 4);
    assert!(counts["throttled"].as_u64().unwrap() >= 3);
    assert!(counts["total"].as_u64().unwrap() > 10);
    client()
        .delete(format!("{}/_sim/counts", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(sim.control().counts().total, 0);
    sim.control().add_fault(Fault::status("items", 504, 1));
    sim.control()
        .add_fault(Fault::new("malformed", "vendors").times(2));
    for _ in 0..2 {
        let text = get(&format!("{base}/vendors"), &tok)
            .await
            .text()
            .await
            .unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_err());
    }
    assert_eq!(get(&format!("{base}/items"), &tok).await.status(), 504);
    sim.stop().await;
}

#[tokio::test]
async fn sliding_window_limit_gives_429_per_environment() {
    let sim = start(SimConfig {
        requests_per_window: 3,
        window: Duration::from_secs(60),
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let prod = format!("{}/companies", sim.api_root("production"));
    for _ in 0..3 {
        assert_eq!(get(&prod, &tok).await.status(), 200);
    }
    let r = get(&prod, &tok).await;
    assert_eq!(r.status(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "Application_TooManyRequests");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many requests reached. Actual (4). Maximum (3)."),
        "{v}"
    );
    // The budget is per environment.
    assert_eq!(
        get(&format!("{}/companies", sim.api_root("sandbox")), &tok)
            .await
            .status(),
        200
    );
    assert_eq!(sim.control().counts().throttled, 1);
    sim.stop().await;
}

#[tokio::test]
async fn sliding_window_frees_up_after_the_window() {
    let sim = start(SimConfig {
        requests_per_window: 2,
        window: Duration::from_millis(1000),
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let prod = format!("{}/companies", sim.api_root("production"));
    assert_eq!(get(&prod, &tok).await.status(), 200);
    assert_eq!(get(&prod, &tok).await.status(), 200);
    assert_eq!(get(&prod, &tok).await.status(), 429);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&prod, &tok).await.status(), 200);
    sim.stop().await;
}

#[tokio::test]
async fn excess_concurrency_queues_then_503() {
    let sim = start(SimConfig {
        max_concurrent: 1,
        queue_timeout: Duration::from_millis(100),
        latency: Duration::from_millis(1500),
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let url = format!("{}/companies", sim.api_root("production"));
    let (a, b) = tokio::join!(get(&url, &tok), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        get(&url, &tok).await
    });
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 503]);
    let r = if a.status() == 503 { a } else { b };
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "Application_TooManyConcurrentRequests");
    let counts = sim.control().counts();
    assert_eq!(counts.max_concurrent_seen, 1);
    assert_eq!(
        counts.queued, 1,
        "the second request queued behind the first"
    );
    sim.stop().await;
}
