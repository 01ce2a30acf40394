//! What the management API shows: a snapshot of this node's view
//! ([`Status`]) and the event stream ([`Event`]) (docs/API.md).
//!
//! The runtime builds these; the API serves them as JSON and `vippyctl`
//! reads them back, so every type is both `Serialize` and `Deserialize`, and
//! every field has a default so an older `vippyctl` can read a newer daemon.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// This node's view of the cluster, published by the runtime on every change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    pub node: String,
    /// Config version in force (the cluster's, which may be adopted).
    pub version: u64,
    /// Cluster config digest, lowercase hex.
    pub digest: String,
    /// `"file"`, or `"adopted from NODE"` when a peer's newer config is in
    /// force.
    pub config_origin: String,
    pub mature: bool,
    pub active: bool,
    /// Why this node is not active, in a stable order: `"booting"`,
    /// `"administrative"`, `"check:NAME"`, `"shutdown"`, `"config-conflict"`,
    /// `"not-in-config"`, `"no-quorum"`, `"duplicate-name"`. Empty when active.
    pub reasons: Vec<String>,
    /// The administrative drains in one line: each reason, prefixed with
    /// its source unless that is the operator's (`"admin"`), joined by
    /// `"; "`. `None` when not drained.
    pub admin_reason: Option<String>,
    /// The administrative drains: reason by source (`POST /active`).
    pub drains: BTreeMap<String, String>,
    pub groups: Vec<GroupStatus>,
    pub peers: Vec<PeerStatus>,
    /// Counter snapshot (see [`crate::metrics::Metrics::counters`]).
    pub counters: BTreeMap<String, u64>,
    /// Why this node takes nothing although active, e.g. `"not counted
    /// yet: node2 does not echo incarnation …"`; `None` when it serves.
    pub waiting: Option<String>,
    /// Authenticated senders outside `nodes` heard recently (another
    /// cluster sharing the secret and channel); never acted on.
    pub strangers: Vec<String>,
    /// The `failback` setting: `"immediate"`, `"manual"` or seconds (`"5s"`).
    pub failback: String,
    /// Senders of another protocol version heard within `stale`, e.g.
    /// `"198.51.100.12:5007 speaks protocol 3"` (this build speaks
    /// [`vippy_core::wire::PROTOCOL_VERSION`]); their datagrams are counted
    /// as `datagrams_rejected.version` and never acted on.
    pub protocols: Vec<String>,
    /// `up` hooks with `"retry": true` that have not succeeded yet.
    pub hooks_retrying: Vec<HookRetry>,
    /// The config's `nodes`, in order (names `POST /move` accepts).
    pub nodes: Vec<String>,
    /// Hosts that are not vippy nodes answering for a VIP held here,
    /// oldest first (docs/TROUBLESHOOTING.md, "Address conflict").
    pub conflicts: Vec<AddressConflict>,
}

/// A host that is not a vippy node seen answering for a VIP held here: it
/// answered a probe, announced the VIP or probed for it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AddressConflict {
    /// The VIP, without prefix length.
    pub ip: String,
    /// The foreign host's MAC, `02:76:6c:00:00:fa`.
    pub mac: String,
    /// This host's interface it was seen on.
    pub interface: String,
    /// The group the VIP belongs to, when it still does.
    pub group: Option<usize>,
    /// How it was seen last: `"arp"` (an ARP from the VIP, e.g. the answer
    /// to a probe), `"arp-probe"`, `"advertisement"`, `"solicitation"`,
    /// `"dad-probe"`.
    pub how: String,
    /// Unix seconds.
    pub first_seen: f64,
    pub last_seen: f64,
    /// Probe rounds (and acquisitions) in which it was seen.
    pub sightings: u64,
}

/// An `up` hook being retried while its group is held here.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HookRetry {
    pub group: usize,
    pub command: String,
    /// Runs so far, all failed.
    pub attempts: u32,
    pub last_error: String,
}

/// One group of VIPs, in config order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupStatus {
    pub index: usize,
    /// Addresses with prefix length, e.g. `"10.8.3.195/24"`.
    pub ips: Vec<String>,
    /// Local interface of each address, `None` where it is detected.
    pub interfaces: Vec<Option<String>>,
    pub preferred: Option<String>,
    /// The node placement assigns this group to (intent).
    pub owner: Option<String>,
    /// The nodes that announce holding it (observed, this node included).
    pub holders: Vec<String>,
    /// Whether the addresses are plumbed here.
    pub held_here: bool,
    /// Seconds since the group last changed hands as seen from here.
    pub since_seconds: Option<f64>,
    /// A node placement would give the group to, held back by `failback`
    /// (it came back and has not been eligible long enough, or failback is
    /// `"manual"`).
    pub failback_to: Option<String>,
    /// In how many seconds it moves there if that node stays eligible;
    /// `None` with `"manual"` (only when the holder goes).
    pub failback_in_seconds: Option<f64>,
    /// Why this node cannot serve the group although active (empty: it
    /// can): `link:IF` (interface missing, down or without carrier),
    /// `plumb-failed:ERROR`.
    pub cannot_serve_here: Vec<String>,
    /// Present peers that say they cannot serve it.
    pub cannot_serve_elsewhere: Vec<String>,
    /// The node the operator pinned the group to (`POST /move`), if any.
    pub pinned_to: Option<String>,
    /// Why the pin is not in force now (its node is not eligible from
    /// here), e.g. `"stale"`; `None` while it is, or without a pin.
    pub pin_dormant: Option<String>,
}

/// One other node of the cluster, as this node sees it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PeerStatus {
    pub name: String,
    /// Where its last authenticated datagram came from.
    pub address: Option<String>,
    pub last_heard_seconds: Option<f64>,
    pub incarnation: Option<u64>,
    pub config_version: Option<u64>,
    /// Eligible for placement.
    pub eligible: bool,
    /// Why not eligible: e.g. `"stale"`, `"booting"`, `"on config version 6"`,
    /// or the peer's own reasons such as `"check:http"` (docs/API.md).
    pub why_not: Option<String>,
    /// Which of this node's `secrets` the peer's latest datagram matched:
    /// 0 is the first (the one this node signs with). During a rotation,
    /// the old secret can be dropped once no peer shows anything but 0.
    pub secret_index: usize,
    /// Counted by this node: heard within `stale`, its heartbeats echo
    /// this node, and it has not said goodbye.
    pub present: bool,
}

/// What an [`Event`] reports. Serialised as the dotted names below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// Placement assigned a group to this node (the original manager's `up`).
    #[serde(rename = "intent.up")]
    IntentUp,
    /// Placement took a group away from this node (the original manager's `down`).
    #[serde(rename = "intent.down")]
    IntentDown,
    /// Addresses were plumbed here (the original network's `up`).
    #[serde(rename = "network.up")]
    NetworkUp,
    /// Addresses were removed here (the original network's `down`).
    #[serde(rename = "network.down")]
    NetworkDown,
    /// This node's active/inactive state changed.
    #[serde(rename = "state")]
    State,
    /// A peer appeared, went stale or changed eligibility.
    #[serde(rename = "peer")]
    Peer,
    /// The config changed: reloaded, adopted, or in conflict.
    #[serde(rename = "config")]
    Config,
    /// A health check changed state.
    #[serde(rename = "check")]
    Check,
    /// Sent by the API, not the runtime: this client fell behind and
    /// `missed` events were dropped for it.
    #[serde(rename = "lagged")]
    Lagged,
    /// A kind this build does not know (a newer daemon).
    #[serde(other, rename = "other")]
    Other,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::IntentUp => "intent.up",
            EventKind::IntentDown => "intent.down",
            EventKind::NetworkUp => "network.up",
            EventKind::NetworkDown => "network.down",
            EventKind::State => "state",
            EventKind::Peer => "peer",
            EventKind::Config => "config",
            EventKind::Check => "check",
            EventKind::Lagged => "lagged",
            EventKind::Other => "other",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `GET /events`: a JSON object with `time` (unix seconds) and
/// `kind`; the other fields are present when they apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: f64,
    pub kind: EventKind,
    /// The node the event is about (this node, or the peer for `peer`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Why it happened, e.g. `"peer node2 stale"`, `"check:http"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Anything else worth showing: the new state, an error text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For `lagged`: how many events this client missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<u64>,
}

impl Event {
    /// An event of `kind` about `node`, stamped now.
    pub fn new(kind: EventKind, node: impl Into<String>) -> Event {
        Event {
            time: unix_now(),
            kind,
            node: node.into(),
            group: None,
            ips: None,
            interface: None,
            reason: None,
            detail: None,
            missed: None,
        }
    }

    pub fn group(mut self, index: usize) -> Event {
        self.group = Some(index);
        self
    }

    pub fn ips<I, S>(mut self, ips: I) -> Event
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ips = Some(ips.into_iter().map(Into::into).collect());
        self
    }

    pub fn interface(mut self, interface: impl Into<String>) -> Event {
        self.interface = Some(interface.into());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Event {
        self.reason = Some(reason.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = Some(detail.into());
        self
    }

    /// The line the API sends to a client that fell behind.
    pub fn lagged(node: impl Into<String>, missed: u64) -> Event {
        let mut event = Event::new(EventKind::Lagged, node);
        event.missed = Some(missed);
        event
    }
}

/// Seconds since the Unix epoch, as events carry them, to the microsecond:
/// short enough that the JSON text reads back as the same `f64`.
pub fn unix_now() -> f64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    micros_to_secs(micros)
}

fn micros_to_secs(micros: u128) -> f64 {
    micros as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_skips_absent_fields_and_reads_back() {
        let event = Event {
            time: 1.5,
            ..Event::new(EventKind::NetworkUp, "node1")
        }
        .group(2)
        .ips(["10.8.3.195/24"])
        .interface("eth0");
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(
            line,
            r#"{"time":1.5,"kind":"network.up","node":"node1","group":2,"ips":["10.8.3.195/24"],"interface":"eth0"}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), event);
    }

    #[test]
    fn event_time_reads_back_exactly() {
        for k in 0..100_000u128 {
            let mut event = Event::new(EventKind::State, "n");
            event.time = micros_to_secs(1_795_798_563_000_000 + k * 7_919);
            let line = serde_json::to_string(&event).unwrap();
            assert_eq!(
                serde_json::from_str::<Event>(&line).unwrap().time,
                event.time
            );
        }
    }

    #[test]
    fn unknown_event_kind_reads_as_other() {
        let event: Event = serde_json::from_str(r#"{"time":1,"kind":"future.thing"}"#).unwrap();
        assert_eq!(event.kind, EventKind::Other);
    }

    #[test]
    fn status_reads_with_missing_fields() {
        let status: Status = serde_json::from_str(r#"{"node":"n1","active":true}"#).unwrap();
        assert_eq!(status.node, "n1");
        assert!(status.active);
        assert!(status.groups.is_empty());
    }
}
