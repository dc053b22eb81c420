//! Entra token endpoint errors, certificate assertions, and token validation on the BC API.

mod common;
use bc_sim::{SimConfig, sign_client_assertion, test_certificate};
use common::*;
use serde_json::Value;
use std::time::Duration;

async fn token_req(sim: &bc_sim::BcSim, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn each_entra_error_has_entras_shape() {
    let sim = start(SimConfig::default()).await;
    let cfg = sim.config().clone();
    let t = cfg.tenant.as_str();
    let scope = "https://api.businesscentral.dynamics.com/.default";
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", cfg.client_secret.as_str()),
        ("scope", scope),
    ];
    let (s, v) = token_req(&sim, t, &good).await;
    assert_eq!(s, 200);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    assert_eq!(v["ext_expires_in"], 3599);

    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, u16, &'a str, u64);
    let cases: Vec<Case> = vec![
        (
            vec![("client_secret", "wrong")],
            t,
            401,
            "invalid_client",
            7000215,
        ),
        (
            vec![("client_id", "11111111-1111-1111-1111-111111111111")],
            t,
            400,
            "unauthorized_client",
            700016,
        ),
        (
            vec![("scope", "https://graph.microsoft.com/.default")],
            t,
            400,
            "invalid_scope",
            70011,
        ),
        (
            vec![],
            "00000000-aaaa-bbbb-cccc-000000000000",
            400,
            "invalid_request",
            90002,
        ),
        (
            vec![("grant_type", "password")],
            t,
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            vec![
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", "a.b.c"),
            ],
            t,
            401,
            "invalid_client",
            700027,
        ),
    ];
    for (over, tenant, status, error, code) in cases {
        let mut form: Vec<(&str, &str)> = good
            .iter()
            .copied()
            .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
            .collect();
        form.extend(over.iter().copied());
        if over.iter().any(|(k, _)| *k == "client_assertion") {
            form.retain(|(k, _)| *k != "client_secret");
        }
        let (s, v) = token_req(&sim, tenant, &form).await;
        assert_eq!(s, status, "{error}");
        assert_eq!(v["error"], error);
        assert_eq!(v["error_codes"][0], code);
        let d = v["error_description"].as_str().unwrap();
        assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
        assert!(
            d.contains("\r\nTrace ID: ")
                && d.contains("\r\nCorrelation ID: ")
                && d.contains("\r\nTimestamp: ")
        );
        assert_eq!(
            v["error_uri"],
            format!("https://login.microsoftonline.com/error?code={code}")
        );
        assert!(
            v["trace_id"].is_string()
                && v["correlation_id"].is_string()
                && v["timestamp"].as_str().unwrap().ends_with('Z')
        );
    }
    let oid: Value = client()
        .get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            sim.authority()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        oid["token_endpoint"],
        format!("{}/oauth2/v2.0/token", sim.authority())
    );
    assert!(
        oid["issuer"].is_string()
            && oid["jwks_uri"].is_string()
            && oid["authorization_endpoint"].is_string()
    );
    sim.stop().await;
}

#[tokio::test]
async fn certificate_assertion_accepted_and_bad_signature_rejected() {
    let (cert, key) = test_certificate();
    let sim = start(SimConfig {
        certificates: vec![cert.clone()],
        ..SimConfig::default()
    })
    .await;
    let cfg = sim.config().clone();
    let token_url = format!("{}/oauth2/v2.0/token", sim.authority());
    let jwt = sign_client_assertion(&key, &cert.thumbprint_sha1, &cfg.client_id, &token_url, 300)
        .unwrap();
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", cfg.client_id.clone()),
            (
                "scope",
                "https://api.businesscentral.dynamics.com/.default".into(),
            ),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion", a.to_string()),
        ]
    };
    let r = client()
        .post(&token_url)
        .form(&form(&jwt))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tok = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        get(&format!("{}/companies", sim.api_root("production")), &tok)
            .await
            .status(),
        200
    );

    // Flip one signature character: the RSA check must fail.
    let mut bad = jwt.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    for a in [
        bad,
        sign_client_assertion(
            &key,
            &cert.thumbprint_sha1,
            &cfg.client_id,
            "https://elsewhere/token",
            300,
        )
        .unwrap(),
        sign_client_assertion(&key, &cert.thumbprint_sha1, &cfg.client_id, &token_url, -10)
            .unwrap(),
        sign_client_assertion(&key, &[0u8; 20], &cfg.client_id, &token_url, 300).unwrap(),
    ] {
        let r = client()
            .post(&token_url)
            .form(&form(&a))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_client");
        assert_eq!(v["error_codes"][0], 700027);
    }
    sim.stop().await;
}

#[tokio::test]
async fn bc_refuses_missing_malformed_foreign_expired_and_revoked_tokens() {
    let sim = start(SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await;
    let other = start(SimConfig::default()).await;
    let url = format!("{}/companies", sim.api_root("production"));
    let check = |r: reqwest::Response, desc: &'static str| async move {
        assert_eq!(r.status(), 401);
        let h = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            h.starts_with("Bearer authorization_uri=\"https://login.microsoftonline.com/"),
            "{h}"
        );
        assert!(
            h.contains("error=\"invalid_token\"") && h.contains(desc),
            "{h}"
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error":{"code":"Unauthorized","message":"The credentials provided are incorrect"}})
        );
    };
    check(client().get(&url).send().await.unwrap(), "no access token").await;
    check(get(&url, "not-a-jwt").await, "malformed").await;
    check(get(&url, &token(&other).await).await, "signature").await;
    let tok = token(&sim).await;
    assert_eq!(get(&url, &tok).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    check(get(&url, &tok).await, "The access token is expired").await;
    let tok = token(&sim).await;
    sim.control().revoke_tokens();
    check(get(&url, &tok).await, "revoked").await;
    // A token issued after the revocation works.
    assert_eq!(get(&url, &token(&sim).await).await.status(), 200);
    sim.stop().await;
    other.stop().await;
}
