//! `vippyctl`'s side of the management API: HTTP/1.1 over the unix socket
//! with hyper, and the text it prints.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::UnixStream;

use crate::status::{Event, EventKind, Status};

/// Where vippyd listens unless told otherwise (the original's default).
pub use crate::cli::DEFAULT_SOCKET;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon there, or not allowed to talk to it.
    #[error("cannot reach vippyd at {}: {reason}", path.display())]
    Unreachable { path: PathBuf, reason: String },
    /// The daemon answered with an error.
    #[error("vippyd: {message}")]
    Daemon { status: u16, message: String },
    /// `watch`: the daemon ended the event stream (it is stopping).
    #[error("vippyd at {} closed the event stream", path.display())]
    StreamEnded { path: PathBuf },
    /// The answer made no sense.
    #[error("bad answer from vippyd at {}: {detail}", path.display())]
    Protocol { path: PathBuf, detail: String },
}

/// A client for one socket. Each call makes its own connection.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client {
            socket: socket.into(),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET /status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        let body = self.call(Method::GET, "/status", None).await?;
        serde_json::from_slice(&body).map_err(|e| self.protocol(format!("status: {e}")))
    }

    /// `GET /status` as the daemon sent it, for `--json` (keeps fields this
    /// build does not know).
    pub async fn status_json(&self) -> Result<serde_json::Value, ClientError> {
        let body = self.call(Method::GET, "/status", None).await?;
        serde_json::from_slice(&body).map_err(|e| self.protocol(format!("status: {e}")))
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let body = self.call(Method::GET, "/metrics", None).await?;
        String::from_utf8(body.to_vec()).map_err(|e| self.protocol(format!("metrics: {e}")))
    }

    /// `POST /active` (drain or undrain for `source`, the operator's when
    /// `None`); returns the daemon's message.
    pub async fn set_active(
        &self,
        active: bool,
        reason: Option<&str>,
        source: Option<&str>,
    ) -> Result<String, ClientError> {
        let body = serde_json::json!({ "active": active, "reason": reason, "source": source });
        let answer = self
            .call(Method::POST, "/active", Some(body.to_string()))
            .await?;
        self.message(&answer)
    }

    /// `POST /active` with `all`: lifts every source's drain.
    pub async fn undrain_all(&self) -> Result<String, ClientError> {
        let body = serde_json::json!({ "active": true, "all": true }).to_string();
        let answer = self.call(Method::POST, "/active", Some(body)).await?;
        self.message(&answer)
    }

    /// `POST /move`: pins `group` (an index, or one of its addresses) to
    /// `node`, or clears its pin (`node: None`); returns the daemon's message.
    pub async fn move_group(&self, group: &str, node: Option<&str>) -> Result<String, ClientError> {
        let group = match group.parse::<u64>() {
            Ok(index) => serde_json::json!(index),
            Err(_) => serde_json::json!(group),
        };
        let body = match node {
            Some(node) => serde_json::json!({ "group": group, "node": node }),
            None => serde_json::json!({ "group": group, "clear": true }),
        };
        let answer = self
            .call(Method::POST, "/move", Some(body.to_string()))
            .await?;
        self.message(&answer)
    }

    /// `POST /reload`; returns the daemon's message.
    pub async fn reload(&self) -> Result<String, ClientError> {
        let answer = self.call(Method::POST, "/reload", None).await?;
        self.message(&answer)
    }

    /// `GET /events`: the stream, read with [`EventLines::next_line`].
    pub async fn events(&self) -> Result<EventLines, ClientError> {
        let response = self.send(Method::GET, "/events", None).await?;
        if response.status() != StatusCode::OK {
            let status = response.status();
            let body = self.collect(response).await?;
            return Err(daemon_error(status, &body));
        }
        Ok(EventLines {
            body: response.into_body(),
            buf: Vec::new(),
            path: self.socket.clone(),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Bytes, ClientError> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let body = self.collect(response).await?;
        if !status.is_success() {
            return Err(daemon_error(status, &body));
        }
        Ok(body)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Response<Incoming>, ClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|e| ClientError::Unreachable {
                    path: self.socket.clone(),
                    reason: unreachable_reason(&e),
                })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.protocol(format!("handshake: {e}")))?;
        tokio::spawn(async move {
            // Ends when the response is read or the daemon hangs up.
            let _ = connection.await;
        });
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "localhost");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| self.protocol(format!("request: {e}")))?;
        sender
            .send_request(request)
            .await
            .map_err(|e| self.protocol(format!("{path}: {e}")))
    }

    async fn collect(&self, response: Response<Incoming>) -> Result<Bytes, ClientError> {
        response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| self.protocol(format!("reading the answer: {e}")))
    }

    fn message(&self, body: &[u8]) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        struct Done {
            #[serde(default)]
            message: String,
        }
        serde_json::from_slice::<Done>(body)
            .map(|d| d.message)
            .map_err(|e| self.protocol(e.to_string()))
    }

    fn protocol(&self, detail: String) -> ClientError {
        ClientError::Protocol {
            path: self.socket.clone(),
            detail,
        }
    }
}

fn unreachable_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file (is vippyd running?)".into(),
        io::ErrorKind::ConnectionRefused => "connection refused (is vippyd running?)".into(),
        io::ErrorKind::PermissionDenied => "permission denied (run as root?)".into(),
        _ => e.to_string(),
    }
}

fn daemon_error(status: StatusCode, body: &[u8]) -> ClientError {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => b.error,
        Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()),
    };
    ClientError::Daemon {
        status: status.as_u16(),
        message,
    }
}

/// The `GET /events` stream, one JSON line at a time.
pub struct EventLines {
    body: Incoming,
    buf: Vec<u8>,
    path: PathBuf,
}

impl EventLines {
    /// The next line without its newline; `None` when the daemon closed
    /// the stream.
    pub async fn next_line(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(Some(String::from_utf8_lossy(&line[..end]).into_owned()));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(ClientError::Protocol {
                        path: self.path.clone(),
                        detail: format!("event stream: {e}"),
                    });
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The next event; `None` when the daemon closed the stream.
    pub async fn next_event(&mut self) -> Result<Option<Event>, ClientError> {
        let Some(line) = self.next_line().await? else {
            return Ok(None);
        };
        serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| ClientError::Protocol {
                path: self.path.clone(),
                detail: format!("event {line:?}: {e}"),
            })
    }
}

/// `vippyctl status`: the original's layout, then peers and config.
///
/// ```text
/// State:  inactive
/// Reason: booting, administrative (kernel upgrade)
/// (*) node1: 10.8.3.195/24
///     node2: 10.8.99.147/24 P(node2)
///     (unowned): 10.8.99.149/24 10.8.3.196/24
/// Peers:
///   node2  eligible                heard 0.4s ago  config 5
///   node3  not eligible: stale     heard 9.1s ago  config 5
/// Config: version 5 from file, digest 3f2a…
/// ```
pub fn render_status(status: &Status) -> String {
    let mut out = String::new();
    let state = if status.active { "active" } else { "inactive" };
    // Two spaces, as the original, so the values line up with "Reason: ".
    let _ = writeln!(out, "State:  {state}");
    if !status.active {
        let reasons: Vec<String> = status
            .reasons
            .iter()
            .map(|r| match (&**r, &status.admin_reason) {
                ("administrative", Some(why)) => format!("administrative ({why})"),
                _ => r.clone(),
            })
            .collect();
        let reasons = if reasons.is_empty() {
            "unknown".to_string()
        } else {
            reasons.join(", ")
        };
        let _ = writeln!(out, "Reason: {reasons}");
    }
    if let Some(waiting) = &status.waiting {
        let _ = writeln!(out, "Waiting: {waiting}");
    }
    for hook in &status.hooks_retrying {
        let _ = writeln!(
            out,
            "Hook:   group {} up hook {} failed {} times ({}); retrying",
            hook.group, hook.command, hook.attempts, hook.last_error
        );
    }
    if !status.protocols.is_empty() {
        let _ = writeln!(
            out,
            "Protocols: {} (this node speaks {})",
            status.protocols.join(", "),
            vippy_core::wire::PROTOCOL_VERSION
        );
    }
    if !status.strangers.is_empty() {
        let _ = writeln!(
            out,
            "Strangers: {} (senders with the secret outside nodes; ignored)",
            status.strangers.join(", ")
        );
    }
    for c in &status.conflicts {
        let _ = writeln!(
            out,
            "Conflict: {} on {} also answered by {} (not a vippy node): seen {} times, first {}, last {}",
            c.ip,
            c.interface,
            c.mac,
            c.sightings,
            format_time(c.first_seen),
            format_time(c.last_seen)
        );
    }
    for group in &status.groups {
        let mark = if group.held_here { "(*) " } else { "    " };
        let owner = group.owner.as_deref().unwrap_or("(unowned)");
        let _ = write!(out, "{mark}{owner}: {}", group.ips.join(" "));
        if let Some(preferred) = &group.preferred {
            let _ = write!(out, " P({preferred})");
        }
        match (&group.failback_to, group.failback_in_seconds) {
            (Some(to), Some(s)) => {
                let _ = write!(out, " (failback to {to} in {s:.1}s)");
            }
            (Some(to), None) => {
                let _ = write!(out, " (failback to {to}: manual)");
            }
            _ => {}
        }
        if !group.cannot_serve_here.is_empty() {
            let _ = write!(
                out,
                " (cannot serve here: {})",
                group.cannot_serve_here.join(", ")
            );
        }
        if let Some(node) = &group.pinned_to {
            let _ = write!(out, " (pinned to {node} by operator");
            if let Some(why) = &group.pin_dormant {
                let _ = write!(out, "; not in force: {node} {why}");
            }
            out.push(')');
        }
        out.push('\n');
    }
    if status.peers.is_empty() {
        out.push_str("Peers:  none\n");
    } else {
        out.push_str("Peers:\n");
        let rows: Vec<[String; 4]> = status
            .peers
            .iter()
            .map(|p| {
                let eligible = match (p.eligible, &p.why_not) {
                    (true, _) => "eligible".to_string(),
                    (false, Some(why)) => format!("not eligible: {why}"),
                    (false, None) => "not eligible".to_string(),
                };
                let heard = match p.last_heard_seconds {
                    Some(s) => format!("heard {s:.1}s ago"),
                    None => "never heard".to_string(),
                };
                let mut config = match p.config_version {
                    Some(v) => format!("config {v}"),
                    None => "config ?".to_string(),
                };
                if p.secret_index > 0 {
                    // Only shown mid-rotation: the peer signs with a secret
                    // this node accepts but does not sign with.
                    config.push_str(&format!(", signs with secret {}", p.secret_index + 1));
                }
                [p.name.clone(), eligible, heard, config]
            })
            .collect();
        let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
        let (w0, w1, w2) = (width(0), width(1), width(2));
        for [name, eligible, heard, config] in &rows {
            let line = format!("  {name:<w0$}  {eligible:<w1$}  {heard:<w2$}  {config}");
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let digest = if status.digest.is_empty() {
        "?"
    } else {
        &status.digest
    };
    let origin = if status.config_origin.is_empty() {
        "file"
    } else {
        &status.config_origin
    };
    let origin = if origin == "file" {
        "from file".to_string()
    } else {
        origin.to_string()
    };
    let _ = writeln!(
        out,
        "Config: version {} {origin}, digest {digest}",
        status.version
    );
    out
}

/// `vippyctl watch`: one line per event, e.g.
/// `2026-05-01T12:00:00.250Z network.up node1 group=2 ips=10.8.3.195/24 interface=eth0`.
pub fn render_event(event: &Event) -> String {
    let mut out = format!("{} {}", format_time(event.time), event.kind);
    if !event.node.is_empty() {
        let _ = write!(out, " {}", event.node);
    }
    if let Some(group) = event.group {
        let _ = write!(out, " group={group}");
    }
    if let Some(ips) = &event.ips {
        let _ = write!(out, " ips={}", ips.join(","));
    }
    if let Some(interface) = &event.interface {
        let _ = write!(out, " interface={interface}");
    }
    if let Some(reason) = &event.reason {
        let _ = write!(out, " reason={}", quote(reason));
    }
    if let Some(detail) = &event.detail {
        let _ = write!(out, " detail={}", quote(detail));
    }
    if let Some(missed) = event.missed {
        let _ = write!(out, " missed={missed}");
        if event.kind == EventKind::Lagged {
            out.push_str(" (vippyctl fell behind; events were dropped)");
        }
    }
    out
}

/// Quotes a value only when it needs it, so simple ones stay readable.
fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@,".contains(c))
    {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

/// Unix seconds as RFC 3339 UTC with milliseconds; `-` for a time that is
/// negative, not finite or past the year 9999.
pub fn format_time(unix: f64) -> String {
    if !unix.is_finite() || unix < 0.0 {
        return "-".into();
    }
    match jiff::Timestamp::from_millisecond((unix * 1000.0).round() as i64) {
        Ok(time) => format!("{time:.3}"),
        Err(_) => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_rfc3339() {
        assert_eq!(format_time(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(951_782_400.5), "2000-02-29T00:00:00.500Z");
        assert_eq!(format_time(1_777_636_800.25), "2026-05-01T12:00:00.250Z");
    }

    #[test]
    fn status_names_each_conflict_with_its_mac() {
        let status = Status {
            active: true,
            conflicts: vec![crate::status::AddressConflict {
                ip: "198.51.100.100".into(),
                mac: "02:76:6c:00:00:fa".into(),
                interface: "eth0".into(),
                group: Some(0),
                how: "arp".into(),
                first_seen: 1_777_636_800.25,
                last_seen: 1_777_636_830.25,
                sightings: 3,
            }],
            ..Default::default()
        };
        let text = render_status(&status);
        assert!(
            text.contains("Conflict: 198.51.100.100 on eth0 also answered by 02:76:6c:00:00:fa (not a vippy node): seen 3 times, first 2026-05-01T12:00:00.250Z, last 2026-05-01T12:00:30.250Z\n"),
            "{text}"
        );
    }

    #[test]
    fn event_line_is_readable() {
        let mut event = Event::new(EventKind::IntentDown, "node1")
            .group(1)
            .ips(["10.8.99.147/24"])
            .reason("peer node2 preferred");
        event.time = 1_777_636_800.25;
        assert_eq!(
            render_event(&event),
            "2026-05-01T12:00:00.250Z intent.down node1 group=1 ips=10.8.99.147/24 reason=\"peer node2 preferred\""
        );
    }
}
