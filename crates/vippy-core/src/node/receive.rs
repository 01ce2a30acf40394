//! Datagrams in: authenticate, reject replays, then let each message kind
//! update what this node knows. Nothing a peer sends can stop the node:
//! every problem is an event and a counter (STYLE rule 2).

use std::net::SocketAddr;
use std::time::Instant;

use super::peer::{Peer, PeerState};
use super::{Event, Node, Rejection};
use crate::wire::{self, Body, Message};

/// Authenticated strangers remembered at most, beyond `nodes` (senders from
/// a newer config that adds nodes).
const MAX_EXTRA_PEERS: usize = 64;

/// Neighbour entries kept per peer.
const MAX_SHARED_NEIGHBOURS: usize = 8192;

/// Incarnations of a name-twin reported, at most (replays of our own old
/// datagrams must not grow memory).
const MAX_DUPLICATE_REPORTS: usize = 16;

impl Node {
    pub(super) fn receive(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let msg = match wire::decode(bytes, &self.key) {
            Ok(msg) => msg,
            Err(e) => {
                self.reject(from, None, e.reason().into(), e.to_string());
                return;
            }
        };
        let Message { header, body } = msg;
        if header.sender == self.name {
            if header.incarnation > self.incarnation
                && self.duplicate_name_reported.len() < MAX_DUPLICATE_REPORTS
                && self.duplicate_name_reported.insert(header.incarnation)
            {
                self.events.push_back(Event::DuplicateName { from });
            }
            return;
        }
        let member = self.cluster.node_index(&header.sender).is_some();
        if !member && !self.peers.contains_key(&header.sender) {
            let extra = self
                .peers
                .keys()
                .filter(|n| self.cluster.node_index(n).is_none())
                .count();
            if extra >= MAX_EXTRA_PEERS {
                // Make room by forgetting the stranger heard longest ago, if
                // it is no longer heard: strangers come and go (nodes of
                // newer configs), and the departed must not lock out the new.
                let gone = self
                    .peers
                    .iter()
                    .filter(|(n, p)| self.cluster.node_index(n).is_none() && !p.fresh)
                    .min_by_key(|(_, p)| p.last_heard)
                    .map(|(n, _)| n.clone());
                let Some(gone) = gone else {
                    self.reject(
                        from,
                        Some(header.sender),
                        Rejection::UnknownNode,
                        "too many unknown senders".into(),
                    );
                    return;
                };
                self.peers.remove(&gone);
            }
        }
        if let Some(peer) = self.peers.get(&header.sender)
            && let Err(replay) = peer.replay.check(header.incarnation, header.sequence)
        {
            self.reject(
                from,
                Some(header.sender),
                Rejection::Replay,
                replay.to_string(),
            );
            return;
        }

        // Accepted: it is authentic and new.
        let peer = match self.peers.entry(header.sender.clone()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                self.events.push_back(Event::PeerUp {
                    node: header.sender.clone(),
                    incarnation: header.incarnation,
                    from,
                });
                self.needs_decide = true;
                self.dirty = true; // echo the newcomer at once
                e.insert(Peer::new(from, header.incarnation, now))
            }
        };
        peer.replay.accept(header.incarnation, header.sequence);
        if header.incarnation > peer.incarnation {
            peer.incarnation = header.incarnation;
            // A new incarnation proves itself again, and we echo it at once.
            peer.verified = false;
            peer.met_at = now;
            self.dirty = true;
            // A restart: its earlier state means nothing now, and what it
            // held is gone with it. Its goodbye was the old incarnation's:
            // the new one numbers its datagrams from 1 again.
            peer.state = None;
            peer.goodbye_sequence = None;
            let sender = header.sender.clone();
            let lost: Vec<u64> = self
                .last_holder
                .iter()
                .filter(|(_, holder)| **holder == sender)
                .map(|(key, _)| *key)
                .collect();
            self.holder_restarted.extend(lost);
            self.events.push_back(Event::PeerRestarted {
                node: header.sender.clone(),
                incarnation: header.incarnation,
            });
            self.needs_decide = true;
        }
        let peer = self.peers.get_mut(&header.sender).expect("inserted above");
        if peer
            .goodbye_sequence
            .is_some_and(|goodbye| header.sequence < goodbye)
        {
            // Sent before its goodbye, arrived after it: the peer has left,
            // and this must not look like hearing from it.
            return;
        }
        peer.addr = from;
        peer.last_heard = now;
        if !peer.fresh {
            peer.fresh = true;
            self.needs_decide = true;
        }
        let sender = header.sender;
        match body {
            Body::Heartbeat(hb) => {
                let peer = self.peers.get_mut(&sender).expect("present");
                if peer.departed {
                    peer.departed = false;
                    self.needs_decide = true;
                }
                self.counters.heartbeats_received += 1;
                let newly_verified =
                    !peer.verified && hb.echoes.iter().any(|e| e.incarnation == self.incarnation);
                if newly_verified {
                    peer.verified = true;
                    self.needs_decide = true;
                }
                let state = PeerState {
                    sequence: header.sequence,
                    version: hb.config_version,
                    digest: hb.config_digest,
                    mature: hb.mature,
                    active: hb.active,
                    reasons: hb.reasons,
                    holds: hb.holds,
                    handoffs: hb.handoffs,
                };
                let older = peer
                    .state
                    .as_ref()
                    .is_some_and(|s| s.sequence > state.sequence);
                if older {
                    return; // reordered: a newer heartbeat already said more
                }
                let changed = !peer.state.as_ref().is_some_and(|s| s.same_as(&state));
                peer.state = Some(state);
                if changed || newly_verified {
                    self.needs_decide = true;
                    self.notice_config(now, &sender);
                }
                if !member
                    && self.peers[&sender]
                        .state
                        .as_ref()
                        .is_some_and(|s| s.version <= self.cluster.version)
                {
                    self.reject(
                        from,
                        Some(sender),
                        Rejection::UnknownNode,
                        "not in nodes".into(),
                    );
                }
            }
            Body::Goodbye(_) => {
                let peer = self.peers.get_mut(&sender).expect("present");
                peer.departed = true;
                peer.goodbye_sequence = Some(header.sequence);
                peer.state = None;
                self.events.push_back(Event::PeerLeft { node: sender });
                self.needs_decide = true;
            }
            Body::ConfigRequest(req) => self.serve_config(now, from, sender, req),
            Body::ConfigChunk(chunk) => self.receive_chunk(now, &sender, chunk),
            Body::ArpShare(share) => {
                let ttl = self.neighbour_ttl();
                let peer = self.peers.get_mut(&sender).expect("present");
                peer.neighbours.retain(|_, (_, expires)| *expires > now);
                for entry in share.entries {
                    // Bounded: a peer cannot make us keep more than this.
                    if peer.neighbours.len() >= MAX_SHARED_NEIGHBOURS
                        && !peer.neighbours.contains_key(&entry.ip)
                    {
                        break;
                    }
                    peer.neighbours.insert(entry.ip, (entry.mac, now + ttl));
                }
            }
        }
    }

    pub(super) fn reject(
        &mut self,
        from: SocketAddr,
        sender: Option<String>,
        reason: Rejection,
        detail: String,
    ) {
        self.counters.rejected[reason as usize] += 1;
        self.events.push_back(Event::Rejected {
            from,
            sender,
            reason,
            detail,
        });
    }
}
