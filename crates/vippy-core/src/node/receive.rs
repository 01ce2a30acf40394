//! Datagrams in: authenticate, reject replays, then let each message kind
//! update what this node knows. Nothing a peer sends can stop the node:
//! every problem is an event and a counter (docs/ARCHITECTURE.md, "Peer
//! input never stops a node").

use std::net::SocketAddr;
use std::time::Instant;

use super::peer::{Peer, PeerState};
use super::{Event, Node, Rejection};
use crate::wire::{self, Body, Message};

/// Authenticated strangers remembered at most, beyond `nodes` (senders from
/// a newer config that adds nodes).
const MAX_EXTRA_PEERS: usize = 64;

/// Addresses speaking another protocol version remembered at most (they
/// are unauthenticated: a flood must not grow memory).
const MAX_OTHER_PROTOCOLS: usize = 16;

/// Neighbour entries kept per peer.
const MAX_SHARED_NEIGHBOURS: usize = 8192;

/// Incarnations of a name-twin reported, at most (replays of our own old
/// datagrams must not grow memory).
const MAX_DUPLICATE_REPORTS: usize = 16;

impl Node {
    /// One datagram, in the order that keeps forgeries and replays from
    /// changing anything: authenticate, tell twins and strangers apart,
    /// reject replays, then let the message update what we know.
    /// `arrived` is when it reached the socket, `now` when it is read.
    pub(super) fn receive(
        &mut self,
        now: Instant,
        arrived: Instant,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        let Some((header, body, signed_with)) = self.authenticate(now, from, bytes) else {
            return;
        };
        if header.sender == self.name {
            self.hear_twin(now, from, header.incarnation, &body);
            return;
        }
        let member = self.cluster.node_index(&header.sender).is_some();
        if !member && !self.room_for_stranger(from, &header.sender) {
            return;
        }
        if self.replayed(now, from, &header, &body, member) {
            return;
        }
        if !member {
            self.hear_stranger(now, from, header, body);
            return;
        }
        if !self.accept(now, arrived, from, &header, signed_with) {
            return;
        }
        let sender = header.sender;
        match body {
            Body::Heartbeat(hb) => self.hear_heartbeat(now, &sender, header.sequence, hb),
            Body::Goodbye(_) => self.hear_goodbye(sender, header.sequence),
            Body::ConfigRequest(req) => self.serve_config(from, sender, req),
            Body::ConfigChunk(chunk) => self.receive_chunk(now, &sender, chunk),
            Body::Pins(pins) => self.hear_pins(now, &sender, pins),
            Body::ArpShare(share) => self.hear_neighbours(now, &sender, share),
        }
    }

    /// The message, if a key of ours signed it, and which key did.
    fn authenticate(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Option<(wire::Header, Body, usize)> {
        let (msg, signed_with) = match wire::decode_any(bytes, &self.keys) {
            Ok(found) => found,
            Err(e) => {
                if let wire::WireError::UnsupportedVersion(version) = e {
                    self.hear_other_protocol(now, from, version);
                }
                self.reject(from, None, e.reason(), e.to_string());
                return None;
            }
        };
        if signed_with > 0 {
            self.counters.older_secret_datagrams += 1;
        }
        let Message { header, body } = msg;
        Some((header, body, signed_with))
    }

    /// Whether a sender outside `nodes` not heard before may be
    /// remembered: strangers are bounded.
    fn room_for_stranger(&mut self, from: SocketAddr, sender: &str) -> bool {
        if self.peers.contains_key(sender) {
            return true;
        }
        let extra = self
            .peers
            .keys()
            .filter(|n| self.cluster.node_index(n).is_none())
            .count();
        if extra < MAX_EXTRA_PEERS {
            return true;
        }
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
                Some(sender.to_string()),
                Rejection::UnknownNode,
                "too many unknown senders".into(),
            );
            return false;
        };
        self.peers.remove(&gone);
        true
    }

    /// Whether the datagram is one already seen (or of an older run of
    /// its sender), and so rejected.
    fn replayed(
        &mut self,
        now: Instant,
        from: SocketAddr,
        header: &wire::Header,
        body: &Body,
        member: bool,
    ) -> bool {
        let Some(peer) = self.peers.get_mut(&header.sender) else {
            return false;
        };
        let Err(replay) = peer.replay.check(header.incarnation, header.sequence) else {
            return false;
        };
        if replay == wire::Replay::OldIncarnation && member {
            // Its clock may have stepped back: our heartbeats say which
            // incarnation we hold, so it can pick one above it.
            if peer.regressed_at.is_none() {
                self.dirty = true;
            }
            peer.regressed_at = Some(now);
            // It may hold a newer one for us in turn (several nodes
            // restarted behind their clocks): reading that is safe, as
            // it can only make our incarnation larger.
            if let Body::Heartbeat(hb) = body
                && let Some(held) = self.held_for_me(hb)
            {
                self.incarnation_behind(now, &header.sender, held);
            }
        }
        self.reject(
            from,
            Some(header.sender.clone()),
            Rejection::Replay,
            replay.to_string(),
        );
        true
    }

    /// An authentic, new datagram of a member: it is heard now. False when
    /// it was sent before the member's goodbye and must not count.
    fn accept(
        &mut self,
        now: Instant,
        arrived: Instant,
        from: SocketAddr,
        header: &wire::Header,
        signed_with: usize,
    ) -> bool {
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
        if header.incarnation == peer.incarnation {
            // Every datagram to the cluster takes the next sequence number:
            // a jump means some went missing.
            if peer.last_sequence != 0 && header.sequence > peer.last_sequence + 1 {
                peer.missed = true;
                self.needs_decide = true;
            }
            peer.last_sequence = peer.last_sequence.max(header.sequence);
        } else if header.incarnation > peer.incarnation {
            peer.last_sequence = header.sequence;
        }
        if header.incarnation > peer.incarnation {
            self.peer_restarted(now, &header.sender, header.incarnation);
        }
        let peer = self.peers.get_mut(&header.sender).expect("inserted above");
        if peer
            .goodbye_sequence
            .is_some_and(|goodbye| header.sequence < goodbye)
        {
            // Sent before its goodbye, arrived after it: the peer has left,
            // and this must not look like hearing from it.
            return false;
        }
        peer.addr = from;
        if peer.fresh && arrived >= peer.last_heard + self.config.stale {
            // Silent for `stale` (by when this datagram reached the socket,
            // so a loop that merely reads late does not count), though it
            // was never judged stale (this node was away when the timer was
            // due): a lapse all the same.
            // It may have claimed and announced our groups while we could
            // not hear it, so it counts as back (see `notice_returning_peers`).
            peer.counted_before = false;
            self.needs_decide = true;
        }
        peer.last_heard = now;
        peer.signed_with = signed_with;
        if !peer.fresh {
            peer.fresh = true;
            self.needs_decide = true;
            self.dirty = true; // echo it at once: it may have lost us too
        }
        true
    }

    /// A member heard with a newer incarnation: a restart. Its earlier
    /// state means nothing now, and what it held is gone with it.
    fn peer_restarted(&mut self, now: Instant, sender: &str, incarnation: u64) {
        let peer = self.peers.get_mut(sender).expect("accepted");
        peer.incarnation = incarnation;
        // A new incarnation proves itself again, and we echo it at once.
        peer.verified = false;
        peer.met_at = now;
        self.dirty = true;
        // Its goodbye was the old incarnation's: the new one numbers its
        // datagrams from 1 again.
        peer.state = None;
        peer.goodbye_sequence = None;
        peer.regressed_at = None;
        let lost: Vec<u64> = self
            .last_holder
            .iter()
            .filter(|(_, holder)| holder.as_str() == sender)
            .map(|(key, _)| *key)
            .collect();
        self.holder_restarted.extend(lost);
        // A restart ends the pins naming it, whether or not it hears
        // the table before it matures.
        self.end_pins_of(now, sender);
        // Its new run may have claimed and announced a group we keep:
        // whatever its old run handed us or claimed makes it no known
        // rival now.
        for contest in self.contested.values_mut() {
            contest.claimers.remove(sender);
            contest.handing.remove(sender);
        }
        self.events.push_back(Event::PeerRestarted {
            node: sender.to_string(),
            incarnation,
        });
        self.needs_decide = true;
    }

    /// A member's heartbeat: whether it hears us, and what it holds.
    fn hear_heartbeat(&mut self, now: Instant, sender: &str, sequence: u64, hb: wire::Heartbeat) {
        let echoes_me = self.echoes_me(&hb);
        let held_for_me = self.held_for_me(&hb);
        let peer = self.peers.get_mut(sender).expect("present");
        if peer.departed {
            peer.departed = false;
            self.needs_decide = true;
        }
        self.counters.heartbeats_received += 1;
        let older = peer.state.as_ref().is_some_and(|s| s.sequence > sequence);
        let newly_verified = !peer.verified && echoes_me;
        if echoes_me {
            peer.echoed_at = now;
            if newly_verified {
                peer.verified = true;
                self.needs_decide = true;
            }
        } else if peer.verified && !older && hb.echoes.len() < wire::Heartbeat::MAX_ECHOES {
            // A list with room to spare names every peer it hears:
            // without us, this peer has stopped hearing us.
            peer.verified = false;
            self.needs_decide = true;
        }
        let state = PeerState::from_heartbeat(sequence, hb);
        if let Some(held) = held_for_me {
            self.incarnation_behind(now, sender, held);
        }
        let peer = self.peers.get_mut(sender).expect("present");
        if older {
            return; // reordered: a newer heartbeat already said more
        }
        let changed = !peer.state.as_ref().is_some_and(|s| s.same_as(&state));
        peer.state = Some(state);
        if changed || newly_verified {
            self.needs_decide = true;
            self.notice_config(now, sender);
        }
    }

    fn hear_goodbye(&mut self, sender: String, sequence: u64) {
        let peer = self.peers.get_mut(&sender).expect("present");
        peer.departed = true;
        peer.goodbye_sequence = Some(sequence);
        peer.state = None;
        self.events.push_back(Event::PeerLeft { node: sender });
        self.needs_decide = true;
    }

    /// A member's shared neighbour table (the notify list's `"arp-cache"`).
    fn hear_neighbours(&mut self, now: Instant, sender: &str, share: wire::ArpShare) {
        let ttl = self.neighbour_ttl();
        let peer = self.peers.get_mut(sender).expect("present");
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

    /// This node's index in the config a heartbeat's sender runs (echo
    /// indices are in it), when that config is known here.
    fn my_index_in(&self, hb: &wire::Heartbeat) -> Option<u16> {
        if hb.config_digest == self.cluster.digest() {
            self.index
        } else {
            self.known
                .get(&hb.config_digest)
                .and_then(|c| c.node_index(&self.name))
        }
    }

    /// Whether the heartbeat echoes this node's current incarnation (by
    /// incarnation alone when the sender's config is unknown).
    fn echoes_me(&self, hb: &wire::Heartbeat) -> bool {
        let me = self.my_index_in(hb);
        hb.echoes
            .iter()
            .any(|e| e.incarnation == self.incarnation && me.is_none_or(|m| e.node == m))
    }

    /// A newer incarnation than ours that the sender holds for us, if it
    /// does not echo ours: it rejects what we say.
    fn held_for_me(&self, hb: &wire::Heartbeat) -> Option<u64> {
        // An unknown config most likely lists us where ours does; a wrong
        // guess only gives us a larger incarnation than needed.
        // Only an echo at that index counts as ours here: by incarnation
        // alone, a peer that restarted behind its clock to the very number
        // we did would hide the one held for us.
        let me = self.my_index_in(hb).or(self.index)?;
        let at_me = || hb.echoes.iter().filter(move |e| e.node == me);
        if at_me().any(|e| e.incarnation == self.incarnation) {
            return None;
        }
        at_me()
            .map(|e| e.incarnation)
            .max()
            .filter(|held| *held > self.incarnation)
    }

    /// A sender outside `nodes` with the secret: a node of a newer config
    /// not adopted yet, or another cluster sharing the secret and channel.
    /// It is remembered for status and counted, and never acted on: its
    /// config is not adopted, its holdings block nothing, its conflicts
    /// stop nothing.
    fn hear_stranger(&mut self, now: Instant, from: SocketAddr, header: wire::Header, body: Body) {
        self.counters.stranger_datagrams += 1;
        let peer = self
            .peers
            .entry(header.sender.clone())
            .or_insert_with(|| Peer::new(from, header.incarnation, now));
        peer.replay.accept(header.incarnation, header.sequence);
        if header.incarnation > peer.incarnation {
            peer.incarnation = header.incarnation;
            peer.verified = false;
            peer.state = None;
        }
        peer.addr = from;
        peer.last_heard = now;
        peer.fresh = true;
        if let Body::ConfigRequest(req) = body {
            // Serving our config is harmless (it has the secret) and lets a
            // node that a newer config removed learn that it was removed.
            let sender = header.sender.clone();
            self.serve_config(from, sender, req);
            return;
        }
        let peer = self.peers.get_mut(&header.sender).expect("inserted above");
        if let Body::Heartbeat(hb) = body {
            // Kept so that, once a config naming it is adopted, it counts
            // at once without waiting for its next heartbeat.
            if hb.echoes.iter().any(|e| e.incarnation == self.incarnation) {
                peer.verified = true;
                peer.echoed_at = now;
            }
            peer.state = Some(PeerState::from_heartbeat(header.sequence, hb));
        }
        self.reject(
            from,
            Some(header.sender),
            Rejection::UnknownNode,
            "not in nodes".into(),
        );
    }

    /// A datagram under this node's own name from another incarnation: a
    /// second live process (a cloned VM, a second start) or a replay of an
    /// earlier run. The twin that started later (booting while the other
    /// is mature; else the lower incarnation) stands down for good once the
    /// other proves it is live by echoing this incarnation; the one that
    /// serves keeps its incarnation above the twin's, so peers hear it.
    fn hear_twin(&mut self, now: Instant, from: SocketAddr, incarnation: u64, body: &Body) {
        if incarnation == self.incarnation || self.lifecycle.stood_down() {
            return; // our own datagram looped back, or already silent
        }
        if incarnation > self.incarnation
            && self.duplicate_name_reported.len() < MAX_DUPLICATE_REPORTS
            && self.duplicate_name_reported.insert(incarnation)
        {
            self.events.push_back(Event::DuplicateName { from });
        }
        let (mature, proof) = match body {
            Body::Heartbeat(hb) => (
                hb.mature,
                hb.echoes.iter().any(|e| e.incarnation == self.incarnation),
            ),
            Body::Goodbye(_) => {
                if self.twin.is_some_and(|t| t.incarnation == incarnation) {
                    self.twin = None;
                }
                return;
            }
            _ => (self.twin.is_some_and(|t| t.mature), false),
        };
        let known = self.twin.is_some_and(|t| t.incarnation == incarnation);
        // A twin heard within the last interval: the periodic heartbeat,
        // due within one, carries the echo. Telling at once every time
        // would let datagrams of two old runs, replayed in turn, draw one
        // heartbeat each to the whole cluster.
        let heard_lately = self
            .twin
            .is_some_and(|t| now < t.last_heard + self.config.interval);
        self.twin = Some(super::Twin {
            incarnation,
            last_heard: now,
            mature,
        });
        if !known && !heard_lately {
            self.dirty = true; // tell it at once that we hear it
        }
        if proof {
            let matured = self.lifecycle.mature();
            let later =
                (!matured && mature) || (matured == mature && incarnation > self.incarnation);
            if later {
                self.lifecycle.stand_down();
                self.needs_decide = true;
                return;
            }
        }
        if self.lifecycle.mature() && incarnation > self.incarnation {
            self.bump_incarnation(
                incarnation + 1,
                format!("a second process under this name is heard from {from} with incarnation {incarnation}"),
            );
        }
    }

    /// A peer on our config holds a newer incarnation for us than ours and
    /// does not echo ours: it rejects everything we say. Unless a twin is
    /// heard (then `hear_twin` decides), take one above it, after a short
    /// wait in which a twin would have been heard.
    fn incarnation_behind(&mut self, now: Instant, peer: &str, held: u64) {
        let stale = self.config.stale;
        let twin_heard = self.twin.is_some_and(|t| now < t.last_heard + stale);
        let waited = now >= self.started_at + self.config.interval * 2;
        if self.lifecycle.stood_down() || twin_heard || !waited {
            return;
        }
        // Not simply one above: an earlier run behind its clock may have
        // raised itself from the same `held` already, and a peer that holds
        // that one would take ours for a replay of it. Runs differ in the
        // incarnation they started with, so its low bits set ours apart.
        let apart = 1 + self.first_incarnation % (1 << 20);
        self.bump_incarnation(
            held.saturating_add(apart),
            format!("{peer} holds incarnation {held} for this node, newer than its own (clock behind its previous run?)"),
        );
    }

    pub(super) fn bump_incarnation(&mut self, to: u64, because: String) {
        let previous = self.incarnation;
        self.incarnation = to;
        self.sequence = 0;
        self.counters.incarnation_bumps += 1;
        // Peers' echoes of the old incarnation prove nothing now.
        for peer in self.peers.values_mut() {
            peer.verified = false;
        }
        self.events.push_back(Event::IncarnationBumped {
            previous,
            incarnation: to,
            because,
        });
        self.needs_decide = true;
        self.dirty = true;
    }

    /// A datagram of another protocol version: a node mid rolling upgrade
    /// (or downgrade). Remembered per address for status; never acted on,
    /// as nothing in it is authenticated for this version.
    fn hear_other_protocol(&mut self, now: Instant, from: SocketAddr, version: u8) {
        if self.other_protocols.len() >= MAX_OTHER_PROTOCOLS
            && !self.other_protocols.contains_key(&from)
        {
            // Make room by forgetting the one heard longest ago.
            let oldest = self
                .other_protocols
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(addr, _)| *addr);
            if let Some(oldest) = oldest {
                self.other_protocols.remove(&oldest);
            }
        }
        self.other_protocols.insert(from, (version, now));
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
