//! The HTTP front, shared by both services: body limit, `/_sim` control
//! routes, SigV4 (both sign as `bedrock`), route matching, the gate of
//! [`aws_sim::control`] (counters, throttling, faults), then the operation
//! handler; errors are rendered in the model of
//! the service the route belongs to.

use std::sync::Arc;

use aws_sim::faults::Effect;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::Response;

use crate::error::{BedrockError, Service};
use crate::ops::{self, Req};
use crate::routes::match_route;
use crate::shared::Shared;

/// The signing name of both services (`metadata.signingName` of both models).
pub const SIGNING_NAME: &str = "bedrock";

/// The emulator's router (every path goes through one handler so that the
/// route table stays the single source of truth).
pub fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let method = parts.method.as_str().to_string();
    // The front door answers before any operation is known: in bedrock-agent's
    // format unless the path is a runtime route.
    let front = match_route(&method, &path).map_or(Service::Agent, |(r, _)| r.service);
    let max = shared.cfg.max_body_bytes;
    let Ok(bytes) = aws_sim::http::read_body(&parts.headers, Body::new(body), max).await else {
        return BedrockError::TooLarge(format!("Request must be smaller than {max} bytes"))
            .render(front);
    };
    if path == "/_sim" || path.starts_with("/_sim/") {
        return crate::control::handle_http(&shared, &method, &path, &raw_query, &bytes);
    }
    let verifier = aws_sim::sigv4::Verifier {
        access_key_id: &shared.cfg.access_key_id,
        secret_access_key: &shared.cfg.secret_access_key,
        region: &shared.cfg.region,
        service: SIGNING_NAME,
    };
    if let Err(e) = verifier.verify(
        &method,
        &path,
        &raw_query,
        &parts.headers,
        &bytes,
        chrono::Utc::now(),
    ) {
        return BedrockError::from(e).render(front);
    }
    let Some((route, labels)) = match_route(&method, &path) else {
        return BedrockError::UnknownOperation(format!(
            "The requested operation {method} {path} is not recognized by the service"
        ))
        .render(front);
    };
    let op = route.operation;
    let effects = match aws_sim::control::gate(&*shared, op) {
        Ok(effects) => effects,
        Err(e) => return e.render(route.service),
    };
    for e in effects {
        match e {
            Effect::Delay(d) => tokio::time::sleep(d).await,
            Effect::Fail(err) | Effect::Throttle(err) => return err.render(route.service),
            Effect::PartialFailure(_) => {}
        }
    }
    let r = Req {
        labels: &labels,
        body: &bytes,
    };
    match ops::dispatch(&shared, op, &r) {
        Ok(v) => aws_sim::http::aws_response(route.success_code, &v),
        Err(e) => {
            tracing::debug!(operation = op, error = %e, "operation failed");
            e.render(route.service)
        }
    }
}
