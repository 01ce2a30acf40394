//! The node state machine (docs/ARCHITECTURE.md, "The core: inputs and
//! outputs"), sans-IO in the manner of
//! quinn-proto: time is an argument, inputs are `handle_*`, outputs are
//! drained with `poll_*`, and [`Node::poll_timeout`] says when to call
//! [`Node::handle_timeout`] next. Calling it early does nothing.
//!
//! - `receive.rs`: authenticated datagrams in.
//! - `eligibility.rs`: this node's reasons not to serve, and which peers count.
//! - `survey.rs`: who holds, claims and hands over each group.
//! - `decide.rs`: placement, then release and acquire, in named steps.
//! - `lifecycle.rs`, `peer.rs`, `timers.rs`: the node's stage, what it
//!   knows of each peer, and its deadlines.
//! - `reconfigure.rs`: reloads and adopted configs, without flaps.
//! - `transfer.rs`: fetching and serving configs in chunks.
//! - `status.rs`: the read-only view for status and metrics.
//! - `pins.rs`: the operator's planned moves, a table every node shares.

mod decide;
mod eligibility;
mod lifecycle;
mod peer;
mod pins;
mod receive;
mod reconfigure;
mod status;
mod survey;
mod timers;
mod transfer;
mod types;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::config::{Cluster, Config, Digest};
use crate::wire::{self, Body, Header, Key, Message, Neighbour};

use lifecycle::Lifecycle;
use peer::Peer;
pub use pins::{MAX_PINNED, PinError, PinView, Pinned};
pub use status::{GroupView, NodeStatus, PeerView, PendingFailback};
use transfer::Fetch;
pub use types::*;

/// The most queued datagrams a loop hands to [`Node::handle_datagrams_at`]
/// in one pass: enough to catch up with every peer's heartbeat at once,
/// few enough that the loop is back at its timers soon under a flood.
pub const DATAGRAM_BATCH: usize = 32;

/// The size a heartbeat is kept within: one datagram that crosses any path
/// unfragmented (docs/PROTOCOL.md, "Size budget").
const HEARTBEAT_BUDGET: usize = 1200;
/// Echo slots always given to the newest acquaintances; the others rotate.
const NEWEST_ECHOES: usize = 8;

/// One vippy node's protocol brain.
pub struct Node {
    name: String,
    config: Arc<Config>,
    /// The cluster part in force: the file's, or one adopted from a peer.
    cluster: Arc<Cluster>,
    /// Where `cluster` came from: `None` for the file, else the peer.
    adopted_from: Option<String>,
    /// This node's index in `cluster.nodes`; `None` when not in it.
    index: Option<u16>,
    /// Group index by identity key, for `cluster`.
    group_index: BTreeMap<u64, usize>,
    /// The chat keys, one per secret; the first signs.
    keys: Vec<Key>,
    incarnation: u64,
    /// The incarnation this process started with: its low bits tell one
    /// run's raised incarnation from another's (see `incarnation_behind`).
    first_incarnation: u64,
    sequence: u64,

    /// Boot maturity (the original's `mature`): not eligible before this.
    mature_at: Instant,
    /// Booting, mature, stood down for a twin, or stopped.
    lifecycle: Lifecycle,
    /// Groups nobody ever held are taken only after this: nodes that mature
    /// together first hear that each other is ready (see `decide`).
    claim_unowned_at: Instant,
    /// A group waits for `claim_unowned_at`.
    unowned_waiting: bool,
    /// The eligible nodes at the last decision (sorted indices).
    last_eligible: Vec<u16>,
    /// Failback: since when each node (this one included) has been
    /// eligible without a break, by name, with the incarnation seen.
    eligible_since: BTreeMap<String, (u64, Instant)>,
    /// When the next settling node settles (`failback: N`): decide again then.
    failback_at: Option<Instant>,
    /// Moves failback holds back, by group key: to which node, and when
    /// (`None`: manual, only when the holder goes).
    deferred: BTreeMap<u64, (u16, Option<Instant>)>,
    /// After adopting a new config: takes no group nobody held before
    /// this (`None`: settled).
    settle_until: Option<Instant>,
    /// Administrative drains: reason by source.
    admin: BTreeMap<String, String>,
    failing_checks: BTreeSet<String>,
    /// Groups this node cannot serve, by source (see
    /// `LocalEvent::CannotServe`): group key -> reason.
    cannot: BTreeMap<String, BTreeMap<u64, String>>,
    /// What `cannot_serve` said at the last decision, to report changes.
    cannot_reported: BTreeMap<usize, Vec<String>>,
    reasons: Vec<InactiveReason>,

    peers: BTreeMap<String, Peer>,
    /// Groups plumbed here, by identity key.
    held: BTreeMap<u64, Held>,
    /// Groups released here for a planned move, by key: to whom, and since when.
    handoffs: BTreeMap<u64, (u16, Instant)>,
    /// Groups released here lately, by key. Clients may still follow our
    /// announcements of them (the keeper may never have heard our claim), so
    /// the next holder seen claiming one is told, as a handoff, while it
    /// claims the group (for `stale` at most): it then announces again. A
    /// keeper that stops claiming it passes the tell on to the next one;
    /// a release nobody claims is forgotten after `10 × stale`.
    released: BTreeMap<u64, Released>,
    /// Senders of datagrams in another protocol version, by address: the
    /// version and when last heard (unauthenticated, so only shown).
    other_protocols: BTreeMap<std::net::SocketAddr, (u8, Instant)>,
    /// The last holder seen for each group (by key), to name the cause of a takeover.
    last_holder: BTreeMap<u64, String>,
    /// Groups whose last holder has restarted since (and so let them go).
    holder_restarted: BTreeSet<u64>,
    /// Since when a member has been seen on another config version.
    skew_since: Option<Instant>,
    /// The owner placement chose last time, by group index (for intent
    /// events). A vector, not a map by key: every decision reads and
    /// writes every group's entry.
    last_owner: Vec<Option<u16>>,
    /// The last placement and its inputs, reused while holders only catch
    /// up with it.
    placement_memo: crate::placement::Memo,
    /// Configs by digest, to serve transfers and read peers' holdings.
    known: BTreeMap<Digest, Arc<Cluster>>,
    fetch: Option<Fetch>,
    /// Digests whose fetch failed, and when they may be tried again.
    fetch_backoff: BTreeMap<Digest, Instant>,
    conflicts_reported: BTreeSet<(String, Digest)>,
    duplicate_name_reported: BTreeSet<u64>,
    local_neighbours: Vec<Neighbour>,

    /// When this process started (the incarnation check waits a little).
    started_at: Instant,
    /// The last time any input reached the node: a longer gap than the
    /// loop allows means it was paused or starved (see `wake`).
    last_awake: Instant,
    /// Peers are not judged stale before this: after the loop was away,
    /// what queued meanwhile must be read first.
    judge_after: Instant,
    /// Nor is anything said or decided before this, for the same reason.
    quiet_until: Instant,
    /// A decision waits for `quiet_until`: it would otherwise act (take,
    /// announce) on a view missing what queued while the loop was away.
    decision_deferred: bool,
    /// After the loop was away, peers that judged this node stale no
    /// longer echo it, so they look deaf until they have heard its next
    /// heartbeat. Until this deadline a holder that does not echo us is not
    /// given way to (both would give way, and nobody would hold the group).
    deaf_after: Option<Instant>,
    /// Since when this node's loop has been behind: datagrams it reads
    /// waited in the queue, or its timers fire late, by more than a third
    /// of `stale` (see `doubt_self`). `None` once it reads one that did not.
    behind_since: Option<Instant>,
    /// While behind, placement runs at most at this deadline rather than
    /// on every datagram: what queued says more than each datagram alone.
    decide_at: Option<Instant>,
    /// Another live process under this node's name, as last heard.
    twin: Option<Twin>,
    /// Held groups other nodes were seen claiming (or handing to us) at
    /// the last decision, with who: see `decide`.
    contested: BTreeMap<u64, Contest>,
    /// Announce every held group again at the next decision, and why.
    reannounce_all: Option<String>,
    /// The cluster's pin table as known here, by group key (see `pins.rs`).
    pins: BTreeMap<u64, pins::PinRecord>,
    /// The highest pin stamp seen: new edits go above it.
    pin_clock: u64,
    /// When the table last changed here (it is sent for `stale` after).
    pins_changed_at: Option<Instant>,
    /// A peer sent an older table: send ours with the next heartbeat.
    pins_reply: bool,

    next_heartbeat: Instant,
    /// A state change waits to be announced by an immediate heartbeat.
    dirty: bool,
    /// Where the next heartbeat's rotating echoes start (see `echoes`).
    echo_cursor: usize,
    /// Something changed that placement must look at again.
    needs_decide: bool,

    transmits: VecDeque<Transmit>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    counters: Counters,
}

/// Other nodes that claim a group this node keeps, or handed it to us.
#[derive(Debug, Clone, Default)]
struct Contest {
    /// Claiming it, and since when.
    claimers: BTreeMap<String, Instant>,
    /// Released it to us (so they held it too).
    handing: BTreeSet<String>,
}

/// Another process heard sending under this node's name.
#[derive(Debug, Clone, Copy)]
struct Twin {
    incarnation: u64,
    last_heard: Instant,
    mature: bool,
}

#[derive(Debug, Clone)]
struct Held {
    ips: Vec<IpNet>,
    since: Instant,
}

/// A group released here lately (see `Node::released`).
#[derive(Debug, Clone, Copy)]
struct Released {
    at: Instant,
    /// The keeper being told (its node index) and since when.
    told: Option<(u16, Instant)>,
}

impl Node {
    /// A node named `name` starting at `now`. `incarnation` must grow
    /// across restarts (the daemon uses wall-clock nanoseconds at start);
    /// `secrets` are the shared secrets' bytes: the first signs, every one is
    /// accepted (a secret being rotated). None at all means the empty secret.
    pub fn new(
        config: Arc<Config>,
        name: &str,
        secrets: &[SecretBytes],
        incarnation: u64,
        now: Instant,
    ) -> Node {
        let cluster = config.cluster.clone();
        let mut node = Node {
            name: name.to_string(),
            index: cluster.node_index(name),
            group_index: index_groups(&cluster),
            keys: derive_keys(secrets),
            incarnation,
            first_incarnation: incarnation,
            sequence: 0,
            mature_at: now + boot_listen(&config),
            lifecycle: Lifecycle::Booting,
            claim_unowned_at: now + boot_listen(&config) + config.interval / 4,
            unowned_waiting: false,
            last_eligible: Vec::new(),
            eligible_since: BTreeMap::new(),
            failback_at: None,
            deferred: BTreeMap::new(),
            settle_until: None,
            admin: BTreeMap::new(),
            failing_checks: BTreeSet::new(),
            cannot: BTreeMap::new(),
            cannot_reported: BTreeMap::new(),
            reasons: Vec::new(),
            peers: BTreeMap::new(),
            held: BTreeMap::new(),
            handoffs: BTreeMap::new(),
            released: BTreeMap::new(),
            other_protocols: BTreeMap::new(),
            last_holder: BTreeMap::new(),
            holder_restarted: BTreeSet::new(),
            skew_since: None,
            last_owner: Vec::new(),
            placement_memo: crate::placement::Memo::default(),
            known: BTreeMap::from([(cluster.digest(), cluster.clone())]),
            fetch: None,
            fetch_backoff: BTreeMap::new(),
            conflicts_reported: BTreeSet::new(),
            duplicate_name_reported: BTreeSet::new(),
            local_neighbours: Vec::new(),
            started_at: now,
            last_awake: now,
            judge_after: now,
            quiet_until: now,
            decision_deferred: false,
            deaf_after: None,
            behind_since: None,
            decide_at: None,
            twin: None,
            contested: BTreeMap::new(),
            reannounce_all: None,
            pins: BTreeMap::new(),
            pin_clock: 0,
            pins_changed_at: None,
            pins_reply: false,
            next_heartbeat: now,
            dirty: true,
            echo_cursor: 0,
            needs_decide: true,
            transmits: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            adopted_from: None,
            cluster,
            config,
        };
        node.reasons = node.compute_reasons();
        node.flush(now);
        node
    }

    /// Starts from a cluster config adopted in an earlier run (kept in the
    /// state directory), when it is newer than the file's.
    pub fn resume_adopted(&mut self, cluster: Arc<Cluster>, from: String, now: Instant) {
        if cluster.version > self.cluster.version {
            self.install_cluster(cluster, Some(from), now);
            self.flush(now);
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The administrative drains: reason by source.
    pub fn drains(&self) -> &BTreeMap<String, String> {
        &self.admin
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// The peer the cluster config was adopted from, if it is not the file's.
    pub fn adopted_from(&self) -> Option<&str> {
        self.adopted_from.as_deref()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether this node serves groups now.
    pub fn is_active(&self) -> bool {
        self.reasons.is_empty()
    }

    pub fn reasons(&self) -> &[InactiveReason] {
        &self.reasons
    }

    /// Addresses of the groups held here.
    pub fn held_ips(&self) -> impl Iterator<Item = &IpNet> {
        self.held.values().flat_map(|h| h.ips.iter())
    }

    /// This host's and the cluster's shared neighbour entries (the notify
    /// list's `"arp-cache"` token), without duplicates.
    pub fn cluster_neighbours(&self, now: Instant) -> Vec<Neighbour> {
        let mut by_ip: BTreeMap<std::net::IpAddr, Neighbour> = BTreeMap::new();
        for n in &self.local_neighbours {
            by_ip.insert(n.ip, *n);
        }
        for peer in self.peers.values() {
            for (ip, (mac, expires)) in &peer.neighbours {
                if *expires > now {
                    by_ip.entry(*ip).or_insert(Neighbour { ip: *ip, mac: *mac });
                }
            }
        }
        by_ip.into_values().collect()
    }

    /// The MACs of the other vippy nodes, as far as the cluster's
    /// neighbour tables tell: every MAC that this host's table or a peer's
    /// shared one gives for the address a peer's datagrams come from. Each
    /// node shares its own addresses beside its table, so a node is known
    /// even to peers that never talked to it directly. Peers that went
    /// stale or said goodbye count too, and so do expired entries: a node
    /// killed with its VIPs still plumbed keeps answering for them, and
    /// that is a duplicate for the cluster to resolve, not a stranger on
    /// the LAN.
    pub fn peer_macs(&self) -> BTreeSet<[u8; 6]> {
        let addresses: BTreeSet<std::net::IpAddr> =
            self.peers.values().map(|p| p.addr.ip()).collect();
        let mut macs = BTreeSet::new();
        for n in &self.local_neighbours {
            if addresses.contains(&n.ip) {
                macs.insert(n.mac);
            }
        }
        for peer in self.peers.values() {
            for (ip, (mac, _)) in &peer.neighbours {
                if addresses.contains(ip) {
                    macs.insert(*mac);
                }
            }
        }
        macs
    }

    /// An authenticated or not, well-formed or not, datagram from `from`,
    /// read as it arrived.
    pub fn handle_datagram(&mut self, now: Instant, from: std::net::SocketAddr, bytes: &[u8]) {
        self.handle_datagram_at(now, now, from, bytes);
    }

    /// A datagram that `arrived` (at the socket) and is
    /// read only `now`: a long wait in the socket queue means this node's
    /// loop is behind, and it doubts its own view of its peers until it has
    /// caught up (see `doubt_self`).
    pub fn handle_datagram_at(
        &mut self,
        now: Instant,
        arrived: Instant,
        from: std::net::SocketAddr,
        bytes: &[u8],
    ) {
        self.handle_datagrams_at(now, [(arrived, from, bytes)]);
    }

    /// Datagrams read together from the socket queue (at most
    /// [`DATAGRAM_BATCH`]), each with when it `arrived` and its sender:
    /// each is received as by [`Node::handle_datagram_at`], and the node
    /// decides once, after the last. A loop that fell behind finds many
    /// changed heartbeats queued: read as one batch they cost one decision
    /// over every group instead of one each, so the loop catches up
    /// instead of falling further behind.
    pub fn handle_datagrams_at<'a>(
        &mut self,
        now: Instant,
        batch: impl IntoIterator<Item = (Instant, std::net::SocketAddr, &'a [u8])>,
    ) {
        if self.lifecycle.stopped() {
            return;
        }
        self.wake(now);
        for (arrived, from, bytes) in batch {
            if self.lifecycle.stopped() {
                break; // as a stopped node ignores a datagram read alone
            }
            self.doubt_self(now, now.saturating_duration_since(arrived));
            self.receive(now, arrived, from, bytes);
        }
        if self.behind_since.is_some() && self.needs_decide {
            // Decide once for many datagrams, at a deadline: timers come
            // first in the loop, so it is reached after at most one more input.
            let at = *self
                .decide_at
                .get_or_insert(now + self.config.interval.min(self.config.stale) / 4);
            if now < at {
                self.needs_decide = false;
            }
        }
        self.flush(now);
    }

    /// Runs whatever timers are due; harmless when none is.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.lifecycle.stopped() {
            return;
        }
        self.wake(now);
        self.run_due_timers(now);
        self.flush(now);
    }

    pub fn handle_local(&mut self, now: Instant, event: LocalEvent) {
        if self.lifecycle.stopped() {
            return; // after goodbye, peers must not hear from us again
        }
        self.wake(now);
        match event {
            LocalEvent::Health { check, ok } => {
                let changed = if ok {
                    self.failing_checks.remove(&check)
                } else {
                    self.failing_checks.insert(check)
                };
                self.needs_decide |= changed;
            }
            LocalEvent::Admin {
                source,
                active,
                reason,
            } => {
                if active {
                    self.admin.remove(&source);
                } else {
                    let reason = reason.unwrap_or_else(|| "drained".to_string());
                    self.admin.insert(source, reason);
                }
                self.needs_decide = true;
            }
            LocalEvent::UndrainAll => {
                self.admin.clear();
                self.needs_decide = true;
            }
            LocalEvent::Reload { config, secrets } => self.reload(config, &secrets, now),
            LocalEvent::Shutdown => {
                let stood_down = self.lifecycle.stood_down();
                self.lifecycle.stop();
                if stood_down {
                    return; // it holds nothing, and peers must hear only the twin
                }
                self.needs_decide = true;
                self.flush(now);
                self.send(
                    Body::Goodbye(wire::Goodbye {
                        config_version: self.cluster.version,
                        config_digest: self.cluster.digest(),
                    }),
                    Destination::Cluster,
                );
                return;
            }
            LocalEvent::Neighbours(list) => {
                self.local_neighbours = list;
                self.share_neighbours();
            }
            LocalEvent::CannotServe { source, groups } => {
                let keyed: BTreeMap<u64, String> = groups
                    .into_iter()
                    .filter_map(|(g, reason)| Some((self.cluster.groups.get(g)?.key, reason)))
                    .collect();
                let changed = if keyed.is_empty() {
                    self.cannot.remove(&source).is_some()
                } else {
                    self.cannot.insert(source, keyed.clone()) != Some(keyed)
                };
                if changed {
                    self.needs_decide = true;
                    self.dirty = true;
                }
            }
        }
        self.flush(now);
    }

    /// The groups of the config in force this node cannot serve, by index,
    /// with every reason (sources in name order).
    pub fn cannot_serve(&self) -> BTreeMap<usize, Vec<String>> {
        let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for reasons in self.cannot.values() {
            for (key, reason) in reasons {
                if let Some(&g) = self.group_index.get(key) {
                    out.entry(g).or_default().push(reason.clone());
                }
            }
        }
        out
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.lifecycle.stopped() {
            return None;
        }
        self.next_deadline()
    }

    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When a group nobody held may be taken: after the membership settled
    /// and, after a new config, after `mature`.
    fn unowned_claim_time(&self) -> Instant {
        match self.settle_until {
            Some(settled) => self.claim_unowned_at.max(settled),
            None => self.claim_unowned_at,
        }
    }

    /// After every input: decide if needed, then announce any change at once.
    fn flush(&mut self, now: Instant) {
        // Maturity is a deadline, whichever input first reaches it: a
        // decision made past it must go out saying "mature", or peers keep
        // this node out of placement until its next periodic heartbeat.
        if !self.lifecycle.mature() && now >= self.mature_at {
            self.lifecycle.mature_now();
            self.needs_decide = true;
            self.dirty = true;
        }
        if self.decision_deferred && now >= self.quiet_until {
            self.decision_deferred = false;
            self.needs_decide = true;
        }
        if self.needs_decide && now < self.quiet_until && !self.lifecycle.stopped() {
            // Just back from a pause: clients would follow an announcement
            // made from the old view (a group taken or re-announced here,
            // then released once the backlog is read), so wait for it.
            self.needs_decide = false;
            self.decision_deferred = true;
        }
        if self.needs_decide {
            self.needs_decide = false;
            self.decide_at = None;
            self.decide(now);
        }
        if self.dirty && now >= self.quiet_until {
            self.send_heartbeat(now);
        }
    }

    fn send_heartbeat(&mut self, now: Instant) {
        self.dirty = false;
        self.next_heartbeat = now + self.config.interval;
        let mut holds = wire::GroupSet::new(self.cluster.groups.len());
        for key in self.held.keys() {
            if let Some(&i) = self.group_index.get(key) {
                holds.insert(i);
            }
        }
        let reasons = self
            .reasons
            .iter()
            .take(wire::Heartbeat::MAX_REASONS)
            .map(|r| {
                let mut s = r.to_string();
                s.truncate(wire::Heartbeat::MAX_REASON_LEN);
                s
            })
            .collect();
        let mut handoffs: Vec<wire::Handoff> = self
            .handoffs
            .iter()
            .chain(
                self.released
                    .iter()
                    .filter(|(k, _)| !self.handoffs.contains_key(k))
                    .filter_map(|(k, r)| Some((k, r.told.as_ref()?))),
            )
            .filter_map(|(key, (to, _))| {
                let group = u16::try_from(*self.group_index.get(key)?).ok()?;
                Some(wire::Handoff { group, to: *to })
            })
            .collect();
        handoffs.sort();
        // Newest first would be nicer, but any subset is safe: a release
        // without a handoff is free for placement's owner.
        handoffs.truncate(wire::Heartbeat::MAX_HANDOFFS);
        let active = self.reasons.iter().all(|r| *r == InactiveReason::Booting);
        // Only an active node's cannot-serve set means anything (an
        // inactive one is placed nowhere), and leaving it out then keeps a
        // heartbeat with many reasons within the budget.
        let mut cannot = wire::GroupSet::new(self.cluster.groups.len());
        if active {
            for g in self.cannot_serve().into_keys() {
                cannot.insert(g);
            }
        }
        let mut heartbeat = wire::Heartbeat {
            config_version: self.cluster.version,
            config_digest: self.cluster.digest(),
            mature: self.lifecycle.mature(),
            active,
            reasons,
            holds,
            cannot,
            handoffs,
            echoes: self.echoes(),
        };
        // Keep within the 1200-byte budget (docs/PROTOCOL.md): reasons go
        // first (peers only show them), then handoffs, echoes last (a peer
        // that has just started needs its echo to count this node at all).
        while !heartbeat.reasons.is_empty() && self.encoded_len(&heartbeat) > HEARTBEAT_BUDGET {
            heartbeat.reasons.pop();
        }
        while !heartbeat.handoffs.is_empty() && self.encoded_len(&heartbeat) > HEARTBEAT_BUDGET {
            let keep = heartbeat.handoffs.len() / 2;
            heartbeat.handoffs.truncate(keep);
        }
        while !heartbeat.echoes.is_empty() && self.encoded_len(&heartbeat) > HEARTBEAT_BUDGET {
            heartbeat.echoes.pop(); // the oldest acquaintances go first
        }
        // The table goes first: a recipient of a handoff in the heartbeat
        // then already knows the pin that made it.
        if let Some(pins) = self.pins_to_send(now) {
            self.send(Body::Pins(pins), Destination::Cluster);
        }
        self.counters.heartbeats_sent += 1;
        self.send(Body::Heartbeat(heartbeat), Destination::Cluster);
    }

    /// The incarnations of fresh peers to echo. The newest acquaintances
    /// come first: a node that has just started finds its own in our next
    /// heartbeat. With more fresh peers than slots, the other slots go to
    /// the rest in turn, so each is echoed every few intervals: a peer whose
    /// first echo was lost must not wait for it forever.
    fn echoes(&mut self) -> Vec<wire::Echo> {
        let mut fresh: Vec<(&String, &Peer)> =
            self.peers.iter().filter(|(_, p)| p.heard()).collect();
        // Stable: equal `met_at` stay in name order.
        fresh.sort_by_key(|(_, p)| std::cmp::Reverse(p.met_at));
        let max = wire::Heartbeat::MAX_ECHOES;
        let mut chosen = fresh.clone();
        if fresh.len() > max {
            let (newest, rest) = fresh.split_at(NEWEST_ECHOES);
            let mut rest = rest.to_vec();
            rest.sort_by_key(|(name, _)| *name);
            let start = self.echo_cursor % rest.len();
            let room = max - NEWEST_ECHOES;
            chosen = newest.to_vec();
            chosen.extend((0..room).map(|k| rest[(start + k) % rest.len()]));
            self.echo_cursor = (start + room) % rest.len();
        }
        let mut echoes: Vec<wire::Echo> = chosen
            .into_iter()
            .map(|(name, p)| wire::Echo {
                node: self.cluster.node_index(name).unwrap_or(u16::MAX),
                incarnation: p.incarnation,
            })
            .collect();
        // Tell a member whose older incarnation we reject which one we
        // hold (its clock stepped back), and a twin of ours that we hear
        // it: each then knows what to do (see `receive`).
        // Only while it keeps being rejected (it heartbeats every interval)
        // and nothing newer was accepted: a straggler of an old run must not
        // read as an echo of the live one.
        let now = self.last_awake;
        let stale = self.config.stale;
        let recent = self.config.interval * 2;
        let mut told: Vec<wire::Echo> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                !p.fresh
                    && p.regressed_at
                        .is_some_and(|t| now < t + recent && t > p.last_heard)
            })
            .filter_map(|(name, p)| {
                Some(wire::Echo {
                    node: self.cluster.node_index(name)?,
                    incarnation: p.incarnation,
                })
            })
            .collect();
        if let (Some(twin), Some(me)) = (self.twin, self.index)
            && now < twin.last_heard + stale
        {
            told.push(wire::Echo {
                node: me,
                incarnation: twin.incarnation,
            });
        }
        for echo in told.into_iter().rev() {
            if echoes.len() >= max {
                echoes.pop();
            }
            echoes.insert(0, echo);
        }
        echoes
    }

    /// How long one echo keeps a peer verified: `stale`, or longer when
    /// echoes rotate (more fresh peers than slots) and ours comes round
    /// only every few heartbeats.
    fn echo_window(&self) -> Duration {
        let peers = self.cluster.nodes.len().saturating_sub(1);
        let max = wire::Heartbeat::MAX_ECHOES;
        if peers <= max {
            return self.config.stale;
        }
        let rounds = (peers - NEWEST_ECHOES).div_ceil(max - NEWEST_ECHOES) as u32 + 1;
        self.config.stale.max(self.config.interval * rounds)
    }

    /// Every input passes here first. A gap since the last input longer
    /// than the loop allows (one interval plus a quarter of `stale`) means
    /// this process was paused or starved: its peers' heartbeats are
    /// queued unread, so none is judged stale until they have been read.
    /// A timer that fires late says the same, less strongly.
    fn wake(&mut self, now: Instant) {
        if let Some(due) = self.poll_timeout().filter(|due| *due < now) {
            self.doubt_self(now, now - due);
        }
        let away = now.saturating_duration_since(self.last_awake);
        self.last_awake = now;
        if away > self.config.interval + self.config.stale / 4 {
            self.judge_after = now + self.config.interval.min(self.config.stale / 2);
            self.quiet_until = now + self.config.interval.min(self.config.stale) / 4;
            // Our first heartbeat goes out at `quiet_until`; a peer answers
            // a node it hears again at once, and within an interval at most.
            self.deaf_after = Some(self.quiet_until + self.config.interval);
            if !self.peers.is_empty() {
                self.events.push_back(Event::LoopLag { away });
            }
        }
    }

    /// The self-doubt rule (docs/ARCHITECTURE.md, "A node that falls
    /// behind"): input that waited `late` for this node's loop, by more than
    /// a third of `stale`, means what queued behind it is unread. Peers are
    /// then not judged stale (nor unverified) until the loop has caught up,
    /// for at most 2 × `stale`: a peer that seems silent may only be
    /// queued. Input that waited less ends the doubt.
    fn doubt_self(&mut self, now: Instant, late: Duration) {
        let limit = self.config.stale / 3;
        if late <= limit {
            self.behind_since = None;
            return;
        }
        let since = *self.behind_since.get_or_insert(now);
        let until = (now + limit).min(since + self.config.stale * 2);
        self.judge_after = self.judge_after.max(until);
    }

    fn signing_key(&self) -> &Key {
        // `derive_keys` never returns an empty list.
        &self.keys[0]
    }

    fn encoded_len(&self, heartbeat: &wire::Heartbeat) -> usize {
        let msg = Message {
            header: Header {
                sender: self.name.clone(),
                incarnation: self.incarnation,
                sequence: self.sequence + 1,
            },
            body: Body::Heartbeat(heartbeat.clone()),
        };
        wire::encode(&msg, self.signing_key()).map_or(usize::MAX, |b| b.len())
    }

    fn send(&mut self, body: Body, destination: Destination) {
        if self.lifecycle.stood_down() {
            return; // peers must hear only the twin that serves
        }
        self.sequence += 1;
        let msg = Message {
            header: Header {
                sender: self.name.clone(),
                incarnation: self.incarnation,
                sequence: self.sequence,
            },
            body,
        };
        // Every field is bounded when built here, so encoding cannot fail;
        // if it ever did, dropping one datagram is the safe outcome.
        if let Ok(bytes) = wire::encode(&msg, self.signing_key()) {
            self.transmits.push_back(Transmit { destination, bytes });
        }
    }

    fn share_neighbours(&mut self) {
        let list = self.local_neighbours.clone();
        for chunk in list.chunks(wire::ArpShare::MAX_ENTRIES) {
            self.send(
                Body::ArpShare(wire::ArpShare {
                    entries: chunk.to_vec(),
                }),
                Destination::Cluster,
            );
        }
    }

    /// How long a shared neighbour entry is kept without being shared again.
    fn neighbour_ttl(&self) -> Duration {
        self.config.arp_cache * 3
    }
}

/// How long a starting node listens before it may take anything: `mature`,
/// but never less than one and a half heartbeat intervals, so that even with
/// `mature: 0` it has heard every live peer once and does not grab groups
/// they hold.
fn boot_listen(config: &Config) -> Duration {
    config.mature.max(config.interval * 3 / 2)
}

fn index_groups(cluster: &Cluster) -> BTreeMap<u64, usize> {
    cluster
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.key, i))
        .collect()
}

/// One chat key per secret, in order; the empty secret if there is none
/// (the config loader requires one, so that is only a caller's mistake).
pub(super) fn derive_keys(secrets: &[SecretBytes]) -> Vec<Key> {
    if secrets.is_empty() {
        return vec![Key::derive(b"")];
    }
    secrets.iter().map(|s| Key::derive(&s.0)).collect()
}
