//! The endpoints (docs/API.md). Every error is JSON: `{"error": "..."}`.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::{AdminKind, AdminRequest, ApiState, DEFAULT_SOURCE, MAX_SOURCE_LEN};
use crate::status::Event;

/// How long an admin request may wait for the runtime.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Request bodies are tiny; anything larger is a mistake.
const BODY_LIMIT: usize = 64 * 1024;
const ENDPOINTS: &str =
    "GET /status, GET /metrics, GET /events, POST /active, POST /reload, POST /move";

#[derive(Clone)]
struct Shared {
    api: ApiState,
    /// Ends event streams at shutdown.
    stop: CancellationToken,
}

pub(super) fn router(api: ApiState, stop: CancellationToken) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/events", get(events))
        .route("/active", post(active))
        .route("/reload", post(reload))
        .route("/move", post(move_group))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Shared { api, stop })
}

/// What a connection from a uid other than root or ours gets.
pub(super) fn refused(uid: &str, own_uid: u32) -> Router {
    // The group clause is always there: this answer does not know the mode,
    // and "root only" misled operators who had configured group access.
    let message = if own_uid == 0 {
        format!(
            "permission denied: uid {uid} may not use the management API (root only, or the socket's group when management_mode gives it read and write)"
        )
    } else {
        format!(
            "permission denied: uid {uid} may not use the management API (root and uid {own_uid} only, or the socket's group when management_mode gives it read and write)"
        )
    };
    Router::new().fallback(move || async move { error(StatusCode::FORBIDDEN, message) })
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

fn error(code: StatusCode, message: impl AsRef<str>) -> Response {
    let body = serde_json::to_vec(&ErrorBody {
        error: message.as_ref(),
    })
    .unwrap_or_default();
    json_response(code, body)
}

fn json_response(code: StatusCode, mut body: Vec<u8>) -> Response {
    // A trailing newline keeps `curl` output tidy in a terminal.
    body.push(b'\n');
    (
        code,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

async fn status(State(s): State<Shared>) -> Response {
    // Clone under the watch's read lock, serialise after releasing it, so
    // the runtime's next publish never waits on a client.
    let snapshot = s.api.fresh_status().await;
    match serde_json::to_vec(&snapshot) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("status: {e}")),
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    metrics_response(&s.api).await
}

/// `GET /metrics`, on the unix socket and on the optional TCP listener.
pub(super) async fn metrics_response(api: &ApiState) -> Response {
    let snapshot = api.fresh_status().await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        api.metrics.render(&snapshot),
    )
        .into_response()
}

async fn events(State(s): State<Shared>) -> Response {
    let rx = s.api.events.subscribe();
    let state = (rx, s.stop.clone(), s.api.status.clone());
    let lines = futures::stream::unfold(state, |(mut rx, stop, status)| async move {
        let event = tokio::select! {
            _ = stop.cancelled() => return None,
            received = rx.recv() => match received {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    let node = status.borrow().node.clone();
                    Event::lagged(node, missed)
                }
                Err(RecvError::Closed) => return None,
            },
        };
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(Bytes::from(line)), (rx, stop, status)))
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(lines),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActiveBody {
    active: bool,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    all: bool,
}

#[derive(Serialize)]
struct Done<'a> {
    ok: bool,
    message: &'a str,
}

async fn active(State(s): State<Shared>, request: Request) -> Response {
    let expected = "expected {\"active\": true|false, \"reason\": \"text\", \"source\": \"name\"}";
    let parsed: ActiveBody = match json_body(request, expected).await {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    match active_kind(parsed) {
        Ok(kind) => admin(&s, kind).await,
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

/// A request's JSON body, or the error response that says what was wrong
/// and what was `expected`.
async fn json_body<T: serde::de::DeserializeOwned>(
    request: Request,
    expected: &str,
) -> Result<T, Response> {
    let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {BODY_LIMIT} bytes or unreadable"),
            )
        })?;
    serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("bad JSON body: {e}; {expected}"),
        )
    })
}

/// What a `POST /active` body asks for, or why it cannot be done.
fn active_kind(body: ActiveBody) -> Result<AdminKind, String> {
    if body.all {
        if !body.active || body.source.is_some() {
            return Err(
                "\"all\" lifts every drain: only with \"active\": true and no \"source\"".into(),
            );
        }
        return Ok(AdminKind::UndrainAll);
    }
    let source = body.source.unwrap_or_else(|| DEFAULT_SOURCE.to_string());
    let printable = source
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '/'));
    if source.is_empty() || source.chars().count() > MAX_SOURCE_LEN || !printable {
        return Err(format!(
            "bad \"source\" {source:?}: 1 to {MAX_SOURCE_LEN} letters, digits or -_.:@/"
        ));
    }
    Ok(AdminKind::SetActive {
        source,
        active: body.active,
        reason: body.reason.filter(|r| !r.trim().is_empty()),
    })
}

async fn reload(State(s): State<Shared>) -> Response {
    admin(&s, AdminKind::Reload).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    group: GroupName,
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    clear: bool,
}

/// A group by index (`0`) or by one of its addresses (`"203.0.113.1"`,
/// with or without its prefix length).
#[derive(Deserialize)]
#[serde(untagged)]
enum GroupName {
    Index(usize),
    Address(String),
}

const MOVE_BODY: &str = "expected {\"group\": INDEX or \"ADDRESS\", \"node\": \"NAME\"} or {\"group\": …, \"clear\": true}";

async fn move_group(State(s): State<Shared>, request: Request) -> Response {
    let parsed: MoveBody = match json_body(request, MOVE_BODY).await {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let snapshot = s.api.fresh_status().await;
    match move_kind(parsed, &snapshot) {
        Ok(kind) => admin(&s, kind).await,
        Err((code, message)) => error(code, message),
    }
}

/// What a `POST /move` body asks for, checked against the latest status:
/// an unknown group or node is a 404 naming it, a contradictory body a 400.
/// Whether the node is eligible is the core's to say (a 409 then).
fn move_kind(
    body: MoveBody,
    status: &crate::status::Status,
) -> Result<AdminKind, (StatusCode, String)> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    let group = match &body.group {
        GroupName::Index(index) => Some(*index).filter(|&i| i < status.groups.len()),
        GroupName::Address(text) => {
            let address = text.split('/').next().unwrap_or_default().trim();
            let Ok(ip) = address.parse::<std::net::IpAddr>() else {
                return Err(bad(format!(
                    "bad \"group\" {text:?}: a group index or one of its addresses"
                )));
            };
            status
                .groups
                .iter()
                .find(|g| {
                    g.ips
                        .iter()
                        .any(|a| a.split('/').next().and_then(|a| a.parse().ok()) == Some(ip))
                })
                .map(|g| g.index)
        }
    };
    let Some(group) = group else {
        let named = match body.group {
            GroupName::Index(i) => format!("no group {i}"),
            GroupName::Address(a) => format!("no group has the address {a}"),
        };
        return Err((
            StatusCode::NOT_FOUND,
            format!(
                "{named}: the config has {} groups (vippyctl status lists them)",
                status.groups.len()
            ),
        ));
    };
    match (body.node, body.clear) {
        (Some(_), true) => Err(bad(
            "give \"node\" to move, or \"clear\": true, not both".into()
        )),
        (None, false) => Err(bad(format!(
            "no \"node\" to move group {group} to; {MOVE_BODY}"
        ))),
        (None, true) => Ok(AdminKind::Move { group, node: None }),
        (Some(node), false) => {
            if !status.nodes.is_empty() && !status.nodes.contains(&node) {
                return Err((
                    StatusCode::NOT_FOUND,
                    format!(
                        "no node {node:?} in the config's nodes ({})",
                        status.nodes.join(", ")
                    ),
                ));
            }
            Ok(AdminKind::Move {
                group,
                node: Some(node),
            })
        }
    }
}

async fn admin(s: &Shared, kind: AdminKind) -> Response {
    let (reply, answer) = oneshot::channel();
    let request = AdminRequest { kind, reply };
    let outcome = tokio::time::timeout(ADMIN_TIMEOUT, async {
        s.api.admin.send(request).await.ok()?;
        answer.await.ok()
    })
    .await;
    match outcome {
        Ok(Some(Ok(message))) => {
            let body = serde_json::to_vec(&Done {
                ok: true,
                message: &message,
            })
            .unwrap_or_default();
            json_response(StatusCode::OK, body)
        }
        Ok(Some(Err(message))) => error(StatusCode::CONFLICT, message),
        Ok(None) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "vippyd is shutting down; request not carried out",
        ),
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!("vippyd did not answer within {}s", ADMIN_TIMEOUT.as_secs()),
        ),
    }
}

async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {}; try {ENDPOINTS}",
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(method: Method, request: Request) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}; endpoints are {ENDPOINTS}",
            request.uri().path()
        ),
    )
}
