//! One seeded run: a random cluster goes through boot, quiet, crash,
//! restart, chaos, heal and reload, and the invariants (one holder per group,
//! the clients' caches on the holder, nothing moving without a fault, every
//! node on the newest config) are checked after each phase (and, where the
//! network is clean, at every step).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use vippy_core::config::{Config, load};
use vippy_core::node::LocalEvent;

use crate::rng::Rng;
use crate::world::{Faults, Work, World};

/// The shape of one run, drawn from the seed.
#[derive(Debug, Clone)]
pub struct Shape {
    pub nodes: usize,
    pub groups: usize,
    pub preferred: Vec<Option<usize>>,
    pub interval: Duration,
    pub stale: Duration,
    pub mature: Duration,
    pub majority: bool,
    /// Another cluster with the same secret and channel runs beside this one.
    pub foreign: bool,
    /// What each input costs a node's loop (none in drawn shapes).
    pub work: Work,
}

impl Shape {
    pub fn draw(rng: &mut Rng) -> Shape {
        // Big clusters sometimes; 20 nodes have more peers than echo slots.
        let nodes = if rng.chance(0.1) {
            [16, 20][rng.index(2)]
        } else {
            rng.range(2, 9) as usize
        };
        let groups = rng.range(1, 25) as usize;
        let preferred = (0..groups)
            .map(|_| rng.chance(0.2).then(|| rng.index(nodes)))
            .collect();
        let interval = Duration::from_millis([200, 500, 1000][rng.index(3)]);
        let stale = interval * rng.range(3, 6) as u32;
        let mature = [Duration::ZERO, interval * 2, Duration::from_secs(3)][rng.index(3)];
        Shape {
            nodes,
            groups,
            preferred,
            interval,
            stale,
            mature,
            majority: rng.chance(0.15),
            foreign: rng.chance(0.15),
            work: Work::default(),
        }
    }

    /// A cluster at scale: `nodes` nodes and `groups` groups, the fast
    /// timers real daemons were measured with (interval 0.1 s, stale 0.3 s,
    /// mature 0.5 s) or slower ones, and a loop that pays for its work: a
    /// fixed cost per input, a cost per group each time placement runs, and
    /// one per action (docs/TESTING.md, "Scale").
    pub fn scale(rng: &mut Rng, nodes: usize, groups: usize) -> Shape {
        let interval = Duration::from_millis([100, 200, 500][rng.index(3)]);
        let preferred = (0..groups)
            .map(|_| rng.chance(0.05).then(|| rng.index(nodes)))
            .collect();
        Shape {
            nodes,
            groups,
            preferred,
            interval,
            stale: interval * 3,
            mature: interval * 5,
            majority: false,
            foreign: false,
            work: Work {
                per_input: Duration::from_micros(30),
                per_group_input: Duration::from_nanos(200),
                per_group_decided: Duration::from_nanos(SCALE_NANOS_PER_GROUP),
                per_action: Duration::from_micros(20),
                batch: vippy_core::node::DATAGRAM_BATCH,
            },
        }
    }

    /// The version the foreign cluster runs: far above anything this
    /// cluster reaches, so adopting it would show.
    pub const FOREIGN_VERSION: u64 = 1000;

    /// The other cluster's config: its own nodes and VIPs, the same secret
    /// and channel (the README's example copied twice).
    pub fn foreign_config(&self) -> Arc<Config> {
        let text = format!(
            "{{ chat: '239.1.1.1:5007', secret: 'ignored', version: {}, vips: [[{{ ip: '198.51.100.1/24' }}], [{{ ip: '198.51.100.2/24' }}]],
               nodes: ['f1', 'f2'], interval: {}, stale: {}, mature: {} }}",
            Shape::FOREIGN_VERSION,
            self.interval.as_secs_f64(),
            self.stale.as_secs_f64(),
            self.mature.as_secs_f64(),
        );
        Arc::new(load(&text, "<sim foreign>").expect("valid foreign config"))
    }

    pub fn node_name(i: usize) -> String {
        format!("n{}", i + 1)
    }

    /// Group `g`'s address: 203.0.113.0/24 while there are few groups,
    /// 2001:db8::/64 for thousands.
    fn vip(&self, g: usize) -> String {
        if self.groups > 200 {
            format!("2001:db8::{:x}/64", 1 + g)
        } else {
            format!("203.0.113.{}/24", 1 + g % 250)
        }
    }

    /// The config text every node loads, at `version` with `extra` added groups.
    pub fn config_text(&self, version: u64, extra: usize) -> String {
        let mut vips = String::new();
        for g in 0..self.groups + extra {
            if g > 0 {
                vips.push(',');
            }
            match self.preferred.get(g).copied().flatten() {
                Some(p) => {
                    let _ = write!(
                        vips,
                        "['{}', {{ ip: '{}' }}]",
                        Shape::node_name(p),
                        self.vip(g)
                    );
                }
                None => {
                    let _ = write!(vips, "[{{ ip: '{}' }}]", self.vip(g));
                }
            }
        }
        let nodes: Vec<String> = (0..self.nodes)
            .map(|i| format!("'{}'", Shape::node_name(i)))
            .collect();
        format!(
            "{{ chat: '239.1.1.1:5007', secret: 'ignored', version: {version}, vips: [{vips}], nodes: [{}],
               interval: {}, stale: {}, mature: {}, quorum: {} }}",
            nodes.join(","),
            self.interval.as_secs_f64(),
            self.stale.as_secs_f64(),
            self.mature.as_secs_f64(),
            if self.majority { "'majority'" } else { "'off'" }
        )
    }

    pub fn config(&self, version: u64, extra: usize) -> Arc<Config> {
        Arc::new(
            load(&self.config_text(version, extra), "<sim>")
                .expect("the simulator writes valid configs"),
        )
    }
}

/// Why a run failed, with enough to replay it.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub phase: &'static str,
    pub message: String,
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "seed {} failed in phase '{}': {}",
            self.seed, self.phase, self.message
        )?;
        writeln!(
            f,
            "replay it with: VIPPY_SIM_SEED={} cargo test -p vippy-sim --release -- --nocapture replay",
            self.seed
        )?;
        writeln!(f, "last events:")?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// What a successful run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// From a crash to every group held once again.
    pub crash_convergence: Option<Duration>,
    /// From the end of chaos to convergence.
    pub heal_convergence: Option<Duration>,
    pub nodes: usize,
    pub groups: usize,
    /// Scale runs: the groups held by more than one node, summed over
    /// every interval of the cold start (a group doubly held for three
    /// intervals counts three), and the most holders any group had.
    pub cold_start_duplicates: u64,
    pub max_holders: usize,
    /// Scale runs: how long after the first start every group had one holder.
    pub cold_start_convergence: Option<Duration>,
    /// Scale runs: the same after a node's loop fell behind by 2 × stale.
    pub lag_duplicates: u64,
    /// Scale runs: how often placement ran, all nodes together, in the
    /// quiet phase (ten intervals in which nothing changes).
    pub quiet_decisions: u64,
    /// Scale runs: the longest a datagram waited in a node's queue, and
    /// how many duplicates the nodes resolved (`duplicates_resolved`).
    pub longest_wait: Duration,
    pub duplicates_resolved: u64,
    /// Scale runs: how often placement ran, all nodes together, in the
    /// cold start's allowance, and from the crash to the end of its.
    pub cold_start_decisions: u64,
    pub crash_decisions: u64,
}

/// What placement costs per group in a scale run's loop (see
/// [`Shape::scale`]): about what one decision over 4096 groups and 16
/// nodes took before decisions skipped unchanged input
/// (docs/BENCHMARKS.md, "Simulator at scale").
pub const SCALE_NANOS_PER_GROUP: u64 = 3000;

/// A scale run (see [`Shape::scale`]): `nodes` nodes with `groups` groups
/// start together, stay quiet, lose a node and get it back, and one node's
/// loop falls behind by twice `stale` and reads what queued. The
/// invariants are the drawn runs': one eligible holder per group within
/// the allowance, the clients' caches on it, nothing moving without a
/// fault, only the crashed node's groups moving.
pub fn run_scale(
    seed: u64,
    nodes: usize,
    groups: usize,
    trace_all: bool,
) -> Result<Outcome, Failure> {
    run_scale_batched(seed, nodes, groups, None, trace_all)
}

/// [`run_scale`] with the loops reading at most `batch` queued datagrams
/// per decision instead of the daemon's [`vippy_core::node::DATAGRAM_BATCH`]
/// (1: a decision per datagram, as the daemon did before it batched).
pub fn run_scale_batched(
    seed: u64,
    nodes: usize,
    groups: usize,
    batch: Option<usize>,
    trace_all: bool,
) -> Result<Outcome, Failure> {
    let mut rng = Rng::new(seed);
    let mut shape = Shape::scale(&mut rng, nodes, groups);
    if let Some(batch) = batch {
        shape.work.batch = batch;
    }
    let config = shape.config(1, 0);
    let configs = (0..shape.nodes).map(|_| config.clone()).collect();
    let mut world = World::new(seed, configs, Duration::from_micros(rng.range(100, 1000)));
    world.trace_all = trace_all;
    world.work = shape.work;
    let mut run = Run {
        seed,
        world,
        version: 1,
        extra: 0,
        phase: "cold start",
        shape,
        twins: Vec::new(),
        max_holders: 0,
    };
    run.world.watched = run.group_ips();
    let shape = run.shape.clone();
    run.world.log(format!(
        "scale shape: {} nodes, {} groups, interval {:?}, stale {:?}, mature {:?}, {:?}",
        shape.nodes, shape.groups, shape.interval, shape.stale, shape.mature, shape.work
    ));
    let mut outcome = Outcome {
        nodes: shape.nodes,
        groups: shape.groups,
        ..Outcome::default()
    };

    // Cold start: every node within one interval (a script starting them
    // one after another).
    let t0 = run.world.now;
    let mut starts: Vec<(Duration, usize)> = (0..shape.nodes)
        .map(|i| {
            let spread = shape.interval.as_micros() as u64;
            (Duration::from_micros(run.world.rng.range(0, spread)), i)
        })
        .collect();
    starts.sort();
    for (at, i) in starts {
        run.world.run_until(t0 + at);
        run.world.start(i);
    }
    let allowance = shape.mature + shape.stale + shape.interval * 10;
    let (duplicates, converged) = run.watch_duplicates(allowance)?;
    outcome.cold_start_decisions = run.decisions();
    outcome.cold_start_duplicates = duplicates;
    outcome.cold_start_convergence = converged.map(|t| t - t0);
    if converged.is_none() {
        let e = run.converged().unwrap_err();
        return Err(run.fail(format!(
            "not converged within {allowance:?} of a cold start ({duplicates} duplicate group-rounds, up to {} holders of one group): {e}",
            run.max_holders
        )));
    }
    run.world.strict_single_holder = true;

    run.phase = "quiet";
    let decisions = run.decisions();
    run.quiet(shape.interval * 10)?;
    outcome.quiet_decisions = run.decisions() - decisions;

    run.phase = "crash";
    let victim = run.world.rng.index(shape.nodes);
    let before = run.holders();
    run.world.crash(victim);
    let t1 = run.world.now;
    let decisions = run.decisions();
    outcome.crash_convergence = run
        .converge_within(shape.stale + shape.interval * 4)?
        .map(|t| t - t1);
    outcome.crash_decisions = run.decisions() - decisions;
    let after = run.holders();
    for (g, (b, a)) in before.iter().zip(&after).enumerate() {
        if *b != Some(victim) && b.is_some() && b != a {
            return Err(run.fail(format!(
                "collateral move: group {g} moved from {:?} to {:?} when {} crashed",
                b.map(Shape::node_name),
                a.map(Shape::node_name),
                Shape::node_name(victim)
            )));
        }
    }

    run.phase = "restart";
    run.world.start(victim);
    run.settle_and_check(shape.mature + shape.stale + shape.interval * 6)?;

    // A loop that falls behind: one node is stopped for 2 × stale, then
    // handles its timers and what queued, in the daemon's order. Its peers
    // rightly take its groups; it must not take theirs.
    run.phase = "lag";
    run.world.strict_single_holder = false;
    let laggard = run.world.rng.index(shape.nodes);
    run.world.pause(laggard);
    let t = run.world.now + shape.stale * 2;
    run.world.run_until(t);
    run.world.resume(laggard);
    run.max_holders = 0;
    let allowance = shape.stale + shape.interval * 8;
    let (duplicates, converged) = run.watch_duplicates(allowance)?;
    outcome.lag_duplicates = duplicates;
    if converged.is_none() {
        let e = run.converged().unwrap_err();
        return Err(run.fail(format!(
            "not converged within {allowance:?} of a loop lag ({duplicates} duplicate group-rounds): {e}"
        )));
    }
    outcome.max_holders = run.max_holders;
    for n in &run.world.nodes {
        outcome.longest_wait = outcome.longest_wait.max(n.longest_wait);
        if let Some(node) = &n.node {
            outcome.duplicates_resolved += node.counters().duplicates_resolved;
        }
    }
    if let Some(v) = run.world.violation.take() {
        return Err(run.fail(v));
    }
    Ok(outcome)
}

struct Run {
    seed: u64,
    shape: Shape,
    world: World,
    version: u64,
    extra: usize,
    phase: &'static str,
    /// Hosts beyond the cluster's nodes that must never plumb anything:
    /// a second process under a member's name.
    twins: Vec<usize>,
    /// The most holders one group had, as `watch_duplicates` saw.
    max_holders: usize,
}

pub fn run(seed: u64, trace_all: bool) -> Result<Outcome, Failure> {
    let mut rng = Rng::new(seed);
    let shape = Shape::draw(&mut rng);
    let configs = (0..shape.nodes).map(|_| shape.config(1, 0)).collect();
    let mut world = World::new(seed, configs, Duration::from_micros(rng.range(100, 3000)));
    world.trace_all = trace_all;
    let mut run = Run {
        seed,
        world,
        version: 1,
        extra: 0,
        phase: "boot",
        shape,
        twins: Vec::new(),
        max_holders: 0,
    };
    run.world.watched = run.group_ips();
    let shape = run.shape.clone();
    run.world.log(format!("shape: {shape:?}"));
    let mut outcome = Outcome {
        nodes: shape.nodes,
        groups: shape.groups,
        ..Outcome::default()
    };

    // Boot: staggered starts on a clean network.
    run.world.strict_single_holder = true;
    let mut starts: Vec<(Duration, usize)> = (0..shape.nodes)
        .map(|i| {
            (
                Duration::from_micros(
                    run.world
                        .rng
                        .range(0, shape.interval.as_micros() as u64 * 2),
                ),
                i,
            )
        })
        .collect();
    starts.sort();
    if shape.foreign {
        let config = shape.foreign_config();
        for name in ["f1", "f2"] {
            let f = run.world.add_host(name, config.clone());
            run.world.start(f);
        }
    }
    for (at, i) in starts {
        let t = run.world.base + at;
        run.world.run_until(t);
        run.world.start(i);
    }
    run.settle_and_check(shape.mature + shape.stale + shape.interval * 4)?;

    // Quiet: nothing moves.
    run.phase = "quiet";
    run.quiet(shape.interval * 10)?;

    // Crash one node: only its groups move.
    if shape.nodes >= 2 {
        run.phase = "crash";
        let victim = run.world.rng.index(shape.nodes);
        let before = run.holders();
        run.world.crash(victim);
        let t0 = run.world.now;
        outcome.crash_convergence = run
            .converge_within(shape.stale + shape.interval * 3)?
            .map(|t| t - t0);
        let after = run.holders();
        for (g, (b, a)) in before.iter().zip(&after).enumerate() {
            if *b != Some(victim) && b.is_some() && b != a && run.quorum_ok() {
                return Err(run.fail(format!(
                    "collateral move: group {g} moved from {:?} to {:?} when {} crashed",
                    b.map(Shape::node_name),
                    a.map(Shape::node_name),
                    Shape::node_name(victim)
                )));
            }
        }

        // Restart it: only groups moving to it move.
        run.phase = "restart";
        let before = run.holders();
        run.world.start(victim);
        run.settle_and_check(shape.mature + shape.stale + shape.interval * 4)?;
        let after = run.holders();
        for (g, (b, a)) in before.iter().zip(&after).enumerate() {
            if b.is_some() && b != a && *a != Some(victim) && run.quorum_ok() {
                return Err(run.fail(format!(
                    "collateral move on join: group {g} moved from {:?} to {:?}",
                    b.map(Shape::node_name),
                    a.map(Shape::node_name)
                )));
            }
        }
    }

    // Chaos: every kind of fault, at random.
    run.phase = "chaos";
    run.world.strict_single_holder = false;
    let steps = run.world.rng.range(10, 40);
    let mut restarted_or_bumped = false;
    for _ in 0..steps {
        restarted_or_bumped |= run.chaos_step();
        let t = run.world.now + shape.interval;
        run.world.run_until(t);
    }

    // Heal: faults stop; within stale + 2×interval (plus maturity where a
    // node restarted or a config changed) every group has one holder.
    run.phase = "heal";
    run.heal();
    let t0 = run.world.now;
    let allowance = shape.stale
        + shape.interval * 2
        + shape.interval * 2
        + if restarted_or_bumped {
            shape.mature + shape.interval * 2
        } else {
            Duration::ZERO
        };
    outcome.heal_convergence = run.converge_within(allowance)?.map(|t| t - t0);
    run.check_versions()?;

    // Quiet again, then a reload that changes no vips or nodes.
    run.phase = "quiet after heal";
    run.world.strict_single_holder = true;
    run.quiet(shape.interval * 10)?;
    run.phase = "no-op reload";
    if let Some(i) = (0..shape.nodes).find(|&i| run.world.alive(i)) {
        let live = run.world.nodes[i]
            .node
            .as_ref()
            .map(|n| n.cluster().version)
            .unwrap_or(1);
        let mut config = (*run.shape.config(live, live as usize - 1)).clone();
        config.interval = shape.interval; // timers edited, cluster the same
        config.mature = shape.mature + Duration::from_millis(1);
        run.world.reload(i, Arc::new(config));
        run.quiet(shape.interval * 5)?;
    }

    // One-way: one node hears nothing but is heard, or the reverse. Every
    // group must have one holder while it lasts, once stale + 2 intervals
    // have passed.
    if let Some(x) = (0..shape.nodes).find(|&i| run.world.alive(i)) {
        run.phase = "one-way";
        // Both sides hold a group for a moment: the one that hears learns
        // of it from the other's next heartbeat.
        run.world.strict_single_holder = false;
        let deaf = run.world.rng.chance(0.5);
        run.world.one_way(x, deaf);
        let t = run.world.now + shape.stale + shape.interval * 2;
        run.world.run_until(t);
        let end = run.world.now + shape.interval * 6;
        while run.world.now < end {
            run.one_holder_each()?;
            let t = run.world.now + shape.interval / 4;
            run.world.run_until(t);
        }
        run.phase = "one-way healed";
        run.heal();
        run.converge_within(shape.stale + shape.interval * 4)?;
    }

    // A second process under a mature member's name (a cloned VM): the
    // later one stands down and never plumbs; nothing else moves for good.
    if let Some(x) = (0..shape.nodes).find(|&i| {
        run.world.nodes[i]
            .node
            .as_ref()
            .is_some_and(|n| n.status().mature)
    }) && run.world.rng.chance(0.3)
    {
        run.phase = "duplicate name";
        run.world.strict_single_holder = false;
        let config = run.world.nodes[x].config.clone();
        let name = Shape::node_name(x);
        let twin = run.world.add_host(&name, config);
        run.twins.push(twin);
        let ahead = run.world.rng.chance(0.5);
        let base = 1_000_000 * 50 + x as u64;
        let incarnation = if ahead { base } else { 1000 + x as u64 };
        run.world.start_as(twin, incarnation);
        run.converge_within(shape.mature + shape.stale + shape.interval * 6)?;
        let n = run.world.nodes[twin].node.as_ref().expect("running");
        if !n
            .reasons()
            .contains(&vippy_core::node::InactiveReason::DuplicateName)
        {
            return Err(run.fail(format!(
                "the second process under {name} does not stand down: {:?}",
                n.reasons()
            )));
        }
    }
    if let Some(v) = run.world.violation.take() {
        return Err(run.fail(v));
    }
    Ok(outcome)
}

impl Run {
    fn fail(&mut self, message: String) -> Failure {
        Failure {
            seed: self.seed,
            phase: self.phase,
            message,
            trace: self.world.trace.iter().cloned().collect(),
        }
    }

    /// The groups of the highest config version a live node runs (each
    /// bump adds one group, so version v has v - 1 extra groups).
    fn group_ips(&self) -> Vec<IpNet> {
        let live = (0..self.shape.nodes)
            .filter_map(|i| {
                self.world.nodes[i]
                    .node
                    .as_ref()
                    .map(|n| n.cluster().version)
            })
            .max()
            .unwrap_or(self.version);
        let c = self.shape.config(live, live as usize - 1);
        c.cluster.groups.iter().map(|g| g.ips[0]).collect()
    }

    /// The single holder of each group, `None` if none (or several).
    fn holders(&self) -> Vec<Option<usize>> {
        self.group_ips()
            .iter()
            .map(|ip| {
                let h = self.world.holders_of(ip);
                (h.len() == 1).then(|| h[0])
            })
            .collect()
    }

    /// Nodes that should hold groups: alive, not paused, not drained, checks passing.
    fn expected_eligible(&self) -> Vec<usize> {
        (0..self.shape.nodes)
            .filter(|&i| {
                let n = &self.world.nodes[i];
                n.node.is_some() && !n.paused && !n.drained && !n.failing_check
            })
            .collect()
    }

    fn quorum_ok(&self) -> bool {
        let alive = (0..self.shape.nodes)
            .filter(|&i| self.world.alive(i))
            .count();
        !self.shape.majority || alive > self.shape.nodes / 2
    }

    /// Whether every group is held exactly once by an eligible node (or by
    /// none, when none is eligible or quorum is lost).
    fn converged(&self) -> Result<(), String> {
        let eligible = self.expected_eligible();
        let expect_none = eligible.is_empty() || !self.quorum_ok();
        for (g, ip) in self.group_ips().iter().enumerate() {
            let h = self.world.holders_of(ip);
            if expect_none {
                if !h.is_empty() {
                    return Err(format!(
                        "group {g} ({ip}) held by {h:?} though no node should hold anything"
                    ));
                }
            } else if h.len() != 1 || !eligible.contains(&h[0]) {
                let names: Vec<String> = h.iter().map(|&i| Shape::node_name(i)).collect();
                return Err(format!(
                    "group {g} ({ip}) held by [{}], expected exactly one eligible holder",
                    names.join(", ")
                ));
            } else if self
                .world
                .client_cache
                .get(&ip.addr())
                .is_some_and(|&(c, incarnation)| {
                    c != h[0]
                        && self.world.alive(c)
                        && self.world.nodes[c].incarnation == incarnation
                })
                || !self.world.client_cache.contains_key(&ip.addr())
            {
                // Clients send where the last announcement they heard
                // said: that must be the holder. (One made by a process
                // that has since died is left to the clients' own neighbour
                // probing: a rival that announced while cut off from the
                // cluster and then died was never heard by the holder.)
                return Err(format!(
                    "group {g} ({ip}) held by {} but the clients' cache names {:?}",
                    Shape::node_name(h[0]),
                    self.world
                        .client_cache
                        .get(&ip.addr())
                        .map(|&(i, _)| Shape::node_name(i))
                ));
            }
        }
        for &t in &self.twins {
            if !self.world.nodes[t].plumbed.is_empty() {
                return Err(format!(
                    "the second process under {} plumbed {:?}",
                    self.world.nodes[t].name, self.world.nodes[t].plumbed
                ));
            }
        }
        Ok(())
    }

    /// At most one live holder per group, and exactly one when the cluster
    /// can serve at all (some node eligible, no quorum rule).
    fn one_holder_each(&mut self) -> Result<(), Failure> {
        let serving = !self.expected_eligible().is_empty() && !self.shape.majority;
        for (g, ip) in self.group_ips().iter().enumerate() {
            let h = self.world.holders_of(ip);
            if h.len() > 1 || (serving && h.is_empty()) {
                let names: Vec<String> = h.iter().map(|&i| Shape::node_name(i)).collect();
                return Err(self.fail(format!(
                    "group {g} ({ip}) held by [{}] during a one-way fault, expected one",
                    names.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// How often placement ran on the live nodes, together.
    fn decisions(&self) -> u64 {
        self.world
            .nodes
            .iter()
            .filter_map(|n| n.node.as_ref())
            .map(|n| n.counters().decisions)
            .sum()
    }

    /// Runs for `limit`, counting each interval the groups held by more
    /// than one node; returns that sum and when every group last became
    /// held once (if it still is at the end).
    fn watch_duplicates(
        &mut self,
        limit: Duration,
    ) -> Result<(u64, Option<std::time::Instant>), Failure> {
        let end = self.world.now + limit;
        let mut duplicates = 0u64;
        let mut since = None;
        while self.world.now < end {
            let t = (self.world.now + self.shape.interval).min(end);
            self.world.run_until(t);
            if let Some(v) = self.world.violation.take() {
                return Err(self.fail(v));
            }
            let mut doubly = 0;
            for ip in self.group_ips() {
                let holders = self.world.holders_of(&ip).len();
                self.max_holders = self.max_holders.max(holders);
                doubly += u64::from(holders > 1);
            }
            duplicates += doubly;
            let (queued, waited) = self.world.queue_depth();
            self.world.log(format!(
                "{doubly} groups doubly held; {queued} datagrams queued at most, waiting {waited:?}"
            ));
            match self.converged() {
                Ok(()) => {
                    since.get_or_insert(self.world.now);
                }
                Err(_) => since = None,
            }
        }
        Ok((duplicates, since))
    }

    /// Runs until converged or `limit` passes; returns when it converged.
    fn converge_within(&mut self, limit: Duration) -> Result<Option<std::time::Instant>, Failure> {
        let deadline = self.world.now + limit;
        let tick = self.shape.interval / 10;
        loop {
            if self.converged().is_ok() {
                let at = self.world.now;
                // Must stay converged through the rest of the allowance.
                self.world.run_until(deadline);
                if let Some(v) = self.world.violation.take() {
                    return Err(self.fail(v));
                }
                return match self.converged() {
                    Ok(()) => Ok(Some(at)),
                    Err(e) => Err(self.fail(format!("converged, then diverged: {e}"))),
                };
            }
            if self.world.now >= deadline {
                let e = self.converged().unwrap_err();
                return Err(self.fail(format!("not converged within {limit:?}: {e}")));
            }
            let t = (self.world.now + tick).min(deadline);
            self.world.run_until(t);
            if let Some(v) = self.world.violation.take() {
                return Err(self.fail(v));
            }
        }
    }

    fn settle_and_check(&mut self, limit: Duration) -> Result<(), Failure> {
        self.converge_within(limit).map(|_| ())
    }

    /// Nothing may change hands without a fault.
    fn quiet(&mut self, span: Duration) -> Result<(), Failure> {
        let before = self.holders();
        let end = self.world.now + span;
        let tick = self.shape.interval / 2;
        while self.world.now < end {
            let t = (self.world.now + tick).min(end);
            self.world.run_until(t);
            if let Some(v) = self.world.violation.take() {
                return Err(self.fail(v));
            }
            let now = self.holders();
            if now != before {
                let g = now
                    .iter()
                    .zip(&before)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Err(self.fail(format!(
                    "group {g} changed holder from {:?} to {:?} without any fault",
                    before[g].map(Shape::node_name),
                    now[g].map(Shape::node_name)
                )));
            }
        }
        Ok(())
    }

    /// One random fault or repair; true if it restarted a node or changed the config.
    fn chaos_step(&mut self) -> bool {
        let n = self.shape.nodes;
        let rng = &mut self.world.rng;
        let pick = rng.index(n);
        match rng.range(0, 13) {
            0 => {
                self.world.faults.loss = [0.0, 0.05, 0.2, 0.4][rng.index(4)];
                false
            }
            1 => {
                self.world.faults.duplicate = [0.0, 0.05, 0.2][rng.index(3)];
                false
            }
            2 => {
                self.world.faults.jitter = self.shape.interval * rng.range(0, 3) as u32 / 2;
                false
            }
            3 => {
                // Partition: a random side cannot talk to the rest.
                let side: Vec<usize> = (0..n).filter(|_| rng.chance(0.5)).collect();
                self.world.faults.blocked.clear();
                for &a in &side {
                    for b in (0..n).filter(|b| !side.contains(b)) {
                        self.world.faults.blocked.insert((a, b));
                        self.world.faults.blocked.insert((b, a));
                    }
                }
                self.world.log(format!("partition {side:?} from the rest"));
                false
            }
            4 => {
                self.world.faults.blocked.clear();
                self.world.log("partition healed".into());
                false
            }
            5 => {
                if self.world.nodes[pick].paused {
                    self.world.resume(pick);
                } else {
                    self.world.pause(pick);
                }
                false
            }
            6 => {
                if self.world.alive(pick) {
                    // Half the time a graceful stop: goodbye, then gone.
                    if self.world.rng.chance(0.5) {
                        self.world.local(pick, LocalEvent::Shutdown);
                    }
                    self.world.crash(pick);
                    false
                } else {
                    self.world.start(pick);
                    true
                }
            }
            7 => {
                let ok = self.world.nodes[pick].failing_check;
                self.world.nodes[pick].failing_check = !ok;
                self.world.local(
                    pick,
                    LocalEvent::Health {
                        check: "web".into(),
                        ok,
                    },
                );
                false
            }
            8 => {
                let drained = !self.world.nodes[pick].drained;
                self.world.nodes[pick].drained = drained;
                self.world.local(
                    pick,
                    LocalEvent::Admin {
                        source: "sim".into(),
                        active: !drained,
                        reason: Some("sim".into()),
                    },
                );
                false
            }
            10 => {
                // One direction only: `pick` hears nothing, or is heard by nobody.
                let deaf = rng.chance(0.5);
                self.world.one_way(pick, deaf);
                false
            }
            11 => {
                // A restart with the clock behind the last run's (no state_dir).
                if self.world.alive(pick) {
                    self.world.crash(pick);
                }
                // About half the last one, never one used before by any
                // node (wall-clock nanoseconds do not repeat): starts use
                // residues below 500 (mod 1000), these 500 and up.
                let last = self.world.nodes[pick].incarnation;
                let behind = last / 2000 * 1000 + 500 + last % 500;
                self.world.start_as(pick, behind);
                true
            }
            9 if self.world.alive(pick) && self.extra < 4 => {
                // Config bump on one node: version + 1 with one more group.
                self.version += 1;
                self.extra += 1;
                let config = self.shape.config(self.version, self.extra);
                self.world.reload(pick, config);
                self.world.watched = self
                    .shape
                    .config(self.version, self.extra)
                    .cluster
                    .groups
                    .iter()
                    .map(|g| g.ips[0])
                    .collect();
                true
            }
            _ => false,
        }
    }

    /// Faults stop: the network is clean, paused nodes resume, checks and
    /// drains are left as they are (they are states, not faults).
    fn heal(&mut self) {
        self.world.faults = Faults::default();
        self.world.log("HEAL: faults stop".into());
        for i in 0..self.shape.nodes {
            self.world.resume(i);
        }
    }

    /// Every live node runs the highest version any live node has (a
    /// version known only to a crashed node is gone with it).
    fn check_versions(&mut self) -> Result<(), Failure> {
        let versions: Vec<(usize, u64)> = (0..self.shape.nodes)
            .filter_map(|i| {
                self.world.nodes[i]
                    .node
                    .as_ref()
                    .map(|n| (i, n.cluster().version))
            })
            .collect();
        if let Some((i, _)) = versions.iter().find(|(_, v)| *v >= Shape::FOREIGN_VERSION) {
            let i = *i;
            return Err(self.fail(format!(
                "{} adopted the foreign cluster's config",
                Shape::node_name(i)
            )));
        }
        let highest = versions.iter().map(|(_, v)| *v).max().unwrap_or(0);
        if let Some((i, v)) = versions.iter().find(|(_, v)| *v != highest) {
            let (i, v) = (*i, *v);
            return Err(self.fail(format!(
                "{} runs config version {v}, the cluster's highest is {highest}",
                Shape::node_name(i)
            )));
        }
        Ok(())
    }
}
