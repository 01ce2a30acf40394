//! `vippy-lab bench attack [PER_KIND [SVG]]`: a hostile network. A 3-node
//! cluster of real vippyd with six groups, and an attacker namespace on the
//! same bridge that first listens to the chat, then floods the chat address
//! with each hostile kind of datagram in turn ([`crate::attack::Kind`]),
//! PER_KIND of each (50 000 by default), as fast as its socket takes them.
//!
//! Per kind it reports, all read from outside the daemons: how many of the
//! attacker's datagrams reached each node (an nftables counter), how many
//! the kernel dropped for a full socket buffer, how many each daemon
//! rejected and why (its Prometheus metrics over the API socket), and so how
//! many it accepted (goal 0); VIP ownership changes (`ip monitor address`
//! in the node namespaces, goal 0); peers judged stale and loop lags (the
//! daemons' logs: a false failover starts there, goal 0); heartbeats sent
//! (a flood must not make the nodes talk more); vippyd's CPU during the
//! flood (`/proc/PID/stat`). It prints a table and writes an SVG of
//! ownership over time (docs/BENCHMARKS.md shows a run).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use vippy_core::wire::{Key, Rejection};

use crate::attack::{self, Kind};
use crate::cluster::{Binaries, Cluster, ClusterSpec};
use crate::witness::{self, OwnershipWatch, Sample};

/// The chat of [`ClusterSpec`]'s multicast configs.
const CHAT_GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);
const CHAT_PORT: u16 = 5007;

/// How a flood is run.
#[derive(Debug, Clone, Copy)]
pub struct AttackOptions {
    /// Datagrams of each kind.
    pub per_kind: usize,
    /// Datagrams per second; `None`: as fast as the socket takes them.
    pub rate: Option<u32>,
    /// Seeds the random parts (printed, so a run can be repeated).
    pub seed: u64,
    /// The quiet pause between kinds.
    pub pause: Duration,
}

/// What one kind did.
#[derive(Debug, Clone)]
pub struct KindOutcome {
    pub kind: Kind,
    pub sent: usize,
    /// When the flood of this kind began and ended, since the watch began.
    pub window: (Duration, Duration),
    /// Per node: the attacker's datagrams that reached its IP input.
    pub reached: Vec<u64>,
    /// Per node: UDP datagrams dropped for a full receive buffer.
    pub socket_drops: Vec<u64>,
    /// Per node: datagrams that name it validly, which it drops uncounted.
    pub own_name: Vec<u64>,
    /// Rejections by reason, summed over the nodes.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Per node: reached − dropped − rejected − own name (exact when no
    /// datagram was dropped; never below 0).
    pub accepted: Vec<u64>,
    /// VIP address additions and removals in the node namespaces.
    pub ownership_changes: Vec<String>,
    /// `fresh -> stale` lines about members in the daemons' logs.
    pub stale_peers: usize,
    /// Loop lag warnings in the daemons' logs.
    pub loop_lags: usize,
    /// Heartbeats the three nodes sent meanwhile.
    pub heartbeats_sent: u64,
    /// Per node: vippyd's CPU during the flood, in % of one core.
    pub cpu: Vec<f64>,
}

impl KindOutcome {
    pub fn accepted_total(&self) -> u64 {
        self.accepted.iter().sum()
    }

    pub fn seconds(&self) -> f64 {
        (self.window.1 - self.window.0).as_secs_f64()
    }
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct AttackReport {
    pub options: AttackOptions,
    pub outcomes: Vec<KindOutcome>,
    pub samples: Vec<Sample>,
    pub groups: usize,
    pub nodes: usize,
    /// Each VIP's holders before and after the flood.
    pub before: Vec<Vec<usize>>,
    pub after: Vec<Vec<usize>>,
}

/// Floods a running, settled multicast `cluster` that has an attacker host.
pub fn attack(cluster: &Cluster, options: AttackOptions) -> Result<AttackReport> {
    let attacker = cluster
        .lab
        .attacker()
        .context("the cluster needs an attacker host (ClusterSpec::attacker)")?;
    ensure!(
        !cluster.spec.unicast,
        "the attack bench floods multicast chat"
    );
    let key = Key::derive(ClusterSpec::secret(&cluster.lab).as_bytes());
    let members: Vec<String> = (1..=cluster.spec.nodes)
        .map(|i| format!("node{i}"))
        .collect();
    let capture = attack::capture(
        &attacker.netns,
        CHAT_GROUP,
        CHAT_PORT,
        &key,
        &members,
        Duration::from_secs(1),
    )?;
    witness::count_attacker(cluster, attacker.ipv4, CHAT_PORT)?;
    let vips: Vec<String> = cluster
        .vips()
        .iter()
        .map(|v| v.addr().to_string())
        .collect();
    let before = cluster.holders(&cluster.vips())?;
    let mut rng = attack::rng(options.seed);
    let to = SocketAddr::from((CHAT_GROUP, CHAT_PORT));
    let tick = witness::ticks_per_second();
    let pids: Vec<u32> = (0..cluster.spec.nodes)
        .map(|i| cluster.pid(i).context("a daemon is not running"))
        .collect::<Result<_>>()?;

    let watch = OwnershipWatch::start(cluster)?;
    let mut outcomes = Vec::new();
    std::thread::sleep(options.pause);
    for kind in Kind::ALL {
        let datagrams = attack::craft(kind, options.per_kind, &capture, &key, &mut rng)?;
        let own_name: Vec<u64> = members
            .iter()
            .map(|m| {
                datagrams
                    .iter()
                    .filter(|d| d.own_name_of.as_ref() == Some(m))
                    .count() as u64
            })
            .collect();
        let first = witness::read_all(cluster)?;
        let changes_before: usize = watch.changes(&vips).iter().map(Vec::len).sum();
        let cpu_before: Vec<u64> = pids
            .iter()
            .map(|p| witness::cpu_ticks(*p))
            .collect::<Result<_>>()?;
        let start = watch.elapsed();
        let took = attack::flood(&attacker.netns, to, &datagrams, options.rate)?;
        let end = watch.elapsed();
        let cpu_after: Vec<u64> = pids
            .iter()
            .map(|p| witness::cpu_ticks(*p))
            .collect::<Result<_>>()?;
        // What queued in the sockets is read within milliseconds; the
        // pause also shows the quiet between kinds in the plot.
        std::thread::sleep(options.pause);
        let last = witness::read_all(cluster)?;
        let changes = watch.changes(&vips);
        let ownership_changes: Vec<String> =
            changes.concat().into_iter().skip(changes_before).collect();

        let mut rejected = BTreeMap::new();
        let mut accepted = Vec::new();
        let mut reached = Vec::new();
        let mut socket_drops = Vec::new();
        let (mut stale_peers, mut loop_lags, mut heartbeats_sent) = (0, 0, 0);
        for i in 0..cluster.spec.nodes {
            let (a, b) = (&first[i], &last[i]);
            let mut node_rejected = 0;
            for reason in Rejection::ALL {
                let n = b
                    .rejected(reason.as_str())
                    .saturating_sub(a.rejected(reason.as_str()));
                node_rejected += n;
                if n > 0 {
                    *rejected.entry(reason.as_str()).or_insert(0) += n;
                }
            }
            let got = b.reached.saturating_sub(a.reached);
            let dropped = b.rcvbuf_errors.saturating_sub(a.rcvbuf_errors);
            reached.push(got);
            socket_drops.push(dropped);
            accepted.push(got.saturating_sub(dropped + node_rejected + own_name[i]));
            let log = witness::log_since(cluster, i, a.log_len);
            // Members only: strangers (the unknown-name kind) go stale too.
            stale_peers += members
                .iter()
                .map(|m| log.matches(&format!("peer {m}: fresh -> stale")).count())
                .sum::<usize>();
            loop_lags += log.matches("the core loop was away").count();
            heartbeats_sent += (b.metric("vippy_heartbeats_sent_total")
                - a.metric("vippy_heartbeats_sent_total")) as u64;
        }
        let secs = took.as_secs_f64().max(1e-3);
        let cpu = cpu_before
            .iter()
            .zip(&cpu_after)
            .map(|(a, b)| (b - a) as f64 / tick / secs * 100.0)
            .collect();
        outcomes.push(KindOutcome {
            kind,
            sent: datagrams.len(),
            window: (start, end),
            reached,
            socket_drops,
            own_name,
            rejected,
            accepted,
            ownership_changes,
            stale_peers,
            loop_lags,
            heartbeats_sent,
            cpu,
        });
    }
    let samples = watch.finish();
    let after = cluster.holders(&cluster.vips())?;
    Ok(AttackReport {
        options,
        outcomes,
        samples,
        groups: vips.len(),
        nodes: cluster.spec.nodes,
        before,
        after,
    })
}

/// The run as a Markdown table, one row per kind.
pub fn table(report: &AttackReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| # | kind | sent | s | reached (per node) | socket drops | rejected (all nodes) | own name | accepted | ownership changes | stale peers, loop lags | heartbeats sent | vippyd CPU % (max) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (n, o) in report.outcomes.iter().enumerate() {
        let rejected: Vec<String> = o.rejected.iter().map(|(r, c)| format!("{r} {c}")).collect();
        let cpu = o.cpu.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {} | {} | {} | {} | **{}** | **{}** | {}, {} | {} | {:.0} |",
            n + 1,
            o.kind.name(),
            o.sent,
            o.seconds(),
            join(&o.reached),
            join(&o.socket_drops),
            rejected.join(", "),
            join(&o.own_name),
            o.accepted_total(),
            o.ownership_changes.len(),
            o.stale_peers,
            o.loop_lags,
            o.heartbeats_sent,
            cpu,
        );
    }
    out
}

fn join(values: &[u64]) -> String {
    values
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The command: builds the lab, floods it, prints the table and writes the
/// plot to `svg`.
pub fn bench(per_kind: usize, svg: &Path) -> Result<()> {
    let bins = Binaries::beside_me()?;
    let mut spec = ClusterSpec::ipv4(3, 6);
    spec.attacker = true;
    let mut cluster = Cluster::build(spec, bins)?;
    cluster.start_all()?;
    cluster.wait_converged(&[0, 1, 2], Duration::from_secs(10))?;
    cluster.wait_settled(Duration::from_secs(1), Duration::from_secs(10))?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let options = AttackOptions {
        per_kind,
        rate: None,
        seed,
        pause: Duration::from_secs(1),
    };
    println!(
        "3 nodes, 6 groups, interval {}s, stale {}s; {per_kind} datagrams of each of {} kinds at full speed (seed {seed})",
        cluster.spec.interval,
        cluster.spec.stale,
        Kind::ALL.len()
    );
    let report = attack(&cluster, options)?;
    print!("{}", table(&report));
    println!(
        "holders before {:?}, after {:?}",
        report.before, report.after
    );
    for o in &report.outcomes {
        for line in &o.ownership_changes {
            println!("{}: ownership change: {line}", o.kind.name());
        }
    }
    crate::plot::ownership_svg(&report, svg)?;
    println!("wrote {}", svg.display());
    Ok(())
}
