//! Deciding who holds what (docs/ARCHITECTURE.md, "Placement rules"):
//! which nodes are eligible, what
//! placement assigns, and the safe way to get there — a node releases
//! first, and a node acquires only a group no present node announces.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::peer::Liveness;
use super::survey::Survey;
use super::{Action, Cause, Event, Held, InactiveReason, Node};
use crate::config::{Cluster, Failback};
use crate::placement::{self, NodeIndex, PlacementGroup, PlacementNode};

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
    fn peer_booting(&self, name: &str) -> bool {
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

    pub(super) fn decide(&mut self, now: Instant) {
        let reasons = self.compute_reasons();
        if reasons != self.reasons {
            self.events.push_back(Event::ActiveChanged {
                active: reasons.is_empty(),
                reasons: reasons.clone(),
                previous: std::mem::replace(&mut self.reasons, reasons),
            });
            self.dirty = true;
        }
        self.end_own_pins(now);

        let cluster = self.cluster.clone();
        let groups = &cluster.groups;
        self.prune_handoffs(now);
        // A peer that becomes present (back after a lapse, a healed
        // partition, a resumed pause, or met for the first time since either
        // of us started) may have announced our groups while we could not
        // hear each other: announce them again.
        let mut back = Vec::new();
        for (name, peer) in &mut self.peers {
            let present = peer.present() && cluster.node_index(name).is_some();
            if present && !peer.counted_before {
                back.push(name.clone());
            }
            peer.counted_before = present;
        }
        if !back.is_empty() && !self.held.is_empty() && self.reannounce_all.is_none() {
            self.reannounce_all = Some(format!("{} heard again", back.join(", ")));
        }
        let mut eligible = Vec::new();
        // Each eligible node's name and incarnation, for failback.
        let mut eligible_runs: Vec<(NodeIndex, String, u64)> = Vec::new();
        if self.reasons.is_empty()
            && let Some(i) = self.index
        {
            eligible.push(PlacementNode {
                index: i,
                key: cluster.node_keys[usize::from(i)],
            });
            eligible_runs.push((i, self.name.clone(), self.incarnation));
        }
        let names: Vec<String> = self.peers.keys().cloned().collect();
        for name in &names {
            if self.peer_eligible(name).is_ok()
                && let Some(i) = cluster.node_index(name)
            {
                eligible.push(PlacementNode {
                    index: i,
                    key: cluster.node_keys[usize::from(i)],
                });
                eligible_runs.push((i, name.clone(), self.peers[name].incarnation));
            }
        }
        let settling = self.settling_nodes(now, &eligible_runs);
        // Peers that will be eligible once mature: a group nobody holds
        // that placement over them too gives to one of them is left for it
        // (see `prospective` below), so nodes that start together do not
        // all claim what the last to mature then takes back.
        let booting: Vec<PlacementNode> = names
            .iter()
            .filter(|name| self.peer_booting(name))
            .filter_map(|name| cluster.node_index(name))
            .map(|i| PlacementNode {
                index: i,
                key: cluster.node_keys[usize::from(i)],
            })
            .collect();

        let Survey {
            holders,
            held_by_peer,
            claimed_by_deaf,
            deaf_claimers,
            handed_to,
            mut claimers,
            mut handing,
            uncertain,
        } = self.survey(&cluster);

        self.tell_keepers(&cluster, &claimers, &deaf_claimers, now);

        // Groups nobody holds are claimed only once the set of eligible nodes
        // has been still for a moment: nodes that become ready one after
        // another (a cold start, quorum regained) then agree on the owner.
        // A booting peer that turns eligible changes placement too, so the
        // two kinds are told apart (booting ones flagged in the top bit;
        // node indices stay far below it).
        let mut members: Vec<NodeIndex> = eligible
            .iter()
            .map(|n| n.index)
            .chain(booting.iter().map(|n| n.index | 0x8000))
            .collect();
        members.sort_unstable();
        if members != self.last_eligible {
            self.last_eligible = members;
            self.claim_unowned_at = self.claim_unowned_at.max(now + self.config.interval / 4);
        }

        let placement_groups: Vec<PlacementGroup> = groups
            .iter()
            .map(|g| PlacementGroup {
                key: g.key,
                preferred: g.preferred.as_deref().and_then(|p| cluster.node_index(p)),
            })
            .collect();
        // Who cannot serve which group: this node, and every present peer.
        let cannot_here = self.cannot_serve();
        let mut excluded: Vec<Vec<NodeIndex>> = vec![Vec::new(); groups.len()];
        if let Some(me) = self.index {
            for &g in cannot_here.keys() {
                excluded[g].push(me);
            }
        }
        for (name, peer) in &self.peers {
            let (Some(i), Some(state)) = (cluster.node_index(name), peer.state.as_ref()) else {
                continue;
            };
            if peer.present() {
                for g in self.map_groups(state, &state.cannot) {
                    excluded[g].push(i);
                }
            }
        }
        if cannot_here != self.cannot_reported {
            self.cannot_reported = cannot_here.clone();
            self.events.push_back(Event::CannotServe {
                groups: cannot_here.clone(),
            });
        }
        let pins = self.placement_pins();
        self.counters.decisions += 1;
        let (assignment, deferred) = placement::assign_pinned(
            &placement_groups,
            &eligible,
            &holders,
            &excluded,
            &settling,
            &pins,
        );
        self.note_deferred(&deferred);
        // The owners once the booting peers are eligible too, for groups
        // nobody holds: placement over every node heard so far.
        let prospective = if booting.is_empty() || !self.reasons.is_empty() {
            None
        } else {
            let all: Vec<PlacementNode> = eligible.iter().chain(&booting).copied().collect();
            let (future, _) = placement::assign_pinned(
                &placement_groups,
                &all,
                &holders,
                &excluded,
                &settling,
                &pins,
            );
            Some(future)
        };

        for (g, group) in groups.iter().enumerate() {
            let owner = assignment.owners[g];
            let previous = self.last_owner.insert(group.key, owner);
            if previous.is_some_and(|p| p != owner) || (previous.is_none() && owner.is_some()) {
                self.events.push_back(Event::Intent {
                    group: g,
                    owner: owner.map(|i| cluster.nodes[usize::from(i)].clone()),
                    previous: previous
                        .flatten()
                        .map(|i| cluster.nodes[usize::from(i)].clone()),
                });
            }
            if let Some(i) = held_by_peer[g] {
                let name = &cluster.nodes[usize::from(i)];
                if self.last_holder.get(&group.key) != Some(name) {
                    self.last_holder.insert(group.key, name.clone());
                }
                if !self.holder_restarted.is_empty() {
                    self.holder_restarted.remove(&group.key);
                }
            }
        }

        // While a member runs another config version (an upgrade is
        // spreading), its holdings do not count for placement here, so
        // planned moves would shuffle groups for nothing: hold them back
        // until it adopts (or 2 × stale passes, for one that never does).
        let skew = self.version_skew(now);

        // Release first: a group is acquired only once no present node
        // announces it, so whatever moves must be let go of here first.
        let mine = self.index;
        let held_keys: Vec<u64> = self.held.keys().copied().collect();
        let mut contested = BTreeMap::new();
        let mut reannounce = Vec::new();
        // Just back from a pause: peers that judged us stale have not
        // heard us yet, so their silence about us proves nothing.
        let deaf_unproven = self.deaf_after.is_some_and(|t| now < t);
        for key in held_keys {
            let Some(&g) = self.group_index.get(&key) else {
                continue; // removed groups are released on reconfiguration
            };
            if let Some(deaf) = claimed_by_deaf[g].clone()
                && !deaf_unproven
            {
                // It cannot hear that we hold this; we can hear that it
                // does. One of us must give way, and only we can know.
                self.yield_to(key, g, deaf, now);
                continue;
            }
            let owner = assignment.owners[g];
            if owner.is_some() && owner == mine {
                // Kept. If another node claims it too, clients may follow
                // that node's announcements: announce ours again when a
                // rival appears, and again when a rival stops claiming it,
                // so the last word clients hear is ours (keepalived re-sends
                // GARP to a lower-priority master for the same reason).
                let claim: BTreeSet<String> = std::mem::take(&mut claimers[g])
                    .into_iter()
                    .map(|i| cluster.nodes[usize::from(i)].clone())
                    .collect();
                let hand = std::mem::take(&mut handing[g]);
                let prev = self.contested.get(&key);
                // A rival we lost datagrams of may have claimed it again
                // and announced meanwhile: it counts as new.
                let known = |r: &String| {
                    !self.peers.get(r).is_some_and(|p| p.missed)
                        && prev.is_some_and(|c| c.claimers.contains_key(r) || c.handing.contains(r))
                };
                let new_rival = claim.iter().chain(&hand).any(|r| !known(r));
                let ended = prev.is_some_and(|c| c.claimers.keys().any(|r| !claim.contains(r)));
                let claimers: BTreeMap<String, Instant> = claim
                    .into_iter()
                    .map(|r| {
                        let since = prev.and_then(|c| c.claimers.get(&r).copied());
                        (r, since.unwrap_or(now))
                    })
                    .collect();
                // A rival that keeps claiming it long after our heartbeat
                // said we keep it does not hear us (a one-way link, in a
                // cluster too large for its echoes to say so at once).
                let deaf = claimers
                    .iter()
                    .find(|(_, since)| now >= **since + self.contest_patience())
                    .map(|(r, _)| r.clone());
                if let Some(deaf) = deaf {
                    self.yield_to(key, g, deaf, now);
                    continue;
                }
                if new_rival {
                    self.counters.duplicates_resolved += 1;
                }
                if new_rival || ended || self.reannounce_all.is_some() {
                    reannounce.push(g);
                }
                if !claimers.is_empty() || !hand.is_empty() {
                    contested.insert(
                        key,
                        super::Contest {
                            claimers,
                            handing: hand,
                        },
                    );
                }
                continue;
            }
            // A group this node cannot serve goes at once, skew or not.
            let planned = self.reasons.is_empty()
                && !cannot_here.contains_key(&g)
                && !owner.is_some_and(|o| holders[g].contains(&o));
            if planned && skew {
                continue;
            }
            // A planned move names its recipient, so that only it takes the
            // group even if another node's view briefly differs.
            if let Some(o) = owner
                && !holders[g].contains(&o)
            {
                self.handoffs.insert(key, (o, now));
            }
            let mut tell = None;
            let cause = if !self.reasons.is_empty() {
                Cause::Inactive(self.reasons.clone())
            } else if let Some(reasons) = cannot_here.get(&g) {
                Cause::CannotServe(reasons.clone())
            } else {
                match owner {
                    Some(o) => {
                        let name = cluster.nodes[usize::from(o)].clone();
                        if holders[g].contains(&o) {
                            self.counters.duplicates_resolved += 1;
                            tell = Some(o);
                            Cause::DuplicateResolved(name)
                        } else {
                            Cause::Reassigned(Some(name))
                        }
                    }
                    None => Cause::Reassigned(None),
                }
            };
            self.release(key, Some(g), cause);
            if let Some(keeper) = tell {
                self.tell_keeper(key, keeper, now);
            }
        }
        self.contested = contested;
        for peer in self.peers.values_mut() {
            peer.missed = false;
        }
        let because = self.reannounce_all.take();
        if !reannounce.is_empty() {
            for &g in &reannounce {
                self.actions.push_back(Action::Announce {
                    group: g,
                    ips: groups[g].ips.clone(),
                });
            }
            self.events.push_back(Event::Reannounced {
                groups: reannounce,
                because: because.unwrap_or_else(|| "another node claims them too".into()),
            });
        }

        // Then acquire what is ours and free.
        let may_acquire = self.reasons.is_empty() && !uncertain && self.counted();
        if !may_acquire {
            return;
        }
        for (g, group) in groups.iter().enumerate() {
            if assignment.owners[g] != mine || self.held.contains_key(&group.key) {
                continue;
            }
            if held_by_peer[g].is_some() || claimed_by_deaf[g].is_some() {
                continue; // wait for its release, or for it to go stale
            }
            if handed_to[g].is_some_and(|to| Some(to) != mine)
                || self.handoffs.contains_key(&group.key)
            {
                continue; // handed to another node, or by us and not yet taken
            }
            let (cause, failover) = self.takeover_cause(group.key, now);
            if let Cause::PeerRestarted(holder) = &cause
                && self
                    .peers
                    .get(holder)
                    .is_some_and(|p| p.liveness() == Liveness::Deaf)
            {
                // What a restarted holder holds is known once it proves it
                // is live (a second process under its name may still
                // serve the group): wait for its echo, or for it to go.
                continue;
            }
            // A group nobody held (a new one, a cold start) waits for the
            // membership to settle, and for `mature` after a new config.
            if cause == Cause::Unowned
                && (now < self.claim_unowned_at || self.settle_until.is_some())
            {
                self.unowned_waiting = true;
                continue;
            }
            if cause == Cause::Unowned
                && prospective
                    .as_ref()
                    .is_some_and(|future| future.owners[g] != mine)
            {
                // A booting peer's once it matures: it claims it then, or
                // we do once it is gone (either comes with a decision).
                continue;
            }
            self.held.insert(
                group.key,
                Held {
                    ips: group.ips.clone(),
                    since: now,
                },
            );
            self.last_holder.insert(group.key, self.name.clone());
            self.holder_restarted.remove(&group.key);
            // Held again: our announcement on taking it is the last word.
            self.released.remove(&group.key);
            if !handing[g].is_empty() {
                // A planned move: whoever handed it to us is no rival.
                let handing = std::mem::take(&mut handing[g]);
                self.contested.insert(
                    group.key,
                    super::Contest {
                        claimers: BTreeMap::new(),
                        handing,
                    },
                );
            }
            self.counters.acquisitions += 1;
            self.actions.push_back(Action::Plumb {
                group: g,
                ips: group.ips.clone(),
            });
            self.actions.push_back(Action::Announce {
                group: g,
                ips: group.ips.clone(),
            });
            self.events.push_back(Event::Acquired {
                group: g,
                ips: group.ips.clone(),
                cause,
                failover,
            });
            self.dirty = true;
        }
    }

    /// Failback (docs/ARCHITECTURE.md, "Failback"): records since when each
    /// eligible node has been eligible without a break (a new incarnation
    /// starts afresh; a node missing from one decision loses its record),
    /// and returns those that may not take held groups yet. With
    /// `failback: N`, a node settles N seconds after this node first saw it
    /// eligible; with `"manual"` none ever does; with `"immediate"` all are
    /// settled at once, which is placement as it always was.
    fn settling_nodes(
        &mut self,
        now: Instant,
        eligible: &[(NodeIndex, String, u64)],
    ) -> Vec<NodeIndex> {
        let mut since = BTreeMap::new();
        for (_, name, incarnation) in eligible {
            let from = match self.eligible_since.get(name) {
                Some(&(known, from)) if known == *incarnation => from,
                _ => now,
            };
            since.insert(name.clone(), (*incarnation, from));
        }
        self.failback_at = None;
        let settling = match self.config.failback {
            Failback::Immediate => Vec::new(),
            Failback::Manual => eligible.iter().map(|(i, _, _)| *i).collect(),
            Failback::After(delay) => {
                let mut settling = Vec::new();
                for (i, name, _) in eligible {
                    let at = since[name].1 + delay;
                    if now < at {
                        settling.push(*i);
                        self.failback_at = Some(self.failback_at.map_or(at, |t| t.min(at)));
                    }
                }
                settling
            }
        };
        self.eligible_since = since;
        settling
    }

    /// Keeps the moves failback holds back, for status: by group key, the
    /// node it would go to and when (`None`: only by hand).
    fn note_deferred(&mut self, deferred: &[placement::Deferred]) {
        let cluster = self.cluster.clone();
        self.deferred = deferred
            .iter()
            .map(|d| {
                let at = match self.config.failback {
                    Failback::After(delay) => cluster
                        .nodes
                        .get(usize::from(d.to))
                        .and_then(|name| self.eligible_since.get(name))
                        .map(|(_, since)| *since + delay),
                    _ => None,
                };
                (cluster.groups[d.group].key, (d.to, at))
            })
            .collect();
    }

    /// A group released here that a peer now holds: that peer may never
    /// have seen our claim (we held it unseen by each other), so clients
    /// may still follow our old announcements. Tell it, as a handoff,
    /// while it keeps claiming the group (see `prune_handoffs` for how long).
    fn tell_keepers(
        &mut self,
        cluster: &Cluster,
        claimers: &[BTreeSet<NodeIndex>],
        deaf_claimers: &[BTreeSet<NodeIndex>],
        now: Instant,
    ) {
        let mut changed = false;
        let held = &self.held;
        let group_index = &self.group_index;
        self.released.retain(|key, released| {
            let Some(&g) = group_index.get(key).filter(|_| !held.contains_key(key)) else {
                return true;
            };
            match released.told {
                Some((to, _)) => {
                    // A keeper that stopped claiming it has nothing to announce,
                    // but whoever claims it next may not have heard us either
                    // (a node back from a pause that held it all along): wait
                    // for that one. One that does not hear us yet (we yielded
                    // to it) still claims it, and must hear of our hold.
                    let keeps = claimers[g].contains(&to) || deaf_claimers[g].contains(&to);
                    if !keeps {
                        released.told = None;
                        changed = true;
                    }
                    true
                }
                None => {
                    // The first by name, as names order the peers.
                    let first = claimers[g]
                        .iter()
                        .min_by_key(|&&i| &cluster.nodes[usize::from(i)]);
                    if let Some(&to) = first {
                        released.told = Some((to, now));
                        changed = true;
                    }
                    true
                }
            }
        });
        self.dirty |= changed;
    }

    /// Releases a group to a holder that does not hear us, and tells it
    /// (for when it does again) that we held it too.
    fn yield_to(&mut self, key: u64, g: usize, keeper: String, now: Instant) {
        self.counters.duplicates_resolved += 1;
        let to = self.cluster.node_index(&keeper);
        self.release(key, Some(g), Cause::PeerDeaf(keeper));
        if let Some(to) = to {
            self.tell_keeper(key, to, now);
        }
    }

    /// Tells `to`, which keeps a group we just released, that we held it.
    fn tell_keeper(&mut self, key: u64, to: u16, now: Instant) {
        if let Some(released) = self.released.get_mut(&key) {
            released.told = Some((to, now));
        }
    }

    /// Whether a keeper is being told of a group released here (which
    /// expires with time).
    pub(super) fn telling(&self) -> bool {
        self.released.values().any(|r| r.told.is_some())
    }

    /// How long a rival may go on claiming a group we keep before we take
    /// it that it does not hear us: it hears our next heartbeat within an
    /// interval and releases at once.
    pub(super) fn contest_patience(&self) -> std::time::Duration {
        self.config.interval * 3 / 2
    }

    /// When the oldest running contest runs out of patience.
    pub(super) fn contest_deadline(&self) -> Option<Instant> {
        let patience = self.contest_patience();
        self.contested
            .values()
            .flat_map(|c| c.claimers.values())
            .min()
            .map(|since| *since + patience)
    }

    /// Whether a present member runs another config version, for at most
    /// 2 × stale from when that was first seen.
    fn version_skew(&mut self, now: Instant) -> bool {
        let version = self.cluster.version;
        let skewed = self.peers.iter().any(|(name, peer)| {
            peer.present()
                && self.cluster.node_index(name).is_some()
                && peer.state.as_ref().is_some_and(|s| s.version != version)
        });
        if !skewed {
            self.skew_since = None;
            return false;
        }
        let since = *self.skew_since.get_or_insert(now);
        now < since + self.config.stale * 2
    }

    /// Forgets handoffs that were taken, whose recipient is gone, or that
    /// waited longer than `stale` (after which placement's owner may take it).
    fn prune_handoffs(&mut self, now: Instant) {
        // A keeper is told for `stale` at most: a handoff in our heartbeat
        // keeps others from the group, so it must not outlive the keeper's
        // claim (dropped in `decide`) or a keeper that has gone quiet.
        // An untold release waits longer for a keeper to show up.
        let stale = self.config.stale;
        let before = self.released.len();
        self.released.retain(|_, r| match r.told {
            Some((_, since)) => now < since + stale,
            None => now < r.at + stale * 10,
        });
        if self.released.len() != before {
            self.dirty = true;
        }
        if self.handoffs.is_empty() {
            return;
        }
        let digest = self.cluster.digest();
        let cluster = self.cluster.clone();
        let pending: Vec<(u64, u16, Instant)> = self
            .handoffs
            .iter()
            .map(|(k, (to, since))| (*k, *to, *since))
            .collect();
        for (key, to, since) in pending {
            let recipient = cluster
                .nodes
                .get(usize::from(to))
                .and_then(|n| self.peers.get(n));
            let taken = recipient.is_some_and(|peer| {
                peer.state.as_ref().is_some_and(|s| {
                    s.digest == digest
                        && self
                            .group_index
                            .get(&key)
                            .is_some_and(|&g| s.holds.contains(g))
                })
            });
            // A recipient that cannot take it (inactive, booting, on another
            // config) will not: the group is free for placement at once.
            let gone = !recipient.is_some_and(|peer| {
                peer.present()
                    && peer
                        .state
                        .as_ref()
                        .is_some_and(|s| s.active && s.mature && s.digest == digest)
            });
            if taken && let Some(released) = self.released.get_mut(&key) {
                // If it took the group as ours to hand over, its announcement
                // then is the last word. But it may have taken it as
                // unowned, unseen, before our release, and clients may follow
                // our later announcement: go on telling it (it takes a
                // handoff to a group it holds from a new hand as a rival,
                // and announces again).
                released.told = Some((to, now));
            }
            if taken || gone || now >= since + stale || !self.group_index.contains_key(&key) {
                self.handoffs.remove(&key);
                self.dirty = true; // peers learn at once that the group is free
            }
        }
    }

    /// Why a group is free to take: its last holder went stale, left or
    /// released it, or nobody ever held it.
    fn takeover_cause(&self, key: u64, now: Instant) -> (Cause, Option<std::time::Duration>) {
        let Some(last) = self.last_holder.get(&key).filter(|n| **n != self.name) else {
            return (Cause::Unowned, None);
        };
        if self.holder_restarted.contains(&key) {
            return (Cause::PeerRestarted(last.clone()), None);
        }
        let Some(peer) = self.peers.get(last) else {
            return (Cause::Unowned, None);
        };
        let silent_for = Some(now - peer.last_heard);
        match peer.liveness() {
            Liveness::Departed => (Cause::PeerLeft(last.clone()), silent_for),
            Liveness::Stale => (Cause::PeerStale(last.clone()), silent_for),
            Liveness::Deaf | Liveness::Present => (Cause::PeerReleased(last.clone()), None),
        }
    }

    pub(super) fn release(&mut self, key: u64, group: Option<usize>, cause: Cause) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        self.counters.releases += 1;
        self.released.insert(
            key,
            super::Released {
                at: self.last_awake,
                told: None,
            },
        );
        self.actions.push_back(Action::Unplumb {
            group,
            ips: held.ips.clone(),
        });
        self.events.push_back(Event::Released {
            group,
            ips: held.ips,
            cause,
        });
        self.dirty = true;
    }

    /// Since when each held group (by index) has been held here.
    pub(super) fn held_since(&self) -> BTreeMap<usize, Instant> {
        self.held
            .iter()
            .filter_map(|(key, h)| self.group_index.get(key).map(|&g| (g, h.since)))
            .collect()
    }
}
