//! `bcq serve` end to end: the real binary against the BC and Q emulators,
//! BC's webhooks delivered over real HTTP to bcq's listener.

mod common;

use common::{World, bc, q_fast};
use serde_json::{Value, json};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `bcq serve`, killed if the test fails.
struct Serve {
    child: Option<Child>,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Serve {
    fn start(w: &World, poll_seconds: u64, webhooks: bool) -> Serve {
        Self::start_with(w, poll_seconds, webhooks, &[])
    }

    /// With more environment; `BCQ_TLS_CERT` among it makes the base https.
    /// Returns once the listener is up (or the process ended).
    fn start_with(w: &World, poll_seconds: u64, webhooks: bool, extra: &[(&str, &str)]) -> Serve {
        Self::spawn(w, poll_seconds, webhooks, extra).started(w, poll_seconds, webhooks, extra)
    }

    /// Waits until the listener is up, and returns this process; or the
    /// process as it ended, for the test to see with its log. The port is
    /// chosen free and released before bcq binds it, so another test of
    /// this process may take it in between: a bcq that could not listen is
    /// started again on another port (same arguments as its spawn), up to
    /// five times.
    fn started(
        mut self,
        w: &World,
        poll_seconds: u64,
        webhooks: bool,
        extra: &[(&str, &str)],
    ) -> Serve {
        for attempt in 1.. {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if self.log().contains("bcq serve started") {
                    return self;
                }
                let ended = self.child.as_mut().unwrap().try_wait().unwrap().is_some();
                if ended || Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !self.log().contains("cannot listen on") || attempt == 5 {
                break;
            }
            self = Self::spawn(w, poll_seconds, webhooks, extra);
        }
        self
    }

    /// Starts the process, without waiting for it.
    fn spawn(w: &World, poll_seconds: u64, webhooks: bool, extra: &[(&str, &str)]) -> Serve {
        let port = free_port();
        let scheme = if extra.iter().any(|(k, _)| *k == "BCQ_TLS_CERT") {
            "https"
        } else {
            "http"
        };
        let base = format!("{scheme}://127.0.0.1:{port}");
        let log = w.dir.path().join(format!("serve-{port}.log"));
        let mut c = w.command(&["serve"]);
        c.envs(extra.iter().copied());
        c.env("BCQ_LISTEN", format!("127.0.0.1:{port}"))
            .env("BCQ_POLL_SECONDS", poll_seconds.to_string())
            .env("BCQ_WINDOW_MS", "200")
            .env("BCQ_FOLLOW_INDEXING_SECONDS", "30")
            .env("RUST_LOG", "info");
        if webhooks {
            c.env("BCQ_PUBLIC_URL", &base);
        }
        c.stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        Serve {
            child: Some(c.spawn().expect("bcq serve starts")),
            base,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        match reqwest::get(format!("{}{path}", self.base)).await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    /// The metrics, parsed by a Prometheus text-format parser.
    async fn metrics(&self) -> prometheus_parse::Scrape {
        self.try_metrics().await.expect("/metrics answers 200")
    }

    /// The metrics, once the listener is up.
    async fn try_metrics(&self) -> Option<prometheus_parse::Scrape> {
        let (status, text) = self.get("/metrics").await;
        if status != 200 {
            return None;
        }
        let lines = text.lines().map(|l| Ok(l.to_string()));
        Some(prometheus_parse::Scrape::parse(lines).expect("the metrics parse"))
    }

    /// A sample once the listener is up (0 before).
    async fn sample(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.try_metrics().await {
            Some(m) => sample(&m, name, labels),
            None => 0.0,
        }
    }

    /// SIGTERM, then the exit code and stdout.
    fn terminate(&mut self) -> (i32, String) {
        let mut child = self.child.take().unwrap();
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut out = String::new();
                use std::io::Read;
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                return (status.code().unwrap_or(-1), out);
            }
            assert!(
                Instant::now() < deadline,
                "bcq serve did not stop on SIGTERM: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The value of a sample with these labels (0 when absent).
fn sample(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// Waits until `check` holds, or fails naming `what` with the serve log.
async fn until<F, Fut>(serve: &Serve, what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\nserve log:\n{}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sim(w: &World, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", w.emu.bc.base_url()));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn subscriptions(w: &World) -> Vec<Value> {
    sim(
        w,
        reqwest::Method::GET,
        "/_sim/webhooks/subscriptions",
        None,
    )
    .await
    .as_array()
    .cloned()
    .unwrap_or_default()
}

/// Whether Q holds exactly BC's invoices (at their latest version).
async fn q_equals_bc(w: &World) -> bool {
    let bc = w.bc_invoices().await;
    let docs = w.q_documents().await;
    if docs.len() != bc.len() {
        return false;
    }
    bc.iter().all(|inv| {
        let id = w.invoice_doc_id(inv["id"].as_str().unwrap());
        docs.iter().any(|d| {
            d["id"] == id.as_str()
                && d["title"]
                    .as_str()
                    .is_some_and(|t| t.contains(inv["number"].as_str().unwrap()))
                && matches!(d["status"].as_str(), Some("INDEXED" | "UPDATED"))
        })
    })
}

fn webhook_bc(delay_ms: u64) -> bc_sim::SimConfig {
    bc_sim::SimConfig {
        webhook_delay: Duration::from_millis(delay_ms),
        ..bc(20)
    }
}

/// Created, changed and deleted records reach Q through webhooks alone
/// (the poll is an hour away); a forged notification changes nothing;
/// `/metrics` parses and counts what happened; SIGTERM exits 0 with no
/// sync job left running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_keep_q_in_step_and_sigterm_stops_cleanly() {
    let w = World::start(webhook_bc(300), q_fast()).await;
    let mut serve = Serve::start(&w, 3600, true);
    until(&serve, "the first run to fill Q", 60, || q_equals_bc(&w)).await;
    until(&serve, "a subscription for salesInvoices", 30, || async {
        subscriptions(&w).await.len() == 1
    })
    .await;
    let subs = subscriptions(&w).await;
    assert_eq!(subs[0]["entity_set"], "salesInvoices");
    assert!(subs[0]["client_state"].as_str().unwrap().len() >= 32);
    until(&serve, "/readyz", 30, || async {
        serve.get("/readyz").await.0 == 200
    })
    .await;
    assert_eq!(serve.get("/healthz").await.0, 200);

    // Changes in BC: one update, one new invoice, one deletion.
    let invoices = w.bc_invoices().await;
    let changed = invoices[0]["id"].as_str().unwrap().to_string();
    let gone = invoices[1]["id"].as_str().unwrap().to_string();
    w.bc_update("salesInvoices", &changed, json!({"number": "CHANGED-1"}))
        .await;
    w.bc_create("salesInvoices", json!({"number": "WEB-1"}))
        .await;
    w.bc_delete("salesInvoices", &gone).await;
    let t = Instant::now();
    until(&serve, "Q to follow BC's changes", 30, || q_equals_bc(&w)).await;
    eprintln!(
        "changes reached Q {:?} after they were made (notification delay 300 ms)",
        t.elapsed()
    );
    // The run that handled them counts once it has followed its job.
    until(&serve, "the run to finish", 30, || async {
        serve.sample("bcq_runs_total", &[]).await >= 2.0
            && serve.sample("bcq_notifications_pending", &[]).await == 0.0
    })
    .await;
    let m = serve.metrics().await;
    assert!(
        sample(&m, "bcq_notifications_received_total", &[]) >= 3.0,
        "{m:?}"
    );
    assert!(
        sample(&m, "bcq_documents_total", &[("outcome", "deleted")]) >= 1.0,
        "{}",
        serve.get("/metrics").await.1
    );
    assert!(sample(&m, "bcq_runs_total", &[("outcome", "succeeded")]) >= 2.0);
    assert_eq!(sample(&m, "bcq_subscriptions", &[]), 1.0);
    assert_eq!(sample(&m, "bcq_units", &[("by", "webhook")]), 1.0);
    assert!(
        sample(
            &m,
            "bcq_bc_requests_total",
            &[("environment", "production")]
        ) > 0.0
    );
    assert!(sample(&m, "bcq_bc_budget_limit", &[("environment", "production")]) > 0.0);
    assert!(
        m.samples.iter().any(|s| s.metric == "bcq_unit_lag_seconds"),
        "per-unit lag is reported"
    );

    // A forged notification: a real subscription id and resource, a wrong
    // clientState. Answered 202 (see hooks.rs), nothing deleted.
    let victim = w.bc_invoices().await[2]["id"].as_str().unwrap().to_string();
    let forged = json!({"value": [{
        "subscriptionId": subs[0]["subscription_id"],
        "clientState": "not-the-secret",
        "expirationDateTime": "2099-01-01T00:00:00Z",
        "resource": format!("{}({victim})", subs[0]["resource"].as_str().unwrap()),
        "changeType": "deleted",
        "lastModifiedDateTime": "2026-01-01T00:00:00Z"
    }]});
    let r = reqwest::Client::new()
        .post(format!("{}/webhooks/bc", serve.base))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let unknown = json!({"value": [{"subscriptionId": "nope", "clientState": "x", "resource": "r(1)", "changeType": "deleted"}]});
    reqwest::Client::new()
        .post(format!("{}/webhooks/bc", serve.base))
        .json(&unknown)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(q_equals_bc(&w).await, "a forged notification changed Q");
    let m = serve.metrics().await;
    assert_eq!(
        sample(
            &m,
            "bcq_notifications_rejected_total",
            &[("reason", "client_state")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "bcq_notifications_rejected_total",
            &[("reason", "unknown_subscription")]
        ),
        1.0
    );
    assert!(!serve.log().contains("not-the-secret"));

    // The handshake echoes the token as text/plain.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/webhooks/bc?validationToken=tok-123",
            serve.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), "tok-123");

    let (code, out) = serve.terminate();
    assert_eq!(code, 0, "{out}\n{}", serve.log());
    assert!(out.contains("bcq serve stopped by signal 15"), "{out}");
    let jobs = w.q_jobs().await;
    let running = jobs["jobs"]
        .as_array()
        .map_or(0, |j| j.iter().filter(|j| j["status"] == "SYNCING").count());
    assert_eq!(running, 0, "a sync job was left running: {jobs}");
    let client_state = subs[0]["client_state"].as_str().unwrap();
    assert!(
        !serve.log().contains(client_state),
        "the clientState leaked into the log"
    );
}

/// Subscriptions are kept: one BC deleted is created again, one about to
/// expire is renewed, and a notification URL that was down converges once
/// BC's retries get through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_recreated_renewed_and_retries_converge() {
    let w = World::start(webhook_bc(200), q_fast()).await;
    let serve = Serve::start(&w, 5, true);
    until(&serve, "a subscription", 60, || async {
        subscriptions(&w).await.len() == 1
    })
    .await;
    until(&serve, "the first run", 60, || q_equals_bc(&w)).await;
    let first = subscriptions(&w).await[0].clone();

    // Down for a while (503: BC retries), a change meanwhile, then back.
    sim(
        &w,
        reqwest::Method::POST,
        "/_sim/webhooks/unreachable",
        Some(json!({"url_prefix": serve.base, "status": 503})),
    )
    .await;
    let id = w.bc_invoices().await[0]["id"].as_str().unwrap().to_string();
    w.bc_delete("salesInvoices", &id).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    sim(
        &w,
        reqwest::Method::DELETE,
        "/_sim/webhooks/unreachable",
        None,
    )
    .await;
    // The retry is due in BC's 60 s: move its clock.
    sim(
        &w,
        reqwest::Method::POST,
        "/_sim/webhooks/clock",
        Some(json!({"advance_secs": 61})),
    )
    .await;
    sim(&w, reqwest::Method::POST, "/_sim/webhooks/flush", None).await;
    until(
        &serve,
        "Q to lose the invoice deleted while bcq was unreachable",
        30,
        || q_equals_bc(&w),
    )
    .await;

    // BC deletes a subscription whose URL answers a non-retryable status.
    sim(
        &w,
        reqwest::Method::POST,
        "/_sim/webhooks/unreachable",
        Some(json!({"url_prefix": serve.base, "status": 400})),
    )
    .await;
    let id = w.bc_invoices().await[0]["id"].as_str().unwrap().to_string();
    w.bc_update("salesInvoices", &id, json!({"number": "WHILE-400"}))
        .await;
    sim(&w, reqwest::Method::POST, "/_sim/webhooks/flush", None).await;
    assert!(
        subscriptions(&w).await.is_empty(),
        "BC deleted the subscription"
    );
    sim(
        &w,
        reqwest::Method::DELETE,
        "/_sim/webhooks/unreachable",
        None,
    )
    .await;
    until(
        &serve,
        "the subscription to be created again",
        30,
        || async {
            subscriptions(&w)
                .await
                .first()
                .is_some_and(|s| s["subscription_id"] != first["subscription_id"])
        },
    )
    .await;
    until(
        &serve,
        "the poll to bring the change BC could not deliver",
        30,
        || q_equals_bc(&w),
    )
    .await;

    // 2.5 days pass on BC's clock: the next pass renews.
    let before = subscriptions(&w).await[0].clone();
    sim(
        &w,
        reqwest::Method::POST,
        "/_sim/webhooks/clock",
        Some(json!({"advance_secs": 216_000})),
    )
    .await;
    until(&serve, "the subscription to be renewed", 30, || async {
        subscriptions(&w).await.first().is_some_and(|s| {
            s["subscription_id"] == before["subscription_id"]
                && s["expiration_date_time"] != before["expiration_date_time"]
        })
    })
    .await;
    assert!(serve.log().contains("renewed the webhook subscription"));

    // Polls that find nothing new open no Q sync job.
    let jobs = || async { w.q_jobs().await["jobs"].as_array().map_or(0, Vec::len) };
    let (before_jobs, before_runs) = (jobs().await, serve.sample("bcq_runs_total", &[]).await);
    until(&serve, "two more polls", 30, || async {
        serve.sample("bcq_runs_total", &[]).await >= before_runs + 2.0
    })
    .await;
    assert_eq!(
        jobs().await,
        before_jobs,
        "an idle poll opened a Q sync job"
    );
}

/// SIGTERM while a run pushes: exit 0, the Q job stopped, and what BC
/// notified is still recorded, so the next start brings Q to BC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_the_middle_of_a_run_loses_nothing() {
    let mut q = q_fast();
    q.rates.insert("BatchPutDocument".into(), 0.5);
    let w = World::start(webhook_bc(100), q).await;
    let mut serve = Serve::start(&w, 3600, true);
    until(&serve, "the first run", 90, || q_equals_bc(&w)).await;
    until(&serve, "a subscription", 30, || async {
        subscriptions(&w).await.len() == 1
    })
    .await;
    until(&serve, "the first run to end", 30, || async {
        serve.sample("bcq_runs_total", &[]).await >= 1.0
    })
    .await;
    let invoices = w.bc_invoices().await;
    for (i, inv) in invoices.iter().take(15).enumerate() {
        w.bc_update(
            "salesInvoices",
            inv["id"].as_str().unwrap(),
            json!({"number": format!("TERM-{i}")}),
        )
        .await;
    }
    w.bc_delete("salesInvoices", invoices[19]["id"].as_str().unwrap())
        .await;
    let syncing = || async {
        w.q_jobs().await["jobs"]
            .as_array()
            .is_some_and(|j| j.iter().any(|j| j["status"] == "SYNCING"))
    };
    until(&serve, "the notified run to push", 30, syncing).await;
    let (code, out) = serve.terminate();
    assert_eq!(code, 0, "{out}\n{}", serve.log());
    assert!(!syncing().await, "the sync job was left running");
    // The run stopped early: the notifications it took stay recorded.
    let status = w.bcq(&["status"], &[]).await;
    status.assert_ok();
    assert!(status.stdout.contains("interrupted"), "{}", status.stdout);
    assert!(
        status.stdout.contains("notifications waiting: 16"),
        "{}",
        status.stdout
    );

    let serve = Serve::start(&w, 3600, true);
    until(&serve, "the next start to bring Q to BC", 120, || {
        q_equals_bc(&w)
    })
    .await;
    until(&serve, "the notifications to be handled", 30, || async {
        serve.sample("bcq_runs_total", &[]).await >= 1.0
            && serve.sample("bcq_notifications_pending", &[]).await == 0.0
    })
    .await;
}

/// Past BC's limit of subscriptions per environment, units are polled,
/// and `bcq status` says which is which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_past_the_subscription_limit_are_polled() {
    let bc_cfg = bc_sim::SimConfig {
        webhook_max_subscriptions: 2,
        ..webhook_bc(100)
    };
    let w = World::start(bc_cfg, q_fast()).await;
    w.bcq(
        &["index-schema", "--apply"],
        &[("BCQ_ENTITIES", "salesInvoices,customers,vendors")],
    )
    .await
    .assert_ok();
    let serve = Serve::start_with(
        &w,
        3600,
        true,
        &[("BCQ_ENTITIES", "salesInvoices,customers,vendors")],
    );
    until(
        &serve,
        "two subscriptions and a polled unit",
        60,
        || async {
            serve.sample("bcq_units", &[("by", "webhook")]).await == 2.0
                && serve.sample("bcq_units", &[("by", "polled")]).await == 1.0
        },
    )
    .await;
    assert_eq!(subscriptions(&w).await.len(), 2);
    until(&serve, "the first run", 60, || async {
        serve.sample("bcq_runs_total", &[]).await >= 1.0
    })
    .await;
    let status = w.bcq(&["status"], &[]).await;
    status.assert_ok();
    let webhook = status
        .stdout
        .lines()
        .filter(|l| l.contains(": webhook (subscription"))
        .count();
    let polled = status
        .stdout
        .lines()
        .filter(|l| l.contains(": polled,"))
        .count();
    assert_eq!((webhook, polled), (2, 1), "{}", status.stdout);
    assert!(
        serve.log().contains("The maximum number of subscriptions"),
        "BC's refusal is logged: {}",
        serve.log()
    );
}

/// `bcq serve` terminates TLS itself from PEM files; half a TLS setting is
/// refused before anything starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_from_pem_files() {
    let w = World::start(webhook_bc(100), q_fast()).await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let cert = fixtures.join("cert.pem");
    let key = fixtures.join("key.pem");
    let half = w
        .bcq(&["serve"], &[("BCQ_TLS_CERT", cert.to_str().unwrap())])
        .await;
    assert_eq!(half.code, 2, "{}", half.both());
    assert!(
        half.stderr
            .contains("BCQ_TLS_CERT and BCQ_TLS_KEY go together"),
        "{}",
        half.stderr
    );

    let serve = Serve::start_with(
        &w,
        3600,
        false,
        &[
            ("BCQ_TLS_CERT", cert.to_str().unwrap()),
            ("BCQ_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    let port = serve.base.rsplit(':').next().unwrap().to_string();
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(fixtures.join("ca.pem")).unwrap())
                .unwrap(),
        )
        .build()
        .unwrap();
    let healthz = format!("{}/healthz", serve.base);
    until(&serve, "/healthz over https", 30, || async {
        client
            .get(&healthz)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let r = client
        .post(format!("{}/webhooks/bc?validationToken=t-1", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "t-1");
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200));
}

/// More units than BC's 200 subscriptions per environment: bcq subscribes
/// 200 and polls the rest, without asking BC for a 201st.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_units_than_two_hundred_the_rest_are_polled() {
    let bc_cfg = bc_sim::SimConfig {
        companies: 70,
        ..webhook_bc(100)
    };
    let entities = ("BCQ_ENTITIES", "salesInvoices,customers,vendors");
    let w = World::start(
        bc_sim::SimConfig {
            invoices_per_company: 2,
            ..bc_cfg
        },
        q_fast(),
    )
    .await;
    w.bcq(&["index-schema", "--apply"], &[entities])
        .await
        .assert_ok();
    let serve = Serve::start_with(&w, 3600, true, &[entities, ("BC_COMPANIES", "all")]);
    until(
        &serve,
        "200 subscriptions and 10 polled units",
        180,
        || async {
            serve.sample("bcq_units", &[("by", "webhook")]).await == 200.0
                && serve.sample("bcq_units", &[("by", "polled")]).await == 10.0
        },
    )
    .await;
    assert_eq!(subscriptions(&w).await.len(), 200);
    assert!(
        !serve.log().contains("The maximum number of subscriptions"),
        "bcq asked BC for more than 200: {}",
        serve.log()
    );
}

/// A destination bcq cannot use: alive but not ready, saying why, and the
/// run is tried again sooner than the next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_what_is_not_ready() {
    let w = World::start(webhook_bc(100), q_fast()).await;
    let serve = Serve::start_with(
        &w,
        3600,
        false,
        &[("Q_DATASOURCE_ID", "00000000-0000-4000-8000-000000000000")],
    );
    until(&serve, "a run that could not start", 30, || async {
        serve.sample("bcq_run_errors_total", &[]).await >= 1.0
    })
    .await;
    assert_eq!(serve.get("/healthz").await.0, 200);
    let (status, body) = serve.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("FAIL destination"), "{body}");
    assert!(
        body.contains("ok   state") && body.contains("ok   business central token"),
        "{body}"
    );
    until(&serve, "the run to be tried again", 30, || async {
        serve.sample("bcq_run_errors_total", &[]).await >= 2.0
    })
    .await;
}

/// The entity sets the replica test syncs (six units of one company),
/// each with whether BC renders a PDF of its records.
const REPLICA_ENTITIES: [(&str, bool); 6] = [
    ("salesInvoices", true),
    ("salesQuotes", true),
    ("salesCreditMemos", true),
    ("purchaseInvoices", true),
    ("salesOrders", false),
    ("customers", false),
];

/// The document ids Q must hold for `entities` (each with whether its
/// records come with a PDF), read from BC once, before the replicas start,
/// so that the test's own reads never overlap theirs.
async fn bc_doc_ids(w: &World, entities: &[(&str, bool)]) -> std::collections::BTreeSet<String> {
    let company = w.company_id().to_ascii_lowercase();
    let mut want = std::collections::BTreeSet::new();
    for (entity, with_pdf) in entities {
        for id in w.bc_ids(entity).await {
            let doc = format!("bc/{}/{company}/{entity}/{id}", w.env);
            if *with_pdf {
                want.insert(format!("{doc}/pdf"));
            }
            want.insert(doc);
        }
    }
    want
}

/// Q holds exactly `want` (the documents of bcq's data source), indexed.
async fn q_holds(w: &World, want: &std::collections::BTreeSet<String>) -> bool {
    let in_q: std::collections::BTreeSet<String> = w
        .q_documents()
        .await
        .iter()
        .filter(|d| matches!(d["status"].as_str(), Some("INDEXED" | "UPDATED")))
        .filter_map(|d| Some(d["id"].as_str()?.to_string()))
        .collect();
    in_q == *want
}

/// The (unit, start, end) of every unit a replica's log says it leased;
/// a unit still held when the log ends (the replica was killed) ends at
/// `killed`.
fn leased_units(
    log: &str,
    killed: chrono::DateTime<chrono::Utc>,
) -> Vec<(
    String,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
)> {
    let mut open: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> =
        Default::default();
    let mut out = Vec::new();
    for line in log.lines() {
        let leased = line.contains("unit leased");
        if !leased && !line.contains("unit released") {
            continue;
        }
        let at = chrono::DateTime::parse_from_rfc3339(line.split_whitespace().next().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
        let unit = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix("unit="))
            .unwrap()
            .to_string();
        if leased {
            open.insert(unit, at);
        } else if let Some(from) = open.remove(&unit) {
            out.push((unit, from, at));
        }
    }
    out.extend(open.into_iter().map(|(u, from)| (u, from, killed)));
    out
}

/// Three `bcq serve` replicas on one PostgreSQL state split the units of a
/// run between them through leases (each syncs some, no unit by two at
/// once) and write into one shared Q sync job (never two SYNCING at once);
/// A fresh PostgreSQL schema for replicas of the replica tests' units, and
/// those units' `BCQ_ENTITIES`, with Q's index attributes declared.
async fn replica_state(w: &World) -> (bcq_state::testing::PgSchema, String) {
    let schema = bcq_state::testing::PgSchema::new();
    let entities = REPLICA_ENTITIES.map(|(e, _)| e).join(",");
    w.bcq(
        &["index-schema", "--apply"],
        &[("BCQ_ENTITIES", entities.as_str())],
    )
    .await
    .assert_ok();
    (schema, entities)
}

/// `kill -9` of a replica in the middle of a unit lets the others take
/// that unit over once its lease expires and bring Q to BC, nothing lost;
/// BC's limits (5 requests in flight per environment) held over the three,
/// which share one budget through PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_postgres_split_the_units_and_survive_kill_9() {
    let mut q = q_fast();
    // Slow enough that the replicas are still pushing when one is killed.
    q.rates.insert("BatchPutDocument".into(), 3.0);
    // BC answers in 20 ms, so that requests overlap: the first four units
    // come with a PDF per record, which a replica fetches 4 at a time.
    let bc_cfg = bc_sim::SimConfig {
        latency: Duration::from_millis(20),
        ..bc(300)
    };
    let w = World::start(bc_cfg, q).await;
    let want = bc_doc_ids(&w, &REPLICA_ENTITIES).await;
    let (schema, entities) = replica_state(&w).await;
    let env = [
        ("BCQ_STATE_URL", schema.url.as_str()),
        ("BCQ_LEASE_SECONDS", "3"),
        ("BCQ_INCLUDE_PDF", "true"),
        ("BCQ_ENTITIES", entities.as_str()),
    ];
    // All three spawned before any is waited for, so that they start together.
    let spawned: Vec<Serve> = (0..3).map(|_| Serve::spawn(&w, 5, false, &env)).collect();
    let mut replicas: Vec<Serve> = spawned
        .into_iter()
        .map(|s| s.started(&w, 5, false, &env))
        .collect();
    let unit_holders = || {
        bcq_state::testing::pg_admin(&format!(
            "SELECT holder FROM {}.leases WHERE name LIKE 'unit:%' AND expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
            schema.name()
        ))
    };
    let syncing = |jobs: &Value| {
        jobs["jobs"]
            .as_array()
            .map_or(0, |j| j.iter().filter(|j| j["status"] == "SYNCING").count())
    };
    // Every replica works: each leases a unit of the first run.
    let first = &replicas[0];
    let deadline = Instant::now() + Duration::from_secs(60);
    while !replicas.iter().all(|r| r.log().contains("unit leased")) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for every replica to lease a unit\n{}",
            replicas
                .iter()
                .enumerate()
                .map(|(i, r)| format!("replica {i}'s log:\n{}", r.log()))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until(first, "the replicas to push", 60, || async {
        w.q_counts().await["documents_put"].as_u64().unwrap_or(0) >= 30
    })
    .await;
    assert!(syncing(&w.q_jobs().await) <= 1, "two Q sync jobs at once");

    // kill -9 a replica holding a unit, in the middle of it.
    let victim = loop {
        let holders = unit_holders();
        let pid = holders.iter().flatten().find_map(|h| {
            let pid: u32 = h.rsplit('-').nth(1)?.parse().ok()?;
            replicas
                .iter()
                .position(|r| r.child.as_ref().map(Child::id) == Some(pid))
        });
        if let Some(i) = pid {
            break i;
        }
        assert!(
            !q_holds(&w, &want).await,
            "the replicas finished before one could be killed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let pushed_before = w.q_counts().await["documents_put"].as_u64().unwrap();
    let mut dead = replicas.remove(victim);
    let mut child = dead.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = chrono::Utc::now();
    let dead_log = dead.log();
    assert!(
        dead_log.contains("unit leased"),
        "the killed replica had leased a unit: {dead_log}"
    );

    // The survivors take its unit over once the lease expired, and bring
    // Q to BC; meanwhile never two Q jobs SYNCING.
    let survivor = &replicas[0];
    let deadline = Instant::now() + Duration::from_secs(180);
    while !q_holds(&w, &want).await {
        assert!(syncing(&w.q_jobs().await) <= 1, "two Q sync jobs at once");
        assert!(
            Instant::now() < deadline,
            "Q did not reach BC ({pushed_before} documents put before the kill)\nsurvivor log:\n{}",
            survivor.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The last writer closes the shared job: none left SYNCING.
    until(survivor, "the shared Q job to be closed", 60, || async {
        syncing(&w.q_jobs().await) == 0
    })
    .await;
    for r in &replicas {
        assert_eq!(r.get("/readyz").await.0, 200, "{}", r.log());
        assert_eq!(
            r.sample("bcq_runs_total", &[("outcome", "failed")]).await,
            0.0,
            "{}",
            r.log()
        );
    }

    // The work was split and no unit was synced by two replicas at once.
    let logs: Vec<String> = std::iter::once(dead_log)
        .chain(replicas.iter().map(Serve::log))
        .collect();
    let spans: Vec<_> = logs.iter().map(|l| leased_units(l, killed)).collect();
    for (i, s) in spans.iter().enumerate() {
        assert!(!s.is_empty(), "replica {i} synced no unit:\n{}", logs[i]);
    }
    let mut synced_units = std::collections::BTreeSet::new();
    for (i, a) in spans.iter().enumerate() {
        for (unit, from, to) in a {
            synced_units.insert(unit.clone());
            for b in spans.iter().skip(i + 1) {
                for (u2, f2, t2) in b {
                    assert!(
                        u2 != unit || t2 <= from || to <= f2,
                        "{unit} synced by two replicas at once: {from}..{to} and {f2}..{t2}"
                    );
                }
            }
        }
    }
    assert_eq!(
        synced_units.len(),
        REPLICA_ENTITIES.len(),
        "{synced_units:?}"
    );
    // Every run (the survivors poll every 5 s: the dead one's run is not
    // among the last ten).
    let status = w
        .bcq(
            &["status", "--runs", "1000"],
            &[("BCQ_STATE_URL", schema.url.as_str())],
        )
        .await;
    status.assert_ok();
    assert!(status.stdout.contains("interrupted"), "{}", status.stdout);
    assert!(
        status.stdout.contains("replicas syncing now: "),
        "{}",
        status.stdout
    );
    // BC's budget held across the three: the emulator enforces 6,000
    // requests per 5 minutes and 5 in flight per environment and counts
    // what it had to refuse, and every request that arrived while 5 were
    // in flight. Each replica alone may have 5 in flight (a page and 4
    // PDFs), so only the shared budget keeps the three at 5 (without it,
    // this run queued requests: see docs/PERFORMANCE.md).
    let bc = sim(&w, reqwest::Method::GET, "/_sim/counts", None).await;
    assert_eq!(bc["throttled"], 0, "{bc}");
    assert_eq!(bc["queued"], 0, "a 6th BC request in flight: {bc}");
    assert!(bc["max_concurrent_seen"].as_u64().unwrap() <= 5, "{bc}");
}

/// A replica that starts after another took every unit still gets units:
/// the first leaves the units it synced at its previous poll to the others
/// while another replica serves, so the late one's next poll finds them
/// free, whatever the phase of its polls against the first one's. (Before,
/// a replica whose polls fell within 90% of an interval after another's
/// found every unit synced moments ago, poll after poll, and did nothing.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_replica_gets_units_at_its_next_polls() {
    let w = World::start(bc(20), q_fast()).await;
    let (schema, entities) = replica_state(&w).await;
    let env = [
        ("BCQ_STATE_URL", schema.url.as_str()),
        ("BCQ_ENTITIES", entities.as_str()),
        ("BCQ_UNIT_CONCURRENCY", "16"),
    ];
    let first = Serve::start_with(&w, 5, false, &env);
    until(&first, "the first replica's first run", 60, || async {
        first.log().contains("run finished")
    })
    .await;
    let late = Serve::start_with(&w, 5, false, &env);
    until(&late, "the late replica to lease a unit", 30, || async {
        late.log().contains("unit leased")
    })
    .await;
    assert!(
        first
            .log()
            .contains("leaving it to the other replicas this time"),
        "{}",
        first.log()
    );
}

/// `bcq sync` of the replica test's six units with `concurrency` units at
/// once and PDFs or not; returns the run and BC's counters after it.
async fn sync_units(w: &World, concurrency: &str, pdf: &str) -> (common::Run, Value) {
    let entities = REPLICA_ENTITIES.map(|(e, _)| e).join(",");
    let env = [
        ("BCQ_ENTITIES", entities.as_str()),
        ("BCQ_INCLUDE_PDF", pdf),
        ("BCQ_UNIT_CONCURRENCY", concurrency),
    ];
    w.bcq(&["index-schema", "--apply"], &env).await.assert_ok();
    let r = w.bcq(&["sync"], &env).await;
    r.assert_ok();
    let bc = sim(w, reqwest::Method::GET, "/_sim/counts", None).await;
    (r, bc)
}

/// One run with `BCQ_UNIT_CONCURRENCY=4` syncs several units at once: BC
/// saw more than one request in flight where, with units one at a time and
/// no PDFs (each unit reads page after page), it saw one. With PDFs (each
/// unit fetching 4 at a time) it still stays within BC's 5 in flight, none
/// queued, and Q then holds exactly BC's records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_syncs_units_at_once_within_bcs_limits() {
    let world = || async {
        World::start(
            bc_sim::SimConfig {
                latency: Duration::from_millis(20),
                ..bc(100)
            },
            q_fast(),
        )
        .await
    };
    // One unit at a time, no PDFs: one request in flight.
    let (_, bc1) = sync_units(&world().await, "1", "false").await;
    assert_eq!(bc1["max_concurrent_seen"], 1, "{bc1}");
    // Four at once: more than one.
    let w = world().await;
    let (r, bc4) = sync_units(&w, "4", "false").await;
    assert!(
        bc4["max_concurrent_seen"].as_u64().unwrap() >= 2,
        "units were not read at once: {bc4}\n{}",
        r.both()
    );
    // The summary lists the units in their order, whatever order they ended in.
    let listed: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("unit "))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|u| u.rsplit('/').next())
        .collect();
    assert_eq!(
        listed,
        REPLICA_ENTITIES.map(|(e, _)| e).to_vec(),
        "{}",
        r.both()
    );
    // With PDFs, four units want up to 20 requests at once: BC's 5 hold.
    let want = bc_doc_ids(&w, &REPLICA_ENTITIES).await;
    let (r, bc) = sync_units(&w, "4", "true").await;
    assert!(q_holds(&w, &want).await, "{}", r.both());
    assert_eq!(bc["queued"], 0, "a 6th BC request in flight: {bc}");
    assert_eq!(bc["throttled"], 0, "{bc}");
}
