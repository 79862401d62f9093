//! The agent's one HTTP listener: `/healthz` (liveness), `/readyz`
//! (readiness), `/metrics` (Prometheus text format) and the push webhooks
//! of [`super::webhook`] (`/hooks/…`, those configured).

use super::health::Health;
use super::webhook::Webhooks;
use crate::report::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// What the handlers read.
#[derive(Clone)]
pub struct Shared {
    /// The agent's metrics.
    pub metrics: Arc<Metrics>,
    /// Liveness and readiness.
    pub health: Arc<Health>,
    /// The push webhook receivers (`None`: no `/hooks/…` route).
    pub webhooks: Option<Arc<Webhooks>>,
}

async fn healthz(State(s): State<Shared>) -> impl IntoResponse {
    match s.health.alive(Instant::now()) {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn readyz(State(s): State<Shared>) -> impl IntoResponse {
    match s.health.ready() {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn metrics(State(s): State<Shared>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

/// The routes.
pub fn router(shared: Shared) -> Router {
    let mut r = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    if let Some(w) = &shared.webhooks {
        r = r.merge(w.clone().router());
    }
    r.with_state(shared)
}

/// Binds `addr` and serves until `shutdown` resolves; returns the bound
/// address (port 0 picks a free one) and the server task.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    shared: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(shared))
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "the HTTP listener stopped");
        }
    });
    Ok((bound, task))
}
