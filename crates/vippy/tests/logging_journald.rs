//! The journald driver: the native protocol to a socket standing in for
//! `/run/systemd/journal/socket`.

mod support;

use std::collections::BTreeMap;

use support::logging::*;
use tracing::{error, info, warn};
use vippy_core::config::{Facility, LevelMask, LogDriver};

fn journald(facility: Facility, mask: LevelMask) -> vippy_core::config::Logging {
    logging(LogDriver::Journald, facility, mask)
}

/// Parses a native-protocol datagram: `NAME=value\n`, or `NAME\n`, a
/// little-endian u64 length, the value and `\n`.
fn parse(mut data: &[u8]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    while !data.is_empty() {
        let nl = data.iter().position(|&b| b == b'\n').expect("newline");
        let line = &data[..nl];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            let name = String::from_utf8(line[..eq].to_vec()).unwrap();
            let value = String::from_utf8(line[eq + 1..].to_vec()).unwrap();
            fields.insert(name, value);
            data = &data[nl + 1..];
        } else {
            let name = String::from_utf8(line.to_vec()).unwrap();
            let rest = &data[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            let value = String::from_utf8(rest[8..8 + len].to_vec()).unwrap();
            assert_eq!(rest[8 + len], b'\n');
            fields.insert(name, value);
            data = &rest[8 + len + 1..];
        }
    }
    fields
}

#[test]
fn fields_become_journal_fields() {
    let dir = TempDir::new("journal");
    let journal = listen(&dir, "journal");
    let out = Captured::default();
    let (init, ()) = with_logger(
        &journald(Facility::Local(7), LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| info!(target: T, group = 3, ip = %"198.51.100.10/24", "group acquired"),
    );
    assert_eq!(init.driver, LogDriver::Journald);
    assert!(init.warning.is_none());
    let f = parse(&recv(&journal));
    assert_eq!(f["MESSAGE"], "group acquired");
    assert_eq!(f["PRIORITY"], "5");
    assert_eq!(f["SYSLOG_FACILITY"], "23");
    assert_eq!(f["SYSLOG_IDENTIFIER"], "vippyd");
    assert_eq!(f["SYSLOG_PID"], std::process::id().to_string());
    assert_eq!(f["TARGET"], "vippy::test");
    assert_eq!(f["NODE"], "node1");
    assert_eq!(f["GROUP"], "3");
    assert_eq!(f["IP"], "198.51.100.10/24");
    assert!(f["CODE_FILE"].ends_with("logging_journald.rs"));
    assert!(f["CODE_LINE"].parse::<u32>().is_ok());
    assert!(!f.contains_key("SEVERITY"));
    assert!(out.text().is_empty());
}

#[test]
fn named_severities_set_the_priority_and_multiline_values_survive() {
    let dir = TempDir::new("journal");
    let journal = listen(&dir, "journal");
    let out = Captured::default();
    with_logger(
        &journald(Facility::Daemon, LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| {
            error!(target: T, severity = "crit", peer = "node2", "config conflict");
            warn!(target: T, output = "line1\nline2", "hook failed\nbadly");
        },
    );
    let f = parse(&recv(&journal));
    assert_eq!(f["PRIORITY"], "2");
    assert_eq!(f["PEER"], "node2");
    let f = parse(&recv(&journal));
    assert_eq!(f["PRIORITY"], "4");
    assert_eq!(f["MESSAGE"], "hook failed\nbadly");
    assert_eq!(f["OUTPUT"], "line1\nline2");
}

#[test]
fn the_mask_applies_to_journald_too() {
    let dir = TempDir::new("journal");
    let journal = listen(&dir, "journal");
    let out = Captured::default();
    let mut seed = seed_logging();
    seed.driver = LogDriver::Journald;
    with_logger(&seed, sinks(&out, &dir), |_| {
        warn!(target: T, "hidden");
        error!(target: T, "shown");
    });
    assert_eq!(parse(&recv(&journal))["MESSAGE"], "shown");
    recv_none(&journal);
}

#[test]
fn a_missing_journal_falls_back_to_the_console_with_a_warning() {
    let dir = TempDir::new("journal");
    let out = Captured::default();
    let (init, ()) = with_logger(
        &journald(Facility::Daemon, LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| info!(target: T, "still logged"),
    );
    assert_eq!(init.driver, LogDriver::Console);
    let warning = init.warning.expect("a warning");
    assert!(warning.contains("journald"), "{warning}");
    assert!(out.text().contains("still logged"));
}

#[test]
fn reconfigure_moves_from_console_to_journald() {
    let dir = TempDir::new("journal");
    let journal = listen(&dir, "journal");
    let out = Captured::default();
    let (dispatch, init) = vippy::logging::dispatch(
        &logging(
            LogDriver::Console,
            Facility::Daemon,
            LevelMask::default_mask(),
        ),
        "node1",
        sinks(&out, &dir),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        info!(target: T, "on the console");
        let (driver, warning) = init
            .handle
            .reconfigure(&journald(Facility::Daemon, LevelMask::default_mask()));
        assert_eq!((driver, warning), (LogDriver::Journald, None));
        info!(target: T, "in the journal");
    });
    written(&init);
    assert_eq!(out.lines().len(), 1);
    assert_eq!(parse(&recv(&journal))["MESSAGE"], "in the journal");
}
