//! Webhooks as BC implements them, observed by a real subscriber (an axum
//! receiver on 127.0.0.1:0): the handshake, subscriptions CRUD with etags,
//! the limits, grouped notifications, collections, retries, deletions and
//! expiry. Tests drive time with the control API (flush, clock), never by
//! racing the machine.

mod common;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bc_sim::{BcSim, Fault, SimConfig, Unreachable};
use common::*;
use http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the receiver answers a handshake.
#[derive(Debug, Clone, Copy)]
enum Handshake {
    Echo,
    Wrong,
    Status(u16),
    Slow(u64),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn token(&self) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == "validationToken")
            .map(|(_, v)| v.into_owned())
    }
}

#[derive(Debug)]
struct RxState {
    handshake: Handshake,
    /// Statuses for the next notifications (then 200).
    answers: VecDeque<u16>,
    seen: Vec<Seen>,
}

/// A webhook subscriber on loopback.
#[derive(Debug, Clone)]
struct Receiver {
    url: String,
    st: Arc<Mutex<RxState>>,
}

async fn rx(State(st): State<Arc<Mutex<RxState>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default()
        .to_vec();
    let seen = Seen {
        method: parts.method.to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let token = seen.token();
    let (mode, answer) = {
        let mut s = st.lock().unwrap();
        s.seen.push(seen);
        let answer = if token.is_none() {
            s.answers.pop_front().unwrap_or(200)
        } else {
            200
        };
        (s.handshake, answer)
    };
    let Some(token) = token else {
        return StatusCode::from_u16(answer).unwrap().into_response();
    };
    match mode {
        Handshake::Echo => (StatusCode::OK, token).into_response(),
        Handshake::Wrong => (StatusCode::OK, "not the token").into_response(),
        Handshake::Status(s) => (StatusCode::from_u16(s).unwrap(), token).into_response(),
        Handshake::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (StatusCode::OK, token).into_response()
        }
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let st = Arc::new(Mutex::new(RxState {
            handshake: Handshake::Echo,
            answers: VecDeque::new(),
            seen: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(rx).with_state(st.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, st }
    }

    fn handshake(&self, h: Handshake) {
        self.st.lock().unwrap().handshake = h;
    }

    fn answer(&self, statuses: &[u16]) {
        self.st.lock().unwrap().answers.extend(statuses);
    }

    /// The handshakes (`true`) or the notifications received so far.
    fn seen(&self, handshakes: bool) -> Vec<Seen> {
        let s = self.st.lock().unwrap();
        s.seen
            .iter()
            .filter(|x| x.token().is_some() == handshakes)
            .cloned()
            .collect()
    }

    fn handshakes(&self) -> Vec<Seen> {
        self.seen(true)
    }

    fn notifications(&self) -> Vec<Seen> {
        self.seen(false)
    }

    /// The `value` arrays of the notifications received so far.
    fn values(&self) -> Vec<Vec<Value>> {
        self.notifications()
            .iter()
            .map(|n| {
                let v: Value = serde_json::from_slice(&n.body).unwrap();
                v["value"].as_array().unwrap().clone()
            })
            .collect()
    }

    /// Waits (at most 30 s, however slow the machine) for `n` notifications.
    async fn wait_for(&self, n: usize) {
        eventually(|| self.notifications().len() >= n).await;
    }
}

/// The emulator with BC's rules but a delay long enough that only a flush
/// or a clock move sends anything.
fn cfg() -> SimConfig {
    SimConfig {
        webhook_delay: Duration::from_secs(3600),
        ..SimConfig::default()
    }
}

struct Ctx {
    sim: BcSim,
    tok: String,
    root: String,
    company: String,
}

impl Ctx {
    async fn new(cfg: SimConfig) -> Ctx {
        let sim = start(cfg).await;
        let tok = token(&sim).await;
        let root = sim.api_root("production");
        let company = sim.companies("production")[0].id.to_string();
        Ctx {
            sim,
            tok,
            root,
            company,
        }
    }

    fn subs_url(&self) -> String {
        format!("{}/subscriptions", self.root)
    }

    fn sub_url(&self, id: &str) -> String {
        format!("{}/subscriptions('{id}')", self.root)
    }

    fn resource(&self, set: &str) -> String {
        format!("companies({})/{set}", self.company)
    }

    /// Updates a record through the control API (as a user of BC would).
    fn update(&self, set: &str, id: &str, fields: Value) -> Value {
        self.sim
            .control()
            .update("production", &self.company, set, id, &fields)
            .unwrap()
    }

    /// Calls a `/_sim/webhooks/...` route; returns the status and the JSON
    /// answer (`Null` when there is none).
    async fn sim(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = client()
            .request(
                method,
                format!("{}/_sim/webhooks/{path}", self.sim.base_url()),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, url: &str, body: Value) -> reqwest::Response {
        client()
            .post(url)
            .bearer_auth(&self.tok)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a subscription of `url` to `resource` at the API v2.0 root.
    async fn try_subscribe(&self, url: &str, resource: &str) -> reqwest::Response {
        self.post(
            &self.subs_url(),
            json!({"notificationUrl": url, "resource": resource}),
        )
        .await
    }

    /// Creates a subscription; asserts 201 and returns the entity.
    async fn subscribe(&self, rx: &Receiver, set: &str) -> Value {
        let r = self
            .post(
                &self.subs_url(),
                json!({"notificationUrl": rx.url, "resource": self.resource(set), "clientState": "s3cret"}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    async fn patch(&self, id: &str, etag: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = client()
            .patch(self.sub_url(id))
            .bearer_auth(&self.tok)
            .json(&body);
        if let Some(e) = etag {
            req = req.header("If-Match", e);
        }
        req.send().await.unwrap()
    }

    async fn delete(&self, id: &str, etag: Option<&str>) -> reqwest::Response {
        let mut req = client().delete(self.sub_url(id)).bearer_auth(&self.tok);
        if let Some(e) = etag {
            req = req.header("If-Match", e);
        }
        req.send().await.unwrap()
    }

    async fn list(&self) -> Vec<Value> {
        get_json(&self.subs_url(), &self.tok).await["value"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Ids of the first `n` records of a set, through the API.
    async fn ids(&self, set: &str, n: usize) -> Vec<String> {
        let v = get_json(
            &format!("{}/companies({})/{set}?$top={n}", self.root, self.company),
            &self.tok,
        )
        .await;
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Waits (at most 30 s, however slow the machine) until `done` holds.
async fn eventually(done: impl Fn() -> bool) {
    for _ in 0..1500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not met within 30 s");
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (
        status,
        v["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

fn dt(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn create_runs_the_handshake_and_answers_201_with_the_entity() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    let url = format!("{}?tenant=a", rx.url);
    let before = chrono::Utc::now();
    let r = c
        .post(
            &c.subs_url(),
            json!({"notificationUrl": url, "resource": c.resource("customers"), "clientState": "s3cret"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let text = r.text().await.unwrap();
    let e: Value = serde_json::from_str(&text).unwrap();

    // The handshake: POST, token appended with '&', ClientState, empty body.
    let hs = rx.handshakes();
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].method, "POST");
    assert!(hs[0].query.starts_with("tenant=a&validationToken="));
    assert_eq!(hs[0].headers["clientstate"], "s3cret");
    assert!(hs[0].body.is_empty());
    assert_eq!(hs[0].headers["content-length"], "0");

    // The entity: BC's fields in $metadata order, with an etag.
    let id = e["subscriptionId"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|ch| ch.is_ascii_hexdigit()));
    assert_eq!(location, c.sub_url(id));
    assert!(e["@odata.etag"].as_str().unwrap().starts_with("W/\""));
    assert_eq!(e["notificationUrl"], url);
    assert_eq!(e["resource"], c.resource("customers"));
    assert_eq!(e["clientState"], "s3cret");
    let order = [
        "@odata.context",
        "@odata.etag",
        "subscriptionId",
        "notificationUrl",
        "resource",
        "timestamp",
        "userId",
        "lastModifiedDateTime",
        "clientState",
        "expirationDateTime",
        "systemCreatedAt",
        "systemCreatedBy",
        "systemModifiedAt",
        "systemModifiedBy",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\""))
                .unwrap_or_else(|| panic!("{k}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    let exp = dt(&e["expirationDateTime"]);
    let three_days = chrono::Duration::days(3);
    assert!(exp >= before + three_days - chrono::Duration::seconds(5));
    assert!(exp <= chrono::Utc::now() + three_days + chrono::Duration::seconds(5));

    // List and single GET.
    let list = c.list().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["subscriptionId"], id);
    let one = get_json(&c.sub_url(id), &c.tok).await;
    assert_eq!(one["@odata.etag"], e["@odata.etag"]);
    assert_eq!(
        error_code(get(&c.sub_url("0123456789abcdef0123456789abcdef"), &c.tok).await).await,
        (404, "Internal_RecordNotFound".into())
    );
    // The key must be quoted.
    let unquoted = format!("{}/subscriptions({id})", c.root);
    assert_eq!(get(&unquoted, &c.tok).await.status(), 400);
    let counts = c.sim.control().counts();
    assert_eq!(counts.webhooks.handshakes, 1);
    assert_eq!(counts.webhooks.subscriptions_created, 1);
    assert_eq!(counts.by_route["POST subscriptions"], 1);
}

#[tokio::test]
async fn a_failed_handshake_refuses_the_subscription_and_stores_nothing() {
    let c = Ctx::new(SimConfig {
        webhook_handshake_timeout: Duration::from_millis(300),
        ..cfg()
    })
    .await;
    let rx = Receiver::start().await;
    let body = |url: &str| json!({"notificationUrl": url, "resource": c.resource("customers")});
    for mode in [
        Handshake::Wrong,
        Handshake::Status(500),
        Handshake::Status(404),
        Handshake::Slow(2_000),
    ] {
        rx.handshake(mode);
        let r = c.post(&c.subs_url(), body(&rx.url)).await;
        assert_eq!(error_code(r).await, (400, "BadRequest".into()), "{mode:?}");
    }
    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let r = c.post(&c.subs_url(), body(&closed)).await;
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be validated"),
        "{v}"
    );
    assert!(c.list().await.is_empty());
    assert!(c.sim.control().webhook_subscriptions().is_empty());
    let w = c.sim.control().counts().webhooks;
    assert_eq!((w.handshakes, w.handshakes_failed), (5, 5));
    assert_eq!(w.subscriptions_created, 0);

    // A body without notificationUrl never gets to a handshake.
    let r = c
        .post(&c.subs_url(), json!({"resource": c.resource("customers")}))
        .await;
    assert_eq!(error_code(r).await, (400, "BadRequest".into()));
    assert_eq!(c.sim.control().counts().webhooks.handshakes, 5);
}

#[tokio::test]
async fn renewal_and_deletion_need_the_current_etag() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    let e = c.subscribe(&rx, "customers").await;
    let id = e["subscriptionId"].as_str().unwrap();
    let etag = e["@odata.etag"].as_str().unwrap();

    assert_eq!(
        error_code(c.patch(id, None, json!({})).await).await,
        (400, "BadRequest_InvalidToken".into())
    );
    // A day later, renew: the handshake runs again and expiry moves.
    c.sim.control().advance_clock(Duration::from_secs(86_400));
    let r = c
        .patch(id, Some(etag), json!({"clientState": "rotated"}))
        .await;
    assert_eq!(r.status(), 200);
    let renewed: Value = r.json().await.unwrap();
    assert_eq!(rx.handshakes().len(), 2);
    assert_eq!(renewed["clientState"], "rotated");
    assert_ne!(renewed["@odata.etag"], e["@odata.etag"]);
    let moved = dt(&renewed["expirationDateTime"]) - dt(&e["expirationDateTime"]);
    assert!(moved >= chrono::Duration::hours(23), "{moved}");
    assert_eq!(renewed["systemCreatedAt"], e["systemCreatedAt"]);
    // The old etag is stale now.
    assert_eq!(
        error_code(c.patch(id, Some(etag), json!({})).await).await,
        (409, "Request_EntityChanged".into())
    );
    // A renewal whose handshake fails changes nothing.
    rx.handshake(Handshake::Wrong);
    let new_etag = renewed["@odata.etag"].as_str().unwrap();
    assert_eq!(c.patch(id, Some(new_etag), json!({})).await.status(), 400);
    let now = get_json(&c.sub_url(id), &c.tok).await;
    assert_eq!(now["@odata.etag"], renewed["@odata.etag"]);

    assert_eq!(
        error_code(c.delete(id, None).await).await,
        (400, "BadRequest_InvalidToken".into())
    );
    assert_eq!(
        error_code(c.delete(id, Some(etag)).await).await,
        (409, "Request_EntityChanged".into())
    );
    assert_eq!(c.delete(id, Some(new_etag)).await.status(), 204);
    assert_eq!(get(&c.sub_url(id), &c.tok).await.status(), 404);
    assert_eq!(c.sim.control().counts().webhooks.subscriptions_renewed, 1);
}

#[tokio::test]
async fn the_201st_subscription_of_an_environment_is_refused() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    let companies = c.sim.companies("production");
    for i in 0..200 {
        let co = &companies[i % companies.len()];
        let r = c
            .try_subscribe(&rx.url, &format!("companies({})/items", co.id))
            .await;
        assert_eq!(r.status(), 201, "subscription {i}");
    }
    let r = c.try_subscribe(&rx.url, &c.resource("vendors")).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "BadRequest");
    assert!(v["error"]["message"].as_str().unwrap().contains("(200)"));
    // Refused before any handshake.
    assert_eq!(rx.handshakes().len(), 200);
    assert_eq!(c.list().await.len(), 200);

    // Another environment has its own 200.
    let sandbox = c.sim.api_root("sandbox");
    let r = c
        .post(
            &format!("{sandbox}/subscriptions"),
            json!({"notificationUrl": rx.url, "resource": format!("companies({})/items", c.sim.companies("sandbox")[0].id)}),
        )
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn only_supported_resources_take_subscriptions() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    let company = c.company.clone();
    for resource in [
        format!("companies({company})/salesInvoiceLines"),
        format!("companies({company})/documentAttachments"),
        format!("companies({company})/nonsense"),
        format!("companies({})/customers", uuid::Uuid::nil()),
        format!("companies({company})/customers(00000000-0000-0000-0000-000000000001)"),
        // A custom page must be subscribed at its own root.
        format!("api/contoso/loyalty/v1.0/companies({company})/loyaltyCards"),
    ] {
        let r = c.try_subscribe(&rx.url, &resource).await;
        assert_eq!(
            error_code(r).await,
            (400, "BadRequest_ResourceNotFound".into()),
            "{resource}"
        );
    }
    assert!(rx.handshakes().is_empty());
    // Absolute and /api/v2.0 forms of a supported resource are fine.
    for resource in [
        format!("{}/companies({company})/customers", c.root),
        format!("/api/v2.0/companies({company})/salesInvoices"),
    ] {
        let r = c.try_subscribe(&rx.url, &resource).await;
        assert_eq!(r.status(), 201, "{resource}");
    }
}

#[tokio::test]
async fn changes_arrive_as_one_grouped_notification_per_url() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    let customers = c.subscribe(&rx, "customers").await;
    let vendors = c.subscribe(&rx, "vendors").await;
    let ctl = c.sim.control();
    let co = c.company.as_str();
    let ids = c.ids("customers", 2).await;
    let vid = c.ids("vendors", 1).await.remove(0);

    let a = ctl
        .create(
            "production",
            co,
            "customers",
            &json!({"displayName": "New"}),
        )
        .unwrap();
    let a_id = a["id"].as_str().unwrap();
    c.update("customers", a_id, json!({"displayName": "New 2"}));
    let a2 = c.update("customers", a_id, json!({"displayName": "New 3"}));
    let b = c.update("customers", &ids[0], json!({"city": "Aarhus"}));
    ctl.delete("production", co, "customers", &ids[1]).unwrap();
    let v = c.update("vendors", &vid, json!({"city": "Oslo"}));
    // Changes elsewhere are not subscribed.
    let item = c.ids("items", 1).await.remove(0);
    c.update("items", &item, json!({"displayName": "x"}));
    assert!(rx.notifications().is_empty());

    // The job is due after the delay: move the clock past it.
    ctl.advance_clock(Duration::from_secs(3601));
    rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let posts = rx.notifications();
    assert_eq!(posts.len(), 1, "one POST for the URL");
    let h = &posts[0].headers;
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["accept"], "application/json");
    assert_eq!(h["clientrequestid"], h["x-ms-correlation-id"]);
    assert!(!posts[0].body.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");

    let value = rx.values().remove(0);
    let got: Vec<(String, String, String)> = value
        .iter()
        .map(|e| {
            (
                e["subscriptionId"].as_str().unwrap().to_string(),
                e["changeType"].as_str().unwrap().to_string(),
                e["resource"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let cs = customers["subscriptionId"].as_str().unwrap();
    let vs = vendors["subscriptionId"].as_str().unwrap();
    let res = |set: &str, id: &str| format!("{}({id})", c.resource(set));
    let mut want = vec![
        (cs.to_string(), "created".into(), res("customers", a_id)),
        (cs.to_string(), "updated".into(), res("customers", a_id)),
        (cs.to_string(), "updated".into(), res("customers", &ids[0])),
        (cs.to_string(), "deleted".into(), res("customers", &ids[1])),
        (vs.to_string(), "updated".into(), res("vendors", &vid)),
    ];
    // BC sends subscription by subscription, in subscriptionId order.
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(got, want);
    let first = &value.iter().find(|e| e["subscriptionId"] == cs).unwrap();
    assert_eq!(first["clientState"], "s3cret");
    assert_eq!(first["expirationDateTime"], customers["expirationDateTime"]);
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6);
    // Merged updates carry the last change's time; every entry its record's.
    let at = |id: &str, kind: &str| {
        value
            .iter()
            .find(|e| e["changeType"] == kind && e["resource"].as_str().unwrap().contains(id))
            .unwrap()["lastModifiedDateTime"]
            .clone()
    };
    assert_eq!(at(a_id, "created"), a["lastModifiedDateTime"]);
    assert_eq!(at(a_id, "updated"), a2["lastModifiedDateTime"]);
    assert_eq!(at(&ids[0], "updated"), b["lastModifiedDateTime"]);
    assert_eq!(at(&vid, "updated"), v["lastModifiedDateTime"]);
    // The answer is applied once the receiver has answered.
    eventually(|| ctl.counts().webhooks.notifications_sent == 1).await;
    assert_eq!(ctl.counts().webhooks.notification_entries_sent, 5);
}

#[tokio::test]
async fn a_notification_comes_by_itself_after_the_delay() {
    let c = Ctx::new(SimConfig {
        webhook_delay: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await;
    let rx = Receiver::start().await;
    c.subscribe(&rx, "customers").await;
    let id = c.ids("customers", 1).await.remove(0);
    c.update("customers", &id, json!({"city": "Bergen"}));
    rx.wait_for(1).await;
    assert_eq!(rx.values()[0][0]["changeType"], "updated");
}

#[tokio::test]
async fn a_line_edit_notifies_its_header() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    c.subscribe(&rx, "salesInvoices").await;
    let inv = c.ids("salesInvoices", 1).await.remove(0);
    c.sim
        .control()
        .edit_line(
            "production",
            &c.company,
            "salesInvoices",
            &inv,
            10_000,
            &json!({"description": "changed line"}),
        )
        .unwrap();
    let report = c.sim.control().flush_webhooks().await;
    assert_eq!((report.posts, report.delivered), (1, 1));
    let value = rx.values().remove(0);
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["changeType"], "updated");
    assert_eq!(
        value[0]["resource"],
        format!("{}({inv})", c.resource("salesInvoices"))
    );
}

#[tokio::test]
async fn more_than_1000_changes_become_one_collection() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    // An absolute resource, so the collection URL can be read as it comes.
    let resource = format!("{}/companies({})/customers", c.root, c.company);
    let r = c.try_subscribe(&rx.url, &resource).await;
    assert_eq!(r.status(), 201);
    let ctl = c.sim.control();
    let mut last = Value::Null;
    for i in 0..1001 {
        last = ctl
            .create(
                "production",
                &c.company,
                "customers",
                &json!({"displayName": format!("Bulk {i}")}),
            )
            .unwrap();
    }
    assert!(ctl.webhook_subscriptions()[0].collection);
    let report = ctl.flush_webhooks().await;
    assert_eq!(report.delivered, 1);
    let value = rx.values().remove(0);
    assert_eq!(value.len(), 1);
    let e = &value[0];
    assert_eq!(e["changeType"], "collection");
    assert_eq!(e["lastModifiedDateTime"], last["lastModifiedDateTime"]);
    let url = e["resource"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{resource}?$filter=lastModifiedDateTime%20gt%20")),
        "{url}"
    );
    // The collection's resource is a working query for the window's changes.
    let page = get_json(url, &c.tok).await;
    let names: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["displayName"].as_str())
        .filter(|n| n.starts_with("Bulk "))
        .collect();
    assert_eq!(names.len(), 1001);
}

#[tokio::test]
async fn a_503_is_retried_on_the_schedule_then_delivered() {
    let c = Ctx::new(SimConfig {
        webhook_delay: Duration::from_millis(100),
        webhook_retry_delays: vec![Duration::from_millis(100); 5],
        ..SimConfig::default()
    })
    .await;
    let rx = Receiver::start().await;
    c.subscribe(&rx, "customers").await;
    rx.answer(&[503]);
    let id = c.ids("customers", 1).await.remove(0);
    c.update("customers", &id, json!({"city": "Turku"}));
    rx.wait_for(2).await;
    let values = rx.values();
    assert_eq!(values[0], values[1], "the same notification, again");
    eventually(|| c.sim.control().counts().webhooks.notifications_sent == 1).await;
    assert_eq!(c.sim.control().counts().webhooks.notifications_retried, 1);
    let subs = c.sim.control().webhook_subscriptions();
    assert_eq!((subs[0].failed_attempts, subs[0].pending), (0, 0));
}

#[tokio::test]
async fn an_unreachable_url_is_retried_until_it_answers() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    c.subscribe(&rx, "customers").await;
    let ctl = c.sim.control();
    let ids = c.ids("customers", 2).await;
    // Connection refused, through the HTTP control route.
    let (status, _) = c
        .sim(Method::POST, "unreachable", json!({"url_prefix": rx.url}))
        .await;
    assert_eq!(status, 204);
    c.update("customers", &ids[0], json!({"city": "A"}));
    let (_, report) = c.sim(Method::POST, "flush", Value::Null).await;
    assert_eq!(
        report,
        json!({"posts": 1, "delivered": 0, "retried": 1, "failed": 0})
    );
    assert!(rx.notifications().is_empty());
    let (_, listed) = c.sim(Method::GET, "subscriptions", Value::Null).await;
    assert_eq!(listed[0]["failed_attempts"], 1);
    assert!(listed[0]["next_retry"].is_string());

    // A fixed status: 429 is retried too.
    ctl.set_unreachable(Unreachable {
        url_prefix: rx.url.clone(),
        status: Some(429),
    });
    c.update("customers", &ids[1], json!({"city": "B"}));
    assert_eq!(ctl.flush_webhooks().await.retried, 1);

    // Reachable again: everything waiting arrives in one POST.
    ctl.clear_unreachable();
    assert_eq!(ctl.flush_webhooks().await.delivered, 1);
    let value = rx.values().remove(0);
    assert_eq!(value.len(), 2);
    assert_eq!(ctl.webhook_subscriptions()[0].failed_attempts, 0);
    assert_eq!(ctl.counts().webhooks.notifications_retried, 2);
}

#[tokio::test]
async fn a_rejected_notification_deletes_the_urls_subscriptions() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    c.subscribe(&rx, "customers").await;
    c.subscribe(&rx, "vendors").await;
    rx.answer(&[400]);
    let id = c.ids("customers", 1).await.remove(0);
    let ctl = c.sim.control();
    c.update("customers", &id, json!({"city": "C"}));
    let report = ctl.flush_webhooks().await;
    assert_eq!((report.posts, report.failed), (1, 1));
    // No retry: both subscriptions of that URL are gone.
    assert!(c.list().await.is_empty());
    c.update("customers", &id, json!({"city": "D"}));
    assert_eq!(ctl.flush_webhooks().await.posts, 0);
    let w = ctl.counts().webhooks;
    assert_eq!((w.notifications_failed, w.subscriptions_deleted), (1, 2));
}

#[tokio::test]
async fn retries_used_up_delete_the_subscription() {
    let c = Ctx::new(SimConfig {
        webhook_retry_delays: vec![Duration::from_millis(1); 2],
        ..cfg()
    })
    .await;
    let rx = Receiver::start().await;
    c.subscribe(&rx, "customers").await;
    rx.answer(&[503, 500, 503]);
    let id = c.ids("customers", 1).await.remove(0);
    let ctl = c.sim.control();
    c.update("customers", &id, json!({"city": "E"}));
    let outcomes: Vec<(u64, u64)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = ctl.flush_webhooks().await;
            v.push((r.retried, r.failed));
        }
        v
    };
    assert_eq!(outcomes, vec![(1, 0), (1, 0), (0, 1)]);
    assert!(c.list().await.is_empty());
    assert_eq!(rx.notifications().len(), 3);
    assert_eq!(ctl.counts().webhooks.subscriptions_deleted, 1);
}

#[tokio::test]
async fn an_expired_subscription_is_gone_and_hears_nothing() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    let kept = c.subscribe(&rx, "customers").await;
    let lapsed = c.subscribe(&rx, "vendors").await;
    // Two days on, renew one of them.
    let (status, clock) = c
        .sim(Method::POST, "clock", json!({"advance_secs": 2 * 86_400}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(clock["offset_ms"], 2 * 86_400_000);
    let id = kept["subscriptionId"].as_str().unwrap();
    let r = c.patch(id, kept["@odata.etag"].as_str(), json!({})).await;
    assert_eq!(r.status(), 200);
    // Two more days: the other one has lapsed.
    c.sim
        .control()
        .advance_clock(Duration::from_secs(2 * 86_400));
    let list = c.list().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["subscriptionId"], id);
    let gone = lapsed["subscriptionId"].as_str().unwrap();
    assert_eq!(get(&c.sub_url(gone), &c.tok).await.status(), 404);
    let vid = c.ids("vendors", 1).await.remove(0);
    c.update("vendors", &vid, json!({"city": "F"}));
    assert_eq!(c.sim.control().flush_webhooks().await.posts, 0);
    assert_eq!(c.sim.control().counts().webhooks.subscriptions_expired, 1);
}

#[tokio::test]
async fn custom_api_pages_are_subscribed_at_their_own_root() {
    let c = Ctx::new(cfg()).await;
    let rx = Receiver::start().await;
    let custom_root = c.root.replace("/api/v2.0", "/api/contoso/loyalty/v1.0");
    let resource = format!(
        "api/contoso/loyalty/v1.0/companies({})/loyaltyCards",
        c.company
    );
    let r = c
        .post(
            &format!("{custom_root}/subscriptions"),
            json!({"notificationUrl": rx.url, "resource": resource}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let cards = get_json(
        &format!("{custom_root}/companies({})/loyaltyCards?$top=1", c.company),
        &c.tok,
    )
    .await;
    let card = cards["value"][0]["id"].as_str().unwrap().to_string();
    let ctl = c.sim.control();
    c.update("loyaltyCards", &card, json!({"points": 7}));
    assert_eq!(ctl.flush_webhooks().await.delivered, 1);
    assert_eq!(rx.values()[0][0]["resource"], format!("{resource}({card})"));
    // The same subscription is listed under every root of the environment.
    assert_eq!(c.list().await.len(), 1);
}

#[tokio::test]
async fn webhook_supported_resources_are_listed_like_any_api_route() {
    let c = Ctx::new(cfg()).await;
    let base = c.root.replace("/api/v2.0", "/api/microsoft/runtime/beta");
    let url = format!("{base}/companies({})/webhookSupportedResources", c.company);
    let v = get_json(&url, &c.tok).await;
    let all: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["resource"].as_str().unwrap())
        .collect();
    for r in [
        "v2.0/customers",
        "v2.0/salesInvoices",
        "v2.0/items",
        "v2.0/companyInformation",
        "contoso/loyalty/v1.0/loyaltyCards",
    ] {
        assert!(all.contains(&r), "{r} in {all:?}");
    }
    for r in [
        "v2.0/documentAttachments",
        "v2.0/salesInvoiceLines",
        "v2.0/companies",
    ] {
        assert!(!all.contains(&r), "{r}");
    }
    let only_v2 = get_json(&format!("{url}?$filter=resource eq 'v2.0*'"), &c.tok).await;
    assert_eq!(only_v2["value"].as_array().unwrap().len(), all.len() - 1);
    let one = get_json(&format!("{url}('v2.0%2Fitems')"), &c.tok).await;
    assert_eq!(one["resource"], "v2.0/items");
    let r = client()
        .post(&url)
        .bearer_auth(&c.tok)
        .json(&json!({"resource": "new"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(client().get(&url).send().await.unwrap().status(), 401);
    let nobody = format!(
        "{base}/companies({})/webhookSupportedResources",
        uuid::Uuid::nil()
    );
    assert_eq!(get(&nobody, &c.tok).await.status(), 404);
    let counts = c.sim.control().counts();
    // Counted like any route (the refused ones too, as the others are).
    assert_eq!(
        counts.by_route["GET companies/webhookSupportedResources"],
        4
    );
}

#[tokio::test]
async fn faults_and_auth_apply_to_subscriptions() {
    let c = Ctx::new(cfg()).await;
    c.sim
        .control()
        .add_fault(Fault::status("subscriptions", 429, 1));
    assert_eq!(get(&c.subs_url(), &c.tok).await.status(), 429);
    assert_eq!(get(&c.subs_url(), &c.tok).await.status(), 200);
    assert_eq!(
        client().get(c.subs_url()).send().await.unwrap().status(),
        401
    );
    // Other writes stay refused: the emulator's API is read-only.
    let r = c
        .post(
            &format!("{}/companies({})/customers", c.root, c.company),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 405);
}
