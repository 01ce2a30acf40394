//! The console driver and the mask: what reaches stderr, and how.

mod support;

use support::logging::*;
use tracing::{Level, debug, error, info, span, trace, warn};
use vippy::logging::ConsoleStyle;
use vippy_core::config::{Facility, LevelMask, LogDriver, Severity};

fn console(mask: LevelMask) -> vippy_core::config::Logging {
    logging(LogDriver::Console, Facility::Daemon, mask)
}

/// `2026-05-14T10:11:12.345678Z` — the shape, not the time.
fn assert_rfc3339_utc(stamp: &str) {
    let b = stamp.as_bytes();
    assert!(stamp.len() >= 20 && stamp.ends_with('Z'), "{stamp}");
    assert_eq!(
        (b[4], b[7], b[10], b[13], b[16]),
        (b'-', b'-', b'T', b':', b':')
    );
}

#[test]
fn a_line_has_time_severity_message_and_fields() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    let (init, ()) = with_logger(
        &console(LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| {
            info!(target: T, group = 3, ip = %"198.51.100.10/24", reason = "peer stale", "group acquired");
        },
    );
    assert_eq!(init.driver, LogDriver::Console);
    assert!(init.warning.is_none());
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (stamp, rest) = lines[0].split_once(' ').unwrap();
    assert_rfc3339_utc(stamp);
    assert_eq!(
        rest,
        "notice  group acquired group=3 ip=198.51.100.10/24 reason=\"peer stale\" node=node1"
    );
}

#[test]
fn the_seed_mask_is_a_set_not_a_threshold() {
    // warning off, notice on, info off, debug off; emerg..err on.
    let seed = seed_logging();
    assert!(!seed.mask.contains(Severity::Warning));
    let out = Captured::default();
    let dir = TempDir::new("console");
    with_logger(&seed, sinks(&out, &dir), |_| {
        error!(target: T, "e");
        warn!(target: T, "w");
        info!(target: T, "n");
        debug!(target: T, "i");
        trace!(target: T, "d");
        error!(target: T, severity = "crit", "c");
        info!(target: T, severity = "warning", "named warning");
    });
    let shown: Vec<String> = out
        .lines()
        .iter()
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    assert_eq!(
        shown,
        [
            "err     e node=node1",
            "notice  n node=node1",
            "crit    c node=node1"
        ]
    );
}

#[test]
fn a_mask_with_gaps_keeps_only_its_members() {
    // Warning and debug only: err and notice are dropped although they are
    // more severe than debug.
    let out = Captured::default();
    let dir = TempDir::new("console");
    with_logger(
        &console(mask(&[Severity::Warning, Severity::Debug])),
        sinks(&out, &dir),
        |_| {
            error!(target: T, "e");
            warn!(target: T, "w");
            info!(target: T, "n");
            debug!(target: T, "i");
            trace!(target: T, "d");
            error!(target: T, severity = "alert", "a");
            trace!(target: T, severity = "bogus", "unknown names keep the level");
        },
    );
    let severities: Vec<String> = out
        .lines()
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(severities, ["warning", "debug", "debug"]);
}

#[test]
fn other_crates_only_log_warnings_and_worse() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    with_logger(&console(mask(&Severity::ALL)), sinks(&out, &dir), |_| {
        info!(target: "hyper::proto", "chatty");
        debug!(target: "netlink_proto", "chattier");
        warn!(target: "netlink_proto", "socket buffer full");
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with("warning socket buffer full target=netlink_proto node=node1"),
        "{}",
        lines[0]
    );
}

#[test]
fn span_fields_reach_the_events_inside() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    with_logger(
        &console(LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| {
            let group =
                span!(target: T, Level::INFO, "group", group = 2, ip = tracing::field::Empty);
            group.record("ip", "2001:db8::5/64");
            let _entered = group.enter();
            info!(target: T, peer = "node2", "released to peer");
        },
    );
    let lines = out.lines();
    assert!(
        lines[0]
            .ends_with("notice  released to peer peer=node2 group=2 ip=2001:db8::5/64 node=node1"),
        "{lines:?}"
    );
}

#[test]
fn an_event_node_field_replaces_the_own_node() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    with_logger(
        &console(LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| info!(target: T, node = "node9", "explicit"),
    );
    assert!(
        out.text().ends_with("notice  explicit node=node9\n"),
        "{}",
        out.text()
    );
}

#[test]
fn journal_style_uses_priority_prefixes_without_time() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    let mut s = sinks(&out, &dir);
    s.console_style = ConsoleStyle::Journal;
    with_logger(&console(LevelMask::default_mask()), s, |_| {
        info!(target: T, group = 1, "acquired");
        error!(target: T, severity = "crit", "conflict");
    });
    assert_eq!(
        out.lines(),
        ["<5>acquired group=1 node=node1", "<2>conflict node=node1"]
    );
}

#[test]
fn control_characters_stay_on_one_line() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    with_logger(
        &console(LevelMask::default_mask()),
        sinks(&out, &dir),
        |_| info!(target: T, output = "line1\nline2", "hook said\nthis"),
    );
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with("hook said\\nthis output=\"line1\\nline2\" node=node1"),
        "{}",
        lines[0]
    );
}

#[test]
fn an_env_filter_replaces_the_mask() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    let mut s = sinks(&out, &dir);
    s.filter_override = Some("vippy=debug".into());
    let (init, ()) = with_logger(&seed_logging(), s, |_| {
        warn!(target: T, "w");
        debug!(target: T, "routine");
        trace!(target: T, "too fine");
        info!(target: "hyper", "not selected");
    });
    assert!(init.warning.is_none());
    let severities: Vec<String> = out
        .lines()
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(severities, ["warning", "info"]);
}

#[test]
fn a_bad_env_filter_warns_and_keeps_the_mask() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    let mut s = sinks(&out, &dir);
    s.filter_override = Some("vippy=[[[".into());
    let (init, ()) = with_logger(&seed_logging(), s, |_| {
        warn!(target: T, "w");
        info!(target: T, "n");
    });
    let warning = init.warning.expect("a warning");
    assert!(warning.contains("vippy=[[["), "{warning}");
    assert_eq!(out.lines().len(), 1);
}

#[test]
fn reconfigure_changes_the_mask_in_place() {
    let out = Captured::default();
    let dir = TempDir::new("console");
    let (dispatch, init) =
        vippy::logging::dispatch(&console(mask(&[Severity::Err])), "node1", sinks(&out, &dir));
    tracing::dispatcher::with_default(&dispatch, || {
        info!(target: T, "before");
        let (driver, warning) = init.handle.reconfigure(&console(mask(&[Severity::Notice])));
        assert_eq!(driver, LogDriver::Console);
        assert!(warning.is_none());
        info!(target: T, "after");
        error!(target: T, "now hidden");
    });
    written(&init);
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with("notice  after node=node1"));
}
