//! Recorded outputs as readable lines: one per event and per action, with
//! the time in ms and the node. Transmits are decoded: a heartbeat is shown
//! only when what it announces changed, goodbyes and config transfers
//! always; their bytes never.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use vippy_core::config::{Cluster, Digest};
use vippy_core::node::{Action, Destination, Event, InactiveReason};
use vippy_core::wire::{self, Body, Key};
use vippy_sim::world::{Output, Recorded, SECRET, World};

/// What a node announced last, to print only changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Announced {
    version: u64,
    digest: Digest,
    mature: bool,
    active: bool,
    reasons: Vec<String>,
    holds: Vec<usize>,
    handoffs: Vec<(u16, u16)>,
}

pub struct Transcript {
    pub text: String,
    key: Key,
    names: Vec<String>,
    addrs: Vec<std::net::SocketAddr>,
    /// Clusters by digest, to name configs and handoff recipients.
    clusters: HashMap<Digest, (String, Arc<Cluster>)>,
    announced: HashMap<usize, Announced>,
}

impl Transcript {
    pub fn new(world: &World, configs: &[(String, Arc<Cluster>)]) -> Transcript {
        let mut clusters = HashMap::new();
        for (label, cluster) in configs {
            clusters
                .entry(cluster.digest())
                .or_insert_with(|| (label.clone(), cluster.clone()));
        }
        Transcript {
            text: String::new(),
            key: Key::derive(SECRET.as_bytes()),
            names: world.nodes.iter().map(|n| n.name.clone()).collect(),
            addrs: world.nodes.iter().map(|n| n.addr).collect(),
            clusters,
            announced: HashMap::new(),
        }
    }

    pub fn line(&mut self, at: Duration, who: &str, what: &str) {
        let _ = writeln!(self.text, "{} {who} {what}", stamp(at));
    }

    pub fn raw(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// A node restarted: its next heartbeat is news again.
    pub fn forget(&mut self, node: usize) {
        self.announced.remove(&node);
    }

    /// Writes outputs grouped by (time, node), each event followed by the
    /// actions that carry it out, then anything else, then transmits.
    pub fn outputs(&mut self, recorded: Vec<Recorded>) {
        let mut rest = recorded.into_iter().peekable();
        while let Some(first) = rest.next() {
            let (at, node) = (first.at, first.node);
            let mut batch = vec![first.output];
            while let Some(next) = rest.next_if(|r| r.at == at && r.node == node) {
                batch.push(next.output);
            }
            self.batch(at, node, batch);
        }
    }

    fn batch(&mut self, at: Duration, node: usize, batch: Vec<Output>) {
        let who = self.names[node].clone();
        let mut actions: Vec<Option<Action>> = Vec::new();
        let mut events = Vec::new();
        let mut transmits = Vec::new();
        for output in batch {
            match output {
                Output::Action(a) => actions.push(Some(a)),
                Output::Event(e) => events.push(e),
                Output::Transmit(t) => transmits.push(t),
            }
        }
        for event in events {
            self.line(at, &who, &describe_event(&event));
            for slot in actions.iter_mut() {
                if slot.as_ref().is_some_and(|a| carries(&event, a)) {
                    let action = slot.take().expect("checked");
                    self.line(at, &who, &format!("  {}", describe_action(&action)));
                }
            }
        }
        for action in actions.into_iter().flatten() {
            self.line(at, &who, &describe_action(&action));
        }
        for t in transmits {
            if let Some(line) = self.describe_transmit(node, t.destination, &t.bytes) {
                self.line(at, &who, &line);
            }
        }
    }

    fn describe_transmit(&mut self, node: usize, to: Destination, bytes: &[u8]) -> Option<String> {
        let msg = match wire::decode(bytes, &self.key) {
            Ok(m) => m,
            Err(e) => return Some(format!("sent an undecodable datagram: {e}")),
        };
        let to_name = match to {
            Destination::Cluster => "the cluster".to_string(),
            Destination::Peer(addr) => self
                .addrs
                .iter()
                .position(|a| *a == addr)
                .map(|i| self.names[i].clone())
                .unwrap_or_else(|| addr.to_string()),
        };
        match msg.body {
            Body::Heartbeat(hb) => {
                let now = Announced {
                    version: hb.config_version,
                    digest: hb.config_digest,
                    mature: hb.mature,
                    active: hb.active,
                    reasons: hb.reasons,
                    holds: hb.holds.iter().collect(),
                    handoffs: hb.handoffs.iter().map(|h| (h.group, h.to)).collect(),
                };
                if self.announced.get(&node) == Some(&now) {
                    return None;
                }
                let line = self.describe_heartbeat(&now);
                self.announced.insert(node, now);
                Some(line)
            }
            Body::Goodbye(g) => Some(format!(
                "says GOODBYE to {to_name} ({})",
                self.config_name(g.config_version, &g.config_digest)
            )),
            Body::ConfigRequest(r) => Some(format!(
                "asks {to_name} for config {} chunks {}..{}",
                self.config_name(r.version, &r.digest),
                r.first_chunk,
                u64::from(r.first_chunk) + u64::from(r.count)
            )),
            Body::ConfigChunk(c) => Some(format!(
                "sends {to_name} config {} chunk {} of {} ({} bytes)",
                self.config_name(c.version, &c.digest),
                c.index + 1,
                c.total,
                c.data.len()
            )),
            Body::ArpShare(a) => Some(format!(
                "shares {} neighbours with {to_name}",
                a.entries.len()
            )),
            Body::Pins(p) => {
                let entries: Vec<String> = p
                    .entries
                    .iter()
                    .map(|e| match e.node {
                        Some(n) => format!("g{}->n{} @{}", e.group, n, e.stamp),
                        None => format!("g{} cleared @{}", e.group, e.stamp),
                    })
                    .collect();
                Some(format!("tells {to_name} pins [{}]", entries.join(", ")))
            }
        }
    }

    fn describe_heartbeat(&self, a: &Announced) -> String {
        let mut s = format!("announces {}", self.config_name(a.version, &a.digest));
        s.push_str(if a.mature { " mature" } else { " immature" });
        if a.active {
            s.push_str(" active");
        } else {
            let _ = write!(s, " inactive ({})", a.reasons.join(", "));
        }
        if a.holds.is_empty() {
            s.push_str(" holds nothing");
        } else {
            let groups: Vec<String> = a.holds.iter().map(|g| format!("g{g}")).collect();
            let _ = write!(s, " holds {}", groups.join(" "));
        }
        if !a.handoffs.is_empty() {
            let cluster = self.clusters.get(&a.digest).map(|(_, c)| c);
            let list: Vec<String> = a
                .handoffs
                .iter()
                .map(|(g, to)| {
                    let to = cluster
                        .and_then(|c| c.nodes.get(usize::from(*to)))
                        .cloned()
                        .unwrap_or_else(|| format!("node #{to}"));
                    format!("g{g}->{to}")
                })
                .collect();
            let _ = write!(s, ", hands off {}", list.join(" "));
        }
        s
    }

    /// `v5`, or `v5 (file)` / `v5 (other)` when the script has several
    /// configs of that version.
    fn config_name(&self, version: u64, digest: &Digest) -> String {
        let same_version = self
            .clusters
            .values()
            .filter(|(_, c)| c.version == version)
            .count();
        match self.clusters.get(digest) {
            Some((label, _)) if same_version > 1 => format!("v{version} ({label})"),
            Some(_) => format!("v{version}"),
            None => format!("v{version} (unknown digest)"),
        }
    }
}

/// Whether `action` is the data-plane side of `event`.
fn carries(event: &Event, action: &Action) -> bool {
    match (event, action) {
        (Event::Acquired { group, .. }, Action::Plumb { group: g, .. })
        | (Event::Acquired { group, .. }, Action::Announce { group: g, .. }) => group == g,
        (
            Event::Released { group, ips, .. },
            Action::Unplumb {
                group: g, ips: i, ..
            },
        ) => group == g && ips == i,
        _ => false,
    }
}

/// `  6.512` seconds, to the millisecond.
pub fn stamp(at: Duration) -> String {
    let ms = at.as_millis();
    format!("{:3}.{:03}", ms / 1000, ms % 1000)
}

fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

pub fn ips(list: &[IpNet]) -> String {
    let parts: Vec<String> = list.iter().map(|ip| ip.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

fn group(g: Option<usize>) -> String {
    match g {
        Some(g) => format!("group {g}"),
        None => "a removed group".to_string(),
    }
}

fn state(reasons: &[InactiveReason]) -> String {
    if reasons.is_empty() {
        "active".to_string()
    } else {
        let parts: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
        format!("inactive: {}", parts.join(", "))
    }
}

fn describe_action(action: &Action) -> String {
    match action {
        Action::Plumb { group: g, ips: i } => format!("plumb {} {}", group(Some(*g)), ips(i)),
        Action::Unplumb { group: g, ips: i } => format!("unplumb {} {}", group(*g), ips(i)),
        Action::Announce { group: g, ips: i } => {
            format!("announce {} {}", group(Some(*g)), ips(i))
        }
    }
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::Intent {
            group: g,
            owner,
            previous,
        } => format!(
            "intent group {g}: owner {} (was {})",
            owner.as_deref().unwrap_or("-"),
            previous.as_deref().unwrap_or("-")
        ),
        Event::Acquired {
            group: g,
            ips: i,
            cause,
            failover,
        } => {
            let mut s = format!("ACQUIRED group {g} {} cause: {cause}", ips(i));
            if let Some(f) = failover {
                let _ = write!(s, " (failover {})", seconds(*f));
            }
            s
        }
        Event::Released {
            group: g,
            ips: i,
            cause,
        } => format!("RELEASED {} {} cause: {cause}", group(*g), ips(i)),
        Event::ActiveChanged {
            reasons, previous, ..
        } => format!("now {} (was {})", state(reasons), state(previous)),
        Event::PeerUp {
            node,
            incarnation,
            from,
        } => format!("peer {node} up (incarnation {incarnation}, from {from})"),
        Event::PeerRestarted { node, incarnation } => {
            format!("peer {node} RESTARTED (incarnation {incarnation})")
        }
        Event::PeerStale { node } => format!("peer {node} STALE"),
        Event::PeerLeft { node } => format!("peer {node} LEFT (goodbye)"),
        Event::ConfigAdopted {
            version,
            previous_version,
            from,
        } => format!(
            "CONFIG v{version} adopted (was v{previous_version}) from {}",
            from.as_deref().unwrap_or("the local file")
        ),
        Event::ConfigConflict {
            peer,
            version,
            standing_down,
        } => format!(
            "CONFIG CONFLICT with {peer} on v{version} (same version, different content): {}",
            if *standing_down {
                "this node stands down"
            } else {
                "this node keeps serving"
            }
        ),
        Event::ConfigKept { detail } => format!("config kept: {detail}"),
        Event::ConfigFetchFailed { peer, detail } => {
            format!("config fetch from {peer} FAILED: {detail}")
        }
        Event::Rejected {
            from,
            sender,
            reason,
            detail,
        } => format!(
            "REJECTED a datagram from {from} ({}): {} ({detail})",
            sender.as_deref().unwrap_or("unauthenticated"),
            reason.as_str()
        ),
        Event::DuplicateName { from } => {
            format!("DUPLICATE NAME: another process sends as this node from {from}")
        }
        Event::Reannounced { groups, because } => {
            format!("REANNOUNCED groups {groups:?}: {because}")
        }
        Event::IncarnationBumped {
            previous,
            incarnation,
            because,
        } => format!("INCARNATION {previous} -> {incarnation}: {because}"),
        Event::LoopLag { away } => format!("LOOP LAG: away {away:?}"),
        Event::CannotServe { groups } => format!("CANNOT SERVE {groups:?}"),
    }
}
