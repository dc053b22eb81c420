//! A hostile proxy in front of the Business Central emulator, as a tester
//! (or a broken corporate proxy) would put there: it forwards every request
//! as it came, rewrites the emulator's origin to its own in the answer (so
//! that nextLinks come back through it), and then lets a test change the
//! answer: repeat or loop a nextLink, date a record in 2099, duplicate a
//! record, put a lone surrogate in a field, redirect to another origin,
//! echo a token request's form. It listens on loopback and stops when
//! dropped.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// The request a rule sees.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The full URL as bcq asked it of the proxy.
    pub url: String,
    /// The body bcq sent (a token request's form).
    pub body: Vec<u8>,
}

impl Request {
    /// Whether this asks for a page after the first (BC pages with `$skiptoken`).
    pub fn is_next_page(&self) -> bool {
        self.url.contains("skiptoken")
    }
}

/// The answer a rule may change before bcq gets it.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers (without hop-by-hop ones and Content-Length, recomputed).
    pub headers: Vec<(String, String)>,
    /// Body, with the emulator's origin already replaced by the proxy's.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as a BC collection page (`{"value": [...]}`), if it is one.
    pub fn page(&self) -> Option<Value> {
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        v.get("value")?.as_array()?;
        Some(v)
    }

    /// Replaces the body with this JSON.
    pub fn set_json(&mut self, v: &Value) {
        self.body = serde_json::to_vec(v).expect("json");
    }

    /// Sets (or replaces) a header.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
    }
}

/// What a test does to answers: called for every request with the answer
/// the emulator gave.
pub type Rule = Arc<dyn Fn(&Request, &mut Answer) + Send + Sync>;

struct Shared {
    upstream: String,
    me: String,
    client: reqwest::Client,
    rule: Mutex<Option<Rule>>,
    seen: Mutex<Vec<String>>,
}

/// A running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:port`, in place of the emulator's base URL.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            me: url.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            rule: Mutex::new(None),
            seen: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { url, shared, task }
    }

    /// The BC API base (`BC_API_BASE_URL`) through the proxy.
    pub fn api_base(&self) -> String {
        format!("{}/v2.0", self.url)
    }

    /// Changes every later answer with `rule`.
    pub fn set(&self, rule: impl Fn(&Request, &mut Answer) + Send + Sync + 'static) {
        *self.shared.rule.lock().unwrap() = Some(Arc::new(rule));
    }

    /// Forwards answers unchanged again.
    pub fn clear(&self) {
        *self.shared.rule.lock().unwrap() = None;
    }

    /// The URL of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.shared.seen.lock().unwrap().clone()
    }
}

/// Headers not forwarded in either direction.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "content-length" | "host" | "upgrade"
    )
}

async fn forward(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let req = Request {
        method: method.to_string(),
        url: format!("{}{path}", s.me),
        body: body.to_vec(),
    };
    s.seen.lock().unwrap().push(req.url.clone());
    let mut out = s
        .client
        .request(method, format!("{}{path}", s.upstream))
        .body(body);
    for (n, v) in &headers {
        if !hop_by_hop(n.as_str()) {
            out = out.header(n, v);
        }
    }
    let upstream = match out.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let mut answer = Answer {
        status: upstream.status().as_u16(),
        headers: upstream
            .headers()
            .iter()
            .filter(|(n, _)| !hop_by_hop(n.as_str()))
            .map(|(n, v)| {
                (
                    n.to_string(),
                    v.to_str().unwrap_or("").replace(&s.upstream, &s.me),
                )
            })
            .collect(),
        body: Vec::new(),
    };
    let bytes = upstream.bytes().await.unwrap_or_default();
    answer.body = match std::str::from_utf8(&bytes) {
        Ok(text) => text.replace(&s.upstream, &s.me).into_bytes(),
        Err(_) => bytes.to_vec(),
    };
    let rule = s.rule.lock().unwrap().clone();
    if let Some(rule) = rule {
        rule(&req, &mut answer);
    }
    let mut resp = Response::new(axum::body::Body::from(answer.body));
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (n, v) in answer.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(n), HeaderValue::try_from(v)) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

/// A server of another origin that answers every request with an empty
/// BC page and counts what it was asked.
pub struct Foreign {
    /// `http://127.0.0.1:port`.
    pub url: String,
    hits: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Foreign {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Foreign {
    /// Starts it.
    pub async fn start() -> Foreign {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, uri: Uri| {
            let h = h.clone();
            async move {
                let auth = headers.contains_key("authorization");
                h.lock()
                    .unwrap()
                    .push(format!("{uri} (authorization: {auth})"));
                axum::Json(serde_json::json!({"value": []}))
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Foreign { url, hits, task }
    }

    /// What it was asked.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}
