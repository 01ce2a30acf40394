//! The first step of a decision: who holds, claims and hands over each
//! group, as this node hears its peers.

use std::collections::BTreeSet;

use super::Node;
use super::peer::Liveness;
use crate::config::Cluster;
use crate::placement::NodeIndex;

/// What the peers say of each group (by index in the config in force).
pub(super) struct Survey {
    /// Who announces each group: this node, and every present peer on
    /// this config.
    pub holders: Vec<Vec<NodeIndex>>,
    /// A present member that holds it, on any config we can read.
    pub held_by_peer: Vec<Option<NodeIndex>>,
    /// A member that is heard but does not hear us (not verified) claims
    /// it: it blocks acquiring, and we give it way.
    pub claimed_by_deaf: Vec<Option<String>>,
    /// All such members: a keeper we yielded to is one until it hears us,
    /// and must be told meanwhile.
    pub deaf_claimers: Vec<BTreeSet<NodeIndex>>,
    /// To whom a present peer handed it for a planned move.
    pub handed_to: Vec<Option<NodeIndex>>,
    /// Present members that claim it.
    pub claimers: Vec<BTreeSet<NodeIndex>>,
    /// Those that handed it over after holding it: clients may have
    /// followed them.
    pub handing: Vec<BTreeSet<String>>,
    /// Some member's holdings cannot be read (a config we lack): take
    /// nothing until they can.
    pub uncertain: bool,
}

impl Node {
    pub(super) fn survey(&self, cluster: &Cluster) -> Survey {
        let groups = &cluster.groups;
        // Who announces each group: this node, and every present peer whose
        // config is known (mapped by group identity when it differs).
        // Strangers (senders outside `nodes`) count for nothing.
        let mut holders: Vec<Vec<NodeIndex>> = vec![Vec::new(); groups.len()];
        // By node index, not name: this runs for every group a peer holds.
        let mut held_by_peer: Vec<Option<NodeIndex>> = vec![None; groups.len()];
        // Groups claimed by a member that is heard but does not hear us
        // (not verified): they block acquiring, and we give them way.
        let mut claimed_by_deaf: Vec<Option<String>> = vec![None; groups.len()];
        // All such members for each group: a keeper we yielded to is one
        // until it hears us, and must be told meanwhile.
        let mut deaf_claimers: Vec<BTreeSet<NodeIndex>> = vec![BTreeSet::new(); groups.len()];
        // Groups a present peer handed to someone for a planned move.
        let mut handed_to: Vec<Option<NodeIndex>> = vec![None; groups.len()];
        // Present peers that claim each group, and those that handed it to
        // us after holding it too: clients may have followed them.
        let mut claimers: Vec<BTreeSet<NodeIndex>> = vec![BTreeSet::new(); groups.len()];
        let mut handing: Vec<BTreeSet<String>> = vec![BTreeSet::new(); groups.len()];
        let mut uncertain = false;
        if let Some(me) = self.index {
            for key in self.held.keys() {
                if let Some(&g) = self.group_index.get(key) {
                    holders[g].push(me);
                }
            }
        }
        let digest = cluster.digest();
        for (name, peer) in &self.peers {
            if cluster.node_index(name).is_none() {
                continue;
            }
            if peer.liveness() == Liveness::Deaf {
                let Some(state) = peer.state.as_ref() else {
                    continue;
                };
                if state.digest != digest
                    && !state.holds.is_empty()
                    && !self.known.contains_key(&state.digest)
                {
                    // Holdings we cannot read (a config we lack): they may
                    // be any group, so take nothing until we can.
                    uncertain = true;
                }
                let index = cluster.node_index(name);
                for g in self.map_holds(state) {
                    claimed_by_deaf[g].get_or_insert_with(|| name.clone());
                    deaf_claimers[g].extend(index);
                }
                if state.digest == digest {
                    // It held what it hands over: clients may have followed it.
                    for h in &state.handoffs {
                        if let Some(set) = handing.get_mut(usize::from(h.group)) {
                            set.insert(name.clone());
                        }
                    }
                }
                continue;
            }
            let Some(state) = peer.state.as_ref().filter(|_| peer.present()) else {
                continue;
            };
            if state.digest == digest {
                for h in &state.handoffs {
                    if let Some(slot) = handed_to.get_mut(usize::from(h.group)) {
                        *slot = Some(h.to);
                        // It held the group to hand it over (to us or not).
                        handing[usize::from(h.group)].insert(name.clone());
                    }
                }
            } else {
                // Under another config its handoff's recipient may be
                // another index, but it still held the group: clients
                // may have followed it (a restart on an older file).
                for h in &state.handoffs {
                    if let Some(g) = self.map_group(state, usize::from(h.group)) {
                        handing[g].insert(name.clone());
                    }
                }
            }
            if state.holds.is_empty() {
                continue;
            }
            // A member (checked above), so it has an index.
            let Some(index) = cluster.node_index(name) else {
                continue;
            };
            for g in self.map_holds(state) {
                claimers[g].insert(index);
            }
            if state.digest == digest {
                for g in state.holds.iter().filter(|g| *g < groups.len()) {
                    holders[g].push(index);
                    held_by_peer[g].get_or_insert(index);
                }
            } else if let Some(theirs) = self.known.get(&state.digest) {
                for their_g in state.holds.iter() {
                    let mine = theirs
                        .groups
                        .get(their_g)
                        .and_then(|grp| self.group_index.get(&grp.key));
                    if let Some(&g) = mine {
                        // Not a placement holder (not eligible), but it blocks acquiring.
                        held_by_peer[g].get_or_insert(index);
                    }
                }
            } else {
                // Holdings we cannot read yet: take nothing until we can.
                uncertain = true;
            }
        }
        Survey {
            holders,
            held_by_peer,
            claimed_by_deaf,
            deaf_claimers,
            handed_to,
            claimers,
            handing,
            uncertain,
        }
    }

    /// A peer's holdings as group indices of our config: directly on the
    /// same config, by group identity on one we know, nothing otherwise.
    pub(super) fn map_holds(&self, state: &super::peer::PeerState) -> Vec<usize> {
        self.map_groups(state, &state.holds)
    }

    /// A set of a peer's groups (indices in its config) as group indices
    /// of ours, the way `map_holds` maps its holdings.
    pub(super) fn map_groups(
        &self,
        state: &super::peer::PeerState,
        set: &crate::wire::GroupSet,
    ) -> Vec<usize> {
        let len = self.cluster.groups.len();
        if state.digest == self.cluster.digest() {
            return set.iter().filter(|g| *g < len).collect();
        }
        let Some(theirs) = self.known.get(&state.digest) else {
            return Vec::new();
        };
        set.iter()
            .filter_map(|g| theirs.groups.get(g))
            .filter_map(|grp| self.group_index.get(&grp.key).copied())
            .collect()
    }

    /// One of a peer's group indices as ours, the way `map_groups` does.
    pub(super) fn map_group(&self, state: &super::peer::PeerState, theirs: usize) -> Option<usize> {
        if state.digest == self.cluster.digest() {
            return Some(theirs).filter(|g| *g < self.cluster.groups.len());
        }
        let grp = self.known.get(&state.digest)?.groups.get(theirs)?;
        self.group_index.get(&grp.key).copied()
    }
}
