//! The management API: HTTP/1.1 + JSON over the unix socket,
//! so `curl --unix-socket /var/run/vippy.socket http://localhost/status`
//! works. Endpoints are described in docs/API.md.
//!
//! Handlers never reach into the runtime's loop: they ask for a fresh
//! [`Status`] (a `Notify`) and read it from a `watch` channel, metrics from atomics, subscribe to the
//! event `broadcast`, and send admin requests over an `mpsc` whose answer
//! comes back on a oneshot. A slow or stuck client can therefore never hold
//! the runtime up.
//!
//! Access: the socket is created with the configured mode (0600 unless
//! configured), and every connection's peer credentials are checked: root
//! and the daemon's own uid are served, and, when the mode gives the group
//! read and write, a peer whose primary gid is the socket file's group;
//! anyone else gets 403.

mod metrics_tcp;
mod routes;
mod socket;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::{Notify, broadcast, mpsc, oneshot, watch};

pub use metrics_tcp::MetricsListener;
pub use socket::{ApiSocket, MAX_CONNECTIONS, SocketFile};

use crate::metrics::Metrics;
use crate::status::{Event, Status};

/// What the API shares with the runtime.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The runtime publishes a snapshot when the core reports a change,
    /// and a fresh one when a handler asks through `refresh`.
    pub status: watch::Receiver<Status>,
    /// Set by the runtime: asks it for a fresh snapshot (see
    /// [`ApiState::fresh_status`]); without it the latest one is served.
    pub refresh: Option<Arc<Notify>>,
    pub metrics: Arc<Metrics>,
    /// Admin requests for the runtime, each with a oneshot for its answer.
    pub admin: mpsc::Sender<AdminRequest>,
    /// Events for `GET /events`. Each client subscribes; a client that
    /// falls behind loses the oldest events (told with a `lagged` line),
    /// and the runtime's `send` never waits.
    pub events: broadcast::Sender<Event>,
}

impl ApiState {
    pub fn new(
        status: watch::Receiver<Status>,
        metrics: Arc<Metrics>,
        admin: mpsc::Sender<AdminRequest>,
        events: broadcast::Sender<Event>,
    ) -> ApiState {
        ApiState {
            status,
            refresh: None,
            metrics,
            admin,
            events,
        }
    }

    /// Serve snapshots made when asked: [`ApiState::fresh_status`] wakes
    /// `refresh`, which the runtime answers by publishing one.
    pub fn with_refresh(mut self, refresh: Arc<Notify>) -> ApiState {
        self.refresh = Some(refresh);
        self
    }

    /// A snapshot made after this call: the runtime builds status when it
    /// is asked for (and when a change is published), not on every input,
    /// which at thousands of groups would cost the loop more than its
    /// work. If the runtime does not answer within [`FRESH_WAIT`] (it is
    /// busy, or stopping) the latest snapshot is served.
    pub async fn fresh_status(&self) -> Status {
        if let Some(refresh) = &self.refresh {
            let mut rx = self.status.clone();
            rx.mark_unchanged();
            refresh.notify_one();
            let _ = tokio::time::timeout(FRESH_WAIT, rx.changed()).await;
        }
        self.status.borrow().clone()
    }
}

/// How long a handler waits for the runtime's fresh status snapshot.
pub const FRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// An operator's request, for the runtime to carry out.
#[derive(Debug)]
pub struct AdminRequest {
    pub kind: AdminKind,
    /// `Ok(message)` is shown to the operator (e.g. "inactive
    /// (administrative: kernel upgrade)"); `Err(message)` is an HTTP 409
    /// with that message (e.g. the new config's errors on reload).
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// The drain source of a `POST /active` that names none: the operator's.
pub const DEFAULT_SOURCE: &str = "admin";
/// Drain sources at once, at most: a misbehaving plugin inventing sources
/// cannot grow the node's state without bound.
pub const MAX_DRAINS: usize = 64;
/// The longest drain source name.
pub const MAX_SOURCE_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminKind {
    /// `POST /active`: drain or undrain by one source, `vippyctl
    /// drain`/`undrain`. The node is inactive (reason `administrative`)
    /// while any source drains it; see `Status::drains`.
    SetActive {
        source: String,
        active: bool,
        reason: Option<String>,
    },
    /// `POST /active` with `"all": true`: lift every source's drain.
    UndrainAll,
    /// `POST /reload`: reread the config file, like SIGHUP.
    Reload,
    /// `POST /move`: pin group `group` (by index) to `node`, a planned
    /// move, or with `node: None` clear its pin (`vippyctl move`).
    Move { group: usize, node: Option<String> },
}

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("another vippyd is listening on {}", path.display())]
    AlreadyListening { path: std::path::PathBuf },
    #[error("{} exists and is {kind}, not a socket; refusing to replace it", path.display())]
    NotASocket {
        path: std::path::PathBuf,
        kind: &'static str,
    },
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Binds the socket at `path` with `mode` and serves until `shutdown`
/// completes; then the socket file is removed. See [`ApiSocket`] to bind
/// first (and report errors at start) and serve later.
pub async fn serve(
    path: impl AsRef<Path>,
    mode: u32,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ApiError> {
    let socket = ApiSocket::bind(path.as_ref(), mode)?;
    socket.serve(state, shutdown).await;
    Ok(())
}
