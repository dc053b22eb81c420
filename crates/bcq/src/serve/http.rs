//! The HTTP side of `bcq serve`: BC's webhook endpoint and the operations
//! endpoints.
//!
//! | Route | Answer |
//! |---|---|
//! | `POST /webhooks/bc?validationToken=T` | 200 `text/plain` T (BC's handshake) |
//! | `POST /webhooks/bc` | 202 once the notifications are recorded; 503 when they could not be (BC retries) |
//! | `GET /healthz` | 200 `ok` while the process runs |
//! | `GET /readyz` | 200 when the state store answers, a BC token can be had and the last run could reach the destination; 503 with the failing check otherwise |
//! | `GET /metrics` | Prometheus text format |

use super::Shared;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::Arc;

/// The routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(super::hooks::PATH, post(webhook))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

async fn webhook(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(token) = q.get("validationToken") {
        // BC waits 5 s for this; nothing else happens on the way.
        tracing::info!("answered business central's webhook handshake");
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
            token.clone(),
        )
            .into_response();
    }
    let sh2 = sh.clone();
    // SQLite writes block: off the async threads.
    let taken = tokio::task::spawn_blocking(move || sh2.take_notifications(&body)).await;
    match taken {
        Ok(Ok((taken, refused))) => {
            tracing::debug!(taken, refused, "notifications");
            StatusCode::ACCEPTED.into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "could not record notifications; business central will retry");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "recording notifications panicked; business central will retry");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn readyz(State(sh): State<Arc<Shared>>) -> Response {
    let checks = sh.readiness().await;
    let ok = checks.iter().all(|(_, ok, _)| *ok);
    let body: String = checks
        .iter()
        .map(|(what, ok, detail)| {
            format!(
                "{} {what}: {}\n",
                if *ok { "ok  " } else { "FAIL" },
                crate::redact::redact(detail)
            )
        })
        .collect();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

async fn metrics(State(sh): State<Arc<Shared>>) -> Response {
    sh.refresh_gauges().await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        sh.metrics.render(),
    )
        .into_response()
}
