//! What happens, told once: each core event and data-plane report becomes a
//! log line (cause, old and new state, so that the line alone says what
//! happened and why), a metric, an API
//! event and, where configured, a hook run.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use tracing::{debug, error, info, warn};
use vippy_core::node::{Event as CoreEvent, Rejection};

use super::dataplane::Report;
use crate::hooks::{HookEnv, HookKind, Hooks};
use crate::metrics::{Announcement, Direction, Metrics};
use crate::status::{Event, EventKind};

/// One decision that moves more groups than this is logged as one summary
/// line per kind (owner changes, acquisitions, releases) at info, and one
/// line per group at debug: at 4096 groups a single decision would
/// otherwise write thousands of lines, and a journald that falls behind
/// slows the loop that writes them.
const SUMMARY_ABOVE: usize = 16;

/// Per-group lines of one kind, or a summary of them (see [`SUMMARY_ABOVE`]).
macro_rules! group_line {
    ($summarising:expr, $($arg:tt)+) => {
        if $summarising {
            debug!($($arg)+)
        } else {
            info!($($arg)+)
        }
    };
}

/// Peer-caused problems are logged at most this often per reason: a flood of
/// bad datagrams must not flood the log.
const REJECT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Tells each core event and data-plane report once (log line, metric, API
/// event, hook). Named apart from `dataplane::Report`, one of the things it
/// tells.
pub struct Narrator {
    pub node: String,
    pub metrics: std::sync::Arc<Metrics>,
    pub events: broadcast::Sender<Event>,
    pub hooks: Hooks,
    /// Rejections not yet logged, and when the last line for each went out.
    rejected: HashMap<Rejection, (u64, Option<Instant>)>,
    /// Takeovers decided and not plumbed yet: group, and when its previous
    /// holder was last heard (the start of `vippy_takeover_seconds`).
    takeovers: std::collections::BTreeMap<usize, Instant>,
    /// Which kinds of per-group lines the current batch summarises.
    summarising: Summarising,
}

/// The kinds of per-group lines a batch of events summarises.
#[derive(Debug, Default, Clone, Copy)]
struct Summarising {
    intents: bool,
    acquired: bool,
    released: bool,
    plumbed: bool,
    removed: bool,
}

fn ips_text(ips: &[ipnet::IpNet]) -> Vec<String> {
    ips.iter().map(|ip| ip.to_string()).collect()
}

impl Narrator {
    pub fn new(
        node: String,
        metrics: std::sync::Arc<Metrics>,
        events: broadcast::Sender<Event>,
        hooks: Hooks,
    ) -> Narrator {
        Narrator {
            node,
            metrics,
            events,
            hooks,
            rejected: HashMap::new(),
            takeovers: std::collections::BTreeMap::new(),
            summarising: Summarising::default(),
        }
    }

    fn publish(&self, event: Event) {
        // No subscriber is fine; a slow one loses old events, never blocks us.
        let _ = self.events.send(event);
    }

    /// The events of one drain of the core (one decision, mostly): each as
    /// [`Narrator::core`], with per-group lines summarised when there are
    /// many of a kind.
    pub fn core_batch(&mut self, events: Vec<CoreEvent>, now: Instant) {
        let mut moves: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut acquired: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut released: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for event in &events {
            match event {
                CoreEvent::Intent { group, owner, .. } => moves
                    .entry(owner.clone().unwrap_or_else(|| "nobody".into()))
                    .or_default()
                    .push(*group),
                CoreEvent::Acquired { group, cause, .. } => {
                    acquired.entry(cause.to_string()).or_default().push(*group)
                }
                CoreEvent::Released {
                    group: Some(group),
                    cause,
                    ..
                } => released.entry(cause.to_string()).or_default().push(*group),
                _ => {}
            }
        }
        let count = |m: &BTreeMap<String, Vec<usize>>| m.values().map(Vec::len).sum::<usize>();
        self.summarising = Summarising {
            intents: count(&moves) > SUMMARY_ABOVE,
            acquired: count(&acquired) > SUMMARY_ABOVE,
            released: count(&released) > SUMMARY_ABOVE,
            ..Summarising::default()
        };
        for event in events {
            self.core(event, now);
        }
        let me = &self.node;
        if self.summarising.intents {
            info!(node = %me, "placement: {} groups change owner: {} (one line per group at debug)", count(&moves), summary(&moves, "to "));
        }
        if self.summarising.acquired {
            info!(node = %me, "acquiring {} groups: released -> held, {} (one line per group at debug)", count(&acquired), summary(&acquired, ""));
        }
        if self.summarising.released {
            info!(node = %me, "releasing {} groups: held -> released, {} (one line per group at debug)", count(&released), summary(&released, ""));
        }
        self.summarising = Summarising::default();
    }

    pub fn core(&mut self, event: CoreEvent, now: Instant) {
        let me = self.node.clone();
        match event {
            CoreEvent::Intent {
                group,
                owner,
                previous,
            } => {
                let shown = |o: &Option<String>| o.clone().unwrap_or_else(|| "nobody".into());
                group_line!(self.summarising.intents, node = %me, group, "group {group}: owner {} -> {}", shown(&previous), shown(&owner));
                if owner.as_deref() == Some(me.as_str()) {
                    self.publish(
                        Event::new(EventKind::IntentUp, &me)
                            .group(group)
                            .detail(format!("from {}", shown(&previous))),
                    );
                } else if previous.as_deref() == Some(me.as_str()) {
                    self.publish(
                        Event::new(EventKind::IntentDown, &me)
                            .group(group)
                            .detail(format!("to {}", shown(&owner))),
                    );
                }
            }
            CoreEvent::Acquired {
                group,
                ips,
                cause,
                failover,
            } => {
                self.metrics.ownership_transition(Direction::Acquire);
                if let Some(took) = failover {
                    self.metrics.set_last_failover(took);
                    self.takeovers.insert(group, now - took);
                }
                let took = failover
                    .map(|d| format!(" after {:.3}s", d.as_secs_f64()))
                    .unwrap_or_default();
                group_line!(self.summarising.acquired, node = %me, group, ip = %ips_text(&ips).join(" "), cause = %cause, "acquiring group {group} ({}): released -> held, {cause}{took}", ips_text(&ips).join(", "));
            }
            CoreEvent::Released { group, ips, cause } => {
                self.metrics.ownership_transition(Direction::Release);
                if let Some(g) = group {
                    self.takeovers.remove(&g);
                }
                let g = group
                    .map(|g| g.to_string())
                    .unwrap_or_else(|| "(removed)".into());
                group_line!(self.summarising.released, node = %me, group = %g, ip = %ips_text(&ips).join(" "), cause = %cause, "releasing group {g} ({}): held -> released, {cause}", ips_text(&ips).join(", "));
            }
            CoreEvent::ActiveChanged {
                active,
                reasons,
                previous,
            } => {
                let text = |r: &[vippy_core::node::InactiveReason]| {
                    if r.is_empty() {
                        "active".to_string()
                    } else {
                        format!(
                            "inactive ({})",
                            r.iter()
                                .map(|x| x.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                };
                let line = format!("state: {} -> {}", text(&previous), text(&reasons));
                if active {
                    info!(node = %me, "{line}")
                } else {
                    warn!(node = %me, "{line}")
                }
                self.metrics.set_active(active);
                let state = if active { "active" } else { "inactive" };
                self.publish(
                    Event::new(EventKind::State, &me)
                        .detail(state)
                        .reason(text(&reasons)),
                );
                self.hooks.run(
                    HookKind::Change,
                    HookEnv {
                        event: state.into(),
                        node: me,
                        ..HookEnv::default()
                    },
                );
            }
            CoreEvent::PeerUp {
                node,
                incarnation,
                from,
            } => {
                info!(node = %me, peer = %node, "peer {node}: unknown -> heard from {from} (incarnation {incarnation})");
                self.publish(
                    Event::new(EventKind::Peer, node)
                        .detail("up")
                        .reason(format!("heard from {from}")),
                );
            }
            CoreEvent::PeerRestarted { node, incarnation } => {
                info!(node = %me, peer = %node, "peer {node}: restarted (incarnation {incarnation})");
                self.publish(Event::new(EventKind::Peer, node).detail("restarted"));
            }
            CoreEvent::PeerStale { node } => {
                warn!(node = %me, peer = %node, "peer {node}: fresh -> stale (not heard for the stale period)");
                self.publish(Event::new(EventKind::Peer, node).detail("stale"));
            }
            CoreEvent::PeerLeft { node } => {
                info!(node = %me, peer = %node, "peer {node}: fresh -> gone (said goodbye)");
                self.publish(Event::new(EventKind::Peer, node).detail("left"));
            }
            CoreEvent::ConfigAdopted {
                version,
                previous_version,
                from,
            } => {
                let source = from
                    .clone()
                    .map(|p| format!("adopted from {p}"))
                    .unwrap_or_else(|| "reloaded from the file".into());
                warn!(node = %me, "config: version {previous_version} -> {version}, {source}");
                self.publish(
                    Event::new(EventKind::Config, &me)
                        .detail(format!("version {version}"))
                        .reason(source),
                );
            }
            CoreEvent::ConfigConflict {
                peer,
                version,
                standing_down,
            } => {
                self.metrics.datagram_rejected(Rejection::ConfigConflict);
                let action = if standing_down {
                    "this node stands down (config-conflict)"
                } else {
                    "the peer stands down"
                };
                error!(node = %me, peer = %peer, "CRITICAL config conflict: {peer} runs version {version} with different vips or nodes; {action}; make the files agree and bump the version");
                self.publish(
                    Event::new(EventKind::Config, &me)
                        .detail("conflict")
                        .reason(format!(
                            "{peer} runs version {version} with different content"
                        )),
                );
            }
            CoreEvent::ConfigKept { detail } => {
                warn!(node = %me, "config: {detail}");
                self.publish(
                    Event::new(EventKind::Config, &me)
                        .detail("kept")
                        .reason(detail),
                );
            }
            CoreEvent::ConfigFetchFailed { peer, detail } => {
                warn!(node = %me, peer = %peer, "config fetch from {peer} failed: {detail}");
            }
            CoreEvent::Rejected {
                from,
                sender,
                reason,
                detail,
            } => {
                self.metrics.datagram_rejected(reason);
                let entry = self.rejected.entry(reason).or_insert((0, None));
                entry.0 += 1;
                let due = entry
                    .1
                    .is_none_or(|last| now.duration_since(last) >= REJECT_LOG_EVERY);
                if due {
                    let count = std::mem::take(&mut entry.0);
                    entry.1 = Some(now);
                    let who = sender
                        .map(|s| format!(" (claims to be {s})"))
                        .unwrap_or_default();
                    debug!(node = %me, "dropped {count} datagram(s) for {}: latest from {from}{who}: {detail}", reason.as_str());
                }
            }
            CoreEvent::DuplicateName { from } => {
                error!(node = %me, "another process at {from} sends as node {me}: two nodes share a name");
            }
            CoreEvent::Reannounced { groups, because } => {
                // Thousands at once after a healed partition: one line.
                let shown: Vec<String> = groups.iter().take(8).map(|g| g.to_string()).collect();
                let more = groups.len().saturating_sub(shown.len());
                info!(node = %me, "announcing {} held group(s) again ({}{}): {because}", groups.len(), shown.join(", "), if more > 0 { format!(" and {more} more") } else { String::new() });
            }
            CoreEvent::CannotServe { groups } => {
                if groups.is_empty() {
                    info!(node = %me, "can serve every group again");
                } else {
                    let shown: Vec<String> = groups
                        .iter()
                        .take(8)
                        .map(|(g, why)| format!("{g} ({})", why.join(", ")))
                        .collect();
                    let more = groups.len().saturating_sub(shown.len());
                    let more = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    warn!(node = %me, "cannot serve {} group(s) here: {}{more}", groups.len(), shown.join(", "));
                }
            }
            CoreEvent::IncarnationBumped {
                previous,
                incarnation,
                because,
            } => {
                warn!(node = %me, "incarnation {previous} -> {incarnation}: {because}");
                self.publish(
                    Event::new(EventKind::State, &me)
                        .detail("incarnation")
                        .reason(because),
                );
            }
            CoreEvent::LoopLag { away } => {
                self.metrics.loop_lagged(away);
                warn!(node = %me, "the core loop was away for {:.0} ms (paused or starved); peers are judged again once what queued has been read", away.as_secs_f64() * 1000.0);
            }
        }
    }

    pub fn check(&self, result: &crate::checks::CheckResult) {
        let state = if result.ok { "passing" } else { "failing" };
        self.publish(
            Event::new(EventKind::Check, &self.node)
                .reason(format!("check:{}", result.name))
                .detail(format!("{state}: {}", result.detail)),
        );
    }

    /// The data plane's reports that queued together (one batch of its
    /// commands, mostly): each as [`Narrator::data_plane`], with the
    /// per-group `plumbed` / `removed` lines summarised when there are many.
    pub fn data_plane_batch(&mut self, reports: &[Report]) {
        let (mut plumbed, mut removed) = (0usize, 0usize);
        let mut interfaces: BTreeMap<&str, ()> = BTreeMap::new();
        for report in reports {
            match report {
                Report::Plumbed { ips, interface, .. } => {
                    plumbed += ips.len();
                    interfaces.insert(interface, ());
                }
                Report::Unplumbed { ips, interface, .. } => {
                    removed += ips.len();
                    interfaces.insert(interface, ());
                }
                _ => {}
            }
        }
        self.summarising.plumbed = plumbed > SUMMARY_ABOVE;
        self.summarising.removed = removed > SUMMARY_ABOVE;
        for report in reports {
            self.data_plane(report);
        }
        let on: Vec<&str> = interfaces.into_keys().collect();
        let me = &self.node;
        if self.summarising.plumbed {
            info!(node = %me, "plumbed {plumbed} addresses on {} (one line per group at debug)", on.join(", "));
        }
        if self.summarising.removed {
            info!(node = %me, "removed {removed} addresses from {} (one line per group at debug)", on.join(", "));
        }
        self.summarising = Summarising::default();
    }

    pub fn data_plane(&mut self, report: &Report) {
        let me = self.node.clone();
        match report {
            Report::Plumbed {
                group,
                ips,
                interface,
                restored,
            } => {
                let how = if *restored {
                    " (put back after it was removed by hand)"
                } else {
                    ""
                };
                group_line!(self.summarising.plumbed, node = %me, interface = %interface, ip = %ips_text(ips).join(" "), "plumbed {} on {interface}{how}", ips_text(ips).join(", "));
                let mut event = Event::new(EventKind::NetworkUp, &me)
                    .ips(ips_text(ips))
                    .interface(interface.clone());
                if let Some(g) = group {
                    event = event.group(*g);
                }
                self.publish(event);
                if let Some(g) = group
                    && let Some(since) = self.takeovers.remove(g)
                {
                    self.metrics.takeover(since.elapsed());
                }
                if !*restored {
                    self.hooks.run(
                        HookKind::Up,
                        HookEnv {
                            event: "up".into(),
                            node: me,
                            group: *group,
                            ips: ips_text(ips),
                            interface: Some(interface.clone()),
                        },
                    );
                }
            }
            Report::Unplumbed {
                group,
                ips,
                interface,
                leftover,
            } => {
                let how = if *leftover {
                    " (not held here: left over from an earlier run or another owner)"
                } else {
                    ""
                };
                group_line!(self.summarising.removed, node = %me, interface = %interface, ip = %ips_text(ips).join(" "), "removed {} from {interface}{how}", ips_text(ips).join(", "));
                let mut event = Event::new(EventKind::NetworkDown, &me)
                    .ips(ips_text(ips))
                    .interface(interface.clone());
                if let Some(g) = group {
                    event = event.group(*g);
                }
                self.publish(event);
                if !*leftover {
                    self.hooks.run(
                        HookKind::Down,
                        HookEnv {
                            event: "down".into(),
                            node: me,
                            group: *group,
                            ips: ips_text(ips),
                            interface: Some(interface.clone()),
                        },
                    );
                }
            }
            Report::PlumbFailed { ip, error } => {
                self.metrics.plumb_failure();
                error!(node = %me, ip = %ip, "cannot plumb {ip}: {error} (retried on the next reconcile)");
            }
            Report::UnplumbFailed { ip, error } => {
                self.metrics.unplumb_failure();
                error!(node = %me, ip = %ip, "cannot remove {ip}: {error} (retried on the next reconcile)");
            }
            Report::Announced {
                garp,
                na,
                arp_replies,
            } => {
                self.metrics.announcements_sent(Announcement::Garp, *garp);
                self.metrics.announcements_sent(Announcement::Na, *na);
                self.metrics
                    .announcements_sent(Announcement::ArpReply, *arp_replies);
            }
            // Conflicts are judged by the loop, which knows the peers.
            Report::Neighbours(_) | Report::Links(_) | Report::Conflict { .. } => {}
        }
    }
}

/// `to node2: 400 (0-99, 200-499), to nobody: 3 (7, 9, 12)`: per key, the
/// count and the groups as ranges, the first few ranges only.
fn summary(by: &BTreeMap<String, Vec<usize>>, prefix: &str) -> String {
    by.iter()
        .map(|(key, groups)| format!("{prefix}{key}: {} ({})", groups.len(), ranges(groups)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sorted group indices as ranges: `0-99, 120, 200-499`, at most 8 ranges
/// and then `…`.
pub(super) fn ranges(groups: &[usize]) -> String {
    const MAX_RANGES: usize = 8;
    let mut sorted = groups.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        if out.len() == MAX_RANGES {
            out.push("…".into());
            break;
        }
        let end = sorted[i];
        out.push(if end == start {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything logged at info and above while `f` runs.
    fn info_lines(f: impl FnOnce()) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(String::from).collect()
    }

    fn narrator() -> Narrator {
        let metrics = std::sync::Arc::new(Metrics::new());
        let (events, _) = broadcast::channel(16);
        let hooks = Hooks::new(Default::default(), metrics.clone());
        Narrator::new("node1".into(), metrics, events, hooks)
    }

    fn intents(n: usize) -> Vec<CoreEvent> {
        (0..n)
            .map(|group| CoreEvent::Intent {
                group,
                owner: Some("node2".into()),
                previous: Some("node1".into()),
            })
            .collect()
    }

    #[test]
    fn a_decision_moving_many_groups_is_one_line_at_info() {
        let now = Instant::now();
        let lines = info_lines(|| narrator().core_batch(intents(4096), now));
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].contains("placement: 4096 groups change owner: to node2: 4096 (0-4095)"),
            "{lines:#?}"
        );
        // A few are still told one by one.
        let lines = info_lines(|| narrator().core_batch(intents(3), now));
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(
            lines[2].contains("group 2: owner node1 -> node2"),
            "{lines:#?}"
        );
    }

    #[test]
    fn ranges_are_compact_and_bounded() {
        assert_eq!(ranges(&[3, 1, 2, 7, 9, 10]), "1-3, 7, 9-10");
        let many: Vec<usize> = (0..100).map(|g| g * 2).collect();
        assert_eq!(ranges(&many), "0, 2, 4, 6, 8, 10, 12, 14, …");
        assert_eq!(ranges(&[]), "");
    }
}
