//! Counters and gauges for `GET /metrics`, in the Prometheus text exposition
//! format 0.0.4 (docs/API.md, "GET /metrics").
//!
//! Everything is an atomic, so the runtime, hooks and the API update and read
//! them without locks; only the per-check gauges sit behind a short mutex.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why an incoming datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// HMAC did not verify.
    Auth,
    /// Sequence or incarnation already seen.
    Replay,
    Malformed,
    /// Sender is not in `nodes`.
    UnknownNode,
    /// Same config version, different digest.
    ConfigConflict,
    /// Unknown protocol version.
    Version,
}

impl RejectReason {
    pub const ALL: [RejectReason; 6] = [
        RejectReason::Auth,
        RejectReason::Replay,
        RejectReason::Malformed,
        RejectReason::UnknownNode,
        RejectReason::ConfigConflict,
        RejectReason::Version,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RejectReason::Auth => "auth",
            RejectReason::Replay => "replay",
            RejectReason::Malformed => "malformed",
            RejectReason::UnknownNode => "unknown_node",
            RejectReason::ConfigConflict => "config_conflict",
            RejectReason::Version => "version",
        }
    }
}

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

/// What kind of neighbour announcement was sent.
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

/// The daemon's counters and gauges. Share it as `Arc<Metrics>`.
#[derive(Debug, Default)]
pub struct Metrics {
    heartbeats_sent: AtomicU64,
    heartbeats_received: AtomicU64,
    datagrams_rejected: [AtomicU64; 6],
    ownership_transitions: [AtomicU64; 2],
    plumb_failures: AtomicU64,
    unplumb_failures: AtomicU64,
    announcements_sent: [AtomicU64; 3],
    groups_held: AtomicU64,
    /// f64 bits; 0.0 until the first failover.
    last_failover_seconds: AtomicU64,
    peers: AtomicU64,
    hook_failures: AtomicU64,
    active: AtomicU64,
    checks: Mutex<BTreeMap<String, bool>>,
    duplicates_resolved: AtomicU64,
    incarnation_bumps: AtomicU64,
    stranger_datagrams: AtomicU64,
    older_secret_datagrams: AtomicU64,
    loop_lags: AtomicU64,
    /// f64 bits: how long the loop was away the last time it lagged.
    last_loop_lag_seconds: AtomicU64,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    pub fn heartbeat_sent(&self) {
        self.heartbeats_sent.fetch_add(1, Relaxed);
    }

    pub fn heartbeat_received(&self) {
        self.heartbeats_received.fetch_add(1, Relaxed);
    }

    pub fn datagram_rejected(&self, reason: RejectReason) {
        self.datagrams_rejected[reason as usize].fetch_add(1, Relaxed);
    }

    pub fn ownership_transition(&self, direction: Direction) {
        self.ownership_transitions[direction as usize].fetch_add(1, Relaxed);
    }

    pub fn plumb_failure(&self) {
        self.plumb_failures.fetch_add(1, Relaxed);
    }

    pub fn unplumb_failure(&self) {
        self.unplumb_failures.fetch_add(1, Relaxed);
    }

    pub fn announcements_sent(&self, kind: Announcement, count: u64) {
        self.announcements_sent[kind as usize].fetch_add(count, Relaxed);
    }

    pub fn hook_failure(&self) {
        self.hook_failures.fetch_add(1, Relaxed);
    }

    pub fn set_groups_held(&self, groups: u64) {
        self.groups_held.store(groups, Relaxed);
    }

    /// How long the last takeover took here: from the previous holder going
    /// stale or saying goodbye to the addresses being plumbed and announced.
    pub fn set_last_failover(&self, took: Duration) {
        self.last_failover_seconds
            .store(took.as_secs_f64().to_bits(), Relaxed);
    }

    /// Peers heard from within `stale` (this node not included).
    pub fn set_peers(&self, peers: u64) {
        self.peers.store(peers, Relaxed);
    }

    /// The core's own totals ([`vippy_core::node::Counters`]).
    pub fn set_core_counters(&self, counters: &vippy_core::node::Counters) {
        self.duplicates_resolved
            .store(counters.duplicates_resolved, Relaxed);
        self.incarnation_bumps
            .store(counters.incarnation_bumps, Relaxed);
        self.stranger_datagrams
            .store(counters.stranger_datagrams, Relaxed);
        self.older_secret_datagrams
            .store(counters.older_secret_datagrams, Relaxed);
    }

    /// The core loop was away (paused, starved) for `away`.
    pub fn loop_lagged(&self, away: Duration) {
        self.loop_lags.fetch_add(1, Relaxed);
        self.last_loop_lag_seconds
            .store(away.as_secs_f64().to_bits(), Relaxed);
    }

    pub fn set_active(&self, active: bool) {
        self.active.store(active as u64, Relaxed);
    }

    /// A check's definite state ([`crate::checks::CheckResult`]).
    pub fn set_check_up(&self, name: &str, up: bool) {
        self.lock_checks().insert(name.to_owned(), up);
    }

    /// Drops checks not in `names` (after a reload removed them).
    pub fn retain_checks<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let keep: Vec<&str> = names.into_iter().collect();
        self.lock_checks()
            .retain(|name, _| keep.contains(&name.as_str()));
    }

    fn lock_checks(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, bool>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.checks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counters by name, for [`crate::status::Status::counters`]:
    /// `heartbeats_sent`, `datagrams_rejected.auth`, `announcements_sent.garp`, …
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        out.insert("heartbeats_sent".into(), self.heartbeats_sent.load(Relaxed));
        out.insert(
            "heartbeats_received".into(),
            self.heartbeats_received.load(Relaxed),
        );
        for r in RejectReason::ALL {
            out.insert(
                format!("datagrams_rejected.{}", r.label()),
                self.datagrams_rejected[r as usize].load(Relaxed),
            );
        }
        for d in Direction::ALL {
            out.insert(
                format!("ownership_transitions.{}", d.label()),
                self.ownership_transitions[d as usize].load(Relaxed),
            );
        }
        out.insert("plumb_failures".into(), self.plumb_failures.load(Relaxed));
        out.insert(
            "unplumb_failures".into(),
            self.unplumb_failures.load(Relaxed),
        );
        for a in Announcement::ALL {
            out.insert(
                format!("announcements_sent.{}", a.label()),
                self.announcements_sent[a as usize].load(Relaxed),
            );
        }
        out.insert("hook_failures".into(), self.hook_failures.load(Relaxed));
        out.insert(
            "duplicates_resolved".into(),
            self.duplicates_resolved.load(Relaxed),
        );
        out.insert(
            "incarnation_bumps".into(),
            self.incarnation_bumps.load(Relaxed),
        );
        out.insert(
            "stranger_datagrams".into(),
            self.stranger_datagrams.load(Relaxed),
        );
        out.insert(
            "older_secret_datagrams".into(),
            self.older_secret_datagrams.load(Relaxed),
        );
        out.insert("loop_lags".into(), self.loop_lags.load(Relaxed));
        out
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let plain = |v: u64| vec![(String::new(), v.to_string())];
        let labelled = |label: &str, pairs: Vec<(&str, u64)>| {
            pairs
                .into_iter()
                .map(|(value, n)| (format!("{{{label}=\"{value}\"}}"), n.to_string()))
                .collect::<Vec<_>>()
        };

        family(
            "vippy_heartbeats_sent_total",
            "counter",
            "Heartbeats sent.",
            &plain(self.heartbeats_sent.load(Relaxed)),
        );
        family(
            "vippy_heartbeats_received_total",
            "counter",
            "Authenticated heartbeats received from peers.",
            &plain(self.heartbeats_received.load(Relaxed)),
        );
        family(
            "vippy_datagrams_rejected_total",
            "counter",
            "Datagrams dropped, by reason.",
            &labelled(
                "reason",
                RejectReason::ALL
                    .iter()
                    .map(|r| {
                        (
                            r.label(),
                            self.datagrams_rejected[*r as usize].load(Relaxed),
                        )
                    })
                    .collect(),
            ),
        );
        family(
            "vippy_ownership_transitions_total",
            "counter",
            "Groups acquired or released by this node.",
            &labelled(
                "direction",
                Direction::ALL
                    .iter()
                    .map(|d| {
                        (
                            d.label(),
                            self.ownership_transitions[*d as usize].load(Relaxed),
                        )
                    })
                    .collect(),
            ),
        );
        family(
            "vippy_plumb_failures_total",
            "counter",
            "Failed attempts to add an address.",
            &plain(self.plumb_failures.load(Relaxed)),
        );
        family(
            "vippy_unplumb_failures_total",
            "counter",
            "Failed attempts to remove an address.",
            &plain(self.unplumb_failures.load(Relaxed)),
        );
        family(
            "vippy_announcements_sent_total",
            "counter",
            "Neighbour announcements sent, by kind.",
            &labelled(
                "kind",
                Announcement::ALL
                    .iter()
                    .map(|a| {
                        (
                            a.label(),
                            self.announcements_sent[*a as usize].load(Relaxed),
                        )
                    })
                    .collect(),
            ),
        );
        family(
            "vippy_duplicates_resolved_total",
            "counter",
            "Groups found held here and by another node at once, kept and announced again or released.",
            &plain(self.duplicates_resolved.load(Relaxed)),
        );
        family(
            "vippy_incarnation_bumps_total",
            "counter",
            "New incarnations taken while running (clock behind the previous run, or a second process under this name).",
            &plain(self.incarnation_bumps.load(Relaxed)),
        );
        family(
            "vippy_stranger_datagrams_total",
            "counter",
            "Authenticated datagrams from senders outside nodes (never acted on).",
            &plain(self.stranger_datagrams.load(Relaxed)),
        );
        family(
            "vippy_older_secret_datagrams_total",
            "counter",
            "Datagrams whose tag matched one of the secrets after the first (a rotation is under way).",
            &plain(self.older_secret_datagrams.load(Relaxed)),
        );
        family(
            "vippy_loop_lags_total",
            "counter",
            "Times the core loop was away longer than one interval plus a quarter of stale.",
            &plain(self.loop_lags.load(Relaxed)),
        );
        family(
            "vippy_last_loop_lag_seconds",
            "gauge",
            "How long the core loop was away the last time it lagged, in seconds.",
            &[(
                String::new(),
                f64::from_bits(self.last_loop_lag_seconds.load(Relaxed)).to_string(),
            )],
        );
        family(
            "vippy_groups_held",
            "gauge",
            "Groups whose addresses are plumbed on this node.",
            &plain(self.groups_held.load(Relaxed)),
        );
        family(
            "vippy_last_failover_seconds",
            "gauge",
            "How long the last takeover by this node took, in seconds.",
            &[(
                String::new(),
                f64::from_bits(self.last_failover_seconds.load(Relaxed)).to_string(),
            )],
        );
        family(
            "vippy_peers",
            "gauge",
            "Peers heard from within the stale time.",
            &plain(self.peers.load(Relaxed)),
        );
        let checks: Vec<(String, String)> = self
            .lock_checks()
            .iter()
            .map(|(name, up)| {
                (
                    format!("{{check=\"{}\"}}", escape_label(name)),
                    (*up as u8).to_string(),
                )
            })
            .collect();
        family(
            "vippy_check_up",
            "gauge",
            "Health check state: 1 passing, 0 failing (absent until known).",
            &checks,
        );
        family(
            "vippy_hook_failures_total",
            "counter",
            "Hooks that failed, timed out or could not start.",
            &plain(self.hook_failures.load(Relaxed)),
        );
        family(
            "vippy_active",
            "gauge",
            "1 when this node is active (eligible to hold groups).",
            &plain(self.active.load(Relaxed)),
        );
        out
    }
}

/// Label values escape `\`, `"` and newline (exposition format 0.0.4).
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_every_family_with_help_and_type() {
        let m = Metrics::new();
        m.heartbeat_sent();
        m.heartbeat_sent();
        m.datagram_rejected(RejectReason::UnknownNode);
        m.ownership_transition(Direction::Release);
        m.announcements_sent(Announcement::ArpReply, 7);
        m.set_last_failover(Duration::from_millis(250));
        m.set_check_up("ht\"tp", true);
        m.set_active(true);
        let text = m.render();
        for name in [
            "vippy_heartbeats_sent_total",
            "vippy_heartbeats_received_total",
            "vippy_datagrams_rejected_total",
            "vippy_ownership_transitions_total",
            "vippy_plumb_failures_total",
            "vippy_unplumb_failures_total",
            "vippy_announcements_sent_total",
            "vippy_groups_held",
            "vippy_last_failover_seconds",
            "vippy_peers",
            "vippy_check_up",
            "vippy_hook_failures_total",
            "vippy_active",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        assert!(text.contains("vippy_heartbeats_sent_total 2\n"));
        assert!(text.contains("vippy_datagrams_rejected_total{reason=\"unknown_node\"} 1\n"));
        assert!(text.contains("vippy_datagrams_rejected_total{reason=\"auth\"} 0\n"));
        assert!(text.contains("vippy_ownership_transitions_total{direction=\"release\"} 1\n"));
        assert!(text.contains("vippy_announcements_sent_total{kind=\"arp_reply\"} 7\n"));
        assert!(text.contains("vippy_last_failover_seconds 0.25\n"));
        assert!(text.contains("vippy_check_up{check=\"ht\\\"tp\"} 1\n"));
        assert!(text.contains("vippy_active 1\n"));
        assert_eq!(m.counters()["datagrams_rejected.unknown_node"], 1);
        m.retain_checks([]);
        assert!(!m.render().contains("vippy_check_up{"));
    }
}
