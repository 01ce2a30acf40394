//! Planned moves (docs/ARCHITECTURE.md, "Planned moves"): the operator pins
//! a group to a node through any node's API, and the pin becomes part of a
//! table every node keeps and gossips (`wire::Pins`), so that every node's
//! placement sees it and no two views fight over the group.
//!
//! The table holds one entry per group: the node it is pinned to, or none
//! (a cleared pin, kept so that an older pin cannot come back), with the
//! stamp it was decided at. Tables merge entry by entry, the higher
//! `(stamp, node)` winning, so every node that has heard the same entries
//! holds the same table, whatever order they came in. A new stamp is above
//! every stamp this node has seen and at least its incarnation (wall-clock
//! time at start), so an edit made on a node that started after another
//! edit wins over it even if the older one was never heard there.
//!
//! A pin is in force while its node is eligible (placement ignores it
//! otherwise) and ends when that node stops being active: the pinned node
//! clears its own pins as soon as it has a reason not to serve (drained,
//! failing check, shutting down, restarted and booting). Only the pinned
//! node decides that, because only it knows its state for certain; a peer
//! that merely lost sight of it for a moment must not end the pin.

use std::time::Instant;

use super::Node;
use crate::placement;
use crate::wire;

/// The most groups pinned at once; the rest of the table's room is for
/// cleared pins.
pub const MAX_PINNED: usize = wire::Pins::MAX_ENTRIES / 2;

/// One entry of the pin table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct PinRecord {
    pub(super) stamp: u64,
    /// `None`: cleared.
    pub(super) node: Option<String>,
}

/// Why a pin was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("no group {group}: the config has {count} groups (0..={last})", last = count.saturating_sub(1))]
    NoSuchGroup { group: usize, count: usize },
    #[error("no node {node:?} in the config's nodes")]
    NoSuchNode { node: String },
    #[error("node {node} is not eligible: {why}")]
    NotEligible { node: String, why: String },
    #[error(
        "this node ({node}) is still booting; ask again once it is mature, or ask another node"
    )]
    Booting { node: String },
    #[error("{max} groups are pinned already; clear one first")]
    TooMany { max: usize },
}

/// What [`Node::pin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub group: usize,
    pub node: String,
    /// The node pinned before, if another one.
    pub replaced: Option<String>,
    /// The node holds the group already: nothing moves, it only stays.
    pub already_there: bool,
}

/// A group's pin, for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinView {
    pub node: String,
    /// Why it is not in force now (its node is not eligible from here), if so.
    pub dormant: Option<String>,
}

impl Node {
    /// Pins `group` to `node`: a planned move, release first, which holds
    /// until `node` stops being active or the pin is replaced or cleared.
    /// Pinning to the node that holds the group only keeps it there.
    pub fn pin(&mut self, now: Instant, group: usize, node: &str) -> Result<Pinned, PinError> {
        self.wake(now);
        let key = self.group_key(group)?;
        if self.cluster.node_index(node).is_none() {
            return Err(PinError::NoSuchNode { node: node.into() });
        }
        if !self.lifecycle.mature() {
            // It may not have heard the cluster's table yet.
            return Err(PinError::Booting {
                node: self.name.clone(),
            });
        }
        self.node_eligible(node)
            .map_err(|why| PinError::NotEligible {
                node: node.into(),
                why,
            })?;
        let previous = self.live_pin(key);
        if previous.is_none() && self.pinned_count() >= MAX_PINNED {
            return Err(PinError::TooMany { max: MAX_PINNED });
        }
        let already_there = self.status_holders(group).iter().any(|h| h == node);
        self.edit_pin(now, key, Some(node.to_string()));
        self.flush(now);
        Ok(Pinned {
            group,
            node: node.into(),
            replaced: previous.filter(|p| p != node),
            already_there,
        })
    }

    /// Clears the pin of `group`, if any: placement is normal again.
    /// Returns the node it was pinned to.
    pub fn unpin(&mut self, now: Instant, group: usize) -> Result<Option<String>, PinError> {
        self.wake(now);
        let key = self.group_key(group)?;
        let previous = self.live_pin(key);
        if previous.is_some() {
            self.edit_pin(now, key, None);
            self.flush(now);
        }
        Ok(previous)
    }

    /// The pin of `group` (by index), for status.
    pub fn pin_of(&self, group: usize) -> Option<PinView> {
        let key = self.cluster.groups.get(group)?.key;
        let node = self.live_pin(key)?;
        let dormant = self.node_eligible(&node).err();
        Some(PinView { node, dormant })
    }

    fn group_key(&self, group: usize) -> Result<u64, PinError> {
        self.cluster
            .groups
            .get(group)
            .map(|g| g.key)
            .ok_or(PinError::NoSuchGroup {
                group,
                count: self.cluster.groups.len(),
            })
    }

    fn live_pin(&self, key: u64) -> Option<String> {
        self.pins.get(&key).and_then(|r| r.node.clone())
    }

    fn pinned_count(&self) -> usize {
        self.pins.values().filter(|r| r.node.is_some()).count()
    }

    /// Whether `node` (this one or a peer) is eligible from here, and why not.
    fn node_eligible(&self, node: &str) -> Result<(), String> {
        if node != self.name {
            return self.peer_eligible(node);
        }
        if self.reasons.is_empty() {
            Ok(())
        } else {
            let reasons: Vec<String> = self.reasons.iter().map(ToString::to_string).collect();
            Err(reasons.join(", "))
        }
    }

    /// Nodes this node sees announcing `group`, itself included.
    fn status_holders(&self, group: usize) -> Vec<String> {
        let mut holders = Vec::new();
        let key = self.cluster.groups[group].key;
        if self.held.contains_key(&key) {
            holders.push(self.name.clone());
        }
        let digest = self.cluster.digest();
        for (name, peer) in &self.peers {
            if let Some(state) = peer.state.as_ref().filter(|_| peer.present())
                && state.digest == digest
                && state.holds.contains(group)
            {
                holders.push(name.clone());
            }
        }
        holders
    }

    /// Records a local edit under a new stamp and tells the cluster.
    fn edit_pin(&mut self, now: Instant, key: u64, node: Option<String>) {
        let stamp = self.pin_clock.saturating_add(1).max(self.incarnation);
        self.pin_clock = stamp;
        self.pins.insert(key, PinRecord { stamp, node });
        self.bound_pins();
        self.pins_changed(now);
    }

    fn pins_changed(&mut self, now: Instant) {
        self.pins_changed_at = Some(now);
        self.needs_decide = true;
        self.dirty = true;
    }

    /// At most `wire::Pins::MAX_ENTRIES`: cleared pins go first, oldest
    /// first, then the oldest pins. Every node bounds the same way.
    fn bound_pins(&mut self) {
        while self.pins.len() > wire::Pins::MAX_ENTRIES {
            let oldest = self
                .pins
                .iter()
                .min_by_key(|(key, r)| (r.node.is_some(), r.stamp, **key))
                .map(|(key, _)| *key);
            if let Some(key) = oldest {
                self.pins.remove(&key);
            }
        }
    }

    /// A peer's table: adopt every newer entry, and answer at once if ours
    /// has newer ones it lacks (a peer that was away brings old pins back).
    pub(super) fn hear_pins(&mut self, now: Instant, sender: &str, pins: wire::Pins) {
        let verified = self.peers.get(sender).is_some_and(|p| p.verified);
        if !verified || pins.config_digest != self.cluster.digest() {
            // Unproven (a recording made before we started?) or indices
            // of another config: nothing to read.
            return;
        }
        let cluster = self.cluster.clone();
        let (mut changed, mut behind) = (false, false);
        for entry in pins.entries {
            let Some(group) = cluster.groups.get(usize::from(entry.group)) else {
                continue;
            };
            let node = match entry.node {
                Some(i) => match cluster.nodes.get(usize::from(i)) {
                    Some(name) => Some(name.clone()),
                    None => continue,
                },
                None => None,
            };
            self.pin_clock = self.pin_clock.max(entry.stamp);
            let theirs = PinRecord {
                stamp: entry.stamp,
                node,
            };
            match self.pins.get(&group.key) {
                Some(ours) if *ours > theirs => behind = true,
                Some(ours) if *ours == theirs => {}
                _ => {
                    self.pins.insert(group.key, theirs);
                    changed = true;
                }
            }
        }
        if changed {
            self.bound_pins();
            self.pins_changed(now);
        }
        if behind {
            self.pins_reply = true;
            self.dirty = true;
        }
    }

    /// A node with a reason not to serve ends the pins naming it (see the
    /// module); called by `decide` once the reasons are known.
    pub(super) fn end_own_pins(&mut self, now: Instant) {
        // A twin standing down must not speak for the one that serves.
        if self.reasons.is_empty() || self.lifecycle.stood_down() {
            return;
        }
        let own: Vec<u64> = self
            .pins
            .iter()
            .filter(|(_, r)| r.node.as_deref() == Some(self.name.as_str()))
            .map(|(key, _)| *key)
            .collect();
        for key in own {
            self.edit_pin(now, key, None);
        }
    }

    /// Ends the pins naming `node`, which was seen restarting: every node
    /// that sees it does the same, so the table agrees (all cleared).
    pub(super) fn end_pins_of(&mut self, now: Instant, node: &str) {
        let theirs: Vec<u64> = self
            .pins
            .iter()
            .filter(|(_, r)| r.node.as_deref() == Some(node))
            .map(|(key, _)| *key)
            .collect();
        for key in theirs {
            self.edit_pin(now, key, None);
        }
    }

    /// The pins for placement: by group index and node index in the config
    /// in force (placement drops those whose node is not eligible).
    pub(super) fn placement_pins(&self) -> Vec<placement::Pin> {
        self.pins
            .iter()
            .filter_map(|(key, r)| {
                Some(placement::Pin {
                    group: *self.group_index.get(key)?,
                    node: self.cluster.node_index(r.node.as_deref()?)?,
                })
            })
            .collect()
    }

    /// The table for the wire, if it is worth sending now: while a pin is
    /// set, for `stale` after a change (so a clear outlives lost
    /// datagrams), and once to answer a peer that is behind.
    pub(super) fn pins_to_send(&mut self, now: Instant) -> Option<wire::Pins> {
        let recent = self
            .pins_changed_at
            .is_some_and(|at| now < at + self.config.stale);
        if !(recent || self.pins_reply || self.pinned_count() > 0) {
            return None;
        }
        self.pins_reply = false;
        let mut entries: Vec<wire::PinEntry> = self
            .pins
            .iter()
            .filter_map(|(key, r)| {
                let group = u16::try_from(*self.group_index.get(key)?).ok()?;
                let node = match &r.node {
                    Some(name) => Some(self.cluster.node_index(name)?),
                    None => None,
                };
                Some(wire::PinEntry {
                    group,
                    node,
                    stamp: r.stamp,
                })
            })
            .collect();
        entries.sort();
        Some(wire::Pins {
            config_version: self.cluster.version,
            config_digest: self.cluster.digest(),
            entries,
        })
    }
}
