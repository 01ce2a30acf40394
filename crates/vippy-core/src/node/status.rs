//! A read-only view of the node for status, metrics and tests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use ipnet::IpNet;

use super::{InactiveReason, Node};
use crate::config::{Digest, Failback};
use crate::placement;

#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    pub name: String,
    pub version: u64,
    pub digest: Digest,
    pub adopted_from: Option<String>,
    pub mature: bool,
    pub active: bool,
    pub reasons: Vec<InactiveReason>,
    /// Administrative drains: reason by source.
    pub drains: BTreeMap<String, String>,
    pub groups: Vec<GroupView>,
    pub peers: Vec<PeerView>,
    /// Why this node takes nothing although active (no peer it hears
    /// counts it yet), if so.
    pub waiting: Option<String>,
    /// Authenticated senders outside `nodes` heard within `stale`: another
    /// cluster on the same channel and secret, or nodes of a newer config.
    pub strangers: Vec<String>,
    /// The `failback` setting this node decides with.
    pub failback: Failback,
    /// Addresses that sent datagrams of another protocol version within
    /// `stale`, with that version (a rolling upgrade in progress).
    pub other_protocols: Vec<(SocketAddr, u8)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    pub index: usize,
    pub ips: Vec<IpNet>,
    pub preferred: Option<String>,
    /// Placement's choice from this node's view.
    pub owner: Option<String>,
    /// Nodes announcing it (this one included), as seen from here.
    pub holders: Vec<String>,
    pub held_here: bool,
    pub held_since: Option<Instant>,
    /// A move to a returning node that `failback` holds back, if any.
    pub failback: Option<PendingFailback>,
    /// Why this node cannot serve the group (empty: it can), e.g. `link:eth1`.
    pub cannot_here: Vec<String>,
    /// Present peers that say they cannot serve it.
    pub cannot_elsewhere: Vec<String>,
    /// The operator's pin (a planned move), if any.
    pub pin: Option<super::PinView>,
}

/// A group that placement would give to a node that came back, kept by
/// its holder for now (docs/ARCHITECTURE.md, "Failback").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFailback {
    /// The node it goes to.
    pub to: String,
    /// When, if that node stays eligible (`failback: N`, as seen from
    /// here); `None` with `"manual"`: only when its holder goes.
    pub at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeerView {
    pub name: String,
    pub addr: SocketAddr,
    pub last_heard: Instant,
    pub incarnation: u64,
    pub config_version: Option<u64>,
    pub eligible: bool,
    pub why_not: Option<String>,
    /// Which of this node's secrets the peer's latest datagram matched
    /// (0: the first, the one this node signs with).
    pub secret_index: usize,
    /// Heard within `stale` and not departed.
    pub present: bool,
}

impl Node {
    pub fn status(&self) -> NodeStatus {
        let cluster = &self.cluster;
        let since = self.held_since();
        let digest = cluster.digest();
        let mut holders: Vec<Vec<String>> = vec![Vec::new(); cluster.groups.len()];
        for g in since.keys() {
            holders[*g].push(self.name.clone());
        }
        for (name, peer) in &self.peers {
            if let Some(state) = peer.state.as_ref().filter(|_| peer.present())
                && state.digest == digest
            {
                for g in state.holds.iter() {
                    if let Some(list) = holders.get_mut(g) {
                        list.push(name.clone());
                    }
                }
            }
        }
        let owners = self.current_owners();
        let mut cannot_here = self.cannot_serve();
        let mut cannot_elsewhere: Vec<Vec<String>> = vec![Vec::new(); cluster.groups.len()];
        for (name, peer) in &self.peers {
            if let Some(state) = peer.state.as_ref().filter(|_| peer.present())
                && state.digest == digest
            {
                for g in state.cannot.iter() {
                    if let Some(list) = cannot_elsewhere.get_mut(g) {
                        list.push(name.clone());
                    }
                }
            }
        }
        let groups = cluster
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| GroupView {
                index: i,
                ips: g.ips.clone(),
                preferred: g.preferred.clone(),
                owner: owners[i].map(|o| cluster.nodes[usize::from(o)].clone()),
                holders: std::mem::take(&mut holders[i]),
                held_here: since.contains_key(&i),
                held_since: since.get(&i).copied(),
                failback: self.deferred.get(&g.key).and_then(|(to, at)| {
                    Some(PendingFailback {
                        to: cluster.nodes.get(usize::from(*to))?.clone(),
                        at: *at,
                    })
                }),
                cannot_here: cannot_here.remove(&i).unwrap_or_default(),
                cannot_elsewhere: std::mem::take(&mut cannot_elsewhere[i]),
                pin: self.pin_of(i),
            })
            .collect();
        let peers = self
            .peers
            .iter()
            .map(|(name, peer)| {
                let eligible = self.peer_eligible(name);
                PeerView {
                    name: name.clone(),
                    addr: peer.addr,
                    last_heard: peer.last_heard,
                    incarnation: peer.incarnation,
                    config_version: peer.state.as_ref().map(|s| s.version),
                    eligible: eligible.is_ok(),
                    why_not: eligible.err(),
                    secret_index: peer.signed_with,
                    present: peer.present(),
                }
            })
            .collect();
        NodeStatus {
            name: self.name.clone(),
            version: cluster.version,
            digest,
            adopted_from: self.adopted_from.clone(),
            mature: self.lifecycle.mature(),
            active: self.reasons.is_empty(),
            reasons: self.reasons.clone(),
            drains: self.admin.clone(),
            groups,
            peers,
            waiting: self.waiting(),
            strangers: self
                .peers
                .iter()
                .filter(|(name, p)| p.fresh && cluster.node_index(name).is_none())
                .map(|(name, _)| name.clone())
                .collect(),
            failback: self.config.failback,
            other_protocols: self
                .other_protocols
                .iter()
                .filter(|(_, (_, at))| *at + self.config.stale >= self.last_awake)
                .map(|(addr, (version, _))| (*addr, *version))
                .collect(),
        }
    }

    /// The owners placement gave last time, by group index.
    fn current_owners(&self) -> Vec<Option<placement::NodeIndex>> {
        (0..self.cluster.groups.len())
            .map(|g| self.last_owner.get(g).copied().flatten())
            .collect()
    }
}
