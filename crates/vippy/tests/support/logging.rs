//! Shared by the `logging_*` tests: configs, captured console output, and
//! sockets standing in for `/dev/log` and journald.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vippy::logging::{self, LogInit, Sinks};
use vippy_core::config::{Facility, LevelMask, LogDriver, Logging, Severity};

/// Events logged as vippy's own: the test crate's target would count as
/// another crate's.
pub const T: &str = "vippy::test";

pub fn logging(driver: LogDriver, facility: Facility, mask: LevelMask) -> Logging {
    Logging {
        driver,
        facility,
        mask,
    }
}

pub fn mask(on: &[Severity]) -> LevelMask {
    let mut mask = LevelMask::none();
    for s in on {
        mask.set(*s, true);
    }
    mask
}

/// The seed README's `logging` section, loaded from the fixture verbatim.
pub fn seed_logging() -> Logging {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vippy-core/tests/fixtures/original-readme.conf"
    );
    let text = std::fs::read_to_string(path).expect("seed fixture");
    vippy_core::config::load(&text, path)
        .expect("seed loads")
        .logging
}

/// A console writer whose output the test can read.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(String::from).collect()
    }
}

/// Sinks with console output captured and both sockets in `dir`.
pub fn sinks(captured: &Captured, dir: &TempDir) -> Sinks {
    let mut sinks = Sinks::with_console(Arc::new(Mutex::new(captured.clone())));
    sinks.syslog_socket = dir.path.join("log");
    sinks.journal_socket = dir.path.join("journal");
    sinks
}

/// Runs `f` with the subscriber for `logging` as the thread's default;
/// returns once its lines are written (the log writer is a thread).
pub fn with_logger<R>(
    logging: &Logging,
    sinks: Sinks,
    f: impl FnOnce(&LogInit) -> R,
) -> (LogInit, R) {
    let (dispatch, init) = logging::dispatch(logging, "node1", sinks);
    let r = tracing::dispatcher::with_default(&dispatch, || f(&init));
    written(&init);
    (init, r)
}

/// Waits for the log writer to write what was logged so far.
pub fn written(init: &LogInit) {
    assert!(
        init.handle.flush(Duration::from_secs(10)),
        "the log writer did not catch up"
    );
}

/// A directory removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "vippy-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A datagram socket standing in for a log daemon at `dir/name`.
pub fn listen(dir: &TempDir, name: &str) -> UnixDatagram {
    let socket = UnixDatagram::bind(dir.path.join(name)).expect("bind log socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

pub fn recv(socket: &UnixDatagram) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    let n = socket.recv(&mut buf).expect("a datagram");
    buf.truncate(n);
    buf
}

/// Nothing more arrives (short wait).
pub fn recv_none(socket: &UnixDatagram) {
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(socket.recv(&mut buf).is_err(), "unexpected datagram");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
}
