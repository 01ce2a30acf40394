//! The daemon's metrics for `GET /metrics` (docs/API.md, "Metrics"), in
//! the OpenMetrics text format built by the `prometheus-client` crate.
//!
//! Counters and gauges the runtime updates live here as `prometheus-client`
//! metrics (atomics inside, so the runtime, hooks and the API share them
//! without locks). What follows from the status snapshot (which group is
//! held, who owns what, which peers are up) is read from it at each scrape
//! ([`view`]), and so are the process's own figures ([`process`]): a scrape
//! costs the scraper, never the core loop.

mod process;
mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use std::fmt::Write as _;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use vippy_core::node::Rejection;

use crate::status::Status;

/// The Content-Type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which way a group moved relative to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Acquire,
    Release,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::Acquire, Direction::Release];

    pub fn label(self) -> &'static str {
        match self {
            Direction::Acquire => "acquire",
            Direction::Release => "release",
        }
    }
}

/// What kind of neighbour announcement was sent (docs/PROTOCOL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announcement {
    /// Gratuitous ARP (IPv4).
    Garp,
    /// Unsolicited neighbour advertisement (IPv6).
    Na,
    /// Targeted ARP reply to a `notify` address.
    ArpReply,
}

impl Announcement {
    pub const ALL: [Announcement; 3] =
        [Announcement::Garp, Announcement::Na, Announcement::ArpReply];

    pub fn label(self) -> &'static str {
        match self {
            Announcement::Garp => "garp",
            Announcement::Na => "na",
            Announcement::ArpReply => "arp_reply",
        }
    }
}

/// A label value from configuration or peers (a check or node name), escaped
/// as the exposition format requires: `prometheus-client` writes values as
/// they are, and a `"` in a check name would otherwise break the whole scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Escaped(pub String);

impl EncodeLabelValue for Escaped {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

impl EncodeLabelValue for &Escaped {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        (*self).encode(encoder)
    }
}

/// One label, e.g. `reason="auth"`.
type Label = [(&'static str, &'static str); 1];
type F64Gauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The daemon's counters and gauges. Share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    heartbeats_sent: Counter,
    heartbeats_received: Counter,
    datagrams_rejected: Family<Label, Counter>,
    ownership_transitions: Family<Label, Counter>,
    plumb_failures: Counter,
    unplumb_failures: Counter,
    announcements_sent: Family<Label, Counter>,
    groups_held: Gauge,
    last_failover_seconds: F64Gauge,
    takeover_seconds: Histogram,
    peers: Gauge,
    hook_failures: Counter,
    active: Gauge,
    checks: Family<[(&'static str, Escaped); 1], Gauge>,
    /// The names in `checks` (a panic while holding this lock leaves it whole).
    check_names: Mutex<BTreeSet<String>>,
    duplicates_resolved: Counter,
    decisions: Counter,
    placements_reused: Counter,
    incarnation_bumps: Counter,
    stranger_datagrams: Counter,
    older_secret_datagrams: Counter,
    loop_lags: Counter,
    release_stuck: Counter,
    loop_lag_seconds: Histogram,
    chat_queue_wait_seconds: Histogram,
    last_loop_lag_seconds: F64Gauge,
    /// Copied from the log queue's count at each read.
    log_dropped: Counter,
    address_conflicts: Family<[(&'static str, Escaped); 1], Counter>,
    /// The sum of `address_conflicts`, for status (a family cannot list itself).
    address_conflicts_total: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let m = Metrics {
            heartbeats_sent: Counter::default(),
            heartbeats_received: Counter::default(),
            datagrams_rejected: Family::default(),
            ownership_transitions: Family::default(),
            plumb_failures: Counter::default(),
            unplumb_failures: Counter::default(),
            announcements_sent: Family::default(),
            groups_held: Gauge::default(),
            last_failover_seconds: F64Gauge::default(),
            // 10 ms … about 20 s: a takeover at the fastest timers lands in
            // the first buckets, one at the original's 3 s stale in the middle.
            takeover_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 12)),
            peers: Gauge::default(),
            hook_failures: Counter::default(),
            active: Gauge::default(),
            checks: Family::default(),
            check_names: Mutex::default(),
            duplicates_resolved: Counter::default(),
            decisions: Counter::default(),
            placements_reused: Counter::default(),
            incarnation_bumps: Counter::default(),
            stranger_datagrams: Counter::default(),
            older_secret_datagrams: Counter::default(),
            loop_lags: Counter::default(),
            release_stuck: Counter::default(),
            // 1 ms … about 16 s: how late the loop's timers fire.
            loop_lag_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            // From 0.1 ms: a quiet loop reads within microseconds.
            chat_queue_wait_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            last_loop_lag_seconds: F64Gauge::default(),
            log_dropped: Counter::default(),
            address_conflicts: Family::default(),
            address_conflicts_total: Counter::default(),
        };
        // Every label value exists from the start, so a rate over it has a
        // zero to start from.
        for r in Rejection::ALL {
            let _ = m
                .datagrams_rejected
                .get_or_create(&[("reason", r.as_str())]);
        }
        for d in Direction::ALL {
            let _ = m
                .ownership_transitions
                .get_or_create(&[("direction", d.label())]);
        }
        for a in Announcement::ALL {
            let _ = m.announcements_sent.get_or_create(&[("kind", a.label())]);
        }
        m
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    pub fn heartbeat_sent(&self) {
        self.heartbeats_sent.inc();
    }

    pub fn heartbeat_received(&self) {
        self.heartbeats_received.inc();
    }

    pub fn datagram_rejected(&self, reason: Rejection) {
        self.datagrams_rejected
            .get_or_create(&[("reason", reason.as_str())])
            .inc();
    }

    pub fn ownership_transition(&self, direction: Direction) {
        self.ownership_transitions
            .get_or_create(&[("direction", direction.label())])
            .inc();
    }

    pub fn plumb_failure(&self) {
        self.plumb_failures.inc();
    }

    pub fn unplumb_failure(&self) {
        self.unplumb_failures.inc();
    }

    pub fn announcements_sent(&self, kind: Announcement, count: u64) {
        self.announcements_sent
            .get_or_create(&[("kind", kind.label())])
            .inc_by(count);
    }

    pub fn hook_failure(&self) {
        self.hook_failures.inc();
    }

    pub fn set_groups_held(&self, groups: u64) {
        self.groups_held.set(groups as i64);
    }

    /// How long the last takeover took here: from the previous holder going
    /// stale or saying goodbye to the decision to take its groups.
    pub fn set_last_failover(&self, took: Duration) {
        self.last_failover_seconds.set(took.as_secs_f64());
    }

    /// A takeover finished: from the previous holder's last heartbeat to
    /// the addresses plumbed here.
    pub fn takeover(&self, took: Duration) {
        self.takeover_seconds.observe(took.as_secs_f64());
    }

    /// Peers heard from within `stale` (this node not included).
    pub fn set_peers(&self, peers: u64) {
        self.peers.set(peers as i64);
    }

    /// The core's own totals ([`vippy_core::node::Counters`]).
    pub fn set_core_counters(&self, counters: &vippy_core::node::Counters) {
        let copy = |c: &Counter, v: u64| c.inner().store(v, Relaxed);
        copy(&self.duplicates_resolved, counters.duplicates_resolved);
        copy(&self.decisions, counters.decisions);
        copy(&self.placements_reused, counters.placements_reused);
        copy(&self.incarnation_bumps, counters.incarnation_bumps);
        copy(&self.stranger_datagrams, counters.stranger_datagrams);
        copy(
            &self.older_secret_datagrams,
            counters.older_secret_datagrams,
        );
    }

    /// A timer of the core loop fired `late` after its deadline.
    pub fn loop_lag(&self, late: Duration) {
        self.loop_lag_seconds.observe(late.as_secs_f64());
    }

    /// How long a chat datagram waited in the socket queue for the loop.
    pub fn chat_queue_wait(&self, waited: Duration) {
        self.chat_queue_wait_seconds.observe(waited.as_secs_f64());
    }

    /// The core loop was away (paused, starved) for `away`.
    pub fn loop_lagged(&self, away: Duration) {
        self.loop_lags.inc();
        self.last_loop_lag_seconds.set(away.as_secs_f64());
    }

    /// A release the data plane did not apply in time: what it held back
    /// was sent anyway.
    pub fn release_stuck(&self) {
        self.release_stuck.inc();
    }

    /// A host that is not a vippy node was seen answering for `ip` (one
    /// sighting per probe round).
    pub fn address_conflict(&self, ip: std::net::IpAddr) {
        self.address_conflicts
            .get_or_create(&[("ip", Escaped(ip.to_string()))])
            .inc();
        self.address_conflicts_total.inc();
    }

    pub fn set_active(&self, active: bool) {
        self.active.set(active as i64);
    }

    /// A check's definite state ([`crate::checks::CheckResult`]).
    pub fn set_check_up(&self, name: &str, up: bool) {
        self.checks
            .get_or_create(&[("check", Escaped(name.to_owned()))])
            .set(up as i64);
        self.check_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned());
    }

    /// Drops checks not in `names` (after a reload removed them).
    pub fn retain_checks<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let keep: Vec<&str> = names.into_iter().collect();
        // The family cannot list its label sets, so the names are kept beside it.
        let mut known = self.check_names.lock().unwrap_or_else(|e| e.into_inner());
        known.retain(|name| {
            let kept = keep.contains(&name.as_str());
            if !kept {
                self.checks.remove(&[("check", Escaped(name.clone()))]);
            }
            kept
        });
    }

    /// The counters by name, for [`crate::status::Status::counters`]:
    /// `heartbeats_sent`, `datagrams_rejected.auth`, `announcements_sent.garp`, …
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        out.insert("heartbeats_sent".into(), self.heartbeats_sent.get());
        out.insert("heartbeats_received".into(), self.heartbeats_received.get());
        let mut labelled =
            |name: &str, family: &Family<Label, Counter>, key, values: &[&'static str]| {
                for &value in values {
                    let n = family.get_or_create(&[(key, value)]).get();
                    out.insert(format!("{name}.{value}"), n);
                }
            };
        labelled(
            "datagrams_rejected",
            &self.datagrams_rejected,
            "reason",
            &Rejection::ALL.map(Rejection::as_str),
        );
        labelled(
            "ownership_transitions",
            &self.ownership_transitions,
            "direction",
            &Direction::ALL.map(Direction::label),
        );
        labelled(
            "announcements_sent",
            &self.announcements_sent,
            "kind",
            &Announcement::ALL.map(Announcement::label),
        );
        out.insert("plumb_failures".into(), self.plumb_failures.get());
        out.insert("unplumb_failures".into(), self.unplumb_failures.get());
        out.insert("hook_failures".into(), self.hook_failures.get());
        out.insert("duplicates_resolved".into(), self.duplicates_resolved.get());
        out.insert("decisions".into(), self.decisions.get());
        out.insert("placements_reused".into(), self.placements_reused.get());
        out.insert("incarnation_bumps".into(), self.incarnation_bumps.get());
        out.insert("stranger_datagrams".into(), self.stranger_datagrams.get());
        out.insert(
            "older_secret_datagrams".into(),
            self.older_secret_datagrams.get(),
        );
        out.insert("loop_lags".into(), self.loop_lags.get());
        out.insert("release_stuck".into(), self.release_stuck.get());
        out.insert("log_dropped".into(), self.log_dropped());
        out.insert(
            "address_conflicts".into(),
            self.address_conflicts_total.get(),
        );
        out
    }

    /// Log lines dropped because the log writer fell behind: counted by
    /// the logging queue, read here (a line can be dropped before the
    /// runtime, or these metrics, exist).
    fn log_dropped(&self) -> u64 {
        let n = crate::logging::dropped_total();
        self.log_dropped.inner().store(n, Relaxed);
        n
    }

    /// The OpenMetrics text for one scrape: these metrics, the series read
    /// from `status`, and the process's own.
    pub fn render(&self, status: &Status) -> String {
        self.log_dropped();
        let mut registry = Registry::default();
        self.register(&mut registry);
        registry.register_collector(Box::new(view::ClusterView::new(status)));
        registry.register_collector(Box::new(process::ProcessCollector));
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }

    fn register(&self, r: &mut Registry) {
        // Clones share the same atomics: the registry is a per-scrape view.
        r.register(
            "vippy_heartbeats_sent",
            "Heartbeats sent",
            self.heartbeats_sent.clone(),
        );
        r.register(
            "vippy_heartbeats_received",
            "Authenticated heartbeats received from peers",
            self.heartbeats_received.clone(),
        );
        r.register(
            "vippy_datagrams_rejected",
            "Datagrams dropped, by reason",
            self.datagrams_rejected.clone(),
        );
        r.register(
            "vippy_ownership_transitions",
            "Groups acquired or released by this node",
            self.ownership_transitions.clone(),
        );
        r.register(
            "vippy_plumb_failures",
            "Failed attempts to add an address",
            self.plumb_failures.clone(),
        );
        r.register(
            "vippy_unplumb_failures",
            "Failed attempts to remove an address",
            self.unplumb_failures.clone(),
        );
        r.register(
            "vippy_announcements_sent",
            "Neighbour announcements sent, by kind",
            self.announcements_sent.clone(),
        );
        r.register(
            "vippy_duplicates_resolved",
            "Groups found held here and by another node at once, kept and announced again or released",
            self.duplicates_resolved.clone(),
        );
        r.register(
            "vippy_decisions",
            "Decisions run (who holds what), each over every group",
            self.decisions.clone(),
        );
        r.register(
            "vippy_placements_reused",
            "Decisions that reused the last placement because holders only caught up with it",
            self.placements_reused.clone(),
        );
        r.register(
            "vippy_incarnation_bumps",
            "New incarnations taken while running (clock behind the previous run, or a second process under this name)",
            self.incarnation_bumps.clone(),
        );
        r.register(
            "vippy_stranger_datagrams",
            "Authenticated datagrams from senders outside nodes (never acted on)",
            self.stranger_datagrams.clone(),
        );
        r.register(
            "vippy_older_secret_datagrams",
            "Datagrams whose tag matched one of the secrets after the first (a rotation is under way)",
            self.older_secret_datagrams.clone(),
        );
        r.register(
            "vippy_loop_lags",
            "Times the core loop was away longer than one interval plus a quarter of stale",
            self.loop_lags.clone(),
        );
        r.register(
            "vippy_release_stuck",
            "Releases the data plane did not apply within stale less one interval; the heartbeats held behind them were sent anyway",
            self.release_stuck.clone(),
        );
        r.register_with_unit(
            "vippy_loop_lag",
            "How late the core loop's timers fired after their deadline",
            Unit::Seconds,
            self.loop_lag_seconds.clone(),
        );
        r.register_with_unit(
            "vippy_chat_queue_wait",
            "How long chat datagrams waited in the socket queue before the core loop read them (kernel receive stamp to read)",
            Unit::Seconds,
            self.chat_queue_wait_seconds.clone(),
        );
        r.register(
            "vippy_log_dropped",
            "Log lines dropped because the log sink (console, syslog, journald) did not keep up",
            self.log_dropped.clone(),
        );
        r.register(
            "vippy_last_loop_lag_seconds",
            "How long the core loop was away the last time it lagged, in seconds",
            self.last_loop_lag_seconds.clone(),
        );
        r.register(
            "vippy_address_conflicts",
            "Times a host that is not a vippy node was seen answering for a VIP held here, by VIP (once per probe round)",
            self.address_conflicts.clone(),
        );
        r.register(
            "vippy_groups_held",
            "Groups whose addresses are plumbed on this node",
            self.groups_held.clone(),
        );
        r.register(
            "vippy_last_failover_seconds",
            "How long the last takeover decision by this node took after the previous holder was last heard, in seconds",
            self.last_failover_seconds.clone(),
        );
        r.register_with_unit(
            "vippy_takeover",
            "From the previous holder's last heartbeat to the group's addresses plumbed here",
            Unit::Seconds,
            self.takeover_seconds.clone(),
        );
        r.register(
            "vippy_peers",
            "Peers eligible for placement",
            self.peers.clone(),
        );
        r.register(
            "vippy_check_up",
            "Health check state: 1 passing, 0 failing (absent until known)",
            self.checks.clone(),
        );
        r.register(
            "vippy_hook_failures",
            "Hooks that failed, timed out or could not start",
            self.hook_failures.clone(),
        );
        r.register(
            "vippy_node_active",
            "1 when this node is active (eligible to hold groups)",
            self.active.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_every_family_with_help_and_type() {
        let m = Metrics::new();
        m.heartbeat_sent();
        m.heartbeat_sent();
        m.datagram_rejected(Rejection::UnknownNode);
        m.ownership_transition(Direction::Release);
        m.announcements_sent(Announcement::ArpReply, 7);
        m.set_last_failover(Duration::from_millis(250));
        m.takeover(Duration::from_millis(300));
        m.loop_lag(Duration::from_millis(3));
        m.set_check_up("ht\"tp", true);
        m.set_active(true);
        m.address_conflict("198.51.100.100".parse().unwrap());
        m.address_conflict("198.51.100.100".parse().unwrap());
        m.release_stuck();
        let text = m.render(&Status::default());
        for name in [
            "vippy_heartbeats_sent",
            "vippy_heartbeats_received",
            "vippy_datagrams_rejected",
            "vippy_ownership_transitions",
            "vippy_plumb_failures",
            "vippy_unplumb_failures",
            "vippy_announcements_sent",
            "vippy_groups_held",
            "vippy_last_failover_seconds",
            "vippy_takeover_seconds",
            "vippy_loop_lag_seconds",
            "vippy_peers",
            "vippy_check_up",
            "vippy_hook_failures",
            "vippy_node_active",
            "vippy_log_dropped",
            "vippy_address_conflicts",
            "vippy_release_stuck",
            "vippy_build_info",
            "vippy_config_version",
            "process_resident_memory_bytes",
            "process_cpu_seconds",
            "process_open_fds",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}\n{text}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}\n{text}");
        }
        assert!(text.contains("vippy_heartbeats_sent_total 2\n"), "{text}");
        assert!(text.contains("vippy_loop_lag_seconds_count 1\n"), "{text}");
        assert!(
            text.contains("vippy_loop_lag_seconds_bucket{le=\"0.004\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("vippy_datagrams_rejected_total{reason=\"unknown_node\"} 1\n"));
        assert!(text.contains("vippy_datagrams_rejected_total{reason=\"auth\"} 0\n"));
        assert!(text.contains("vippy_ownership_transitions_total{direction=\"release\"} 1\n"));
        assert!(text.contains("vippy_announcements_sent_total{kind=\"arp_reply\"} 7\n"));
        assert!(
            text.contains("vippy_last_failover_seconds 0.25\n"),
            "{text}"
        );
        assert!(text.contains("vippy_takeover_seconds_count 1\n"), "{text}");
        assert!(
            text.contains("vippy_check_up{check=\"ht\\\"tp\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("vippy_node_active 1\n"));
        assert!(text.contains("vippy_log_dropped_total "), "{text}");
        assert!(
            text.contains("vippy_address_conflicts_total{ip=\"198.51.100.100\"} 2\n"),
            "{text}"
        );
        assert_eq!(m.counters()["address_conflicts"], 2);
        assert!(text.contains("vippy_release_stuck_total 1\n"), "{text}");
        assert_eq!(m.counters()["release_stuck"], 1);
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(m.counters()["datagrams_rejected.unknown_node"], 1);
        m.retain_checks(["other"]);
        assert!(!m.render(&Status::default()).contains("vippy_check_up{"));
    }

    #[test]
    fn the_status_gives_one_held_series_per_vip_and_the_owners_and_peers() {
        use crate::status::{GroupStatus, PeerStatus};
        let status = Status {
            version: 4,
            groups: vec![
                GroupStatus {
                    index: 0,
                    ips: vec!["198.51.100.100/24".into(), "2001:db8::100/64".into()],
                    owner: Some("node1".into()),
                    held_here: true,
                    ..Default::default()
                },
                GroupStatus {
                    index: 1,
                    ips: vec!["198.51.100.101/24".into()],
                    owner: None,
                    ..Default::default()
                },
            ],
            peers: vec![PeerStatus {
                name: "no\"de2".into(),
                present: true,
                last_heard_seconds: Some(0.5),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = Metrics::new().render(&status);
        for line in [
            "vippy_config_version 4\n",
            "vippy_group_held{group=\"0\",ip=\"198.51.100.100/24\"} 1\n",
            "vippy_group_held{group=\"0\",ip=\"2001:db8::100/64\"} 1\n",
            "vippy_group_held{group=\"1\",ip=\"198.51.100.101/24\"} 0\n",
            "vippy_group_owner{group=\"0\",node=\"node1\"} 1\n",
            "vippy_peer_up{peer=\"no\\\"de2\"} 1\n",
            "vippy_peer_last_heard_seconds{peer=\"no\\\"de2\"} 0.5\n",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(!text.contains("vippy_group_owner{group=\"1\""), "{text}");
    }

    #[test]
    fn core_counters_are_copied_not_added() {
        let m = Metrics::new();
        let c = vippy_core::node::Counters {
            duplicates_resolved: 3,
            decisions: 7,
            placements_reused: 2,
            ..Default::default()
        };
        m.set_core_counters(&c);
        m.set_core_counters(&c);
        assert_eq!(m.counters()["duplicates_resolved"], 3);
        assert_eq!(m.counters()["decisions"], 7);
        assert_eq!(m.counters()["placements_reused"], 2);
    }
}
