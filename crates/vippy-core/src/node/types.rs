//! What goes into and comes out of a [`Node`](super::Node).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::config::Config;
use crate::wire::Neighbour;
pub use crate::wire::Rejection;

/// Local inputs: things the node learns from its own host.
#[derive(Debug, Clone)]
pub enum LocalEvent {
    /// A health check changed state (after its rise/fall counting).
    Health { check: String, ok: bool },
    /// Administrative drain (`active: false`) or undrain by one `source`
    /// (the operator, a plugin): the node stays drained while any source
    /// drains it, so one source's undrain cannot lift another's drain.
    Admin {
        source: String,
        active: bool,
        reason: Option<String>,
    },
    /// Lifts every source's drain at once.
    UndrainAll,
    /// A new configuration file was read and validated, with its secrets
    /// (the first signs, every one is accepted).
    Reload {
        config: Arc<Config>,
        secrets: Vec<SecretBytes>,
    },
    /// Graceful stop: release everything and say goodbye.
    Shutdown,
    /// This host's neighbour table (ARP and NDP), to share with the cluster.
    Neighbours(Vec<Neighbour>),
    /// The groups (by index in the cluster config in force) this node
    /// cannot serve for one `source`'s reasons (`"link"`: an interface
    /// missing, down or without carrier; `"plumb"`: its addresses could not
    /// be added), with a reason each such as `link:eth1`. Replaces what that
    /// source said before; an empty map clears it. The node stays active for
    /// every other group.
    CannotServe {
        source: String,
        groups: BTreeMap<usize, String>,
    },
}

/// The shared secret's bytes; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Vec<u8>);

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Everyone: the multicast group, or every configured unicast peer.
    Cluster,
    /// One peer (config transfer replies and requests).
    Peer(SocketAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub destination: Destination,
    pub bytes: Vec<u8>,
}

/// Desired state for the data plane. Applying one twice is harmless; the
/// runtime reconciles the kernel with the sum of them, so a failed or
/// undone change is put right on the next pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// These addresses should be on this host.
    Plumb { group: usize, ips: Vec<IpNet> },
    /// These addresses should not be on this host.
    Unplumb {
        group: Option<usize>,
        ips: Vec<IpNet>,
    },
    /// Tell the network these addresses moved here (gratuitous ARP / NA).
    Announce { group: usize, ips: Vec<IpNet> },
}

/// Why this node is not serving (shown in status and heartbeats).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InactiveReason {
    Booting,
    Administrative,
    Check(String),
    Shutdown,
    ConfigConflict,
    NotInConfig,
    NoQuorum,
    /// Another live process runs under this node's name, and this one
    /// started later: it stays silent and plumbs nothing.
    DuplicateName,
}

impl fmt::Display for InactiveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InactiveReason::Booting => f.write_str("booting"),
            InactiveReason::Administrative => f.write_str("administrative"),
            InactiveReason::Check(name) => write!(f, "check:{name}"),
            InactiveReason::Shutdown => f.write_str("shutdown"),
            InactiveReason::ConfigConflict => f.write_str("config-conflict"),
            InactiveReason::NotInConfig => f.write_str("not-in-config"),
            InactiveReason::NoQuorum => f.write_str("no-quorum"),
            InactiveReason::DuplicateName => f.write_str("duplicate-name"),
        }
    }
}

/// Why a group changed hands here; every ownership log line says one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Nobody held it and placement gave it here (cold start, new group).
    Unowned,
    /// Its holder stopped being heard for `stale`.
    PeerStale(String),
    /// Its holder said goodbye.
    PeerLeft(String),
    /// Its holder restarted (and so holds nothing now).
    PeerRestarted(String),
    /// Its holder released it for a planned move.
    PeerReleased(String),
    /// Placement gave it to another node (rebalance, preferred node back, drain).
    Reassigned(Option<String>),
    /// Two holders were seen; placement kept the other.
    DuplicateResolved(String),
    /// Another node holds it and does not hear this node (a one-way link):
    /// the side that can hear gives way, as a VRRP master yields.
    PeerDeaf(String),
    /// This node stopped being eligible (reasons listed).
    Inactive(Vec<InactiveReason>),
    /// This node cannot serve this group any more (reasons listed).
    CannotServe(Vec<String>),
    /// The group is no longer in the configuration.
    RemovedFromConfig,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Unowned => f.write_str("unowned"),
            Cause::PeerStale(n) => write!(f, "holder {n} went stale"),
            Cause::PeerLeft(n) => write!(f, "holder {n} said goodbye"),
            Cause::PeerRestarted(n) => write!(f, "holder {n} restarted"),
            Cause::PeerReleased(n) => write!(f, "holder {n} released it"),
            Cause::Reassigned(Some(n)) => write!(f, "reassigned to {n}"),
            Cause::Reassigned(None) => f.write_str("no eligible owner"),
            Cause::DuplicateResolved(n) => write!(f, "also held by {n}, which keeps it"),
            Cause::PeerDeaf(n) => write!(f, "also held by {n}, which does not hear this node"),
            Cause::Inactive(reasons) => write!(f, "inactive: {}", join(reasons)),
            Cause::CannotServe(reasons) => write!(f, "cannot serve here: {}", reasons.join(", ")),
            Cause::RemovedFromConfig => f.write_str("removed from the configuration"),
        }
    }
}

pub(crate) fn join(reasons: &[InactiveReason]) -> String {
    let parts: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
    parts.join(", ")
}

/// Something worth logging, counting or streaming to plugins.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Placement decided a group's owner changed (the original's manager up/down).
    Intent {
        group: usize,
        owner: Option<String>,
        previous: Option<String>,
    },
    /// This node took a group.
    Acquired {
        group: usize,
        ips: Vec<IpNet>,
        cause: Cause,
        /// For takeovers from a failed holder: since it was last heard.
        failover: Option<Duration>,
    },
    /// This node let a group go.
    Released {
        group: Option<usize>,
        ips: Vec<IpNet>,
        cause: Cause,
    },
    ActiveChanged {
        active: bool,
        reasons: Vec<InactiveReason>,
        previous: Vec<InactiveReason>,
    },
    PeerUp {
        node: String,
        incarnation: u64,
        from: SocketAddr,
    },
    PeerRestarted {
        node: String,
        incarnation: u64,
    },
    PeerStale {
        node: String,
    },
    PeerLeft {
        node: String,
    },
    ConfigAdopted {
        version: u64,
        previous_version: u64,
        /// The peer it came from, or `None` for a local reload.
        from: Option<String>,
    },
    /// Same version, different content: critical, as the two sides would
    /// place groups differently (docs/PROTOCOL.md).
    ConfigConflict {
        peer: String,
        version: u64,
        /// Whether this node stands down over it (its digest loses the tie-break).
        standing_down: bool,
    },
    /// A reload was not applied as a whole, and why.
    ConfigKept {
        detail: String,
    },
    ConfigFetchFailed {
        peer: String,
        detail: String,
    },
    /// An authentic-looking or forged datagram was dropped.
    Rejected {
        from: SocketAddr,
        sender: Option<String>,
        reason: Rejection,
        detail: String,
    },
    /// Another process is sending with this node's name.
    DuplicateName {
        from: SocketAddr,
    },
    /// Groups held here were announced again: another node claimed them,
    /// or a peer that could not hear us is back (its side may have
    /// announced them meanwhile, and clients must follow the keeper).
    Reannounced {
        groups: Vec<usize>,
        because: String,
    },
    /// The groups this node cannot serve changed: now these, by index,
    /// with their reasons (empty: it can serve every group again).
    CannotServe {
        groups: BTreeMap<usize, Vec<String>>,
    },
    /// This node took a new incarnation: peers held a newer one for its
    /// name (its clock is behind its previous run), or a second process
    /// under its name is heard.
    IncarnationBumped {
        previous: u64,
        incarnation: u64,
        because: String,
    },
    /// The node's own loop was away (a paused process, an overloaded
    /// host) for `away`: peers are judged again only after what queued
    /// meanwhile has been read.
    LoopLag {
        away: Duration,
    },
}

/// Running totals the metrics endpoint exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub heartbeats_sent: u64,
    pub heartbeats_received: u64,
    pub rejected: [u64; 6],
    pub acquisitions: u64,
    pub releases: u64,
    pub config_adoptions: u64,
    /// Groups held by this node and another at once that this node resolved
    /// (kept and announced again, or released).
    pub duplicates_resolved: u64,
    pub incarnation_bumps: u64,
    /// Authenticated datagrams from senders outside `nodes`.
    pub stranger_datagrams: u64,
    /// Datagrams whose tag matched a secret other than the first (the
    /// signing one): some node still signs with a secret being rotated out.
    pub older_secret_datagrams: u64,
    /// Times placement ran over every group: what a busy loop spends its
    /// time on at thousands of groups (docs/ARCHITECTURE.md, "Cost").
    pub decisions: u64,
    /// Of those, the ones that reused the last placement because the only
    /// change was holders catching up with it (`placement::Memo`).
    pub placements_reused: u64,
}

impl Counters {
    pub fn rejected(&self, r: Rejection) -> u64 {
        self.rejected[r as usize]
    }
}
