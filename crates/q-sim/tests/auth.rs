//! SigV4 failures, answered as AWS does.

mod common;

use common::*;

#[tokio::test]
async fn missing_authorization_is_missing_authentication_token() {
    let sim = start(cfg()).await;
    let a = call_raw(
        &sim,
        "GET",
        &format!("/applications/{}", sim.config().application_id),
        "",
        vec![],
        false,
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.headers["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    assert_eq!(a.body["__type"], "MissingAuthenticationTokenException");
    assert_eq!(a.body["message"], "Missing Authentication Token");
    sim.stop().await;
}

#[tokio::test]
async fn unknown_key_bad_signature_and_wrong_region_via_raw_http() {
    let sim = start(cfg()).await;
    let host = sim.addr().to_string();
    let path = format!("/applications/{}", sim.config().application_id);
    let send = |headers: Vec<(String, String)>| {
        let url = format!("{}{}", sim.endpoint(), path);
        async move {
            let mut rb = reqwest::Client::new().get(url);
            for (k, v) in headers {
                rb = rb.header(k, v);
            }
            let r = rb.send().await.unwrap();
            let st = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap();
            (st, v)
        }
    };
    let now = chrono::Utc::now();
    let (st, v) = send(q_sim::sigv4::sign(
        &q_sim::sigv4::Signer {
            access_key_id: "AKIDUNKNOWN",
            secret: "x",
            region: "us-east-1",
        },
        "GET",
        &host,
        &path,
        "",
        b"",
        now,
    ))
    .await;
    assert_eq!(
        (st, v["__type"].as_str().unwrap()),
        (403, "UnrecognizedClientException")
    );
    assert_eq!(
        v["message"],
        "The security token included in the request is invalid."
    );
    let (st, v) = send(q_sim::sigv4::sign(
        &q_sim::sigv4::Signer {
            access_key_id: "AKIDBCQSIMEXAMPLE",
            secret: "wrong-secret",
            region: "us-east-1",
        },
        "GET",
        &host,
        &path,
        "",
        b"",
        now,
    ))
    .await;
    assert_eq!(
        (st, v["__type"].as_str().unwrap()),
        (403, "InvalidSignatureException")
    );
    assert_eq!(v["message"], q_sim::error::BAD_SIGNATURE_MESSAGE);
    // Signed for another path: the canonical request differs.
    let (st, v) = send(q_sim::sigv4::sign(
        &q_sim::sigv4::Signer {
            access_key_id: "AKIDBCQSIMEXAMPLE",
            secret: "bcq-sim-secret-key",
            region: "us-east-1",
        },
        "GET",
        &host,
        "/applications",
        "",
        b"",
        now,
    ))
    .await;
    assert_eq!(
        (st, v["__type"].as_str().unwrap()),
        (403, "InvalidSignatureException")
    );
    let (st, v) = send(q_sim::sigv4::sign(
        &q_sim::sigv4::Signer {
            access_key_id: "AKIDBCQSIMEXAMPLE",
            secret: "bcq-sim-secret-key",
            region: "eu-west-1",
        },
        "GET",
        &host,
        &path,
        "",
        b"",
        now,
    ))
    .await;
    assert_eq!(
        (st, v["__type"].as_str().unwrap()),
        (403, "InvalidSignatureException")
    );
    assert!(v["message"].as_str().unwrap().contains("valid region"));
    let old = now - chrono::Duration::minutes(6);
    let (st, v) = send(q_sim::sigv4::sign(
        &q_sim::sigv4::Signer {
            access_key_id: "AKIDBCQSIMEXAMPLE",
            secret: "bcq-sim-secret-key",
            region: "us-east-1",
        },
        "GET",
        &host,
        &path,
        "",
        b"",
        old,
    ))
    .await;
    assert_eq!(
        (st, v["__type"].as_str().unwrap()),
        (403, "InvalidSignatureException")
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired"),
        "{v}"
    );
    let (st, _) = send(q_sim::sigv4::sign(
        &q_sim::sigv4::Signer {
            access_key_id: "AKIDBCQSIMEXAMPLE",
            secret: "bcq-sim-secret-key",
            region: "us-east-1",
        },
        "GET",
        &host,
        &path,
        "",
        b"",
        now,
    ))
    .await;
    assert_eq!(st, 200);
    sim.stop().await;
}

#[tokio::test]
async fn tampered_body_fails_signature() {
    let sim = start(cfg()).await;
    let c = sim.config().clone();
    let path = format!("{}/documents", index_path(&sim));
    let body = serde_json::to_vec(&serde_json::json!({"documents": [doc("a", "x")]})).unwrap();
    let mut rb = reqwest::Client::new().post(format!("{}{}", sim.endpoint(), path));
    for (k, v) in q_sim::sigv4::sign(
        &q_sim::sigv4::Signer {
            access_key_id: &c.access_key_id,
            secret: &c.secret_access_key,
            region: &c.region,
        },
        "POST",
        &sim.addr().to_string(),
        &path,
        "",
        &body,
        chrono::Utc::now(),
    ) {
        rb = rb.header(k, v);
    }
    let r = rb
        .body(serde_json::to_vec(&serde_json::json!({"documents": [doc("b", "x")]})).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    sim.stop().await;
}

#[tokio::test]
async fn sdk_with_wrong_credentials_gets_403_codes() {
    use aws_sdk_qbusiness::error::ProvideErrorMetadata;
    let sim = start(cfg()).await;
    let app = sim.config().application_id.clone();
    let e = sdk_with(&sim, "AKIDUNKNOWN", "x")
        .get_application()
        .application_id(&app)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("UnrecognizedClientException"));
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 403);
    let e = sdk_with(&sim, "AKIDBCQSIMEXAMPLE", "wrong")
        .get_application()
        .application_id(&app)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidSignatureException"));
    assert_eq!(e.message(), Some(q_sim::error::BAD_SIGNATURE_MESSAGE));
    // The right credentials work, including labels that need encoding.
    let ok = sdk(&sim)
        .get_application()
        .application_id(&app)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.application_id(), Some(app.as_str()));
    sim.stop().await;
}

#[tokio::test]
async fn session_tokens_are_accepted() {
    let sim = start(cfg()).await;
    let c = sim.config().clone();
    let conf = aws_sdk_qbusiness::Config::builder()
        .behavior_version(aws_sdk_qbusiness::config::BehaviorVersion::latest())
        .region(aws_sdk_qbusiness::config::Region::new(c.region.clone()))
        .endpoint_url(sim.endpoint())
        .credentials_provider(aws_sdk_qbusiness::config::Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            Some("session-token".into()),
            None,
            "test",
        ))
        .build();
    let client = aws_sdk_qbusiness::Client::from_conf(conf);
    let r = client
        .get_index()
        .application_id(&c.application_id)
        .index_id(&c.index_id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.index_id(), Some(c.index_id.as_str()));
    sim.stop().await;
}
