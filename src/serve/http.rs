//! The HTTP layer of `serve` (axum): `/metrics`, `/probe?target=ENV`, `/healthz`,
//! `/readyz?env=ENV` and `/status`. Everything a page shows passes through
//! [`redact`](crate::redact::redact) first; nothing here logs a URL.

use std::collections::HashMap;
use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// What `serve` allows a client's connection. An exporter holds few connections (a
/// Prometheus server or two, a readiness probe), so the limits are there for what is not
/// a scraper: connections opened and left idle, or sending their request slowly, which
/// would otherwise each hold a file handle for ever.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a connection may take to send a complete request head, from when it is
    /// accepted or its previous response was sent: hyper's header-read timeout, which
    /// restarts whenever a kept-alive connection goes idle, so it is the idle timeout too.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
///
/// axum::serve's accept loop, with what it has no setting for: hyper's timer (without
/// one, hyper's header-read timeout is off) and a cap on connections. Each connection
/// holds a permit of `slots` until it closes; the next is accepted only with a permit.
pub(super) async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let router = router(exporter);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, slot) = tokio::select! {
            accepted = accept(&listener, &slots) => accepted,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that hangs up, times out or sends garbage ends only its connection.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    // Idle connections close at once; the others after their response.
    connections.shutdown().await;
}

/// The next connection, once one of `slots` is free.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, OwnedSemaphorePermit) {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return (stream, slot),
            // The client gave up before it was accepted.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionRefused
                ) => {}
            // Out of file handles or memory: wait for some to be freed rather than spin, as
            // axum::serve does.
            Err(e) => {
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
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
