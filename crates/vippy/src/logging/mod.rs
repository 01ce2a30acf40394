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
//! [`LogInit::warning`] says so; it never panics. `VIPPY_SYSLOG_SOCKET` and
//! `VIPPY_JOURNAL_SOCKET` name other sockets (for tests and containers).
//!
//! # Never waiting on the sink
//! Whoever logs only queues the line; a thread of its own writes it
//! ([`queue`]), so a log daemon that stops reading cannot stop the core
//! loop. A full queue drops lines and counts them ([`dropped_total`]).
//!
//! - `layer.rs`: the tracing layer, events into entries.
//! - `format.rs`: the console line, the syslog datagram, the journal payload.
//! - `drivers.rs`: the console and the two sockets.
//! - `queue.rs`: the bounded queue and the writer thread.

mod drivers;
mod format;
mod layer;
mod queue;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::{Dispatch, Level};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt;
use vippy_core::config::{LevelMask, LogDriver, Logging, Severity};

pub use queue::{QUEUE_LINES, dropped_total};

/// The event field that names a severity explicitly (`severity = "crit"`).
pub const SEVERITY_FIELD: &str = "severity";
/// `SYSLOG_IDENTIFIER` and the syslog tag.
pub const IDENT: &str = "vippyd";
/// Where syslog listens.
pub const DEV_LOG: &str = "/dev/log";
/// journald's native protocol socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// Names another syslog socket than [`DEV_LOG`].
pub const SYSLOG_SOCKET_ENV: &str = "VIPPY_SYSLOG_SOCKET";
/// Names another journald socket than [`JOURNAL_SOCKET`].
pub const JOURNAL_SOCKET_ENV: &str = "VIPPY_JOURNAL_SOCKET";

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
    /// `VIPPY_SYSLOG_SOCKET` and `VIPPY_JOURNAL_SOCKET` replace the sockets'
    /// paths when set.
    pub fn system() -> Sinks {
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let filter_override = ["VIPPY_LOG", "RUST_LOG"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|v| !v.trim().is_empty());
        Sinks {
            console: Arc::new(Mutex::new(io::stderr())),
            console_style: ConsoleStyle::detect(),
            syslog_socket: set(SYSLOG_SOCKET_ENV).map_or_else(|| DEV_LOG.into(), PathBuf::from),
            journal_socket: set(JOURNAL_SOCKET_ENV)
                .map_or_else(|| JOURNAL_SOCKET.into(), PathBuf::from),
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
    let (sink, driver, mut warning) = drivers::open_sink(logging, &sinks);
    let (queue, thread_warning) = queue::Queue::start(sink);
    if let Some(w) = thread_warning {
        warning = Some(join_warnings(warning, w));
    }
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
        queue,
        sinks,
    });
    let layer = layer::SinkLayer {
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
        let (sink, driver, warning) = drivers::open_sink(logging, &self.0.sinks);
        self.0.queue.set_sink(sink);
        self.0
            .mask
            .store(mask_bits(logging.mask), Ordering::Relaxed);
        (driver, warning)
    }

    /// Waits until the lines logged so far are written, at most `timeout`
    /// (at exit, and in tests); false when the sink held the writer longer.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.0.queue.flush(timeout)
    }

    /// Lines this logger dropped because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.0.queue.dropped()
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
    queue: queue::Queue,
    sinks: Sinks,
}

fn is_vippy(target: &str) -> bool {
    target.starts_with("vippy")
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
