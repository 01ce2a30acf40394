//! `vippy-lab bench scale NODES GROUPS [INTERVAL STALE [MATURE]]`: many
//! VIPs on real daemons. One IPv6 VIP per group on the lab's bridge. It
//! times, from netlink address events in every node namespace
//! ([`AddressMonitor`]): a cold start until every VIP is plumbed exactly
//! once (and the most duplicates on the way); the re-homing of a killed
//! node's VIPs (SIGKILL and its link down). It pings a sample of those VIPs
//! from the client, reads one idle vippyd's CPU and RSS from /proc and its
//! chat traffic from its interface counters, and draws the VIPs plumbed
//! over time as an SVG. Results go to docs/BENCHMARKS.md by hand.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use plotters::prelude::*;

use crate::cluster::{Binaries, Cluster, ClusterSpec};
use crate::monitor::{AddressEvent, AddressMonitor};

/// What to run.
#[derive(Debug, Clone)]
pub struct ScaleSpec {
    pub nodes: usize,
    pub groups: usize,
    pub interval: f64,
    pub stale: f64,
    pub mature: f64,
    /// Give up on the cold start after this long.
    pub limit: Duration,
}

/// How many of the killed node's VIPs the client pings.
const PING_SAMPLE: usize = 32;
/// How long the idle daemon is watched.
const IDLE_WINDOW: Duration = Duration::from_secs(10);

/// The VIPs held over time, replayed from the address events: per VIP how
/// many running nodes hold it. A killed node's addresses stay in its
/// kernel but count for nothing from the kill on.
struct Replay {
    held: Vec<Vec<bool>>,
    live: Vec<u32>,
    dead: Vec<bool>,
    distinct: usize,
    duplicates: usize,
    /// When each VIP's current duplicate episode began.
    dup_since: Vec<Option<f64>>,
    longest_dup: f64,
    /// When the longest duplicate episode began.
    longest_dup_from: f64,
}

impl Replay {
    fn new(nodes: usize, vips: usize) -> Replay {
        Replay {
            held: vec![vec![false; vips]; nodes],
            live: vec![0; vips],
            dead: vec![false; nodes],
            distinct: 0,
            duplicates: 0,
            dup_since: vec![None; vips],
            longest_dup: 0.0,
            longest_dup_from: 0.0,
        }
    }

    fn set_live(&mut self, vip: usize, at: f64, up: bool) {
        let before = self.live[vip];
        let after = if up { before + 1 } else { before - 1 };
        self.live[vip] = after;
        self.distinct = self.distinct + usize::from(after >= 1) - usize::from(before >= 1);
        self.duplicates =
            self.duplicates + after.saturating_sub(1) as usize - before.saturating_sub(1) as usize;
        if after > 1 && self.dup_since[vip].is_none() {
            self.dup_since[vip] = Some(at);
        }
        if after <= 1
            && let Some(since) = self.dup_since[vip].take()
            && at - since > self.longest_dup
        {
            self.longest_dup = at - since;
            self.longest_dup_from = since;
        }
    }

    fn apply(&mut self, e: &AddressEvent) {
        if self.held[e.node][e.vip] == e.added {
            return; // `ip` shows an IPv6 add twice (tentative, then not)
        }
        self.held[e.node][e.vip] = e.added;
        if !self.dead[e.node] {
            self.set_live(e.vip, e.at, e.added);
        }
    }

    fn kill(&mut self, node: usize, at: f64) {
        if std::mem::replace(&mut self.dead[node], true) {
            return;
        }
        for vip in 0..self.live.len() {
            if self.held[node][vip] {
                self.set_live(vip, at, false);
            }
        }
    }

    fn converged(&self) -> bool {
        self.distinct == self.live.len() && self.duplicates == 0
    }

    /// The longest any VIP has been on two running nodes, open episodes
    /// counted up to `now`.
    /// Returns its length and when it began.
    fn longest_duplicate(&self, now: f64) -> (f64, f64) {
        self.dup_since
            .iter()
            .flatten()
            .map(|since| (now - since, *since))
            .fold((self.longest_dup, self.longest_dup_from), |a, b| {
                if b.0 > a.0 { b } else { a }
            })
    }
}

/// One sample of the plot: time, distinct VIPs plumbed, duplicate plumbs.
type Point = (f64, usize, usize);

/// Replays `events` (with the kill at `kill`, if any) into points and the
/// state at the end.
fn replay(
    events: &[AddressEvent],
    nodes: usize,
    vips: usize,
    kill: Option<(usize, f64)>,
) -> (Replay, Vec<Point>) {
    let mut state = Replay::new(nodes, vips);
    let mut points = vec![(0.0, 0, 0)];
    let mut killed = false;
    for e in events {
        if let Some((node, at)) = kill
            && !killed
            && e.at >= at
        {
            state.kill(node, at);
            points.push((at, state.distinct, state.duplicates));
            killed = true;
        }
        state.apply(e);
        points.push((e.at, state.distinct, state.duplicates));
    }
    if let Some((node, at)) = kill
        && !killed
    {
        state.kill(node, at);
        points.push((at, state.distinct, state.duplicates));
    }
    (state, points)
}

/// `nodes` nodes and `groups` single-VIP IPv6 groups 2001:db8::1:0 on.
pub fn ipv6_spec(
    nodes: usize,
    groups: usize,
    interval: f64,
    stale: f64,
    mature: f64,
) -> ClusterSpec {
    let mut spec = ClusterSpec::ipv4(nodes, 0);
    spec.groups = (0..groups)
        .map(|g| (vec![format!("2001:db8::1:{g:x}/64")], None))
        .collect();
    spec.interval = interval;
    spec.stale = stale;
    spec.mature = mature;
    spec
}

pub fn bench_scale(spec: &ScaleSpec, svg: &Path) -> Result<()> {
    let bins = Binaries::beside_me()?;
    let (n, g) = (spec.nodes, spec.groups);
    println!(
        "{n} nodes x {g} groups (one IPv6 VIP each), interval {}s, stale {}s, mature {}s",
        spec.interval, spec.stale, spec.mature
    );
    let cluster_spec = ipv6_spec(n, g, spec.interval, spec.stale, spec.mature);
    let mut cluster = Cluster::build(cluster_spec, bins)?;
    let vips: Vec<_> = cluster.vips().iter().map(|v| v.addr()).collect();
    let monitor = AddressMonitor::start(cluster.lab.nodes(), &vips)?;
    std::thread::sleep(Duration::from_millis(200)); // the monitors subscribe

    // Cold start.
    let started = monitor.now();
    cluster.start_all()?;
    let limit = spec.limit.as_secs_f64();
    let cold = loop {
        std::thread::sleep(Duration::from_millis(20));
        let (state, _) = replay(&monitor.events(), n, g, None);
        if state.converged() {
            // The first moment it held, from the events.
            let events = monitor.events();
            let mut s = Replay::new(n, g);
            let at = events
                .iter()
                .find_map(|e| {
                    s.apply(e);
                    s.converged().then_some(e.at)
                })
                .unwrap_or(monitor.now());
            break Some(at - started);
        }
        if monitor.now() - started > limit {
            break None;
        }
    };
    let events = monitor.events();
    let (state, points) = replay(&events, n, g, None);
    let peak = points.iter().map(|p| p.2).max().unwrap_or(0);
    let plumbed: usize = state.held.iter().flatten().filter(|h| **h).count();
    match cold {
        Some(t) => println!(
            "cold start: every VIP plumbed exactly once after {:.2} s; peak {peak} duplicate plumbs on the way; longest a VIP was on two nodes {:.0} ms",
            t,
            state.longest_dup * 1000.0
        ),
        None => println!(
            "cold start: NOT converged after {limit:.0} s: {plumbed} addresses plumbed for {} distinct VIPs of {g}, {} duplicates now (peak {peak}); longest a VIP was on two nodes {:.0} ms",
            state.distinct,
            state.duplicates,
            state.longest_duplicate(monitor.now()).0 * 1000.0
        ),
    }
    let cold_end = monitor.now();

    // Settle: no address change for one second (at most ten).
    let settle_from = monitor.now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let last = monitor.events().last().map_or(0.0, |e| e.at);
        if monitor.now() - last > 1.0 || monitor.now() - settle_from > 10.0 {
            break;
        }
    }

    idle(&cluster, spec)?;

    let mut kill_window = None;
    if cold.is_some() {
        kill_window = Some(kill_and_rehome(&mut cluster, &monitor, spec)?);
    } else {
        println!("kill: skipped (the cold start never converged)");
    }

    let events = monitor.events();
    let kill = kill_window.map(|(at, _)| (0, at));
    let (_, points) = replay(&events, n, g, kill);
    let shifted: Vec<Point> = points
        .iter()
        .map(|(t, d, u)| (t - started, *d, *u))
        .collect();
    let kill_window = kill_window.map(|(at, end)| (at - started, end - started));
    plot(svg, spec, &shifted, cold_end - started, kill_window)?;
    println!("plot: {}", svg.display());
    Ok(())
}

/// CPU and RSS of node2's vippyd and its chat traffic, over [`IDLE_WINDOW`].
fn idle(cluster: &Cluster, spec: &ScaleSpec) -> Result<()> {
    let watched = 1.min(spec.nodes - 1);
    let pid = cluster
        .pid(watched)
        .context("the watched daemon is not running")?;
    let host = cluster.node(watched);
    let ticks0 = cpu_ticks(pid)?;
    let (bytes0, packets0) = tx_counters(cluster, watched)?;
    let beats0 = heartbeats_sent(cluster, watched)?;
    std::thread::sleep(IDLE_WINDOW);
    let ticks1 = cpu_ticks(pid)?;
    let (bytes1, packets1) = tx_counters(cluster, watched)?;
    let beats1 = heartbeats_sent(cluster, watched)?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let cpu = (ticks1 - ticks0) as f64 / hz / IDLE_WINDOW.as_secs_f64() * 100.0;
    let secs = IDLE_WINDOW.as_secs_f64();
    let beats = beats1.saturating_sub(beats0).max(1);
    println!(
        "idle {} ({}): CPU {cpu:.1} % of a core over {secs:.0} s, RSS {:.1} MB; sent {:.0} bytes/s in {:.1} packets/s on {} ({} heartbeats, {:.0} bytes each on the wire)",
        host.name,
        pid,
        rss_kb(pid)? as f64 / 1024.0,
        (bytes1 - bytes0) as f64 / secs,
        (packets1 - packets0) as f64 / secs,
        host.ifname,
        beats,
        (bytes1 - bytes0) as f64 / beats as f64,
    );
    Ok(())
}

/// Kills node1 (SIGKILL, then its bridge port down) and waits until each
/// of its VIPs is on one running node. Returns when it killed and when the
/// re-homing ended (monitor time).
fn kill_and_rehome(
    cluster: &mut Cluster,
    monitor: &AddressMonitor,
    spec: &ScaleSpec,
) -> Result<(f64, f64)> {
    let (n, g) = (spec.nodes, spec.groups);
    let (before, _) = replay(&monitor.events(), n, g, None);
    let victim = 0;
    let orphans: Vec<usize> = (0..g).filter(|v| before.held[victim][*v]).collect();
    // A survivor's decisions around the kill: how many, and how many of
    // them reused the last placement.
    let watched = 1.min(n - 1);
    let decided_before = decisions(cluster, watched)?;
    let at = monitor.now();
    cluster.kill(victim)?;
    cluster.lab.link_down(cluster.node(victim))?;
    let limit = spec.stale + 10.0;
    let done = loop {
        std::thread::sleep(Duration::from_millis(20));
        let (state, _) = replay(&monitor.events(), n, g, Some((victim, at)));
        if state.converged() {
            break true;
        }
        if monitor.now() - at > limit {
            break false;
        }
    };
    let events = monitor.events();
    let mut rehomed: Vec<f64> = orphans
        .iter()
        .filter_map(|v| {
            events
                .iter()
                .find(|e| e.vip == *v && e.added && e.node != victim && e.at >= at)
                .map(|e| (e.at - at) * 1000.0)
        })
        .collect();
    rehomed.sort_by(f64::total_cmp);
    let (state, _) = replay(&events, n, g, Some((victim, at)));
    let end = monitor.now();
    let decided_after = decisions(cluster, watched)?;
    println!(
        "node{}: {} decisions from the kill to the end of re-homing, {} of them reusing the last placement",
        watched + 1,
        decided_after.0 - decided_before.0,
        decided_after.1 - decided_before.1
    );
    let (dup, dup_from) = state.longest_duplicate(end);
    // A duplicate that began before the kill happened while the cluster
    // was meant to be idle: say so, it is not the kill's.
    let dup_when = if dup == 0.0 {
        String::new()
    } else {
        format!(" (from {:+.2} s after the kill)", dup_from - at)
    };
    if let (Some(first), Some(last)) = (rehomed.first(), rehomed.last()) {
        println!(
            "kill node1: {} of its {} VIPs re-homed, first {first:.0} ms, last {last:.0} ms after the kill (stale {:.0} ms){}; longest a VIP was on two running nodes {:.0} ms{dup_when}",
            rehomed.len(),
            orphans.len(),
            spec.stale * 1000.0,
            if done {
                ""
            } else {
                "; NOT all within the limit"
            },
            dup * 1000.0,
        );
    } else {
        println!(
            "kill node1: none of its {} VIPs re-homed within {limit:.1} s",
            orphans.len()
        );
    }

    // A sample of them, pinged from the client at once.
    let step = orphans.len().div_ceil(PING_SAMPLE).max(1);
    let sample: Vec<_> = orphans
        .iter()
        .step_by(step)
        .map(|v| cluster.vips()[*v].addr())
        .collect();
    let lab = &cluster.lab;
    let client = cluster.client();
    // A ping that could not run (no `ping` installed) is an error, not an
    // unreachable VIP: the share would read as a failover failure.
    let answers: Vec<bool> = std::thread::scope(|s| {
        let pings: Vec<_> = sample
            .iter()
            .map(|ip| s.spawn(move || lab.ping(client, *ip)))
            .collect();
        pings
            .into_iter()
            .map(|p| p.join().unwrap_or(Ok(false)))
            .collect::<Result<_>>()
    })
    .context("pinging the re-homed VIPs from the client")?;
    let answered = answers.iter().filter(|ok| **ok).count();
    println!(
        "client reaches {answered} of {} sampled re-homed VIPs ({:.0} %)",
        sample.len(),
        answered as f64 * 100.0 / sample.len().max(1) as f64
    );
    Ok((at, end))
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name, which may hold spaces: state is the
    // third field of the line, utime the 14th.
    let (_, rest) = stat.rsplit_once(") ").context("parsing /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse().ok())
            .context("parsing /proc/PID/stat")
    };
    Ok(field(14)? + field(15)?)
}

/// VmRSS in kB.
fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// Bytes and packets sent on node `i`'s lab interface.
fn tx_counters(cluster: &Cluster, i: usize) -> Result<(u64, u64)> {
    let host = cluster.node(i);
    let out = cluster.lab.exec_ok(
        host,
        &["ip", "-s", "-j", "link", "show", "dev", &host.ifname],
    )?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).context("ip -s -j link")?;
    let tx = &json[0]["stats64"]["tx"];
    Ok((
        tx["bytes"].as_u64().context("tx bytes")?,
        tx["packets"].as_u64().context("tx packets")?,
    ))
}

/// `vippy_heartbeats_sent_total` from node `i`'s management socket.
fn heartbeats_sent(cluster: &Cluster, i: usize) -> Result<u64> {
    counter(cluster, i, "vippy_heartbeats_sent_total")
}

/// One counter from node `i`'s `/metrics`.
fn counter(cluster: &Cluster, i: usize, name: &str) -> Result<u64> {
    let out = cluster.curl(i, &["http://localhost/metrics"])?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .with_context(|| format!("no {name} in /metrics"))
}

/// Node `i`'s (decisions, placements reused) so far.
fn decisions(cluster: &Cluster, i: usize) -> Result<(u64, u64)> {
    Ok((
        counter(cluster, i, "vippy_decisions_total")?,
        counter(cluster, i, "vippy_placements_reused_total")?,
    ))
}

/// Two panels: from the cold start until it converged (or gave up), and
/// around the kill. Blue: distinct VIPs plumbed; red: duplicate plumbs.
fn plot(
    path: &Path,
    spec: &ScaleSpec,
    points: &[Point],
    cold_end: f64,
    kill: Option<(f64, f64)>,
) -> Result<()> {
    let root = SVGBackend::new(path, (1100, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (left, right) = root.split_horizontally(600);
    let title = format!(
        "{} nodes x {} groups, interval {} s, stale {} s",
        spec.nodes, spec.groups, spec.interval, spec.stale
    );
    panel(
        &left,
        &format!("cold start: {title}"),
        points,
        (0.0, (cold_end + 0.2).max(0.5)),
        spec.groups,
    )?;
    if let Some((at, end)) = kill {
        panel(
            &right,
            "around the SIGKILL of node1 (t = 0)",
            &points
                .iter()
                .map(|(t, d, u)| (t - at, *d, *u))
                .collect::<Vec<_>>(),
            (-0.3, (end - at + 0.2).max(spec.stale + 0.5)),
            spec.groups,
        )?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    points: &[Point],
    (from, to): (f64, f64),
    groups: usize,
) -> Result<()> {
    let top = (groups as f64 * 1.1).max(1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 14))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(from..to, 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("VIPs")
        .draw()
        .map_err(plot_error)?;
    // Steps: a value holds until the next event.
    let steps = |value: fn(&Point) -> usize| {
        let mut out = Vec::new();
        let mut last = 0.0;
        for p in points.iter().filter(|p| p.0 <= to) {
            if p.0 >= from {
                out.push((p.0, last));
            }
            last = value(p) as f64;
            out.push((p.0.max(from), last));
        }
        out.push((to, last));
        out
    };
    chart
        .draw_series(LineSeries::new(steps(|p| p.1), &BLUE))
        .map_err(plot_error)?
        .label("distinct VIPs plumbed")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(steps(|p| p.2), &RED))
        .map_err(plot_error)?
        .label("duplicate plumbs (a VIP on a second running node)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e:?}")
}
