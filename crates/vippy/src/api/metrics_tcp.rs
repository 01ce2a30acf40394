//! The optional TCP listener for Prometheus (config `metrics`): `GET
//! /metrics` and nothing else of the API, so opening it to a scraper opens
//! no control. Unauthenticated by design, like every exporter's; bind it to
//! an address only the scraper reaches.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ApiState, routes, socket};

/// Scrapers served at once; one is the norm, a few allow for HA pairs.
const MAX_SCRAPERS: usize = 8;

/// A bound listener: binding first lets start and reload report a busy or
/// wrong address before anything else changes.
pub struct MetricsListener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl MetricsListener {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<MetricsListener> {
        // Made a tokio listener off the loop: with `realtime` it is served
        // on the runtime of normal priority.
        let bound = std::net::TcpListener::bind(addr)?;
        bound.set_nonblocking(true)?;
        let listener = crate::realtime::off_loop(|| TcpListener::from_std(bound))?;
        // The port may have been 0 in tests: report what was bound.
        let addr = listener.local_addr()?;
        Ok(MetricsListener { listener, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `stop` is cancelled.
    pub async fn serve(self, state: ApiState, stop: CancellationToken) {
        let app = Router::new()
            .route("/metrics", get(metrics))
            .fallback(only_metrics)
            .with_state(state);
        let slots = Arc::new(Semaphore::new(MAX_SCRAPERS));
        let connections = TaskTracker::new();
        loop {
            let stream = tokio::select! {
                _ = stop.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!("metrics listener accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue; // over the limit: closed unanswered
            };
            connections.spawn(socket::serve_connection(
                stream,
                app.clone(),
                true,
                slot,
                stop.clone(),
            ));
        }
        drop(self.listener);
        connections.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), connections.wait()).await;
    }
}

async fn metrics(State(api): State<ApiState>) -> Response {
    routes::metrics_response(&api).await
}

async fn only_metrics(method: Method) -> Response {
    let code = if method == Method::GET {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::METHOD_NOT_ALLOWED
    };
    (
        code,
        "only GET /metrics is served here; the management API is on the unix socket\n",
    )
        .into_response()
}
