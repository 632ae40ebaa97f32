//! The HTTP layer of `serve` (axum): `/metrics`, `/probe?target=ENV`, `/healthz`,
//! `/readyz?env=ENV` and `/status`. Everything a page shows passes through
//! [`redact`](crate::redact::redact) first; nothing here logs a URL.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::Exporter;
use super::metrics::{self, Format};
use crate::error::ServeError;
use crate::redact::redact;

/// Binds `address`.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Bind {
            address: address.to_string(),
            source,
        })
}

/// The routes over `exporter`.
pub fn router(exporter: Arc<Exporter>) -> Router {
    Router::new()
        .route("/metrics", get(all_metrics))
        .route("/probe", get(probe))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/status", get(status))
        .with_state(exporter)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub(super) async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    axum::serve(listener, router(exporter))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServeError::Serve { source })
}

type Params = Query<HashMap<String, String>>;

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn metrics_response(headers: &HeaderMap, body: impl FnOnce(Format) -> String) -> Response {
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    (
        [(header::CONTENT_TYPE, format.content_type())],
        redact(&body(format)),
    )
        .into_response()
}

async fn all_metrics(State(exporter): State<Arc<Exporter>>, headers: HeaderMap) -> Response {
    let reports = exporter.reports().await;
    metrics_response(&headers, |format| {
        metrics::encode_reports(reports.iter().map(|(r, at)| (r, *at)), format)
    })
}

async fn probe(
    State(exporter): State<Arc<Exporter>>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let Some(name) = params.get("target") else {
        return text(StatusCode::BAD_REQUEST, "missing ?target=ENV\n".into());
    };
    match exporter.report(name).await {
        Some((report, at)) => metrics_response(&headers, |format| {
            metrics::encode_reports([(&report, at)], format)
        }),
        None => unknown(&exporter, name),
    }
}

fn unknown(exporter: &Exporter, name: &str) -> Response {
    text(
        StatusCode::NOT_FOUND,
        format!(
            "no environment `{name}` (served: {})\n",
            exporter.names().collect::<Vec<_>>().join(", ")
        ),
    )
}

async fn ready(State(exporter): State<Arc<Exporter>>, Query(params): Params) -> Response {
    let names: Vec<&str> = exporter.names().collect();
    let name = match (params.get("env"), names.as_slice()) {
        (Some(name), _) => name.clone(),
        (None, [only]) => only.to_string(),
        (None, _) => {
            return text(
                StatusCode::BAD_REQUEST,
                "missing ?env=ENV (several environments are served)\n".into(),
            );
        }
    };
    match exporter.readiness(&name).await {
        Some(Ok(())) => text(StatusCode::OK, "ready\n".into()),
        Some(Err(reason)) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
        None => unknown(&exporter, &name),
    }
}

async fn status(State(exporter): State<Arc<Exporter>>) -> Response {
    let report = exporter.status().await;
    let json = serde_json::to_string_pretty(&report).expect("a report serializes");
    (
        [(header::CONTENT_TYPE, "application/json")],
        redact(&json) + "\n",
    )
        .into_response()
}
