//! What this node knows of one other node, from its authenticated messages.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::Digest;
use crate::wire::{GroupSet, ReplayWindow};

#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub addr: SocketAddr,
    pub replay: ReplayWindow,
    pub incarnation: u64,
    pub last_heard: Instant,
    /// Heard within `stale`; cleared at that exact deadline by a timer.
    pub fresh: bool,
    /// Said goodbye and has not been heard since.
    pub departed: bool,
    /// Its current incarnation echoes ours: it is live, not a replay
    /// recorded before this node started, and it hears this node now
    /// (docs/PROTOCOL.md, "Echoes"). Cleared when its heartbeats stop
    /// echoing us: a peer that does not hear us is not counted.
    pub verified: bool,
    /// When its heartbeat last echoed our current incarnation.
    pub echoed_at: Instant,
    /// Present at the last decision (see `decide`).
    pub counted_before: bool,
    /// Datagrams of it went missing since the last decision (its sequence
    /// jumped): it may have claimed and announced a group meanwhile.
    pub missed: bool,
    /// The highest sequence number accepted from its current incarnation.
    pub last_sequence: u64,
    /// When an authentic datagram of an older incarnation than `incarnation`
    /// was last rejected from it: it restarted with its clock behind (or a
    /// second process runs under its name), and is told what we hold.
    pub regressed_at: Option<Instant>,
    /// Which of our secrets its latest datagram's tag matched (0: the one
    /// we sign with), so a rotation shows who still signs with an old one.
    pub signed_with: usize,
    /// When this node first heard its current incarnation.
    pub met_at: Instant,
    /// The goodbye's sequence: a heartbeat older than it (reordered on the
    /// way) must not bring the peer back.
    pub goodbye_sequence: Option<u64>,
    /// From its latest heartbeat (by sequence, so a reordered older one is ignored).
    pub state: Option<PeerState>,
    /// Its shared neighbour table entries (MAC, expiry), by address.
    pub neighbours: std::collections::BTreeMap<std::net::IpAddr, ([u8; 6], Instant)>,
}

/// How a peer stands, in the order placement asks: gone, silent, deaf to
/// this node, or present. It is read from three facts, each with its own
/// deadline: a goodbye (`departed`, until heard again), `stale` since it
/// was last heard (`fresh`), and the echo window (`verified`). They stay
/// separate fields because they lapse independently: a peer that goes
/// stale and is heard again within the echo window is present at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// Said goodbye and has not been heard since.
    Departed,
    /// Not heard for `stale`.
    Stale,
    /// Heard, but its heartbeats do not echo this node's incarnation: it
    /// does not hear us (yet), so it is not counted.
    Deaf,
    /// Heard, and it hears this node.
    Present,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerState {
    pub sequence: u64,
    pub version: u64,
    pub digest: Digest,
    pub mature: bool,
    pub active: bool,
    pub reasons: Vec<String>,
    /// Group indices in the peer's own config (see `digest`).
    pub holds: GroupSet,
    /// Groups it cannot serve (indices in its config, like `holds`).
    pub cannot: GroupSet,
    /// Planned moves it has released and not yet seen taken.
    pub handoffs: Vec<crate::wire::Handoff>,
}

impl PeerState {
    /// What a heartbeat with this sequence number says.
    pub fn from_heartbeat(sequence: u64, hb: crate::wire::Heartbeat) -> PeerState {
        PeerState {
            sequence,
            version: hb.config_version,
            digest: hb.config_digest,
            mature: hb.mature,
            active: hb.active,
            reasons: hb.reasons,
            holds: hb.holds,
            cannot: hb.cannot,
            handoffs: hb.handoffs,
        }
    }

    /// Whether two heartbeats say the same (so nothing needs deciding again).
    pub fn same_as(&self, other: &PeerState) -> bool {
        self.version == other.version
            && self.digest == other.digest
            && self.mature == other.mature
            && self.active == other.active
            && self.reasons == other.reasons
            && self.holds == other.holds
            && self.cannot == other.cannot
            && self.handoffs == other.handoffs
    }
}

impl Peer {
    pub fn new(addr: SocketAddr, incarnation: u64, now: Instant) -> Peer {
        Peer {
            addr,
            replay: ReplayWindow::new(),
            incarnation,
            last_heard: now,
            fresh: true,
            departed: false,
            verified: false,
            echoed_at: now,
            signed_with: 0,
            counted_before: false,
            regressed_at: None,
            missed: false,
            last_sequence: 0,
            met_at: now,
            goodbye_sequence: None,
            state: None,
            neighbours: std::collections::BTreeMap::new(),
        }
    }

    /// How the peer stands now (see [`Liveness`]).
    pub fn liveness(&self) -> Liveness {
        if self.departed {
            Liveness::Departed
        } else if !self.fresh {
            Liveness::Stale
        } else if !self.verified {
            Liveness::Deaf
        } else {
            Liveness::Present
        }
    }

    /// Present in the cluster: heard lately, and it hears this node.
    pub fn present(&self) -> bool {
        self.liveness() == Liveness::Present
    }

    /// Heard lately and not gone, whether or not it hears this node.
    pub fn heard(&self) -> bool {
        matches!(self.liveness(), Liveness::Deaf | Liveness::Present)
    }

    pub fn stale_at(&self, stale: Duration) -> Instant {
        self.last_heard + stale
    }
}
