//! The syslog driver ("posix" in the original): RFC 3164 datagrams to a
//! socket standing in for `/dev/log`.

mod support;

use support::logging::*;
use tracing::{debug, error, info, warn};
use vippy_core::config::{Facility, LevelMask, LogDriver, Severity};

fn syslog(facility: Facility, mask: LevelMask) -> vippy_core::config::Logging {
    logging(LogDriver::Syslog, facility, mask)
}

/// `<PRI>Mmm dd hh:mm:ss vippyd[PID]: ` and the rest.
fn split_header(datagram: &[u8]) -> (u32, String) {
    let text = String::from_utf8(datagram.to_vec()).unwrap();
    let (pri, rest) = text
        .strip_prefix('<')
        .and_then(|t| t.split_once('>'))
        .unwrap_or_else(|| panic!("no PRI: {text}"));
    let stamp = &rest[..15];
    let b = stamp.as_bytes();
    assert!(
        b[0].is_ascii_uppercase() && b[1].is_ascii_lowercase(),
        "{stamp}"
    );
    assert_eq!(
        (b[3], b[6], b[9], b[12]),
        (b' ', b' ', b':', b':'),
        "{stamp}"
    );
    let tag = format!(" vippyd[{}]: ", std::process::id());
    let body = rest[15..]
        .strip_prefix(&tag)
        .unwrap_or_else(|| panic!("no tag: {text}"));
    (pri.parse().unwrap(), body.to_string())
}

#[test]
fn local7_notice_has_pri_189_and_the_glibc_shape() {
    let dir = TempDir::new("syslog");
    let daemon = listen(&dir, "log");
    let out = Captured::default();
    let (init, ()) = with_logger(
        &syslog(Facility::Local(7), LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| info!(target: T, group = 3, ip = %"198.51.100.10/24", "group acquired"),
    );
    assert_eq!(init.driver, LogDriver::Syslog);
    assert!(init.warning.is_none());
    let (pri, body) = split_header(&recv(&daemon));
    // local7 is 23: 23 * 8 + notice (5).
    assert_eq!(pri, 189);
    assert_eq!(
        body,
        "group acquired group=3 ip=198.51.100.10/24 node=node1"
    );
    assert!(out.text().is_empty(), "nothing on the console");
}

#[test]
fn every_severity_gets_its_own_pri() {
    let dir = TempDir::new("syslog");
    let daemon = listen(&dir, "log");
    let out = Captured::default();
    with_logger(
        &syslog(Facility::Daemon, mask(&Severity::ALL)),
        sinks(&out, &dir),
        |_| {
            error!(target: T, severity = "emerg", "m");
            error!(target: T, severity = "alert", "m");
            error!(target: T, severity = "crit", "m");
            error!(target: T, "m");
            warn!(target: T, "m");
            info!(target: T, "m");
            debug!(target: T, "m");
            tracing::trace!(target: T, "m");
        },
    );
    let pris: Vec<u32> = (0..8).map(|_| split_header(&recv(&daemon)).0).collect();
    // daemon is 3: 24 + severity 0..7.
    assert_eq!(pris, [24, 25, 26, 27, 28, 29, 30, 31]);
}

#[test]
fn the_mask_applies_to_syslog_too() {
    let dir = TempDir::new("syslog");
    let daemon = listen(&dir, "log");
    let out = Captured::default();
    let mut seed = seed_logging();
    seed.driver = LogDriver::Syslog;
    with_logger(&seed, sinks(&out, &dir), |_| {
        warn!(target: T, "hidden");
        info!(target: T, "shown");
    });
    let (pri, body) = split_header(&recv(&daemon));
    assert_eq!(pri, 189, "the seed's facility is local7");
    assert_eq!(body, "shown node=node1");
    recv_none(&daemon);
}

#[test]
fn a_missing_dev_log_falls_back_to_the_console_with_a_warning() {
    let dir = TempDir::new("syslog");
    let out = Captured::default();
    let (init, ()) = with_logger(
        &syslog(Facility::Local(7), LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| info!(target: T, "still logged"),
    );
    assert_eq!(init.driver, LogDriver::Console);
    let warning = init.warning.expect("a warning");
    assert!(warning.contains("syslog"), "{warning}");
    assert!(
        warning.contains(&dir.path.join("log").display().to_string()),
        "{warning}"
    );
    assert!(
        out.text().contains("notice  still logged node=node1"),
        "{}",
        out.text()
    );
}

#[test]
fn a_restarted_syslog_daemon_is_found_again() {
    let dir = TempDir::new("syslog");
    let daemon = listen(&dir, "log");
    let out = Captured::default();
    let (dispatch, init) = vippy::logging::dispatch(
        &syslog(Facility::User, LevelMask::default_mask()),
        "node1",
        sinks(&out, &dir),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        info!(target: T, "one");
        assert_eq!(split_header(&recv(&daemon)).1, "one node=node1");

        // The daemon goes away: the line goes to the console instead.
        drop(daemon);
        std::fs::remove_file(dir.path.join("log")).unwrap();
        info!(target: T, "two");
        written(&init);
        assert!(
            out.text().contains("notice  two node=node1"),
            "{}",
            out.text()
        );

        // A new daemon on the same path gets the next line.
        let daemon = listen(&dir, "log");
        info!(target: T, "three");
        assert_eq!(split_header(&recv(&daemon)).1, "three node=node1");
    });
}

#[test]
fn long_lines_are_cut_at_8_kib() {
    let dir = TempDir::new("syslog");
    let daemon = listen(&dir, "log");
    let out = Captured::default();
    let long = "x".repeat(20_000);
    with_logger(
        &syslog(Facility::Daemon, LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| info!(target: T, "{long}"),
    );
    assert_eq!(recv(&daemon).len(), 8192);
}
