//! Test helpers: an axum mock server on 127.0.0.1:0 that plays queues of
//! canned responses (one for the Entra token endpoint, one for the BC API)
//! and records every request, plus a virtual [`Timer`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::config::{AuthConfig, BcConfig, Credential, RetryConfig};
use crate::retry::{SleepFuture, Timer};
use crate::secret::Secret;

/// A canned response.
#[derive(Clone, Debug)]
pub(crate) struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Self::raw(status, value.to_string().into_bytes()).header("content-type", "application/json")
    }
    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn token(access_token: &str, expires_in: u64) -> Self {
        Self::json(
            200,
            serde_json::json!({"token_type":"Bearer","expires_in":expires_in,"ext_expires_in":expires_in,"access_token":access_token}),
        )
    }
}

/// A request the mock received.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Form fields of a token request.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
    pub fn form_field(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

#[derive(Default)]
struct MockState {
    api: Mutex<VecDeque<Canned>>,
    token: Mutex<VecDeque<Canned>>,
    api_requests: Mutex<Vec<Recorded>>,
    token_requests: Mutex<Vec<Recorded>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// When set, API responses wait for a permit: lets a test hold requests open.
    gate: Option<Semaphore>,
}

/// A running mock of Entra ID + BC.
pub(crate) struct Mock {
    pub base: String,
    state: Arc<MockState>,
}

impl Mock {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts a mock whose API responses are held until [`Mock::release`].
    pub async fn start_gated() -> Self {
        Self::start_with(Some(Semaphore::new(0))).await
    }

    async fn start_with(gate: Option<Semaphore>) -> Self {
        let state = Arc::new(MockState {
            gate,
            ..MockState::default()
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The task ends with the test's runtime.
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    pub fn push_api(&self, c: Canned) {
        self.state.api.lock().unwrap().push_back(c);
    }
    pub fn push_token(&self, c: Canned) {
        self.state.token.lock().unwrap().push_back(c);
    }
    pub fn api_requests(&self) -> Vec<Recorded> {
        self.state.api_requests.lock().unwrap().clone()
    }
    pub fn token_requests(&self) -> Vec<Recorded> {
        self.state.token_requests.lock().unwrap().clone()
    }
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }
    pub fn peak(&self) -> usize {
        self.state.peak.load(Ordering::SeqCst)
    }
    pub fn release(&self, n: usize) {
        self.state.gate.as_ref().expect("gated mock").add_permits(n);
    }

    /// The API root for tenant `t`, environment `production`.
    pub fn root(&self) -> String {
        format!("{}/t/production/api/v2.0", self.base)
    }

    /// A config pointing both Entra and BC at this mock.
    pub fn config(&self) -> BcConfig {
        let auth = AuthConfig::new(
            format!("{}/t", self.base),
            "client-id",
            Credential::Secret(Secret::new("the-client-secret")),
        );
        let mut cfg = BcConfig::new(auth, "t");
        cfg.api_base = self.base.clone();
        cfg.request_timeout = Duration::from_secs(30);
        cfg.retry = RetryConfig {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            ..RetryConfig::default()
        };
        cfg
    }
}

async fn handle(State(state): State<Arc<MockState>>, req: Request) -> Response {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap();
    let recorded = Recorded {
        path_and_query: path_and_query.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let canned = if path_and_query.ends_with("/oauth2/v2.0/token") {
        let n = {
            let mut reqs = state.token_requests.lock().unwrap();
            reqs.push(recorded);
            reqs.len()
        };
        let queued = state.token.lock().unwrap().pop_front();
        queued.unwrap_or_else(|| Canned::token(&format!("token-{n}"), 3599))
    } else {
        state.api_requests.lock().unwrap().push(recorded);
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.peak.fetch_max(now, Ordering::SeqCst);
        if let Some(gate) = &state.gate {
            gate.acquire().await.unwrap().forget();
        }
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
        let queued = state.api.lock().unwrap().pop_front();
        queued.unwrap_or_else(|| Canned::raw(599, "the mock has no canned response left"))
    };
    let mut resp = Response::builder().status(StatusCode::from_u16(canned.status).unwrap());
    for (k, v) in &canned.headers {
        resp = resp.header(k, v);
    }
    resp.body(Body::from(canned.body)).unwrap()
}

/// A virtual clock: `sleep` returns at once, records the delay and moves
/// the clock forward, so retry delays can be asserted exactly.
pub(crate) struct VirtualTimer {
    start: Instant,
    wall_start: DateTime<Utc>,
    offset: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
}

impl VirtualTimer {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            wall_start: DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            offset: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
        })
    }
    pub fn advance(&self, d: Duration) {
        *self.offset.lock().unwrap() += d;
    }
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl Timer for VirtualTimer {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }
    fn wall(&self) -> DateTime<Utc> {
        self.wall_start + *self.offset.lock().unwrap()
    }
    fn sleep(&self, d: Duration) -> SleepFuture {
        self.sleeps.lock().unwrap().push(d);
        self.advance(d);
        Box::pin(async {})
    }
}
