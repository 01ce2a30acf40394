//! vippyd's log output (docs/OPERATIONS.md, "Logging"): one tracing subscriber that writes to
//! the console, to syslog (`/dev/log`) or to journald, and filters with the
//! configuration's mask of syslog severities.
//!
//! # Severity
//! Each event gets one syslog severity. By default it follows the tracing
//! level, one step below syslog's order so that all eight severities stay
//! reachable:
//!
//! | tracing level | severity  | used for                                   |
//! |---------------|-----------|--------------------------------------------|
//! | `ERROR`       | `err`     | local failures                             |
//! | `WARN`        | `warning` | odd but handled (a retried netlink call)   |
//! | `INFO`        | `notice`  | state changes: group acquired, peer stale  |
//! | `DEBUG`       | `info`    | routine: heartbeats sent, reconcile passes |
//! | `TRACE`       | `debug`   | developer detail                           |
//!
//! An event may name its severity instead with a `severity` field holding a
//! syslog name, which is how `crit`, `alert` and `emerg` are reached:
//! `tracing::error!(severity = "crit", peer = %p, "config conflict")`. The
//! field is not printed.
//!
//! # Mask
//! The mask is a set, as in the original: an event is written when its
//! severity is in the set, whatever the other members. With the seed's mask
//! (`warning` and `info` off) errors and state changes are written, warnings
//! and routine lines are not. Events from other crates (their target does not
//! start with `vippy`) are written only at `WARN` and above, and then also
//! pass through the mask. `VIPPY_LOG` (or else `RUST_LOG`), when set, replaces
//! the mask with an `EnvFilter` directive such as `vippy=trace`, for
//! debugging.
//!
//! # Drivers
//! - console: one line per event on stderr: RFC 3339 UTC time, severity,
//!   message, `key=value` fields. When stderr is the journal
//!   (`JOURNAL_STREAM`), lines carry a `<N>` priority prefix instead of a
//!   time, which journald understands.
//! - syslog (the original's "posix"): RFC 3164 datagrams to `/dev/log`, as
//!   glibc's `syslog(3)` writes them: `<PRI>Mmm dd hh:mm:ss vippyd[PID]: …`.
//! - journald: the native protocol on `/run/systemd/journal/socket`, fields
//!   as journal fields (`NODE`, `GROUP`, `IP`, …).
//!
//! These two are written here rather than with tracing-journald and
//! syslog-tracing: the former has a fixed socket path and maps only the five
//! tracing levels, the latter goes through the process-wide `openlog(3)`;
//! neither can be pointed at a test socket. When the socket of the chosen
//! driver is missing, logging falls back to the console and
//! [`LogInit::warning`] says so; it never panics.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record as SpanRecord};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Id, Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::util::SubscriberInitExt;
use vippy_core::config::{Facility, LevelMask, LogDriver, Logging, Severity};

/// The event field that names a severity explicitly (`severity = "crit"`).
pub const SEVERITY_FIELD: &str = "severity";
/// `SYSLOG_IDENTIFIER` and the syslog tag.
pub const IDENT: &str = "vippyd";
/// Where syslog listens.
pub const DEV_LOG: &str = "/dev/log";
/// journald's native protocol socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Syslog datagrams longer than this are cut: rsyslog's default limit.
const SYSLOG_MAX: usize = 8192;
/// A journal field value longer than this is cut, which keeps every entry
/// in one datagram (no memfd needed for vippy's short lines).
const JOURNAL_VALUE_MAX: usize = 48 * 1024;

/// What [`init`] set up.
#[derive(Debug)]
pub struct LogInit {
    /// The driver in effect: the configured one, or console after a fallback.
    pub driver: LogDriver,
    /// To log once at startup: why the configured driver is not in effect,
    /// or that `VIPPY_LOG` could not be parsed.
    pub warning: Option<String>,
    /// Applies a new `logging` section on reload.
    pub handle: LogHandle,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot install the logger: {0}")]
    Install(String),
}

/// Where log output goes: the real places by default ([`Sinks::system`]),
/// others for tests.
#[derive(Clone)]
pub struct Sinks {
    pub console: Arc<Mutex<dyn Write + Send>>,
    pub console_style: ConsoleStyle,
    pub syslog_socket: PathBuf,
    pub journal_socket: PathBuf,
    /// An `EnvFilter` directive replacing the mask.
    pub filter_override: Option<String>,
}

/// How console lines start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleStyle {
    /// `2026-05-14T10:11:12.345678Z notice  …`
    Plain,
    /// `<5>…`: stderr is a journal stream, which adds the time itself
    /// (sd-daemon(3) priority prefixes).
    Journal,
}

impl Sinks {
    /// stderr, `/dev/log`, the journal socket, and `VIPPY_LOG` or `RUST_LOG`.
    pub fn system() -> Sinks {
        let filter_override = ["VIPPY_LOG", "RUST_LOG"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|v| !v.trim().is_empty());
        Sinks {
            console: Arc::new(Mutex::new(io::stderr())),
            console_style: ConsoleStyle::detect(),
            syslog_socket: PathBuf::from(DEV_LOG),
            journal_socket: PathBuf::from(JOURNAL_SOCKET),
            filter_override,
        }
    }

    /// Console output into `writer`, plain style; no override.
    pub fn with_console(writer: Arc<Mutex<dyn Write + Send>>) -> Sinks {
        Sinks {
            console: writer,
            console_style: ConsoleStyle::Plain,
            syslog_socket: PathBuf::from(DEV_LOG),
            journal_socket: PathBuf::from(JOURNAL_SOCKET),
            filter_override: None,
        }
    }
}

impl ConsoleStyle {
    /// Journal when `JOURNAL_STREAM` names the device and inode of stderr
    /// (systemd.exec(5)), else plain.
    pub fn detect() -> ConsoleStyle {
        use std::os::fd::AsFd;
        let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
            return ConsoleStyle::Plain;
        };
        let Ok(stat) = nix::sys::stat::fstat(io::stderr().as_fd()) else {
            return ConsoleStyle::Plain;
        };
        if stream == format!("{}:{}", stat.st_dev, stat.st_ino) {
            ConsoleStyle::Journal
        } else {
            ConsoleStyle::Plain
        }
    }
}

/// Installs the global subscriber for vippyd, writing to the real places.
pub fn init(logging: &Logging, node: &str) -> Result<LogInit, LogError> {
    init_with(logging, node, Sinks::system())
}

/// [`init`] with other sinks.
pub fn init_with(logging: &Logging, node: &str, sinks: Sinks) -> Result<LogInit, LogError> {
    let (dispatch, init) = dispatch(logging, node, sinks);
    dispatch
        .try_init()
        .map_err(|e| LogError::Install(e.to_string()))?;
    Ok(init)
}

/// The subscriber without installing it, for `tracing::dispatcher::with_default`.
pub fn dispatch(logging: &Logging, node: &str, sinks: Sinks) -> (Dispatch, LogInit) {
    let (sink, driver, mut warning) = open_sink(logging, &sinks);
    let env_filter = match &sinks.filter_override {
        None => None,
        Some(directive) => match EnvFilter::try_new(directive) {
            Ok(filter) => Some(filter),
            Err(e) => {
                let w = format!(
                    "VIPPY_LOG/RUST_LOG \"{directive}\" is not a filter ({e}); using logging.mask"
                );
                warning = Some(join_warnings(warning, w));
                None
            }
        },
    };
    let shared = Arc::new(Shared {
        mask: AtomicU8::new(mask_bits(logging.mask)),
        mask_in_use: env_filter.is_none(),
        sink: Mutex::new(sink),
        sinks,
    });
    let layer = SinkLayer {
        shared: shared.clone(),
        node: node.to_string(),
    };
    let dispatch = match env_filter {
        Some(filter) => Dispatch::new(Registry::default().with(filter).with(layer)),
        None => Dispatch::new(Registry::default().with(layer)),
    };
    let init = LogInit {
        driver,
        warning,
        handle: LogHandle(shared),
    };
    (dispatch, init)
}

/// Changes the driver, facility and mask of the installed subscriber.
#[derive(Clone)]
pub struct LogHandle(Arc<Shared>);

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle").finish_non_exhaustive()
    }
}

impl LogHandle {
    /// Applies `logging` (on SIGHUP). Returns the driver now in effect and
    /// a warning when it had to fall back to the console.
    pub fn reconfigure(&self, logging: &Logging) -> (LogDriver, Option<String>) {
        let (sink, driver, warning) = open_sink(logging, &self.0.sinks);
        *lock(&self.0.sink) = sink;
        self.0
            .mask
            .store(mask_bits(logging.mask), Ordering::Relaxed);
        (driver, warning)
    }
}

/// The severity of an event at `level`, or the one its `severity` field
/// names. See the module documentation for the table.
pub fn severity(level: &Level, named: Option<&str>) -> Severity {
    if let Some(s) = named.and_then(Severity::from_name) {
        return s;
    }
    match *level {
        Level::ERROR => Severity::Err,
        Level::WARN => Severity::Warning,
        Level::INFO => Severity::Notice,
        Level::DEBUG => Severity::Info,
        Level::TRACE => Severity::Debug,
    }
}

fn join_warnings(first: Option<String>, second: String) -> String {
    match first {
        Some(first) => format!("{first}; {second}"),
        None => second,
    }
}

fn mask_bits(mask: LevelMask) -> u8 {
    Severity::ALL
        .iter()
        .filter(|s| mask.contains(**s))
        .fold(0, |bits, s| bits | 1 << *s as u8)
}

/// A poisoned lock still holds a usable writer or socket: logging goes on.
fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Shared {
    /// Bit `s as u8` set when severity `s` is written.
    mask: AtomicU8,
    /// False when an `EnvFilter` decides instead.
    mask_in_use: bool,
    sink: Mutex<Sink>,
    sinks: Sinks,
}

enum Sink {
    Console {
        out: Arc<Mutex<dyn Write + Send>>,
        style: ConsoleStyle,
    },
    Syslog {
        socket: Datagram,
        facility: Facility,
        fallback: Arc<Mutex<dyn Write + Send>>,
    },
    Journald {
        socket: Datagram,
        facility: Facility,
        fallback: Arc<Mutex<dyn Write + Send>>,
    },
}

/// Opens the driver's socket, or falls back to the console with a warning.
fn open_sink(logging: &Logging, sinks: &Sinks) -> (Sink, LogDriver, Option<String>) {
    let console = || Sink::Console {
        out: sinks.console.clone(),
        style: sinks.console_style,
    };
    let path = match logging.driver {
        LogDriver::Console => return (console(), LogDriver::Console, None),
        LogDriver::Syslog => &sinks.syslog_socket,
        LogDriver::Journald => &sinks.journal_socket,
    };
    match Datagram::connect(path) {
        Ok(socket) => {
            let fallback = sinks.console.clone();
            let sink = match logging.driver {
                LogDriver::Syslog => Sink::Syslog {
                    socket,
                    facility: logging.facility,
                    fallback,
                },
                _ => Sink::Journald {
                    socket,
                    facility: logging.facility,
                    fallback,
                },
            };
            (sink, logging.driver, None)
        }
        Err(e) => {
            let warning = format!(
                "logging driver {} is unavailable ({}: {e}); logging to the console (stderr) instead",
                logging.driver.name(),
                path.display()
            );
            (console(), LogDriver::Console, Some(warning))
        }
    }
}

/// A unix datagram socket connected to a log daemon, reconnected once when
/// a send fails (the daemon restarted and its socket is a new one).
struct Datagram {
    path: PathBuf,
    socket: UnixDatagram,
}

impl Datagram {
    fn connect(path: &Path) -> io::Result<Datagram> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        Ok(Datagram {
            path: path.to_path_buf(),
            socket,
        })
    }

    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        if self.socket.send(payload).is_ok() {
            return Ok(());
        }
        *self = Datagram::connect(&self.path)?;
        self.socket.send(payload).map(drop)
    }
}

/// One field of an event or span, as text.
struct FieldValue {
    name: &'static str,
    value: String,
    /// Recorded as a string: shown quoted when it has spaces or quotes.
    is_str: bool,
}

/// An event, ready to format.
struct Entry<'a> {
    severity: Severity,
    target: &'a str,
    file: Option<&'a str>,
    line: Option<u32>,
    message: String,
    /// Event fields, then span fields (root first), then `node`.
    fields: Vec<FieldValue>,
}

#[derive(Default)]
struct FieldVisitor {
    message: String,
    severity: Option<String>,
    fields: Vec<FieldValue>,
}

impl Visit for FieldVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            SEVERITY_FIELD => self.severity = Some(value.to_string()),
            name => self.fields.push(FieldValue {
                name,
                value: value.to_string(),
                is_str: true,
            }),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            // `format_args!`: its Debug is its Display.
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            SEVERITY_FIELD => self.severity = Some(format!("{value:?}")),
            name => self.fields.push(FieldValue {
                name,
                value: format!("{value:?}"),
                is_str: false,
            }),
        }
    }
}

/// Fields of a span, kept in its extensions for the events inside it.
struct SpanFields(Vec<FieldValue>);

struct SinkLayer {
    shared: Arc<Shared>,
    node: String,
}

fn is_vippy(target: &str) -> bool {
    target.starts_with("vippy")
}

impl SinkLayer {
    fn mask_allows(&self, severity: Severity) -> bool {
        !self.shared.mask_in_use
            || self.shared.mask.load(Ordering::Relaxed) & (1 << severity as u8) != 0
    }
}

impl<S> Layer<S> for SinkLayer
where
    S: Subscriber + for<'l> LookupSpan<'l>,
{
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The mask can change on reload, so nothing is cached.
        Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        if !meta.is_event() || !self.shared.mask_in_use {
            return true;
        }
        if !is_vippy(meta.target()) && *meta.level() > Level::WARN {
            return false;
        }
        // A `severity` field may name any severity: decided per event.
        meta.fields().field(SEVERITY_FIELD).is_some()
            || self.mask_allows(severity(meta.level(), None))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = FieldVisitor::default();
        attrs.record(&mut visitor);
        span.extensions_mut().insert(SpanFields(visitor.fields));
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = FieldVisitor::default();
        values.record(&mut visitor);
        let mut ext = span.extensions_mut();
        if let Some(fields) = ext.get_mut::<SpanFields>() {
            for new in visitor.fields {
                fields.0.retain(|f| f.name != new.name);
                fields.0.push(new);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        let severity = severity(meta.level(), visitor.severity.as_deref());
        if !self.mask_allows(severity) {
            return;
        }
        let mut fields = visitor.fields;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    for f in &span_fields.0 {
                        if !fields.iter().any(|have| have.name == f.name) {
                            fields.push(FieldValue {
                                name: f.name,
                                value: f.value.clone(),
                                is_str: f.is_str,
                            });
                        }
                    }
                }
            }
        }
        // `node` is this node; events about another node say `peer`.
        if !fields.iter().any(|f| f.name == "node") {
            fields.push(FieldValue {
                name: "node",
                value: self.node.clone(),
                is_str: true,
            });
        }
        let entry = Entry {
            severity,
            target: meta.target(),
            file: meta.file(),
            line: meta.line(),
            message: visitor.message,
            fields,
        };
        lock(&self.shared.sink).write(&entry);
    }
}

impl Sink {
    fn write(&mut self, entry: &Entry<'_>) {
        match self {
            Sink::Console { out, style } => {
                let line = console_line(entry, *style);
                let _ = lock(out).write_all(line.as_bytes());
            }
            Sink::Syslog {
                socket,
                facility,
                fallback,
            } => {
                let datagram = syslog_datagram(entry, *facility, &local_timestamp());
                if socket.send(datagram.as_bytes()).is_err() {
                    let line = console_line(entry, ConsoleStyle::Plain);
                    let _ = lock(fallback).write_all(line.as_bytes());
                }
            }
            Sink::Journald {
                socket,
                facility,
                fallback,
            } => {
                let payload = journal_payload(entry, *facility);
                if socket.send(&payload).is_err() {
                    let line = console_line(entry, ConsoleStyle::Plain);
                    let _ = lock(fallback).write_all(line.as_bytes());
                }
            }
        }
    }
}

/// Message and ` key=value` fields on one line.
fn text(entry: &Entry<'_>) -> String {
    let mut out = one_line(&entry.message);
    if !is_vippy(entry.target) {
        let _ = write!(out, " target={}", entry.target);
    }
    for f in &entry.fields {
        let plain = !f.value.is_empty()
            && !f
                .value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=');
        if f.is_str && !plain {
            let _ = write!(out, " {}={:?}", f.name, f.value);
        } else {
            let _ = write!(out, " {}={}", f.name, one_line(&f.value));
        }
    }
    out
}

/// Control characters would split a line: shown escaped instead.
fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn console_line(entry: &Entry<'_>, style: ConsoleStyle) -> String {
    match style {
        ConsoleStyle::Plain => {
            let mut time = String::new();
            let _ = SystemTime.format_time(&mut Writer::new(&mut time));
            format!("{time} {:<7} {}\n", entry.severity.name(), text(entry))
        }
        ConsoleStyle::Journal => format!("<{}>{}\n", entry.severity as u8, text(entry)),
    }
}

/// `<PRI>Mmm dd hh:mm:ss vippyd[PID]: text` (RFC 3164 §4.1, as glibc's
/// `syslog(3)` sends it), at most [`SYSLOG_MAX`] bytes.
fn syslog_datagram(entry: &Entry<'_>, facility: Facility, timestamp: &str) -> String {
    let pri = u32::from(facility.code()) * 8 + entry.severity as u32;
    let mut out = format!(
        "<{pri}>{timestamp} {IDENT}[{}]: {}",
        std::process::id(),
        text(entry)
    );
    truncate(&mut out, SYSLOG_MAX);
    out
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `Mmm dd hh:mm:ss` in local time, day padded with a space (RFC 3164 §4.1.2).
/// Local time is `TZ` or else `/etc/localtime`, as for `localtime(3)`; UTC when
/// neither can be read.
fn local_timestamp() -> String {
    rfc3164_time(&jiff::ZonedDateTime::now())
}

fn rfc3164_time(time: &jiff::ZonedDateTime) -> String {
    time.strftime("%b %e %H:%M:%S").to_string()
}

/// Journal fields vippy sets itself; an event field of the same name is
/// sent as `FIELD_<NAME>` instead.
const JOURNAL_OWN: &[&str] = &[
    "MESSAGE",
    "PRIORITY",
    "SYSLOG_IDENTIFIER",
    "SYSLOG_FACILITY",
    "SYSLOG_PID",
    "TARGET",
    "CODE_FILE",
    "CODE_LINE",
];

/// The journal's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL).
fn journal_payload(entry: &Entry<'_>, facility: Facility) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    put_journal_field(&mut out, "MESSAGE", &entry.message);
    put_journal_field(&mut out, "PRIORITY", &(entry.severity as u8).to_string());
    put_journal_field(&mut out, "SYSLOG_IDENTIFIER", IDENT);
    put_journal_field(&mut out, "SYSLOG_FACILITY", &facility.code().to_string());
    put_journal_field(&mut out, "SYSLOG_PID", &std::process::id().to_string());
    put_journal_field(&mut out, "TARGET", entry.target);
    if let Some(file) = entry.file {
        put_journal_field(&mut out, "CODE_FILE", file);
    }
    if let Some(line) = entry.line {
        put_journal_field(&mut out, "CODE_LINE", &line.to_string());
    }
    for f in &entry.fields {
        let mut name = journal_field_name(f.name);
        if JOURNAL_OWN.contains(&name.as_str()) {
            name = format!("FIELD_{name}");
        }
        put_journal_field(&mut out, &name, &f.value);
    }
    out
}

/// Upper case letters, digits and `_`, not starting with `_` or a digit,
/// at most 64 bytes (journal-fields(7)).
fn journal_field_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches(|c: char| c == '_' || c.is_ascii_digit())
        .to_string();
    if out.is_empty() {
        out = "FIELD".to_string();
    }
    out.truncate(64);
    out
}

fn put_journal_field(out: &mut Vec<u8>, name: &str, value: &str) {
    let mut value = value.to_string();
    truncate(&mut value, JOURNAL_VALUE_MAX);
    out.extend_from_slice(name.as_bytes());
    if value.contains('\n') {
        // Binary-safe form: name, newline, little-endian length, value.
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(message: &str, fields: Vec<(&'static str, &str, bool)>) -> Entry<'static> {
        Entry {
            severity: Severity::Notice,
            target: "vippy::runtime",
            file: Some("src/runtime.rs"),
            line: Some(7),
            message: message.to_string(),
            fields: fields
                .into_iter()
                .map(|(name, value, is_str)| FieldValue {
                    name,
                    value: value.to_string(),
                    is_str,
                })
                .collect(),
        }
    }

    #[test]
    fn default_severities_follow_levels() {
        assert_eq!(severity(&Level::ERROR, None), Severity::Err);
        assert_eq!(severity(&Level::WARN, None), Severity::Warning);
        assert_eq!(severity(&Level::INFO, None), Severity::Notice);
        assert_eq!(severity(&Level::DEBUG, None), Severity::Info);
        assert_eq!(severity(&Level::TRACE, None), Severity::Debug);
        assert_eq!(severity(&Level::ERROR, Some("crit")), Severity::Crit);
        assert_eq!(severity(&Level::ERROR, Some("nonsense")), Severity::Err);
    }

    #[test]
    fn text_quotes_strings_with_spaces_only() {
        let e = entry(
            "drained",
            vec![("reason", "kernel upgrade", true), ("group", "3", false)],
        );
        assert_eq!(text(&e), "drained reason=\"kernel upgrade\" group=3");
        let e = entry("a\nb", vec![("empty", "", true)]);
        assert_eq!(text(&e), "a\\nb empty=\"\"");
    }

    #[test]
    fn syslog_datagram_has_pri_tag_and_pid() {
        let e = entry("up", vec![("ip", "198.51.100.10/24", false)]);
        let d = syslog_datagram(&e, Facility::Local(7), "May  4 10:11:12");
        // local7 = 23; 23 * 8 + notice (5) = 189.
        let want = format!(
            "<189>May  4 10:11:12 vippyd[{}]: up ip=198.51.100.10/24",
            std::process::id()
        );
        assert_eq!(d, want);
    }

    #[test]
    fn journal_names_are_sanitised() {
        assert_eq!(journal_field_name("group"), "GROUP");
        assert_eq!(journal_field_name("_x.y-z"), "X_Y_Z");
        assert_eq!(journal_field_name("9lives"), "LIVES");
        assert_eq!(journal_field_name("__"), "FIELD");
    }

    #[test]
    fn journal_multiline_values_use_the_length_form() {
        let mut out = Vec::new();
        put_journal_field(&mut out, "MESSAGE", "a\nb");
        let mut want = b"MESSAGE\n".to_vec();
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(b"a\nb\n");
        assert_eq!(out, want);
    }

    #[test]
    fn own_journal_fields_are_not_overwritten() {
        let e = entry("m", vec![("priority", "high", true)]);
        let p = String::from_utf8(journal_payload(&e, Facility::Daemon)).unwrap();
        assert!(p.contains("PRIORITY=5\n"), "{p}");
        assert!(p.contains("FIELD_PRIORITY=high\n"), "{p}");
    }

    #[test]
    fn local_timestamp_has_the_rfc3164_shape() {
        let t = local_timestamp();
        assert_eq!(t.len(), 15, "{t}");
        assert_eq!(&t[3..4], " ");
        assert_eq!(&t[9..10], ":");
    }

    #[test]
    fn rfc3164_time_pads_the_day_with_a_space() {
        let at = |s: &str| s.parse::<jiff::ZonedDateTime>().unwrap();
        assert_eq!(
            rfc3164_time(&at("2026-03-05T07:08:09+01:00[+01:00]")),
            "Mar  5 07:08:09"
        );
        assert_eq!(
            rfc3164_time(&at("2025-12-31T23:59:59-05:00[-05:00]")),
            "Dec 31 23:59:59"
        );
    }
}
