//! `logging::init` installs the global subscriber once, never panics, and
//! falls back to the console where the log daemons' sockets are missing (as
//! on the machines that build vippy).

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use support::logging::*;
use vippy::logging::{self, JOURNAL_SOCKET, LogError, Sinks};
use vippy_core::config::{Facility, LevelMask, LogDriver};

// One test: the global subscriber can be set once per process.
#[test]
fn init_installs_once_and_falls_back_without_journald() {
    let out = Captured::default();
    let dir = TempDir::new("init");
    let mut s = Sinks::with_console(Arc::new(Mutex::new(out.clone())));
    s.journal_socket = dir.path.join("no-journal");
    let config = logging(
        LogDriver::Journald,
        Facility::Daemon,
        LevelMask::default_mask(),
    );
    let init = logging::init_with(&config, "node1", s).expect("first install");
    assert_eq!(init.driver, LogDriver::Console);
    let warning = init.warning.clone().expect("fallback warning");
    assert!(warning.contains("no-journal"), "{warning}");

    tracing::info!(target: T, "through the global logger");
    written(&init);
    assert!(
        out.text()
            .contains("notice  through the global logger node=node1")
    );

    // The real paths: a second install is an error, not a panic, whatever
    // this machine has.
    match logging::init(&config, "node1") {
        Err(LogError::Install(_)) => {}
        Ok(_) => panic!("a second global logger was installed"),
    }
    if !Path::new(JOURNAL_SOCKET).exists() {
        let (_, init) = logging::dispatch(&config, "node1", Sinks::system());
        assert_eq!(init.driver, LogDriver::Console);
        assert!(init.warning.unwrap().contains(JOURNAL_SOCKET));
    }
}
