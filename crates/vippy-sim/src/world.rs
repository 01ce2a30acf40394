//! The simulated world: nodes, a network with faults, a fake clock that
//! jumps straight to the next deadline, and what each node has plumbed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use vippy_core::config::Config;
use vippy_core::node::{
    Action, Destination, Event, LocalEvent, Node, PinError, Pinned, SecretBytes, Transmit,
};

use crate::rng::Rng;

pub const SECRET: &str = "simulated-secret";

/// Link faults, applied per datagram and per direction.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub loss: f64,
    pub duplicate: f64,
    /// Extra random delay up to this much, which reorders datagrams.
    pub jitter: Duration,
    /// Directed pairs (from, to) whose datagrams are dropped.
    pub blocked: BTreeSet<(usize, usize)>,
}

impl Faults {
    pub fn any(&self) -> bool {
        self.loss > 0.0
            || self.duplicate > 0.0
            || !self.jitter.is_zero()
            || !self.blocked.is_empty()
    }
}

/// What handling one input costs a node's loop, so that a node with much
/// to do falls behind: while it works, datagrams wait in its socket queue
/// and its timers fire late, and what it sends goes out when it is done.
/// All zero (the default): inputs are free and handled the instant they
/// are due, as the golden tests and the drawn shapes run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Every input: decoding, signing, the syscalls.
    pub per_input: Duration,
    /// Every group, on every input: what the daemon's loop does per pass
    /// over all groups whatever changed (its status snapshot, decoding
    /// group sets).
    pub per_group_input: Duration,
    /// Every group, each time placement runs over all of them.
    pub per_group_decided: Duration,
    /// Every action (a plumb, an unplumb, an announcement): netlink and
    /// ARP work the daemon's loop waits for on a release.
    pub per_action: Duration,
    /// The most queued datagrams one pass reads before the core decides
    /// (the daemon's inbox); 0 or 1: one datagram, one decision.
    pub batch: usize,
}

impl Work {
    pub fn any(&self) -> bool {
        *self != Work::default()
    }
}

pub struct SimNode {
    pub name: String,
    pub addr: SocketAddr,
    pub node: Option<Node>,
    pub paused: bool,
    queued: Vec<(SocketAddr, Vec<u8>)>,
    /// What the node's data plane has on its interface now.
    pub plumbed: BTreeSet<IpNet>,
    pub config: Arc<Config>,
    restarts: u64,
    /// The incarnation of its latest start.
    pub incarnation: u64,
    pub drained: bool,
    pub failing_check: bool,
    /// The lag drawn for the node's current deadline.
    timer_lag: Option<(Instant, Duration)>,
    /// With [`World::work`]: the loop is busy until then.
    pub busy_until: Instant,
    /// With [`World::work`]: datagrams waiting in the socket queue, with
    /// when each arrived.
    inbox: VecDeque<(Instant, SocketAddr, Vec<u8>)>,
    /// The most datagrams that waited at once, and the longest wait.
    pub inbox_peak: usize,
    pub longest_wait: Duration,
}

impl SimNode {
    /// Host number `i` of the world, not started.
    fn new(name: &str, i: usize, config: Arc<Config>, now: Instant) -> SimNode {
        SimNode {
            name: name.to_string(),
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10 + i as u8)), 5007),
            node: None,
            paused: false,
            queued: Vec::new(),
            plumbed: BTreeSet::new(),
            config,
            restarts: 0,
            incarnation: 0,
            drained: false,
            failing_check: false,
            timer_lag: None,
            busy_until: now,
            inbox: VecDeque::new(),
            inbox_peak: 0,
            longest_wait: Duration::ZERO,
        }
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Instant,
    order: u64,
    to: usize,
    from: SocketAddr,
    bytes: Vec<u8>,
}

pub struct World {
    pub base: Instant,
    pub now: Instant,
    pub rng: Rng,
    pub nodes: Vec<SimNode>,
    pub faults: Faults,
    /// Base one-way delay.
    pub delay: Duration,
    /// What each input costs a node (none by default).
    pub work: Work,
    in_flight: BinaryHeap<Reverse<Delivery>>,
    order: u64,
    /// Recent happenings, printed when an invariant fails.
    pub trace: VecDeque<String>,
    pub trace_all: bool,
    /// When set, more than one holder of a group at any instant is a failure.
    pub strict_single_holder: bool,
    pub violation: Option<String>,
    /// Groups (by first address) for the single-holder check.
    pub watched: Vec<IpNet>,
    /// What the single-holder check last looked at (see `check_single_holder`).
    checked_watched: Vec<IpNet>,
    plumbed_since_check: bool,
    /// Every output of every node, when [`World::record`] turned it on.
    pub recorder: Option<Recorder>,
    /// The clients' neighbour caches: for each address, the node whose
    /// announcement a client on the LAN heard last (the LAN itself is never
    /// cut: faults are on the chat). A client sends there.
    /// With the announcing process's incarnation (its start's).
    pub client_cache: BTreeMap<IpAddr, (usize, u64)>,
}

/// One output of one node, as the golden tests see it.
#[derive(Debug, Clone)]
pub enum Output {
    Transmit(Transmit),
    Action(Action),
    Event(Event),
}

#[derive(Debug, Clone)]
pub struct Recorded {
    /// Since [`World::base`].
    pub at: Duration,
    pub node: usize,
    pub output: Output,
}

/// The transcript a recording world keeps (golden tests).
#[derive(Debug, Default)]
pub struct Recorder {
    /// In the order the world drained them.
    pub outputs: Vec<Recorded>,
    /// The last datagram each node sent towards each other, by (from, to),
    /// before any fault applied: what [`World::replay_last`] re-injects.
    last_sent: BTreeMap<(usize, usize), Vec<u8>>,
}

const TRACE_KEEP: usize = 400;

impl World {
    pub fn new(seed: u64, configs: Vec<Arc<Config>>, delay: Duration) -> World {
        // Any fixed origin works: the core only compares instants.
        let base = Instant::now();
        let nodes = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| SimNode::new(&config.cluster.nodes[i].clone(), i, config, base))
            .collect();
        World {
            base,
            now: base,
            rng: Rng::new(seed),
            nodes,
            faults: Faults::default(),
            delay,
            work: Work::default(),
            in_flight: BinaryHeap::new(),
            order: 0,
            trace: VecDeque::new(),
            trace_all: false,
            strict_single_holder: false,
            violation: None,
            watched: Vec::new(),
            checked_watched: Vec::new(),
            plumbed_since_check: false,
            recorder: None,
            client_cache: BTreeMap::new(),
        }
    }

    /// Adds a host running `config` under `name` (another cluster's node,
    /// or a second process under a member's name); started with
    /// [`World::start`]. Returns its index.
    pub fn add_host(&mut self, name: &str, config: Arc<Config>) -> usize {
        let i = self.nodes.len();
        self.nodes.push(SimNode::new(name, i, config, self.now));
        i
    }

    /// Cuts one direction of the chat between host `x` and every other:
    /// with `deaf` it hears nothing, else nobody hears it.
    pub fn one_way(&mut self, x: usize, deaf: bool) {
        self.faults.blocked.clear();
        for other in (0..self.nodes.len()).filter(|&o| o != x) {
            let pair = if deaf { (other, x) } else { (x, other) };
            self.faults.blocked.insert(pair);
        }
        let what = if deaf {
            "hears nothing"
        } else {
            "is heard by nobody"
        };
        let name = self.nodes[x].name.clone();
        self.log(format!("ONE-WAY: {name} {what}"));
    }

    /// From now on, keeps every transmit, action and event of every node
    /// (see [`World::take_recorded`]) and the last datagram between each pair.
    pub fn record(&mut self) {
        self.recorder.get_or_insert_with(Recorder::default);
    }

    /// The outputs recorded since the last call.
    pub fn take_recorded(&mut self) -> Vec<Recorded> {
        self.recorder
            .as_mut()
            .map(|r| std::mem::take(&mut r.outputs))
            .unwrap_or_default()
    }

    /// Delivers again, right now, the last datagram node `from` sent towards
    /// node `to` (an attacker's replay). False when none was recorded or
    /// `to` is not running.
    pub fn replay_last(&mut self, from: usize, to: usize) -> bool {
        let Some(bytes) = self
            .recorder
            .as_ref()
            .and_then(|r| r.last_sent.get(&(from, to)))
            .cloned()
        else {
            return false;
        };
        self.replay(from, to, bytes)
    }

    /// Delivers `bytes`, recorded from node `from`, to node `to` right now,
    /// from `from`'s address (an attacker's replay). False when `to` is not
    /// running.
    pub fn replay(&mut self, from: usize, to: usize, bytes: Vec<u8>) -> bool {
        let from_addr = self.nodes[from].addr;
        let (from_name, to_name) = (self.nodes[from].name.clone(), self.nodes[to].name.clone());
        let now = self.now;
        let target = &mut self.nodes[to];
        let Some(node) = target.node.as_mut() else {
            return false;
        };
        if target.paused {
            target.queued.push((from_addr, bytes));
        } else {
            node.handle_datagram(now, from_addr, &bytes);
        }
        self.log(format!(
            "{to_name}: replayed a datagram of {from_name}'s to it"
        ));
        self.drain(to);
        true
    }

    pub fn elapsed(&self) -> f64 {
        (self.now - self.base).as_secs_f64()
    }

    pub fn log(&mut self, line: String) {
        let line = format!("[{:9.3}s] {line}", self.elapsed());
        if self.trace_all {
            println!("{line}");
        }
        self.trace.push_back(line);
        if self.trace.len() > TRACE_KEEP {
            self.trace.pop_front();
        }
    }

    /// Starts (or restarts, with a newer incarnation) node `i`.
    pub fn start(&mut self, i: usize) {
        self.nodes[i].restarts += 1;
        // Grows across restarts, as wall-clock nanoseconds do for the daemon.
        let incarnation = 1_000_000 * self.nodes[i].restarts + i as u64;
        self.start_as(i, incarnation);
    }

    /// Starts node `i` with this incarnation: one below its last run's is a
    /// clock stepped back (no `state_dir`).
    pub fn start_as(&mut self, i: usize, incarnation: u64) {
        let n = &mut self.nodes[i];
        n.incarnation = incarnation;
        n.plumbed.clear(); // the daemon removes leftovers at start
        n.paused = false;
        n.queued.clear();
        n.inbox.clear();
        n.busy_until = n.busy_until.max(self.now);
        n.drained = false;
        n.failing_check = false;
        let node = Node::new(
            n.config.clone(),
            &n.name.clone(),
            &[SecretBytes(SECRET.as_bytes().to_vec())],
            incarnation,
            self.now,
        );
        self.nodes[i].node = Some(node);
        let name = self.nodes[i].name.clone();
        self.log(format!("{name}: started (incarnation {incarnation})"));
        self.drain(i);
    }

    /// SIGKILL: the machine is gone, and its addresses with it.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].node = None;
        self.nodes[i].plumbed.clear();
        self.nodes[i].paused = false;
        self.nodes[i].queued.clear();
        self.nodes[i].inbox.clear();
        let name = self.nodes[i].name.clone();
        self.log(format!("{name}: CRASHED"));
    }

    pub fn pause(&mut self, i: usize) {
        if self.nodes[i].node.is_some() {
            self.nodes[i].paused = true;
            let name = self.nodes[i].name.clone();
            self.log(format!("{name}: paused"));
        }
    }

    pub fn resume(&mut self, i: usize) {
        if !self.nodes[i].paused {
            return;
        }
        self.nodes[i].paused = false;
        let name = self.nodes[i].name.clone();
        self.log(format!(
            "{name}: resumed with {} queued datagrams",
            self.nodes[i].queued.len()
        ));
        // In the daemon's order: its timers are due first, then it reads
        // what queued on the socket while it was stopped.
        let now = self.now;
        if let Some(node) = self.nodes[i].node.as_mut() {
            node.handle_timeout(now);
        }
        self.drain(i);
        let queued = std::mem::take(&mut self.nodes[i].queued);
        for (from, bytes) in queued {
            if let Some(node) = self.nodes[i].node.as_mut() {
                node.handle_datagram(now, from, &bytes);
            }
            self.drain(i);
        }
    }

    pub fn local(&mut self, i: usize, event: LocalEvent) {
        let now = self.now;
        let name = self.nodes[i].name.clone();
        self.log(format!("{name}: local {}", describe_local(&event)));
        if let Some(node) = self.nodes[i].node.as_mut() {
            node.handle_local(now, event);
        }
        self.drain(i);
    }

    /// The operator asks node `i` for a planned move of `group` to `to`.
    pub fn pin(&mut self, i: usize, group: usize, to: &str) -> Result<Pinned, PinError> {
        let now = self.now;
        let name = self.nodes[i].name.clone();
        self.log(format!("{name}: local move group {group} to {to}"));
        let node = self.nodes[i].node.as_mut().expect("pin on a live node");
        let result = node.pin(now, group, to);
        self.drain(i);
        result
    }

    /// The operator asks node `i` to clear the pin of `group`.
    pub fn unpin(&mut self, i: usize, group: usize) -> Result<Option<String>, PinError> {
        let now = self.now;
        let name = self.nodes[i].name.clone();
        self.log(format!("{name}: local clear the pin of group {group}"));
        let node = self.nodes[i].node.as_mut().expect("unpin on a live node");
        let result = node.unpin(now, group);
        self.drain(i);
        result
    }

    pub fn reload(&mut self, i: usize, config: Arc<Config>) {
        self.nodes[i].config = config.clone();
        let secrets = vec![SecretBytes(SECRET.as_bytes().to_vec())];
        self.local(i, LocalEvent::Reload { config, secrets });
    }

    pub fn alive(&self, i: usize) -> bool {
        self.nodes[i].node.is_some()
    }

    /// Runs until `until`, jumping from deadline to deadline.
    pub fn run_until(&mut self, until: Instant) {
        let mut spins = 0u32;
        loop {
            let next_delivery = self.in_flight.peek().map(|Reverse(d)| d.at);
            let next_timer = (0..self.nodes.len()).filter_map(|i| self.wake_at(i)).min();
            let next = match (next_delivery, next_timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(next) = next.filter(|t| *t <= until) else {
                self.now = self.now.max(until);
                return;
            };
            if next <= self.now {
                spins += 1;
                if spins > 100_000 {
                    let stuck: Vec<String> = self
                        .nodes
                        .iter()
                        .filter(|n| !n.paused)
                        .filter_map(|n| {
                            n.node
                                .as_ref()
                                .and_then(|node| node.poll_timeout())
                                .filter(|t| *t <= self.now)
                                .map(|_| n.name.clone())
                        })
                        .collect();
                    self.violation = Some(format!(
                        "a timer does not advance (poll_timeout stays in the past on {stuck:?})"
                    ));
                    return;
                }
            } else {
                spins = 0;
                self.now = next;
            }
            self.step();
            if self.violation.is_some() {
                return;
            }
        }
    }

    fn step(&mut self) {
        let now = self.now;
        let working = self.work.any();
        while let Some(Reverse(d)) = self.in_flight.peek() {
            if d.at > now {
                break;
            }
            let Reverse(d) = self.in_flight.pop().expect("peeked");
            let target = &mut self.nodes[d.to];
            if target.node.is_none() {
                continue;
            }
            if target.paused {
                target.queued.push((d.from, d.bytes));
                continue;
            }
            if working {
                target.inbox.push_back((d.at, d.from, d.bytes));
                target.inbox_peak = target.inbox_peak.max(target.inbox.len());
                continue;
            }
            if let Some(node) = target.node.as_mut() {
                node.handle_datagram(now, d.from, &d.bytes);
            }
            self.drain(d.to);
        }
        for i in 0..self.nodes.len() {
            if working {
                self.work_one(i);
                continue;
            }
            let due = self.wake_at(i).is_some_and(|t| t <= now);
            if due {
                if let Some(node) = self.nodes[i].node.as_mut() {
                    node.handle_timeout(now);
                }
                self.drain(i);
            }
        }
    }

    /// With [`World::work`]: node `i`, if its loop is free, handles one
    /// input in the daemon's order (a due timer first, then the datagram
    /// that waited longest) and is busy for what that input cost.
    fn work_one(&mut self, i: usize) {
        let now = self.now;
        if self.nodes[i].paused || self.nodes[i].busy_until > now {
            return;
        }
        let timer_due = self.timer_at(i).is_some_and(|t| t <= now);
        let n = &mut self.nodes[i];
        let Some(node) = n.node.as_mut() else {
            return;
        };
        let decisions = node.counters().decisions;
        let mut inputs = 1;
        if timer_due {
            node.handle_timeout(now);
        } else if !n.inbox.is_empty() {
            // What already queued, as the daemon's inbox reads it.
            let queued = n.inbox.iter().take_while(|(at, _, _)| *at <= now).count();
            let take = queued.clamp(1, self.work.batch.max(1));
            let batch: Vec<_> = n.inbox.drain(..take).collect();
            for (arrived, _, _) in &batch {
                n.longest_wait = n.longest_wait.max(now - *arrived);
            }
            inputs = batch.len() as u32;
            node.handle_datagrams_at(
                now,
                batch
                    .iter()
                    .map(|(arrived, from, bytes)| (*arrived, *from, bytes.as_slice())),
            );
        } else {
            return;
        }
        let decided = node.counters().decisions - decisions;
        let groups = node.cluster().groups.len() as u32;
        let outputs = self.take_outputs(i);
        let actions = outputs
            .iter()
            .filter(|o| matches!(o, Output::Action(_)))
            .count() as u32;
        let work = self.work;
        let cost = work.per_input * inputs
            + work.per_group_input * groups * inputs
            + work.per_group_decided * groups * decided as u32
            + work.per_action * actions;
        self.nodes[i].busy_until = now + cost;
        // What it sends goes out when it is done.
        self.handle_outputs(i, outputs, cost);
    }

    /// When node `i` next has something to do: with [`World::work`], its
    /// timer or its oldest queued datagram, once its loop is free.
    fn wake_at(&mut self, i: usize) -> Option<Instant> {
        if !self.work.any() {
            return self.timer_at(i);
        }
        let timer = self.timer_at(i);
        let n = &self.nodes[i];
        if n.paused || n.node.is_none() {
            return None;
        }
        let inbox = n.inbox.front().map(|(at, _, _)| *at);
        let next = match (timer, inbox) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(next.max(n.busy_until))
    }

    /// When node `i`'s timer really fires: its deadline plus a small lag,
    /// as an OS timer fires late, so a datagram can arrive after a deadline
    /// passed but before the node noticed (this found a real bug once).
    fn timer_at(&mut self, i: usize) -> Option<Instant> {
        if self.nodes[i].paused {
            return None;
        }
        let deadline = self.nodes[i].node.as_ref()?.poll_timeout()?;
        match self.nodes[i].timer_lag {
            Some((d, lag)) if d == deadline => Some(deadline + lag),
            _ => {
                let lag = Duration::from_micros(self.rng.range(0, 1500));
                self.nodes[i].timer_lag = Some((deadline, lag));
                Some(deadline + lag)
            }
        }
    }

    /// Drains node `i`'s outputs into the network, its data plane and the trace.
    fn drain(&mut self, i: usize) {
        let outputs = self.take_outputs(i);
        self.handle_outputs(i, outputs, Duration::ZERO);
    }

    /// Everything node `i` has to say, in the order the daemon drains it:
    /// transmits, then actions, then events, each time until none is left.
    fn take_outputs(&mut self, i: usize) -> Vec<Output> {
        let mut outputs = Vec::new();
        let Some(node) = self.nodes[i].node.as_mut() else {
            return outputs;
        };
        loop {
            if let Some(t) = node.poll_transmit() {
                outputs.push(Output::Transmit(t));
            } else if let Some(action) = node.poll_action() {
                outputs.push(Output::Action(action));
            } else if let Some(event) = node.poll_event() {
                outputs.push(Output::Event(event));
            } else {
                return outputs;
            }
        }
    }

    /// Carries out node `i`'s outputs: datagrams leave `after` from now.
    fn handle_outputs(&mut self, i: usize, outputs: Vec<Output>, after: Duration) {
        for output in outputs {
            self.keep(i, || output.clone());
            match output {
                Output::Transmit(t) => self.transmit(i, t.destination, t.bytes, after),
                Output::Action(action) => self.apply(i, action),
                Output::Event(event) => {
                    if !matches!(event, Event::Rejected { .. }) || self.trace_all {
                        let name = self.nodes[i].name.clone();
                        self.log(format!("{name}: {}", describe_event(&event)));
                    }
                }
            }
        }
        self.check_single_holder();
    }

    /// Records one output of node `i` when recording is on.
    fn keep(&mut self, i: usize, output: impl FnOnce() -> Output) {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.outputs.push(Recorded {
                at: self.now - self.base,
                node: i,
                output: output(),
            });
        }
    }

    fn transmit(&mut self, from: usize, destination: Destination, bytes: Vec<u8>, after: Duration) {
        let targets: Vec<usize> = match destination {
            Destination::Cluster => (0..self.nodes.len()).filter(|&j| j != from).collect(),
            Destination::Peer(addr) => self
                .nodes
                .iter()
                .position(|n| n.addr == addr)
                .into_iter()
                .collect(),
        };
        for to in targets {
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.last_sent.insert((from, to), bytes.clone());
            }
            if self.faults.blocked.contains(&(from, to)) || self.rng.chance(self.faults.loss) {
                continue;
            }
            let copies = if self.rng.chance(self.faults.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let jitter = if self.faults.jitter.is_zero() {
                    Duration::ZERO
                } else {
                    Duration::from_micros(self.rng.range(0, self.faults.jitter.as_micros() as u64))
                };
                self.order += 1;
                self.in_flight.push(Reverse(Delivery {
                    at: self.now + after + self.delay + jitter,
                    order: self.order,
                    to,
                    from: self.nodes[from].addr,
                    bytes: bytes.clone(),
                }));
            }
        }
    }

    fn apply(&mut self, i: usize, action: Action) {
        let plumbed = &mut self.nodes[i].plumbed;
        match action {
            Action::Plumb { ips, .. } => {
                plumbed.extend(ips);
                self.plumbed_since_check = true;
            }
            Action::Unplumb { ips, .. } => {
                for ip in ips {
                    plumbed.remove(&ip);
                }
            }
            Action::Announce { ips, .. } => {
                for ip in ips {
                    let process = self.nodes[i].incarnation;
                    self.client_cache.insert(ip.addr(), (i, process));
                }
            }
        }
    }

    /// With [`World::work`]: the most datagrams any running node has
    /// queued now, and how long the oldest of them has waited.
    pub fn queue_depth(&self) -> (usize, Duration) {
        let now = self.now;
        self.nodes
            .iter()
            .filter(|n| n.node.is_some() && !n.paused)
            .map(|n| {
                let waited = n
                    .inbox
                    .front()
                    .map_or(Duration::ZERO, |(at, _, _)| now - *at);
                (n.inbox.len(), waited)
            })
            .fold((0, Duration::ZERO), |(a, b), (c, d)| (a.max(c), b.max(d)))
    }

    /// Live nodes (paused ones included: their addresses are still up) that
    /// have `ip` plumbed.
    pub fn holders_of(&self, ip: &IpNet) -> Vec<usize> {
        // Every prefix length of this address, in `IpNet`'s order.
        let addr = ip.addr();
        let longest = if addr.is_ipv4() { 32 } else { 128 };
        let (Ok(low), Ok(high)) = (IpNet::new(addr, 0), IpNet::new(addr, longest)) else {
            return Vec::new();
        };
        (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i].node.is_some()
                    && self.nodes[i].plumbed.range(low..=high).next().is_some()
            })
            .collect()
    }

    fn check_single_holder(&mut self) {
        if !self.strict_single_holder || self.violation.is_some() {
            return;
        }
        // A second holder appears only with a plumb, or when more is
        // watched or checked than at the last look.
        let plumbed = std::mem::take(&mut self.plumbed_since_check);
        if !plumbed && self.checked_watched == self.watched {
            return;
        }
        self.checked_watched.clone_from(&self.watched);
        for ip in self.watched.clone() {
            let holders = self.holders_of(&ip);
            if holders.len() > 1 {
                let names: Vec<&str> = holders
                    .iter()
                    .map(|&h| self.nodes[h].name.as_str())
                    .collect();
                self.violation = Some(format!(
                    "{ip} held by {} nodes at once: {}",
                    holders.len(),
                    names.join(", ")
                ));
                return;
            }
        }
    }
}

fn describe_local(event: &LocalEvent) -> String {
    match event {
        LocalEvent::Health { check, ok } => {
            format!("check {check} {}", if *ok { "passes" } else { "FAILS" })
        }
        LocalEvent::Admin { active, .. } => {
            if *active {
                "undrain".into()
            } else {
                "drain".into()
            }
        }
        LocalEvent::UndrainAll => "undrain all".into(),
        LocalEvent::Reload { config, .. } => format!("reload (version {})", config.cluster.version),
        LocalEvent::Shutdown => "shutdown".into(),
        LocalEvent::Neighbours(n) => format!("{} neighbours", n.len()),
        LocalEvent::CannotServe { source, groups } => {
            format!("cannot serve ({source}): {groups:?}")
        }
    }
}

pub fn describe_event(event: &Event) -> String {
    match event {
        Event::Acquired {
            group, ips, cause, ..
        } => format!("ACQUIRED group {group} ({}) cause: {cause}", ips[0]),
        Event::Released { group, ips, cause } => {
            format!("RELEASED group {group:?} ({}) cause: {cause}", ips[0])
        }
        other => format!("{other:?}"),
    }
}
