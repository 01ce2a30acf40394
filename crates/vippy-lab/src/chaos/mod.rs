//! `vippy-lab chaos --duration D --seed S`: five real daemons, 32 groups
//! and more, a client, and overlapping faults drawn from the seed, checked
//! by an observer outside the daemons (docs/BENCHMARKS.md, "Chaos").
//!
//! - `schedule.rs`: the seeded, pure fault schedule (episodes of faults)
//! - `faults.rs`: doing and undoing each fault on the cluster
//! - `observer.rs`: netlink address events, the client's pings and
//!   neighbour table
//! - `invariants.rs`: what must hold after the faults, as pure functions
//! - `report.rs`: the printed report and the outage plot

pub mod faults;
pub mod invariants;
pub mod observer;
pub mod report;
pub mod schedule;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cluster::{Binaries, Cluster, ClusterSpec};
use faults::{GroupEntries, VIP_IFNAME, VIP_PORT_SUFFIX};
use invariants::{
    Holdings, Layout, Problem, View, check, configured_around, moves_between, outage,
};
use observer::{Observer, PING_INTERVAL};
use schedule::{BASE_GROUPS, Fault, FaultKind, OPTIONAL_GROUPS, Schedule, Shape};

/// The cluster's size.
pub const NODES: usize = 5;
/// How long the first convergence may take.
const FIRST_CONVERGENCE: f64 = 30.0;
/// How long after the bound the runner waits for a late convergence
/// before it goes on (the violation is recorded either way).
const LATE_LIMIT: f64 = 10.0;
/// How often the runner looks.
const TICK: Duration = Duration::from_millis(50);

/// What to run.
#[derive(Debug, Clone)]
pub struct ChaosSpec {
    pub seed: u64,
    /// Seconds of chaos (after the first convergence).
    pub duration: f64,
    pub interval: f64,
    pub stale: f64,
    pub mature: f64,
    /// Where the outage plot goes, if anywhere.
    pub svg: Option<PathBuf>,
    pub bins: Binaries,
}

impl ChaosSpec {
    /// How long after the last fault of an episode ends every invariant
    /// must hold: `stale` + `mature` + 1 s.
    pub fn bound(&self) -> f64 {
        self.stale + self.mature + 1.0
    }
}

/// One fault as it ran: seconds since the chaos began.
#[derive(Debug, Clone)]
pub struct Ran {
    pub fault: Fault,
    pub began: f64,
    pub ended: f64,
}

/// Something that must not happen.
#[derive(Debug, Clone)]
pub struct Violation {
    /// Seconds since the chaos began (the schedule's clock, shifted by any
    /// wait for a late convergence).
    pub at: f64,
    /// The episode it happened in or after (0 first).
    pub episode: usize,
    pub what: String,
}

/// Everything a run found.
#[derive(Debug, Clone)]
pub struct ChaosReport {
    pub spec: ChaosSpec,
    pub schedule: Schedule,
    pub ran: Vec<Ran>,
    pub violations: Vec<Violation>,
    /// Daemons that exited without being told to, and panics in the logs.
    pub crashes: usize,
    /// Restarts per node (after SIGKILL, SIGTERM or a crash).
    pub restarts: Vec<usize>,
    /// Per episode: seconds from its last fault's end until every
    /// invariant held (`None`: not within the late limit).
    pub settle: Vec<Option<f64>>,
    /// Per fault kind (table order): each affected VIP's client-visible
    /// outage, seconds.
    pub outages: Vec<(&'static str, Vec<f64>)>,
    /// How long the chaos phase took, seconds.
    pub took: f64,
    /// The daemons' "the core loop ran a timer … late" lines: a loaded
    /// machine starving them (stopped daemons log one on resuming too).
    pub lags: usize,
}

/// The group pool: `BASE_GROUPS` + `OPTIONAL_GROUPS` groups on the VIP LAN,
/// IPv4 (203.0.113.100 on) for even groups and IPv6 (2001:db8:1::1:0 on)
/// for odd ones; every fifth has both families (two VIPs, one group), every
/// seventh from the fourth prefers a node.
pub fn pool(nodes: usize) -> GroupEntries {
    (0..BASE_GROUPS + OPTIONAL_GROUPS)
        .map(|g| {
            let v4 = format!("203.0.113.{}/24", 100 + g);
            let v6 = format!("2001:db8:1::1:{g:x}/64");
            let ips = if g % 5 == 0 {
                vec![v4, v6]
            } else if g % 2 == 0 {
                vec![v4]
            } else {
                vec![v6]
            };
            let preferred = (g % 7 == 3).then_some(g % nodes);
            (ips, preferred)
        })
        .collect()
}

/// The pool's VIPs in order and the layout the invariants use.
fn layout(pool: &GroupEntries) -> Result<(Vec<IpAddr>, Layout)> {
    let mut vips = Vec::new();
    let mut groups = Vec::new();
    for (ips, _) in pool {
        let mut members = Vec::new();
        for ip in ips {
            let net: ipnet::IpNet = ip.parse().with_context(|| format!("VIP {ip}"))?;
            members.push(vips.len());
            vips.push(net.addr());
        }
        groups.push(members);
    }
    let count = vips.len();
    Ok((
        vips,
        Layout {
            groups,
            vips: count,
        },
    ))
}

/// The MAC of node `i` on the VIP LAN (`Lab::add_lan`'s scheme).
fn vip_mac(cluster: &Cluster, i: usize) -> [u8; 6] {
    let octet = cluster.node(i).ipv4.octets()[3];
    [0x02, 0x76, 0x6c, 0x00, 0x01, octet]
}

/// The runner's state while the chaos goes on.
struct Runner {
    spec: ChaosSpec,
    cluster: Cluster,
    observer: Observer,
    layout: Layout,
    macs: Vec<[u8; 6]>,
    /// Groups configured now: `BASE_GROUPS` + this.
    optional: usize,
    /// The observer's clock at the chaos's start.
    t0: f64,
    /// How far the run lags behind the schedule (late convergences).
    shift: f64,
    violations: Vec<Violation>,
    crashes: usize,
    restarts: Vec<usize>,
    episode: usize,
    /// Nodes whose daemon the runner stopped on purpose (not a crash).
    down: Vec<bool>,
}

impl Runner {
    /// Seconds since the chaos began.
    fn clock(&self) -> f64 {
        self.observer.now() - self.t0
    }

    fn violate(&mut self, what: String) {
        let at = self.clock();
        eprintln!(
            "VIOLATION seed {} at +{at:.2}s (episode {}): {what}",
            self.spec.seed, self.episode
        );
        self.violations.push(Violation {
            at,
            episode: self.episode,
            what,
        });
    }

    /// Daemons that exited without being told to: a crash each; started again.
    fn watch_daemons(&mut self) -> Result<()> {
        for i in 0..NODES {
            if self.down[i] {
                continue;
            }
            let status = match self.cluster.daemon(i) {
                Some(p) => p.try_wait()?,
                None => continue,
            };
            if let Some(status) = status {
                self.crashes += 1;
                self.violate(format!(
                    "node{} vippyd exited unexpectedly: {status}",
                    i + 1
                ));
                self.cluster.kill(i)?; // reaped: forget it
                self.cluster.start(i)?;
                self.restarts[i] += 1;
            }
        }
        Ok(())
    }

    /// Waits until `at` (chaos clock, shifted), watching the daemons.
    fn wait_until(&mut self, at: f64) -> Result<()> {
        loop {
            self.watch_daemons()?;
            let left = at + self.shift - self.clock();
            if left <= 0.0 {
                return Ok(());
            }
            std::thread::sleep(TICK.min(Duration::from_secs_f64(left)));
        }
    }

    fn problems(&self) -> Result<Vec<Problem>> {
        let now = self.observer.now();
        let events = self.observer.events();
        let holdings = Holdings::replay(&events, NODES, self.layout.vips, now);
        let neighbours = self.observer.neighbours()?;
        let last = self.observer.last_replies();
        let view = View {
            holdings: &holdings,
            neighbours: &neighbours,
            last_reply: &last,
            now,
        };
        Ok(check(
            &self.layout,
            BASE_GROUPS + self.optional,
            &view,
            &self.macs,
        ))
    }

    /// Watches from `since` (observer clock, the last fault's end) until
    /// the bound has passed and every invariant holds; a violation if they
    /// do not hold at the bound. Returns how long after `since` the last
    /// change came (`None`: not within the late limit) and when the quiet
    /// period begins (observer clock).
    fn settle(&mut self, since: f64) -> Result<(Option<f64>, f64)> {
        let bound = self.spec.bound();
        let mut ok_since: Option<f64> = None;
        let mut at_bound: Option<String> = None;
        loop {
            self.watch_daemons()?;
            let now = self.observer.now();
            let problems = self.problems()?;
            if problems.is_empty() {
                ok_since.get_or_insert(now);
            } else {
                ok_since = None;
            }
            if now - since >= bound {
                if let Some(ok) = ok_since {
                    if let Some(text) = at_bound.take() {
                        self.violate(format!(
                            "{bound:.1}s after the last fault ended: {text}; every invariant held only {:.2}s after it",
                            ok - since
                        ));
                    }
                    let last_move = self
                        .observer
                        .events()
                        .iter()
                        .filter(|e| e.at > since && e.at <= now)
                        .map(|e| e.at)
                        .fold(since, f64::max);
                    return Ok((Some(ok.max(last_move) - since), now));
                }
                if at_bound.is_none() {
                    at_bound = Some(describe(&problems, &self.layout, &self.cluster));
                }
                if now - since > bound + LATE_LIMIT {
                    let text = describe(&problems, &self.layout, &self.cluster);
                    let first = at_bound.take().unwrap_or_default();
                    self.violate(format!(
                        "{bound:.1}s after the last fault ended: {first}; still {:.1}s after it: {text}",
                        now - since
                    ));
                    return Ok((None, now));
                }
            }
            std::thread::sleep(TICK);
        }
    }

    fn begin(&mut self, fault: &Fault, pool: &GroupEntries) -> Result<()> {
        let kind = &fault.kind;
        for n in kind.nodes() {
            if matches!(kind, FaultKind::Kill { .. } | FaultKind::Term { .. }) {
                self.down[n] = true;
            }
        }
        match faults::begin(&mut self.cluster, fault, pool) {
            Ok(done) => {
                if done.unclean_stop {
                    self.violate(format!(
                        "fault {}: vippyd on node{} did not stop cleanly on SIGTERM",
                        fault.id,
                        kind.nodes()[0] + 1
                    ));
                }
            }
            Err(e) => self.violate(format!(
                "fault {} ({}) not applied: {e:#}",
                fault.id,
                kind.name()
            )),
        }
        if let FaultKind::Reload { optional, .. } = kind {
            self.optional = *optional;
        }
        Ok(())
    }

    fn end(&mut self, fault: &Fault) -> Result<()> {
        match faults::end(&mut self.cluster, fault) {
            Ok(undone) => {
                if undone.restarted {
                    for n in fault.kind.nodes() {
                        self.restarts[n] += 1;
                        self.down[n] = false;
                    }
                }
            }
            Err(e) => self.violate(format!(
                "fault {} ({}) not undone: {e:#}",
                fault.id,
                fault.kind.name()
            )),
        }
        Ok(())
    }
}

/// Runs the chaos and reports; fails only when the lab cannot be built or
/// the cluster never converges at the start.
pub fn run(spec: ChaosSpec) -> Result<ChaosReport> {
    let shape = Shape {
        seed: spec.seed,
        duration: spec.duration,
        nodes: NODES,
        stale: spec.stale,
        bound: spec.bound(),
    };
    let schedule = Schedule::generate(shape);
    let pool = pool(NODES);
    let (vips, layout) = layout(&pool)?;

    let mut cluster_spec = ClusterSpec::ipv4(NODES, 0);
    cluster_spec.groups = pool[..BASE_GROUPS].to_vec();
    cluster_spec.interval = spec.interval;
    cluster_spec.stale = spec.stale;
    cluster_spec.mature = spec.mature;
    let cluster = Cluster::build(cluster_spec, spec.bins.clone())?;
    // The VIP LAN: eth1 on every node and the client, bridge br1, IPv4
    // 203.0.113.x/24 from the lab and IPv6 2001:db8:1::x/64 added here.
    cluster.lab.add_lan("br1", VIP_IFNAME, VIP_PORT_SUFFIX)?;
    for host in cluster.lab.hosts() {
        let octet = host.ipv4.octets()[3];
        let addr = format!("2001:db8:1::{octet}/64");
        cluster.lab.exec_ok(
            host,
            &["ip", "-6", "addr", "add", &addr, "dev", VIP_IFNAME, "nodad"],
        )?;
    }
    let observer = Observer::start(&cluster, &vips, VIP_IFNAME)?;
    std::thread::sleep(Duration::from_millis(300)); // the monitors subscribe
    let macs = (0..NODES).map(|i| vip_mac(&cluster, i)).collect();
    let mut runner = Runner {
        spec: spec.clone(),
        cluster,
        observer,
        layout,
        macs,
        optional: 0,
        t0: 0.0,
        shift: 0.0,
        violations: Vec::new(),
        crashes: 0,
        restarts: vec![0; NODES],
        episode: 0,
        down: vec![false; NODES],
    };
    runner.cluster.start_all()?;
    let started = runner.observer.now();
    loop {
        if runner.problems()?.is_empty() {
            break;
        }
        if runner.observer.now() - started > FIRST_CONVERGENCE {
            let problems = runner.problems()?;
            bail!(
                "the cluster did not converge within {FIRST_CONVERGENCE}s: {}\n{}",
                describe(&problems, &runner.layout, &runner.cluster),
                runner.cluster.logs_tail()
            );
        }
        std::thread::sleep(TICK);
    }
    println!(
        "converged {:.2}s after the start; chaos begins (seed {}, {}s, bound {:.1}s)",
        runner.observer.now() - started,
        spec.seed,
        spec.duration,
        spec.bound()
    );
    std::thread::sleep(Duration::from_secs(1));
    runner.t0 = runner.observer.now();

    let mut ran = Vec::new();
    let mut settle = Vec::new();
    for (e, episode) in schedule.episodes.iter().enumerate() {
        runner.episode = e;
        // Begin and end steps in time order; a reload's end is its start.
        let mut steps: Vec<(f64, bool, usize)> = Vec::new();
        for (i, f) in episode.faults.iter().enumerate() {
            steps.push((f.start, true, i));
            steps.push((f.end, false, i));
        }
        steps.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut times = vec![(0.0, 0.0); episode.faults.len()];
        for (at, begin, i) in steps {
            runner.wait_until(at)?;
            let fault = &episode.faults[i];
            if begin {
                times[i].0 = runner.clock();
                runner.begin(fault, &pool)?;
            } else {
                runner.end(fault)?;
                times[i].1 = runner.clock();
            }
        }
        for (f, (began, ended)) in episode.faults.iter().zip(times) {
            ran.push(Ran {
                fault: f.clone(),
                began,
                ended,
            });
        }
        let ended = runner.observer.now();
        let (settled, from) = runner.settle(ended)?;
        settle.push(settled);
        // The quiet period: nothing may move until the next episode.
        let late = runner.clock() - (episode.until + runner.shift);
        if late > 0.0 {
            runner.shift += late;
        }
        runner.wait_until(episode.until)?;
        let moves = moves_between(&runner.observer.events(), from, runner.observer.now());
        if let Some(first) = moves.first() {
            let mut groups: Vec<usize> = moves
                .iter()
                .filter_map(|m| runner.layout.group_of(m.vip))
                .collect();
            groups.sort_unstable();
            groups.dedup();
            runner.violate(format!(
                "{} address changes in a quiet period (groups {groups:?}), the first at +{:.2}s: VIP {} {} node{}",
                moves.len(),
                first.at - runner.t0,
                vips[first.vip],
                if first.added { "plumbed on" } else { "removed from" },
                first.node + 1,
            ));
        }
        let problems = runner.problems()?;
        if !problems.is_empty() {
            let text = describe(&problems, &runner.layout, &runner.cluster);
            runner.violate(format!("at the end of the quiet period: {text}"));
        }
    }
    let took = runner.clock();
    runner.watch_daemons()?;
    let mut lags = 0;
    for i in 0..NODES {
        let log = std::fs::read_to_string(runner.cluster.log_path(i)).unwrap_or_default();
        lags += log
            .lines()
            .filter(|l| l.contains("the core loop ran a timer"))
            .count();
        for line in log.lines().filter(|l| l.contains("panicked")) {
            runner.crashes += 1;
            runner.violate(format!("node{} logged a panic: {line}", i + 1));
        }
    }

    // Client-visible outage per fault kind, from the pings.
    let events = runner.observer.events();
    let replies = runner.observer.replies();
    let last = runner.observer.now();
    let bound = spec.bound();
    let mut outages: Vec<(&'static str, Vec<f64>)> = FaultKind::all_names()
        .into_iter()
        .map(|n| (n, Vec::new()))
        .collect();
    let mut optional = 0;
    let mut reloads: Vec<(f64, usize)> = ran
        .iter()
        .filter_map(|r| match r.fault.kind {
            FaultKind::Reload { optional, .. } => Some((r.began, optional)),
            _ => None,
        })
        .collect();
    reloads.sort_by(|a, b| a.0.total_cmp(&b.0));
    for r in &ran {
        let began = runner.t0 + r.began;
        let holdings = Holdings::replay(&events, NODES, runner.layout.vips, began);
        let affected: Vec<usize> = match &r.fault.kind {
            FaultKind::Reload { optional: o, .. } => {
                let kept = BASE_GROUPS + optional.min(*o);
                optional = *o;
                runner.layout.groups[..kept]
                    .iter()
                    .flatten()
                    .copied()
                    .collect()
            }
            kind => {
                let nodes = kind.nodes();
                (0..runner.layout.vips)
                    .filter(|&v| holdings.holders(v).iter().any(|h| nodes.contains(h)))
                    .collect()
            }
        };
        let samples = &mut outages
            .iter_mut()
            .find(|(n, _)| *n == r.fault.kind.name())
            .expect("every kind has a row")
            .1;
        for v in affected {
            let mut to = runner.t0 + r.ended + bound;
            let mut from_reply = f64::NEG_INFINITY;
            let mut end = last;
            // An optional group a reload removed gets no reply until one
            // adds it back, maybe minutes later: count only while it is
            // configured.
            let optional_index = runner
                .layout
                .group_of(v)
                .and_then(|g| g.checked_sub(BASE_GROUPS));
            if let Some(k) = optional_index {
                let (since, until) = configured_around(&reloads, k, r.began);
                if let Some(since) = since {
                    from_reply = runner.t0 + since;
                }
                if let Some(until) = until {
                    to = to.min(runner.t0 + until);
                    end = end.min(runner.t0 + until);
                }
            }
            let heard: Vec<f64> = replies[v]
                .iter()
                .copied()
                .filter(|t| *t >= from_reply && *t <= end)
                .collect();
            samples.push(outage(&heard, began, to, PING_INTERVAL, end));
        }
    }
    let report = ChaosReport {
        spec: spec.clone(),
        schedule,
        ran,
        violations: runner.violations.clone(),
        crashes: runner.crashes,
        restarts: runner.restarts.clone(),
        settle,
        outages,
        took,
        lags,
    };
    if let Some(path) = &spec.svg {
        report::outage_svg(&report, path)?;
    }
    // Keep the lab's files when something went wrong, for the logs, under
    // a name outside the lab's family (a later lab's sweep would take it).
    if !report.violations.is_empty() {
        let kept = std::env::temp_dir().join(format!(
            "vippy-chaos-logs-{}-seed{}",
            runner.cluster.lab.prefix(),
            spec.seed
        ));
        let _ = std::fs::remove_dir_all(&kept);
        if copy_dir(runner.cluster.dir(), &kept).is_ok() {
            eprintln!("daemon logs kept in {}", kept.display());
        }
    }
    Ok(report)
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Problems in words: groups, VIPs, nodes and MACs.
fn describe(problems: &[Problem], layout: &Layout, cluster: &Cluster) -> String {
    let vips = pool(NODES);
    let vip_name = |v: usize| {
        let g = layout.group_of(v).unwrap_or(0);
        let k = layout.groups[g].iter().position(|&x| x == v).unwrap_or(0);
        vips[g].0[k].clone()
    };
    let mac_name = |mac: Option<[u8; 6]>| match mac {
        None => "no entry".to_string(),
        Some(m) => match (0..NODES).find(|&i| vip_mac(cluster, i) == m) {
            Some(i) => format!("node{}'s MAC", i + 1),
            None => crate::lab::format_mac(&m),
        },
    };
    let nodes = |ns: &[usize]| {
        ns.iter()
            .map(|n| format!("node{}", n + 1))
            .collect::<Vec<_>>()
            .join(", ")
    };
    problems
        .iter()
        .map(|p| match p {
            Problem::NoHolder { group } => format!("group {group} held by nobody"),
            Problem::Holders { group, nodes: ns } => {
                format!("group {group} held by {}", nodes(ns))
            }
            Problem::Partial { group, node } => {
                format!("group {group} only partly on node{}", node + 1)
            }
            Problem::Removed { group, nodes: ns } => {
                format!("removed group {group} still on {}", nodes(ns))
            }
            Problem::Neighbour { vip, holder, saw } => format!(
                "client's neighbour entry for {} names {} (holder node{})",
                vip_name(*vip),
                mac_name(*saw),
                holder + 1
            ),
            Problem::Unreachable { vip, silent } => {
                format!(
                    "client has had no reply from {} for {silent:.1}s",
                    vip_name(*vip)
                )
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
