//! The HTTP front: body limit, `/_sim` control routes, SigV4, route
//! matching, throttling and faults, then the operation handler.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};

use crate::error::{QError, Reason};
use crate::faults::Effect;
use crate::ops::{self, Req};
use crate::routes::match_route;
use crate::shared::Shared;

/// The emulator's router (every path goes through one handler so that the
/// route table stays the single source of truth).
pub fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

pub use aws_sim::http::parse_query;

fn too_large(max: usize) -> QError {
    QError::TooLarge(format!("Request must be smaller than {max} bytes"))
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let max = shared.cfg.max_body_bytes;
    let Ok(bytes) = aws_sim::http::read_body(&parts.headers, Body::new(body), max).await else {
        return too_large(max).into_response();
    };
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let method = parts.method.as_str().to_string();
    if path == "/_sim" || path.starts_with("/_sim/") {
        return crate::control::handle_http(&shared, &method, &path, &raw_query, &bytes);
    }
    let verifier = crate::sigv4::verifier(
        &shared.cfg.access_key_id,
        &shared.cfg.secret_access_key,
        &shared.cfg.region,
    );
    if let Err(e) = verifier.verify(
        &method,
        &path,
        &raw_query,
        &parts.headers,
        &bytes,
        chrono::Utc::now(),
    ) {
        return QError::from(e).into_response();
    }
    let Some((route, labels)) = match_route(&method, &path) else {
        return QError::Validation {
            message: format!("No operation matches {method} {path}"),
            reason: Reason::UnknownOperation,
            fields: vec![],
        }
        .into_response();
    };
    let op = route.operation;
    let effects = match aws_sim::control::gate(&*shared, op) {
        Ok(effects) => effects,
        Err(e) => return e.into_response(),
    };
    let mut partial = None;
    for e in effects {
        match e {
            Effect::Delay(d) => tokio::time::sleep(d).await,
            Effect::Fail(err) | Effect::Throttle(err) => return err.into_response(),
            Effect::PartialFailure(n) => partial = Some(n),
        }
    }
    let query = parse_query(&raw_query);
    let r = Req {
        labels: &labels,
        query: &query,
        body: &bytes,
        partial,
    };
    match ops::dispatch(&shared, op, &r) {
        Ok(v) => aws_sim::http::aws_response(route.success_code, &v),
        Err(e) => {
            tracing::debug!(operation = op, error = %e, "operation failed");
            e.into_response()
        }
    }
}
