//! Behaviour of [`BcClient`] against the mock server: tokens, retries,
//! paging, budget, errors.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::test_support::{Canned, Mock, VirtualTimer};
use crate::{BcClient, BcConfig, BcError, Credential, RequestBudget, Seams, Secret};

const REF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../reference/bc/captured");

fn client(_mock: &Mock, cfg: BcConfig) -> (BcClient, Arc<VirtualTimer>) {
    let timer = VirtualTimer::new();
    let seams = Seams {
        timer: timer.clone(),
        rng_seed: Some(42),
    };
    let c = BcClient::with_seams(
        cfg,
        RequestBudget::new(1000, Duration::from_secs(300), 5),
        seams,
    )
    .unwrap();
    (c, timer)
}

fn ok_entity() -> Canned {
    Canned::json(200, json!({"id": "e1", "number": "10000"}))
}

#[tokio::test]
async fn token_request_form_and_bearer_use() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    mock.push_api(ok_entity());
    let url = format!("{}/companies(c)/customers(e1)", mock.root());
    let v = c.get_json(&url).await.unwrap();
    assert_eq!(v["number"], "10000");

    let tokens = mock.token_requests();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].path_and_query, "/t/oauth2/v2.0/token");
    assert_eq!(
        tokens[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        tokens[0].form_field("grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(
        tokens[0].form_field("client_id").as_deref(),
        Some("client-id")
    );
    assert_eq!(
        tokens[0].form_field("client_secret").as_deref(),
        Some("the-client-secret")
    );
    assert_eq!(
        tokens[0].form_field("scope").as_deref(),
        Some("https://api.businesscentral.dynamics.com/.default")
    );
    let api = mock.api_requests();
    assert_eq!(
        api[0].path_and_query,
        "/t/production/api/v2.0/companies(c)/customers(e1)"
    );
    assert_eq!(api[0].header("authorization"), Some("Bearer token-1"));
    // No page-size preference on a single entity.
    assert_eq!(api[0].header("prefer"), None);
}

#[tokio::test]
async fn token_is_cached_and_refreshed_before_expiry() {
    let mock = Mock::start().await;
    let (c, timer) = client(&mock, mock.config());
    mock.push_token(Canned::token("first", 3600));
    mock.push_token(Canned::token("second", 3600));
    let url = format!("{}/x", mock.root());
    for _ in 0..3 {
        mock.push_api(ok_entity());
        c.get_json(&url).await.unwrap();
    }
    assert_eq!(mock.token_requests().len(), 1, "cached");
    // 54 min later: 6 min left, more than the 5 min minimum.
    timer.advance(Duration::from_secs(54 * 60));
    mock.push_api(ok_entity());
    c.get_json(&url).await.unwrap();
    assert_eq!(mock.token_requests().len(), 1);
    // 55 min 1 s: under 5 min left, refreshed before use.
    timer.advance(Duration::from_secs(61));
    mock.push_api(ok_entity());
    c.get_json(&url).await.unwrap();
    assert_eq!(mock.token_requests().len(), 2);
    let auths: Vec<_> = mock
        .api_requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(auths.last().unwrap(), "Bearer second");
    assert_eq!(auths[0], "Bearer first");
    assert_eq!(c.stats().token_requests, 2);
}

#[tokio::test]
async fn min_token_lifetime_is_configurable() {
    let mock = Mock::start().await;
    let mut cfg = mock.config();
    cfg.auth.min_token_lifetime = Duration::from_secs(20 * 60);
    let (c, timer) = client(&mock, cfg);
    c.token_check().await.unwrap();
    timer.advance(Duration::from_secs(41 * 60)); // 19 min left of 60
    c.token_check().await.unwrap();
    assert_eq!(mock.token_requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_fetch_one_token() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.token_check().await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(mock.token_requests().len(), 1);
}

#[tokio::test]
async fn certificate_credential_sends_a_verifiable_assertion() {
    let mock = Mock::start().await;
    let mut cfg = mock.config();
    cfg.auth.credential = Credential::CertificatePkcs12 {
        path: concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/cert.p12").into(),
        password: Some(Secret::new("test-only-password")),
    };
    let (c, _) = client(&mock, cfg);
    c.token_check().await.unwrap();
    let req = &mock.token_requests()[0];
    assert_eq!(req.form_field("client_secret"), None);
    assert_eq!(
        req.form_field("client_assertion_type").as_deref(),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let jwt = req.form_field("client_assertion").unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let public = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/public-key-pkcs1.der"
    ))
    .unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["aud"], format!("{}/t/oauth2/v2.0/token", mock.base));
    assert_eq!(claims["iss"], "client-id");
    // The virtual wall clock starts at 2025-06-01T12:00:00Z.
    assert_eq!(claims["iat"], 1_748_779_200);
    assert_eq!(claims["exp"], 1_748_779_200 + 600);
}

#[tokio::test]
async fn entra_errors_say_what_to_fix_and_are_not_retried() {
    let cases = [
        (401, "invalid_client", 7000215, "check DYNAMICS_SECRET"),
        (
            400,
            "unauthorized_client",
            700016,
            "check DYNAMICS_CLIENT_ID",
        ),
        (400, "invalid_request", 90002, "check DYNAMICS_AUTHORITY"),
        (400, "invalid_scope", 70011, "check DYNAMICS_SCOPE"),
    ];
    for (status, error, code, advice) in cases {
        let mock = Mock::start().await;
        let (c, timer) = client(&mock, mock.config());
        mock.push_token(Canned::json(
            status,
            json!({"error": error, "error_description": format!("AADSTS{code}: something.\r\nTrace ID: x"), "error_codes": [code]}),
        ));
        let err = c.token_check().await.unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("authentication failed: "), "{text}");
        assert!(
            text.contains(&format!("(AADSTS{code}); {advice}")),
            "{text}"
        );
        assert!(
            !text.contains("the-client-secret")
                && !format!("{err:?}").contains("the-client-secret")
        );
        assert_eq!(mock.token_requests().len(), 1, "not retried");
        assert!(timer.sleeps().is_empty());
    }
}

#[tokio::test]
async fn token_endpoint_outage_is_retried() {
    let mock = Mock::start().await;
    let (c, timer) = client(&mock, mock.config());
    mock.push_token(Canned::raw(500, "oops"));
    mock.push_token(Canned::raw(503, ""));
    c.token_check().await.unwrap();
    assert_eq!(mock.token_requests().len(), 3);
    assert_eq!(timer.sleeps().len(), 2);
}

#[tokio::test]
async fn a_401_re_authenticates_once_then_succeeds() {
    let mock = Mock::start().await;
    let (c, timer) = client(&mock, mock.config());
    mock.push_api(Canned::raw(401, ""));
    mock.push_api(ok_entity());
    c.get_json(&format!("{}/x", mock.root())).await.unwrap();
    let api = mock.api_requests();
    assert_eq!(api.len(), 2);
    assert_eq!(api[0].header("authorization"), Some("Bearer token-1"));
    assert_eq!(api[1].header("authorization"), Some("Bearer token-2"));
    assert_eq!(mock.token_requests().len(), 2);
    assert!(
        timer.sleeps().is_empty(),
        "re-authentication does not back off"
    );
}

#[tokio::test]
async fn a_second_401_is_unauthorized() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    mock.push_api(Canned::raw(401, ""));
    mock.push_api(Canned::raw(401, ""));
    mock.push_api(ok_entity()); // never reached
    let url = format!("{}/x", mock.root());
    let err = c.get_json(&url).await.unwrap_err();
    assert!(
        matches!(&err, BcError::Unauthorized { url: u } if *u == url),
        "{err:?}"
    );
    assert!(err.to_string().contains("API permission"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(mock.api_requests().len(), 2);
    assert_eq!(mock.token_requests().len(), 2);
}

#[tokio::test]
async fn pages_follow_next_link_to_the_end_and_send_prefer() {
    let mock = Mock::start().await;
    let mut cfg = mock.config();
    cfg.page_size = Some(2);
    let (c, _) = client(&mock, cfg);
    let root = mock.root();
    // nextLinks are opaque: a skiptoken the client could not have built.
    let p2 = format!("{root}/companies(c)/customers?aid=FIN&$skiptoken=%27abc%27");
    let p3 = format!("{root}/companies(c)/customers?aid=FIN&$skiptoken=%27def%27");
    mock.push_api(Canned::json(
        200,
        json!({"value": [{"n": 1}, {"n": 2}], "@odata.nextLink": p2}),
    ));
    mock.push_api(Canned::json(
        200,
        json!({"value": [{"n": 3}, {"n": 4}], "@odata.nextLink": p3}),
    ));
    // The real last page of a capture: no nextLink.
    mock.push_api(Canned::raw(
        200,
        std::fs::read(format!("{REF}/customers-page2-last.json")).unwrap(),
    ));
    let first = format!("{root}/companies(c)/customers");
    let pages: Vec<_> = c.pages(first.clone()).try_collect().await.unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].url, first);
    assert_eq!(pages[1].url, p2);
    assert_eq!(pages[2].url, p3);
    let ns: Vec<i64> = pages
        .iter()
        .flat_map(|p| p.values.iter().map(|v| v["n"].as_i64().unwrap()))
        .collect();
    assert_eq!(ns, [1, 2, 3, 4]);
    let api = mock.api_requests();
    assert_eq!(api.len(), 3);
    assert_eq!(
        api[1].path_and_query,
        "/t/production/api/v2.0/companies(c)/customers?aid=FIN&$skiptoken=%27abc%27"
    );
    for r in &api {
        assert_eq!(r.header("prefer"), Some("odata.maxpagesize=2"));
    }
}

#[tokio::test]
async fn pages_of_a_real_capture_follow_its_next_link() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    // The captured page 1 carries BC's real nextLink; point its host at the mock.
    let page1 = std::fs::read_to_string(format!("{REF}/customers-page1.json"))
        .unwrap()
        .replace("https://api.businesscentral.dynamics.com/v2.0", &mock.base);
    mock.push_api(Canned::raw(200, page1));
    mock.push_api(Canned::raw(
        200,
        std::fs::read(format!("{REF}/customers-page2-last.json")).unwrap(),
    ));
    let first = format!("{}/companies(c)/customers", mock.root());
    let pages: Vec<_> = c.pages(first).try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].values[0]["displayName"], "Adatum Corporation");
    assert!(pages[1].values.is_empty());
    let api = mock.api_requests();
    assert_eq!(
        api[1].path_and_query,
        "/5c6241d0-74cc-48a2-b667-3eb0d738af72/Production/api/v2.0/companies(70c0c603-f4f9-ef11-9344-6045bdc8c234)/customers?aid=FIN&$skiptoken=5de545bc-f6f9-ef11-9344-6045bdc8c234"
    );
    assert_eq!(api[0].header("prefer"), None, "no page size configured");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    mock.push_api(Canned::json(
        200,
        json!({"value": [{"id": "1"}], "@odata.nextLink": "https://evil.example/steal"}),
    ));
    let results: Vec<_> = c
        .pages(format!("{}/companies(c)/customers", mock.root()))
        .collect::<Vec<_>>()
        .await;
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let err = results[1].as_ref().unwrap_err();
    assert!(matches!(err, BcError::ForeignUrl { .. }), "{err:?}");
    assert_eq!(mock.api_requests().len(), 1);
}

/// The pages of `first` until the stream ends, as results.
async fn read_all(c: &BcClient, first: String) -> Vec<Result<crate::Page, BcError>> {
    c.pages(first).collect::<Vec<_>>().await
}

#[tokio::test]
async fn a_next_link_cycle_is_an_error_not_the_end_of_the_data() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    let first = format!("{}/companies(c)/customers", mock.root());
    let page2 = format!("{first}?aid=FIN&$skiptoken=2");
    // Page 1 → page 2 → page 1 again (a proxy's cycle).
    mock.push_api(Canned::json(
        200,
        json!({"value": [{"id": "1"}], "@odata.nextLink": page2}),
    ));
    mock.push_api(Canned::json(
        200,
        json!({"value": [{"id": "2"}], "@odata.nextLink": first}),
    ));
    let r = read_all(&c, first.clone()).await;
    assert_eq!(r.len(), 2, "page 1, then page 2's nextLink is the anomaly");
    assert!(r[0].is_ok());
    let err = r[1].as_ref().unwrap_err();
    assert!(matches!(err, BcError::PagingAnomaly { .. }), "{err:?}");
    assert!(err.to_string().contains("cycle"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(
        mock.api_requests().len(),
        2,
        "the repeated page is not fetched"
    );

    // A nextLink equal to the page's own URL.
    mock.push_api(Canned::json(
        200,
        json!({"value": [{"id": "1"}], "@odata.nextLink": first}),
    ));
    let r = read_all(&c, first.clone()).await;
    assert!(matches!(
        r.last().unwrap(),
        Err(BcError::PagingAnomaly { .. })
    ));

    // An empty page that still has a nextLink.
    mock.push_api(Canned::json(
        200,
        json!({"value": [], "@odata.nextLink": page2}),
    ));
    let r = read_all(&c, first).await;
    let err = r.last().unwrap().as_ref().unwrap_err();
    assert!(err.to_string().contains("empty page"), "{err}");
}

#[tokio::test]
async fn a_read_past_what_the_collection_holds_is_stopped() {
    let mock = Mock::start().await;
    let mut cfg = mock.config();
    cfg.page_size = Some(1);
    let (c, _) = client(&mock, cfg);
    let first = format!(
        "{}/companies(c)/customers?$filter=lastModifiedDateTime%20gt%202024-01-01T00:00:00.000Z",
        mock.root()
    );
    // Endless fresh pages; after PAGES_BEFORE_COUNT of them bcq asks the
    // collection's $count (3) and stops at 3 + one page of slack.
    let pages = crate::paging::PAGES_BEFORE_COUNT as usize;
    for i in 0..pages {
        mock.push_api(Canned::json(
            200,
            json!({"value": [{"id": i.to_string()}], "@odata.nextLink": format!("{first}&$skiptoken={i}")}),
        ));
    }
    mock.push_api(Canned::raw(200, "3"));
    mock.push_api(Canned::json(
        200,
        json!({"value": [{"id": "x"}], "@odata.nextLink": format!("{first}&$skiptoken=x")}),
    ));
    let r = read_all(&c, first).await;
    let err = r.last().unwrap().as_ref().unwrap_err();
    assert!(
        err.to_string()
            .contains("more than the 4 the collection can hold"),
        "{err}"
    );
    let api = mock.api_requests();
    let count = &api[pages];
    assert_eq!(
        count.path_and_query,
        "/t/production/api/v2.0/companies(c)/customers/$count?$filter=lastModifiedDateTime%20gt%202024-01-01T00:00:00.000Z"
    );
    assert_eq!(api.len(), pages + 2);
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_and_not_retried() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    mock.push_api(Canned::raw(302, "").header("location", "http://127.0.0.2:9/elsewhere"));
    let first = format!("{}/companies(c)/customers", mock.root());
    let r = read_all(&c, first).await;
    assert_eq!(r.len(), 1);
    let err = r[0].as_ref().unwrap_err();
    assert!(matches!(err, BcError::ForeignRedirect { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.2:9/elsewhere"), "{err}");
    assert_eq!(
        mock.api_requests().len(),
        1,
        "no retry, nothing sent elsewhere"
    );
    // A redirect within the origin is followed.
    let (c, _) = client(&mock, mock.config());
    let target = format!("{}/companies(c)/customers(e1)", mock.root());
    mock.push_api(Canned::raw(302, "").header("location", &target));
    mock.push_api(ok_entity());
    let v = c
        .get_json(&format!("{}/companies(c)/old(e1)", mock.root()))
        .await
        .unwrap();
    assert_eq!(v["number"], "10000");
}

#[tokio::test]
async fn a_lone_surrogate_costs_its_character_not_the_page() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    mock.push_api(
        Canned::raw(
            200,
            r#"{"value":[{"id":"1","displayName":"bad \ud800 name"},{"id":"2","displayName":"fine"}]}"#,
        )
        .header("content-type", "application/json")
        .header("date", "Wed, 02 Dec 2026 10:00:00 GMT"),
    );
    let first = format!("{}/companies(c)/customers", mock.root());
    let r = read_all(&c, first).await;
    let page = r[0].as_ref().unwrap();
    assert_eq!(page.values.len(), 2);
    assert_eq!(page.values[0]["displayName"], "bad \u{fffd} name");
    assert_eq!(page.values[1]["displayName"], "fine");
    assert_eq!(
        page.date.map(|d| d.to_rfc3339()),
        Some("2026-12-02T10:00:00+00:00".into()),
        "BC's clock comes with the page"
    );
    assert_eq!(mock.api_requests().len(), 1, "decoded without a re-fetch");
}

#[tokio::test]
async fn each_retryable_status_is_retried_with_backoff() {
    let try_again = json!({"error": {"code": "Internal_ServerBusy", "message": "The server is busy. Please try again later.  CorrelationId:  1."}});
    let cases: Vec<(u16, Canned)> = vec![
        (429, Canned::raw(429, "")),
        (502, Canned::raw(502, "<html>bad gateway</html>")),
        (503, Canned::raw(503, "")),
        (504, Canned::raw(504, "")),
        (
            408,
            Canned::json(
                408,
                json!({"error": {"code": "RequestTimeout", "message": "timeout"}}),
            ),
        ),
        (
            409,
            Canned::json(
                409,
                json!({"error": {"code": "Internal_LockTimeout", "message": "deadlock"}}),
            ),
        ),
        (400, Canned::json(400, try_again)),
    ];
    for (status, canned) in cases {
        let mock = Mock::start().await;
        let (c, timer) = client(&mock, mock.config());
        mock.push_api(canned.clone());
        mock.push_api(canned);
        mock.push_api(ok_entity());
        c.get_json(&format!("{}/x", mock.root())).await.unwrap();
        assert_eq!(mock.api_requests().len(), 3, "{status}");
        let sleeps = timer.sleeps();
        assert_eq!(sleeps.len(), 2, "{status}");
        // Decorrelated jitter: first in [base, 3*base], second in [base, 3*first].
        let base = Duration::from_millis(100);
        assert!(
            sleeps[0] >= base && sleeps[0] <= base * 3,
            "{status}: {sleeps:?}"
        );
        assert!(
            sleeps[1] >= base && sleeps[1] <= sleeps[0] * 3,
            "{status}: {sleeps:?}"
        );
        let stats = c.stats();
        assert_eq!(stats.retries, 2);
        assert_eq!(stats.requests, 3);
        let throttled = if status == 429 || status == 503 { 2 } else { 0 };
        assert_eq!(stats.throttled, throttled, "{status}");
    }
}

#[tokio::test]
async fn retry_after_wins_in_seconds_and_as_http_date() {
    let mock = Mock::start().await;
    let (c, timer) = client(&mock, mock.config());
    mock.push_api(Canned::raw(429, "").header("retry-after", "17"));
    // The virtual wall clock is at 12:00:17 after the first sleep.
    mock.push_api(Canned::raw(503, "").header("retry-after", "Sun, 01 Jun 2025 12:01:00 GMT"));
    mock.push_api(ok_entity());
    c.get_json(&format!("{}/x", mock.root())).await.unwrap();
    assert_eq!(
        timer.sleeps(),
        [Duration::from_secs(17), Duration::from_secs(43)]
    );
}

#[tokio::test]
async fn same_seed_gives_the_same_delays() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mock = Mock::start().await;
        let (c, timer) = client(&mock, mock.config());
        for _ in 0..4 {
            mock.push_api(Canned::raw(503, ""));
        }
        mock.push_api(ok_entity());
        c.get_json(&format!("{}/x", mock.root())).await.unwrap();
        runs.push(timer.sleeps());
    }
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0].len(), 4);
}

#[tokio::test]
async fn retries_are_bounded_by_attempts_and_elapsed_time() {
    let mock = Mock::start().await;
    let (c, timer) = client(&mock, mock.config());
    for _ in 0..14 {
        mock.push_api(Canned::raw(503, ""));
    }
    let err = c.get_json(&format!("{}/x", mock.root())).await.unwrap_err();
    match &err {
        BcError::GaveUp { give_up, last } => {
            assert!(
                matches!(**last, BcError::Status { status: 503, .. }),
                "{err:?}"
            );
            assert_eq!(give_up.attempts, 12);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("(gave up after 12 attempts over "),
        "{err}"
    );
    assert_eq!(err.status(), Some(503));
    assert_eq!(mock.api_requests().len(), 12, "default max_attempts");
    assert_eq!(timer.sleeps().len(), 11);

    let mock = Mock::start().await;
    let mut cfg = mock.config();
    cfg.retry.max_elapsed = Duration::from_secs(60);
    let (c, timer) = client(&mock, cfg);
    mock.push_api(Canned::raw(429, "").header("retry-after", "50"));
    mock.push_api(Canned::raw(429, "").header("retry-after", "50"));
    mock.push_api(ok_entity());
    let err = c.get_json(&format!("{}/x", mock.root())).await.unwrap_err();
    assert!(
        matches!(&err, BcError::GaveUp { last, give_up } if matches!(**last, BcError::Status { status: 429, .. }) && give_up.attempts == 2),
        "{err:?}"
    );
    assert_eq!(
        timer.sleeps(),
        [Duration::from_secs(50)],
        "a second 50 s wait would pass 60 s"
    );
}

#[tokio::test]
async fn non_retryable_errors_are_not_retried() {
    let mock = Mock::start().await;
    let (c, timer) = client(&mock, mock.config());
    mock.push_api(Canned::raw(
        400,
        std::fs::read(format!("{REF}/error-no-lastmodified.json")).unwrap(),
    ));
    let url = format!(
        "{}/companies(c)/balanceSheet?$filter=lastModifiedDateTime%20gt%202024-01-01T00:00:00Z",
        mock.root()
    );
    let err = c.get_json(&url).await.unwrap_err();
    match &err {
        BcError::Api {
            status,
            code,
            correlation_id,
            url: u,
            ..
        } => {
            assert_eq!((*status, code.as_str()), (400, "BadRequest"));
            assert_eq!(
                correlation_id.as_deref(),
                Some("233b73c2-6ffd-4d0e-8c65-0ae5f29de9a0")
            );
            assert_eq!(u, &url);
        }
        other => panic!("{other:?}"),
    }
    mock.push_api(Canned::json(
        404,
        json!({"error": {"code": "BadRequest_ResourceNotFound", "message": "Resource not found for the segment 'nope'.  CorrelationId:  abc."}}),
    ));
    let err = c
        .get_json(&format!("{}/nope", mock.root()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BcError::Api { status: 404, code, .. } if code == "BadRequest_ResourceNotFound"),
        "{err:?}"
    );
    assert_eq!(mock.api_requests().len(), 2);
    assert!(timer.sleeps().is_empty());
    assert_eq!(c.stats().retries, 0);
}

#[tokio::test]
async fn wrong_environment_is_reported_by_name() {
    let mock = Mock::start().await;
    let mut cfg = mock.config();
    cfg.environment = "prod".into();
    let (c, _) = client(&mock, cfg);
    mock.push_api(
        Canned::raw(
            404,
            std::fs::read(format!("{REF}/error-no-environment.xml")).unwrap(),
        )
        .header("content-type", "application/xml"),
    );
    let err = c.companies().await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("business central environment 'prod' does not exist for this tenant"),
        "{err}"
    );
    assert_eq!(
        mock.api_requests()[0].path_and_query,
        "/t/prod/api/v2.0/companies"
    );
}

#[tokio::test]
async fn truncated_json_is_retried_then_reported() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    let url = format!("{}/companies(c)/customers", mock.root());
    mock.push_api(Canned::raw(200, r#"{"value":[{"id":"1"},{"id":"#));
    mock.push_api(Canned::json(200, json!({"value": [{"id": "1"}]})));
    let pages: Vec<_> = c.pages(url.clone()).try_collect().await.unwrap();
    assert_eq!(pages[0].values.len(), 1);
    assert_eq!(mock.api_requests().len(), 2);

    for _ in 0..3 {
        mock.push_api(Canned::raw(200, r#"{"value":[{"id":"1"#));
    }
    mock.push_api(Canned::json(200, json!({"value": []}))); // not reached
    let err = c
        .pages(url.clone())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BcError::Decode { attempts: 3, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("malformed json from {url} after 3 attempt(s)")),
        "{text}"
    );
    assert_eq!(mock.api_requests().len(), 5);
}

#[tokio::test]
async fn companies_and_media_bytes() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    mock.push_api(Canned::json(
        200,
        json!({"value": [{"id": "70c0c603-f4f9-ef11-9344-6045bdc8c234", "systemVersion": "25.4", "name": "CRONUS USA, Inc.", "displayName": "CRONUS USA, Inc.", "businessProfileId": ""}]}),
    ));
    let companies = c.companies().await.unwrap();
    assert_eq!(companies.len(), 1);
    assert_eq!(companies[0].name, "CRONUS USA, Inc.");
    assert_eq!(companies[0].id, "70c0c603-f4f9-ef11-9344-6045bdc8c234");

    let pdf = b"%PDF-1.7\n\x00\x01binary".to_vec();
    mock.push_api(Canned::raw(200, pdf.clone()).header("content-type", "application/pdf"));
    let url = format!(
        "{}/companies(c)/salesInvoices(i)/pdfDocument/pdfDocumentContent",
        mock.root()
    );
    assert_eq!(c.get_bytes(&url).await.unwrap().as_ref(), pdf.as_slice());
    assert!(c.stats().bytes >= pdf.len() as u64);
}

#[tokio::test]
async fn connection_errors_are_retried() {
    // A port with nothing listening: bind, note the port, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mock = Mock::start().await;
    let mut cfg = mock.config();
    cfg.api_base = dead.clone();
    cfg.retry.max_attempts = 3;
    let (c, timer) = client(&mock, cfg);
    let err = c
        .get_json(&format!("{dead}/t/production/api/v2.0/companies"))
        .await
        .unwrap_err();
    match &err {
        BcError::GaveUp { last, give_up } => {
            assert!(matches!(**last, BcError::Transport { .. }), "{err:?}");
            assert!(last.is_retryable());
            assert_eq!(give_up.attempts, 3);
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable(), "given up is final");
    assert_eq!(timer.sleeps().len(), 2);
    assert_eq!(c.stats().requests, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_k_requests_in_flight() {
    let mock = Mock::start_gated().await;
    let budget = RequestBudget::new(1000, Duration::from_secs(300), 2);
    let c = BcClient::new(mock.config(), budget).unwrap();
    for _ in 0..6 {
        mock.push_api(ok_entity());
    }
    let url = format!("{}/x", mock.root());
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move { c.get_json(&url).await })
        })
        .collect();
    while mock.in_flight() < 2 {
        tokio::task::yield_now().await;
    }
    // Give a third request every chance to arrive; the budget must hold it back.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(mock.in_flight(), 2);
    mock.release(6);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(mock.peak(), 2);
    assert_eq!(mock.api_requests().len(), 6);
}

#[tokio::test]
async fn plain_http_is_refused_for_remote_hosts() {
    let mock = Mock::start().await;
    let mut cfg = mock.config();
    cfg.api_base = "http://api.businesscentral.dynamics.com/v2.0".into();
    let err = BcClient::new(cfg, RequestBudget::bc_default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("BC_API_BASE_URL uses plain http"),
        "{err}"
    );
    let mut cfg = mock.config();
    cfg.auth.authority = "http://login.microsoftonline.com/t".into();
    let err = BcClient::new(cfg, RequestBudget::bc_default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("DYNAMICS_AUTHORITY uses plain http"),
        "{err}"
    );
    assert!(BcClient::new(mock.config(), RequestBudget::bc_default()).is_ok());
}

#[tokio::test]
async fn secrets_never_show_in_debug_or_errors() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    mock.push_token(Canned::token("very-secret-access-token", 3600));
    mock.push_api(Canned::raw(403, "forbidden"));
    let err = c.get_json(&format!("{}/x", mock.root())).await.unwrap_err();
    for text in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{c:?}"),
        format!("{:?}", mock.config()),
    ] {
        assert!(!text.contains("the-client-secret"), "{text}");
        assert!(!text.contains("very-secret-access-token"), "{text}");
    }
    let bad_cert = Credential::CertificatePkcs12 {
        path: concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/cert.p12").into(),
        password: Some(Secret::new("wrong-pfx-password")),
    };
    let mut cfg = mock.config();
    cfg.auth.credential = bad_cert;
    let err = BcClient::new(cfg, RequestBudget::bc_default()).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("wrong-pfx-password"));
}

#[tokio::test]
async fn api_root_shape() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    assert_eq!(c.api_root(), format!("{}/t/production/api/v2.0", mock.base));
    assert_eq!(
        c.custom_api_root("contoso", "app1", "v1.0"),
        format!("{}/t/production/api/contoso/app1/v1.0", mock.base)
    );
    assert_eq!((c.tenant(), c.environment()), ("t", "production"));
}

#[tokio::test(start_paused = true)]
async fn the_client_waits_for_the_window_when_the_budget_is_spent() {
    let mock = Mock::start().await;
    let mut cfg = mock.config();
    // Longer than the window, so that paused time can only jump to the
    // budget's wake-up, never to a timeout.
    cfg.request_timeout = Duration::from_secs(36_000);
    cfg.connect_timeout = Duration::from_secs(36_000);
    let window = Duration::from_secs(60);
    let c = BcClient::new(cfg, RequestBudget::new(2, window, 5)).unwrap();
    let url = format!("{}/x", mock.root());
    let t0 = tokio::time::Instant::now();
    for _ in 0..2 {
        mock.push_api(ok_entity());
        c.get_json(&url).await.unwrap();
    }
    assert!(t0.elapsed() < window);
    mock.push_api(ok_entity());
    c.get_json(&url).await.unwrap();
    assert!(
        t0.elapsed() >= window,
        "the 3rd request waited for the window"
    );
    assert_eq!(mock.api_requests().len(), 3);
    // Token requests are not counted against the budget.
    assert_eq!(mock.token_requests().len(), 1);
}

#[tokio::test]
async fn a_request_that_never_answers_times_out_and_is_retried() {
    // The gated mock holds every API request open; nothing releases it.
    let mock = Mock::start_gated().await;
    let mut cfg = mock.config();
    cfg.request_timeout = Duration::from_millis(200);
    cfg.retry.max_attempts = 2;
    let (c, timer) = client(&mock, cfg);
    let url = format!("{}/x", mock.root());
    let err = c.get_json(&url).await.unwrap_err();
    match &err {
        BcError::GaveUp { last, .. } => match &**last {
            BcError::Transport { source, .. } => assert!(source.is_timeout(), "{err:?}"),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("request to {url} failed: timed out")),
        "{err}"
    );
    assert_eq!(mock.api_requests().len(), 2);
    assert_eq!(timer.sleeps().len(), 1);
}

#[tokio::test]
async fn pages_can_be_driven_from_a_spawned_task() {
    let mock = Mock::start().await;
    let (c, _) = client(&mock, mock.config());
    mock.push_api(Canned::json(200, json!({"value": [{"id": "a"}]})));
    let stream = c.pages(format!("{}/companies(c)/items", mock.root()));
    drop(c); // the stream owns what it needs ('static)
    let pages = tokio::spawn(async move { stream.try_collect::<Vec<_>>().await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pages[0].values[0]["id"], "a");
}
