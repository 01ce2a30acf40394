//! Deciding who holds what (docs/ARCHITECTURE.md, "Placement rules"):
//! which nodes are eligible, what
//! placement assigns, and the safe way to get there — a node releases
//! first, and a node acquires only a group no present node announces.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::peer::Liveness;
use super::survey::Survey;
use super::{Action, Cause, Event, Held, Node};
use crate::config::{Cluster, Failback};
use crate::placement::{self, NodeIndex, PlacementGroup, PlacementNode};

impl Node {
    /// One decision, in the order that keeps it safe: who may serve, what
    /// placement assigns, release first, then acquire.
    pub(super) fn decide(&mut self, now: Instant) {
        self.update_reasons(now);
        let cluster = self.cluster.clone();
        self.prune_handoffs(now);
        self.notice_returning_peers(&cluster);
        let electorate = self.electorate(&cluster, now);
        let mut survey = self.survey(&cluster);
        self.tell_keepers(&cluster, &survey.claimers, &survey.deaf_claimers, now);
        self.renew_unowned_wait(&electorate, now);
        let plan = self.place(&cluster, &electorate, &survey.holders);
        self.note_intents(&cluster, &plan.assignment, &survey.held_by_peer);
        // While a member runs another config version (an upgrade is
        // spreading), its holdings do not count for placement here, so
        // planned moves would shuffle groups for nothing: hold them back
        // until it adopts (or 2 × stale passes, for one that never does).
        let skew = self.version_skew(now);
        self.release_moved(&cluster, &plan, &mut survey, skew, now);
        self.acquire_free(&cluster, &plan, &mut survey, now);
    }

    /// Why this node should not serve now, reported when it changes; a
    /// node with a reason ends the pins naming it.
    fn update_reasons(&mut self, now: Instant) {
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
    }

    /// A peer that becomes present (back after a lapse, a healed
    /// partition, a resumed pause, or met for the first time since either
    /// of us started) may have announced our groups while we could not
    /// hear each other: announce them again.
    fn notice_returning_peers(&mut self, cluster: &Cluster) {
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
    }

    /// The nodes placement may use now, those still settling (failback),
    /// and those that will be eligible once mature.
    fn electorate(&mut self, cluster: &Cluster, now: Instant) -> Electorate {
        let mut eligible = Vec::new();
        // Each eligible node's name and incarnation, for failback.
        let mut eligible_runs: Vec<(NodeIndex, String, u64)> = Vec::new();
        let node = |i: NodeIndex| PlacementNode {
            index: i,
            key: cluster.node_keys[usize::from(i)],
        };
        if self.reasons.is_empty()
            && let Some(i) = self.index
        {
            eligible.push(node(i));
            eligible_runs.push((i, self.name.clone(), self.incarnation));
        }
        for (name, peer) in &self.peers {
            if self.peer_eligible(name).is_ok()
                && let Some(i) = cluster.node_index(name)
            {
                eligible.push(node(i));
                eligible_runs.push((i, name.clone(), peer.incarnation));
            }
        }
        let settling = self.settling_nodes(now, &eligible_runs);
        // A group nobody holds that placement over these too gives to one
        // of them is left for it (see `acquire_free`), so nodes that start
        // together do not all claim what the last to mature then takes back.
        let booting = self
            .peers
            .keys()
            .filter(|name| self.peer_booting(name))
            .filter_map(|name| cluster.node_index(name))
            .map(node)
            .collect();
        Electorate {
            eligible,
            settling,
            booting,
        }
    }

    /// Groups nobody holds are claimed only once the set of eligible nodes
    /// has been still for a moment: nodes that become ready one after
    /// another (a cold start, quorum regained) then agree on the owner.
    /// A booting peer that turns eligible changes placement too, so the
    /// two kinds are told apart (booting ones flagged in the top bit;
    /// node indices stay far below it).
    fn renew_unowned_wait(&mut self, electorate: &Electorate, now: Instant) {
        let mut members: Vec<NodeIndex> = electorate
            .eligible
            .iter()
            .map(|n| n.index)
            .chain(electorate.booting.iter().map(|n| n.index | 0x8000))
            .collect();
        members.sort_unstable();
        if members != self.last_eligible {
            self.last_eligible = members;
            self.claim_unowned_at = self.claim_unowned_at.max(now + self.config.interval / 4);
        }
    }

    /// Placement over the eligible nodes, with the groups each node cannot
    /// serve and the pins in force; and, for groups nobody holds, placement
    /// once the booting peers are eligible too.
    fn place(
        &mut self,
        cluster: &Cluster,
        electorate: &Electorate,
        holders: &[Vec<NodeIndex>],
    ) -> Plan {
        let groups = &cluster.groups;
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
        let assign = |nodes: &[PlacementNode]| {
            placement::assign_pinned(
                &placement_groups,
                nodes,
                holders,
                &excluded,
                &electorate.settling,
                &pins,
            )
        };
        let (assignment, deferred) = self.placement_memo.assign(
            &placement_groups,
            &electorate.eligible,
            holders,
            &excluded,
            &electorate.settling,
            &pins,
        );
        self.counters.placements_reused = self.placement_memo.reused;
        self.note_deferred(&deferred);
        let prospective = if electorate.booting.is_empty() || !self.reasons.is_empty() {
            None
        } else {
            let all: Vec<PlacementNode> = electorate
                .eligible
                .iter()
                .chain(&electorate.booting)
                .copied()
                .collect();
            Some(assign(&all).0)
        };
        Plan {
            assignment,
            prospective,
            cannot_here,
        }
    }

    /// Reports each change of the owner placement chose, and remembers
    /// the last holder seen of each group, to name a takeover's cause.
    fn note_intents(
        &mut self,
        cluster: &Cluster,
        assignment: &placement::Assignment,
        held_by_peer: &[Option<NodeIndex>],
    ) {
        self.last_owner.resize(cluster.groups.len(), None);
        for (g, group) in cluster.groups.iter().enumerate() {
            let owner = assignment.owners[g];
            let previous = std::mem::replace(&mut self.last_owner[g], owner);
            if previous != owner {
                self.events.push_back(Event::Intent {
                    group: g,
                    owner: owner.map(|i| cluster.nodes[usize::from(i)].clone()),
                    previous: previous.map(|i| cluster.nodes[usize::from(i)].clone()),
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
    }

    /// Release first: a group is acquired only once no present node
    /// announces it, so whatever moves must be let go of here first. A
    /// group kept while another node claims it is announced again.
    fn release_moved(
        &mut self,
        cluster: &Cluster,
        plan: &Plan,
        survey: &mut Survey,
        skew: bool,
        now: Instant,
    ) {
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
            if let Some(deaf) = survey.claimed_by_deaf[g].clone()
                && !deaf_unproven
            {
                // It cannot hear that we hold this; we can hear that it
                // does. One of us must give way, and only we can know.
                self.yield_to(key, g, deaf, now);
                continue;
            }
            let owner = plan.assignment.owners[g];
            if owner.is_some() && owner == self.index {
                let claim: BTreeSet<String> = std::mem::take(&mut survey.claimers[g])
                    .into_iter()
                    .map(|i| cluster.nodes[usize::from(i)].clone())
                    .collect();
                let hand = std::mem::take(&mut survey.handing[g]);
                if let Some(kept) = self.keep(key, g, claim, hand, now) {
                    if kept.reannounce {
                        reannounce.push(g);
                    }
                    if let Some(contest) = kept.contest {
                        contested.insert(key, contest);
                    }
                }
                continue;
            }
            self.release_for_move(
                key,
                g,
                owner,
                &survey.holders[g],
                &plan.cannot_here,
                skew,
                now,
            );
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
                    ips: cluster.groups[g].ips.clone(),
                });
            }
            self.events.push_back(Event::Reannounced {
                groups: reannounce,
                because: because.unwrap_or_else(|| "another node claims them too".into()),
            });
        }
    }

    /// A held group placement leaves here. If another node claims it too,
    /// clients may follow that node's announcements: it is announced again
    /// when a rival appears, and again when a rival stops claiming it, so
    /// the last word clients hear is ours (keepalived re-sends GARP to a
    /// lower-priority master for the same reason). `None`: it was given
    /// way to a rival that does not hear us.
    fn keep(
        &mut self,
        key: u64,
        g: usize,
        claim: BTreeSet<String>,
        hand: BTreeSet<String>,
        now: Instant,
    ) -> Option<Kept> {
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
            return None;
        }
        if new_rival {
            self.counters.duplicates_resolved += 1;
        }
        let contest = (!claimers.is_empty() || !hand.is_empty()).then_some(super::Contest {
            claimers,
            handing: hand,
        });
        Some(Kept {
            reannounce: new_rival || ended || self.reannounce_all.is_some(),
            contest,
        })
    }

    /// Lets go of a held group placement gives to another node (or to
    /// none), unless a planned move waits for a config skew to end.
    #[allow(clippy::too_many_arguments)]
    fn release_for_move(
        &mut self,
        key: u64,
        g: usize,
        owner: Option<NodeIndex>,
        holders: &[NodeIndex],
        cannot_here: &BTreeMap<usize, Vec<String>>,
        skew: bool,
        now: Instant,
    ) {
        // A group this node cannot serve goes at once, skew or not.
        let planned = self.reasons.is_empty()
            && !cannot_here.contains_key(&g)
            && !owner.is_some_and(|o| holders.contains(&o));
        if planned && skew {
            return;
        }
        // A planned move names its recipient, so that only it takes the
        // group even if another node's view briefly differs.
        if let Some(o) = owner
            && !holders.contains(&o)
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
                    let name = self.cluster.nodes[usize::from(o)].clone();
                    if holders.contains(&o) {
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

    /// Then acquire what is ours and free.
    fn acquire_free(&mut self, cluster: &Cluster, plan: &Plan, survey: &mut Survey, now: Instant) {
        let may_acquire = self.reasons.is_empty() && !survey.uncertain && self.counted();
        if !may_acquire {
            return;
        }
        for (g, group) in cluster.groups.iter().enumerate() {
            if plan.assignment.owners[g] != self.index || self.held.contains_key(&group.key) {
                continue;
            }
            let Some((cause, failover)) = self.free_to_take(g, group.key, plan, survey, now) else {
                continue;
            };
            self.take(
                g,
                group,
                cause,
                failover,
                std::mem::take(&mut survey.handing[g]),
                now,
            );
        }
    }

    /// Why group `g`, assigned here, may be taken now, if it may.
    fn free_to_take(
        &mut self,
        g: usize,
        key: u64,
        plan: &Plan,
        survey: &Survey,
        now: Instant,
    ) -> Option<(Cause, Option<std::time::Duration>)> {
        if survey.held_by_peer[g].is_some() || survey.claimed_by_deaf[g].is_some() {
            return None; // wait for its release, or for it to go stale
        }
        if survey.handed_to[g].is_some_and(|to| Some(to) != self.index)
            || self.handoffs.contains_key(&key)
        {
            return None; // handed to another node, or by us and not yet taken
        }
        let (cause, failover) = self.takeover_cause(key, now);
        if let Cause::PeerRestarted(holder) = &cause
            && self
                .peers
                .get(holder)
                .is_some_and(|p| p.liveness() == Liveness::Deaf)
        {
            // What a restarted holder holds is known once it proves it
            // is live (a second process under its name may still
            // serve the group): wait for its echo, or for it to go.
            return None;
        }
        // A group nobody held (a new one, a cold start) waits for the
        // membership to settle, and for `mature` after a new config.
        if cause == Cause::Unowned && (now < self.claim_unowned_at || self.settle_until.is_some()) {
            self.unowned_waiting = true;
            return None;
        }
        if cause == Cause::Unowned
            && plan
                .prospective
                .as_ref()
                .is_some_and(|future| future.owners[g] != self.index)
        {
            // A booting peer's once it matures: it claims it then, or
            // we do once it is gone (either comes with a decision).
            return None;
        }
        Some((cause, failover))
    }

    /// Takes group `g`: plumb, announce, and say so.
    fn take(
        &mut self,
        g: usize,
        group: &crate::config::Group,
        cause: Cause,
        failover: Option<std::time::Duration>,
        handing: BTreeSet<String>,
        now: Instant,
    ) {
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
        if !handing.is_empty() {
            // A planned move: whoever handed it to us is no rival.
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

/// The nodes one decision places over.
struct Electorate {
    eligible: Vec<PlacementNode>,
    /// Eligible, but may not take held groups yet (failback).
    settling: Vec<NodeIndex>,
    /// Peers that will be eligible once mature.
    booting: Vec<PlacementNode>,
}

/// What placement said in one decision.
struct Plan {
    assignment: placement::Assignment,
    /// The owners once the booting peers are eligible too, for groups
    /// nobody holds: placement over every node heard so far.
    prospective: Option<placement::Assignment>,
    /// The groups this node cannot serve, with why.
    cannot_here: BTreeMap<usize, Vec<String>>,
}

/// A held group kept in a decision.
struct Kept {
    /// Announce it again: a rival appeared or stopped claiming it.
    reannounce: bool,
    /// Who else claims it or handed it to us, if anyone.
    contest: Option<super::Contest>,
}
