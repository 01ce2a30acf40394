//! Who may serve (docs/ARCHITECTURE.md, "Placement rules"): this node's
//! reasons not to, and which peers count for placement and for quorum.

use super::peer::Liveness;
use super::{InactiveReason, Node};

impl Node {
    /// Why this node should not serve now; empty when it should.
    pub(super) fn compute_reasons(&self) -> Vec<InactiveReason> {
        let mut reasons = Vec::new();
        if !self.lifecycle.mature() {
            reasons.push(InactiveReason::Booting);
        }
        if !self.admin.is_empty() {
            reasons.push(InactiveReason::Administrative);
        }
        for check in &self.failing_checks {
            reasons.push(InactiveReason::Check(check.clone()));
        }
        if self.lifecycle.stopped() {
            reasons.push(InactiveReason::Shutdown);
        }
        if self.loses_config_conflict() {
            reasons.push(InactiveReason::ConfigConflict);
        }
        if self.index.is_none() || self.excluded_by_newer() {
            reasons.push(InactiveReason::NotInConfig);
        }
        if self.lifecycle.stood_down() {
            reasons.push(InactiveReason::DuplicateName);
        }
        let needed = self.config.quorum.needed(self.cluster.nodes.len());
        if needed > 0 && self.quorum_members() < needed {
            reasons.push(InactiveReason::NoQuorum);
        }
        reasons
    }

    /// Members this node can see, itself included, whatever config they
    /// run: quorum counts reachability, not activity or agreement, so that
    /// nodes booting together cannot wait on each other forever and a
    /// config spreading through the cluster does not lose it for a moment.
    fn quorum_members(&self) -> usize {
        let me = usize::from(self.index.is_some());
        me + self
            .peers
            .iter()
            .filter(|(name, peer)| peer.present() && self.cluster.node_index(name).is_some())
            .count()
    }

    /// Same version, different content: the higher digest keeps serving and
    /// the lower stands down, so a misconfiguration cannot put one VIP on two
    /// nodes. Only for a winner that serves (a member, mature and active):
    /// standing down for a drained, booting or failing one would leave
    /// every group unserved.
    pub(super) fn loses_config_conflict(&self) -> bool {
        let mine = self.cluster.digest();
        self.peers.iter().any(|(name, peer)| {
            peer.present()
                && self.cluster.node_index(name).is_some()
                && peer.state.as_ref().is_some_and(|s| {
                    s.version == self.cluster.version && s.digest > mine && s.mature && s.active
                })
        })
    }

    /// A member runs a newer config that does not list this node: it is
    /// not adopted (see `transfer`), and this node stands down while that
    /// member is present, as it would on adopting it.
    fn excluded_by_newer(&self) -> bool {
        self.peers.iter().any(|(name, peer)| {
            peer.present()
                && self.cluster.node_index(name).is_some()
                && peer.state.as_ref().is_some_and(|s| {
                    s.version > self.cluster.version
                        && self
                            .known
                            .get(&s.digest)
                            .is_some_and(|c| c.node_index(&self.name).is_none())
                })
        })
    }

    /// Whether the peers this node hears count it: some member echoes its
    /// incarnation, or no member is heard at all. A node heard by nobody
    /// it hears (its datagrams dropped, its incarnation rejected) takes
    /// nothing: the others are taking its groups.
    pub(super) fn counted(&self) -> bool {
        let mut heard = self
            .peers
            .iter()
            .filter(|(name, p)| p.heard() && self.cluster.node_index(name).is_some());
        let mut any = false;
        let counted = heard.any(|(_, p)| {
            any = true;
            p.verified
        });
        counted || !any
    }

    /// Why this node takes nothing while active, if it does not.
    pub fn waiting(&self) -> Option<String> {
        if self.counted() {
            return None;
        }
        let names: Vec<&str> = self
            .peers
            .iter()
            .filter(|(name, p)| p.heard() && self.cluster.node_index(name).is_some())
            .map(|(name, _)| name.as_str())
            .collect();
        Some(format!(
            "not counted yet: {} {} not echo incarnation {}",
            names.join(", "),
            if names.len() == 1 { "does" } else { "do" },
            self.incarnation
        ))
    }

    /// A peer counts for placement when it is present, a member, on the same
    /// config, mature and active.
    pub(super) fn peer_eligible(&self, name: &str) -> Result<(), String> {
        let Some(peer) = self.peers.get(name) else {
            return Err("never heard".into());
        };
        match peer.liveness() {
            Liveness::Departed => return Err("said goodbye".into()),
            Liveness::Stale => return Err("stale".into()),
            Liveness::Deaf => {
                return Err("not verified yet (no echo of this node's incarnation)".into());
            }
            Liveness::Present => {}
        }
        if self.cluster.node_index(name).is_none() {
            return Err("not in nodes".into());
        }
        let Some(state) = &peer.state else {
            return Err("no heartbeat yet".into());
        };
        if state.digest != self.cluster.digest() {
            return Err(if state.version == self.cluster.version {
                "config conflict (same version, different content)".into()
            } else {
                format!("on config version {}", state.version)
            });
        }
        if !state.mature {
            return Err("booting".into());
        }
        if !state.active {
            let reasons = if state.reasons.is_empty() {
                "inactive".to_string()
            } else {
                state.reasons.join(", ")
            };
            return Err(reasons);
        }
        Ok(())
    }

    /// A peer that would count for placement but for still booting: it
    /// says so in its heartbeat (active, not mature) and nothing else
    /// keeps it out.
    pub(super) fn peer_booting(&self, name: &str) -> bool {
        let Some(peer) = self.peers.get(name) else {
            return false;
        };
        peer.present()
            && self.cluster.node_index(name).is_some()
            && peer
                .state
                .as_ref()
                .is_some_and(|s| s.digest == self.cluster.digest() && !s.mature && s.active)
    }
}
