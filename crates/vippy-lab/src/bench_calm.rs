//! `vippy-lab bench calm [--duration S] [--kills N] [--groups G] [--svg FILE]`: how
//! fast timers can go without false failovers on a busy machine. 3 nodes,
//! 1024 single-VIP IPv6 groups (`--groups`), `interval` 0.02 s, `stale` 0.06 s, run
//! with `realtime: 10`, without, and as keepalived with `vrrp_rt_priority`
//! ([`crate::bench_calm_keepalived`]; skipped, and said so, where
//! keepalived is not installed). Each run saturates the machine
//! (a busy loop per core and one more, a writer that fsyncs, a thread that
//! keeps touching 512 MB; all bounded by the run's deadline and stopped at
//! its end, even on error) and
//!
//! - counts false failovers: VIPs plumbed or removed on any node while no
//!   fault is injected, from netlink address events in the node
//!   namespaces ([`AddressMonitor`]);
//! - then takes the link of VIP 0's holder down and SIGKILLs it, `kills`
//!   times (restarting it and waiting for the cluster to settle in
//!   between), and measures the outage a client sees: the longest gap
//!   between echo replies for VIP 0 from a `ping` running at SCHED_FIFO 50
//!   in the client namespace every 5 ms, so the client's own starvation is
//!   not counted.
//!
//! It prints a table and draws the crash outages side by side as an SVG.

use std::io::{BufRead, BufReader, Write as _};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use plotters::prelude::*;

use crate::bench_scale::ipv6_spec;
use crate::cluster::{Binaries, Cluster};
use crate::lab::LabHost;
use crate::monitor::AddressMonitor;

pub(crate) const NODES: usize = 3;
pub(crate) const INTERVAL: f64 = 0.02;
pub(crate) const STALE: f64 = 0.06;
const MATURE: f64 = 1.0;
/// The client's ping period.
const PING_EVERY: &str = "0.005";
const MEMORY_MB: usize = 512;

/// What to run.
#[derive(Debug, Clone)]
pub struct CalmSpec {
    /// How long the machine is saturated with no fault injected.
    pub duration: Duration,
    /// SIGKILL + link down rounds after that, still under load.
    pub kills: usize,
    /// Single-VIP groups (1024 by default).
    pub groups: usize,
    /// The variants to run; empty: all three.
    pub only: Vec<Variant>,
}

/// One of the three things `bench calm` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// vippy with `realtime: 10`.
    Realtime,
    /// vippy without `realtime`.
    Normal,
    /// keepalived with `vrrp_rt_priority 10`.
    Keepalived,
}

impl Variant {
    /// `--only` values: `realtime`, `normal`, `keepalived`.
    pub fn parse(name: &str) -> Option<Variant> {
        match name {
            "realtime" => Some(Variant::Realtime),
            "normal" => Some(Variant::Normal),
            "keepalived" => Some(Variant::Keepalived),
            _ => None,
        }
    }
}

impl CalmSpec {
    fn runs(&self, variant: Variant) -> bool {
        self.only.is_empty() || self.only.contains(&variant)
    }
}

/// One variant's results.
pub(crate) struct Outcome {
    name: String,
    /// `None`: the run did not get as far as the load.
    false_moves: Option<usize>,
    outages_ms: Vec<f64>,
    max_lag_note: String,
}

pub fn bench_calm(spec: &CalmSpec, svg: &Path) -> Result<()> {
    let bins = Binaries::beside_me()?;
    println!(
        "{NODES} nodes x {} groups (one IPv6 VIP each), interval {INTERVAL}s, stale {STALE}s; load for {:.0} s, then {} x SIGKILL + link down of VIP 0's holder; {} CPUs",
        spec.groups,
        spec.duration.as_secs_f64(),
        spec.kills,
        cpus()
    );
    let mut outcomes = Vec::new();
    let failed = |name: &str, e: anyhow::Error| {
        let first = format!("{e:#}");
        let first = first.lines().next().unwrap_or("").to_string();
        println!("{name}: {first}");
        Outcome {
            name: name.to_string(),
            false_moves: None,
            outages_ms: Vec::new(),
            max_lag_note: first,
        }
    };
    for (variant, name, extra) in [
        (Variant::Realtime, "vippy realtime: 10", "  realtime: 10,\n"),
        (Variant::Normal, "vippy (no realtime)", ""),
    ] {
        if !spec.runs(variant) {
            continue;
        }
        println!("--- {name}");
        outcomes.push(run(&bins, spec, name, extra).unwrap_or_else(|e| failed(name, e)));
    }
    if spec.runs(Variant::Keepalived) {
        let name = format!(
            "keepalived vrrp_rt_priority, {} instances",
            crate::bench_calm_keepalived::instances(spec.groups)
        );
        println!("--- {name}");
        outcomes.push(
            crate::bench_calm_keepalived::run(spec, &name).unwrap_or_else(|e| failed(&name, e)),
        );
    }
    println!();
    println!(
        "| variant | false failovers ({:.0} s under load) | crash outage median | p99 | max | rounds |",
        spec.duration.as_secs_f64()
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for o in &outcomes {
        let mut sorted = o.outages_ms.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            o.name,
            o.false_moves
                .map_or("not measured".to_string(), |n| n.to_string()),
            pct(&sorted, 0.5),
            pct(&sorted, 0.99),
            pct(&sorted, 1.0),
            sorted.len()
        );
    }
    for o in &outcomes {
        println!("{}: {}", o.name, o.max_lag_note);
    }
    plot(svg, spec.groups, &outcomes)?;
    println!("plot: {}", svg.display());
    Ok(())
}

fn pct(sorted: &[f64], q: f64) -> String {
    if sorted.is_empty() {
        return "–".into();
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    format!("{:.0} ms", sorted[i])
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// What `bench calm` measures: a settled cluster (vippy or keepalived) in
/// a lab, and one crash of VIP 0's holder at a time.
pub(crate) trait Calm {
    fn nodes(&self) -> &[LabHost];
    fn dir(&self) -> &Path;
    fn vips(&self) -> Vec<IpAddr>;
    /// One SIGKILL + link down of VIP 0's holder: the client's outage in
    /// ms, then whether the cluster came back and settled.
    fn crash(&mut self) -> Result<(f64, Result<()>)>;
    /// A line on how the daemons kept up.
    fn note(&self) -> String;
}

fn run(bins: &Binaries, spec: &CalmSpec, name: &str, extra: &str) -> Result<Outcome> {
    let mut cluster_spec = ipv6_spec(NODES, spec.groups, INTERVAL, STALE, MATURE);
    cluster_spec.extra = extra.to_string();
    let mut cluster = Cluster::build(cluster_spec, bins.clone())?;
    let all: Vec<usize> = (0..NODES).collect();
    cluster.start_all()?;
    cluster
        .wait_converged(&all, Duration::from_secs(30))
        .context("the cluster did not converge before the load")?;
    cluster
        .wait_settled(Duration::from_secs(1), Duration::from_secs(20))
        .context("the cluster did not settle before the load")?;
    measure(&mut cluster, spec, name)
}

impl Calm for Cluster {
    fn nodes(&self) -> &[LabHost] {
        self.lab.nodes()
    }

    fn dir(&self) -> &Path {
        Cluster::dir(self)
    }

    fn vips(&self) -> Vec<IpAddr> {
        Cluster::vips(self).iter().map(|v| v.addr()).collect()
    }

    fn crash(&mut self) -> Result<(f64, Result<()>)> {
        let all: Vec<usize> = (0..NODES).collect();
        crash_round(self, &all)
    }

    fn note(&self) -> String {
        lag_note(self)
    }
}

/// Under load: false failovers for `spec.duration`, then `spec.kills`
/// crashes.
pub(crate) fn measure(target: &mut dyn Calm, spec: &CalmSpec, name: &str) -> Result<Outcome> {
    let vips = target.vips();
    let monitor = AddressMonitor::start(target.nodes(), &vips)?;
    std::thread::sleep(Duration::from_millis(300)); // the monitors subscribe
    let kill_budget = Duration::from_secs(8) * spec.kills as u32;
    let load = Load::start(
        target.dir(),
        spec.duration + kill_budget + Duration::from_secs(5),
    )?;

    // Quiet phase: any address change is a false failover.
    let quiet_from = monitor.now();
    std::thread::sleep(spec.duration);
    let quiet_to = monitor.now();
    let events = monitor.events();
    let moves: Vec<_> = events
        .iter()
        .filter(|e| e.at >= quiet_from && e.at <= quiet_to)
        .collect();
    let mut moved: Vec<usize> = moves.iter().map(|e| e.vip).collect();
    moved.sort_unstable();
    moved.dedup();
    println!(
        "{name}: {} address changes on {} VIPs during {:.0} s of load with no fault",
        moves.len(),
        moved.len(),
        quiet_to - quiet_from
    );

    // Crashes, still under load.
    let mut outages = Vec::new();
    for round in 0..spec.kills {
        match target.crash() {
            Ok((ms, back)) => {
                println!("{name}: kill {round}: client outage {ms:.0} ms");
                outages.push(ms);
                if let Err(e) = back {
                    let e = format!("{e:#}");
                    println!(
                        "{name}: after kill {round}: {}",
                        e.lines().next().unwrap_or("")
                    );
                    break;
                }
            }
            Err(e) => {
                println!("{name}: kill {round}: {e:#}");
                break;
            }
        }
    }
    load.stop();
    let note = if outages.len() < spec.kills {
        format!("{} of {} crash rounds completed", outages.len(), spec.kills)
    } else {
        target.note()
    };
    Ok(Outcome {
        name: name.to_string(),
        false_moves: Some(moved.len()),
        outages_ms: outages,
        max_lag_note: note,
    })
}

/// One crash: SIGKILL of VIP 0's holder and its link down, the client's
/// outage measured, then the node back and the cluster settled (the
/// second result: whether it settled).
fn crash_round(cluster: &mut Cluster, all: &[usize]) -> Result<(f64, Result<()>)> {
    let (victim, mut pinger) = talking_to(cluster)?;
    // The link first: a SIGKILLed daemon's kernel still answers for its
    // addresses, so the client would see no outage until the link went.
    // The daemon dies right after, as with a machine that fails whole.
    let killed_at = epoch();
    cluster.lab.link_down(cluster.node(victim))?;
    cluster.kill(victim)?;
    let outage = pinger.outage_since(killed_at);
    pinger.stop();
    let outage = outage?;
    cluster.lab.link_up(cluster.node(victim))?;
    cluster.start(victim)?;
    let back = cluster
        .wait_converged(all, Duration::from_secs(40))
        .context("not converged within 40 s after the restart")
        .and_then(|_| {
            cluster
                .wait_settled(Duration::from_millis(500), Duration::from_secs(20))
                .context("not settled within 20 s after the restart")
        });
    Ok((outage, back))
}

/// VIP 0's holder, with the client pinging it, once the client's
/// neighbour entry names that holder's MAC: a group still moving back to
/// a restarted node would otherwise make the round time no failover at
/// all (a few ms of "outage" in earlier runs).
fn talking_to(cluster: &Cluster) -> Result<(usize, Pinger)> {
    let vips = cluster.vips();
    let vip = vips[0].addr();
    for _ in 0..10 {
        let running = cluster.running();
        let holders = cluster.holders(&vips)?;
        let victim = *holders[0]
            .iter()
            .find(|n| running.contains(n))
            .context("VIP 0 has no holder")?;
        let mut pinger = Pinger::start(&cluster.client().netns, vip)?;
        pinger.wait_flowing(vip)?;
        let mac = cluster.lab.nodes()[victim].mac;
        if cluster.client_sees(vip)? == Some(mac) && cluster.holders(&vips)?[0] == holders[0] {
            return Ok((victim, pinger));
        }
        pinger.stop();
        std::thread::sleep(Duration::from_millis(500));
    }
    anyhow::bail!("VIP 0 kept moving: the client never settled on one holder")
}

/// Per running node, how many of its timers fired more than 16 ms late
/// (a quarter of stale, near enough), from `vippy_loop_lag_seconds`.
fn lag_note(cluster: &Cluster) -> String {
    let mut notes = Vec::new();
    for i in cluster.running() {
        let Ok(out) = cluster.vippyctl(i, &["metrics"]) else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let value = |prefix: &str| -> Option<f64> {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        };
        if let (Some(count), Some(fast)) = (
            value("vippy_loop_lag_seconds_count"),
            value("vippy_loop_lag_seconds_bucket{le=\"0.016\"}"),
        ) {
            notes.push(format!(
                "node{} {:.0} of {count:.0} timers over 16 ms late",
                i + 1,
                count - fast
            ));
        }
    }
    notes.join(", ")
}

pub(crate) fn epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `ping -D` at SCHED_FIFO 50 in the client namespace, the reply times
/// collected.
pub(crate) struct Pinger {
    child: Child,
    replies: Arc<std::sync::Mutex<Vec<f64>>>,
}

impl Pinger {
    /// Pings `vip` from namespace `netns`.
    pub(crate) fn start(netns: &str, vip: std::net::IpAddr) -> Result<Pinger> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", netns])
            .args(["chrt", "-f", "50", "ping", "-D", "-n", "-i", PING_EVERY])
            .args(["-W", "1"])
            .arg(vip.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the client's ping")?;
        let stdout = child.stdout.take().context("ping stdout")?;
        let replies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let collected = replies.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = parse_reply(&line) {
                    collected.lock().expect("replies").push(at);
                }
            }
        });
        Ok(Pinger { child, replies })
    }

    fn replies(&self) -> Vec<f64> {
        self.replies.lock().expect("replies").clone()
    }

    /// Until 20 replies came (within 3 s).
    pub(crate) fn wait_flowing(&mut self, vip: std::net::IpAddr) -> Result<()> {
        let flowing = Instant::now();
        while self.replies().len() < 20 {
            if flowing.elapsed() > Duration::from_secs(3) {
                self.stop();
                bail!("the client gets no replies from {vip} before the kill");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The outage (ms) from a fault at `fault_at` (epoch seconds): the
    /// longest gap between replies from the last one before it, once
    /// replies have flowed again for 0.3 s (within 5 s).
    pub(crate) fn outage_since(&self, fault_at: f64) -> Result<f64> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let replies = self.replies();
            let after: Vec<f64> = replies.iter().copied().filter(|t| *t > fault_at).collect();
            if after.len() >= 20 && after.last().copied().unwrap_or(0.0) - after[0] > 0.3 {
                let before = replies
                    .iter()
                    .copied()
                    .filter(|t| *t <= fault_at)
                    .fold(f64::MIN, f64::max);
                let mut last = before;
                let mut worst = 0.0f64;
                for t in after {
                    worst = worst.max(t - last);
                    last = t;
                }
                return Ok(worst * 1000.0);
            }
            if Instant::now() > deadline {
                bail!("the client got no replies within 5 s of the kill");
            }
        }
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `[1764690000.123456] 64 bytes from …: icmp_seq=1 ttl=64 time=0.05 ms`.
pub fn parse_reply(line: &str) -> Option<f64> {
    if !line.contains("bytes from") {
        return None;
    }
    let stamp = line.strip_prefix('[')?.split(']').next()?;
    stamp.parse().ok()
}

/// The load: busy loops, a disk writer, a memory toucher, each ending at
/// its deadline or when stopped (also on drop).
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(dir: &Path, bound: Duration) -> Result<Load> {
        let stop = Arc::new(AtomicBool::new(false));
        let until = Instant::now() + bound;
        let mut threads = Vec::new();
        let over = {
            let stop = stop.clone();
            move || stop.load(Ordering::Relaxed) || Instant::now() > until
        };
        for _ in 0..cpus() + 1 {
            let over = over.clone();
            threads.push(std::thread::spawn(move || {
                let mut x = 0u64;
                while !over() {
                    for _ in 0..100_000 {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                }
            }));
        }
        let file = dir.join("calm-load.bin");
        {
            let over = over.clone();
            threads.push(std::thread::spawn(move || {
                let chunk = vec![0x5au8; 1 << 20];
                while !over() {
                    let Ok(mut f) = std::fs::File::create(&file) else {
                        return;
                    };
                    for _ in 0..16 {
                        if over() || f.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                    let _ = f.sync_all();
                }
                let _ = std::fs::remove_file(&file);
            }));
        }
        threads.push(std::thread::spawn(move || {
            let mut memory = vec![0u8; MEMORY_MB << 20];
            let mut round = 0u8;
            while !over() {
                round = round.wrapping_add(1);
                for page in memory.chunks_mut(4096) {
                    page[0] = round;
                }
            }
        }));
        Ok(Load { stop, threads })
    }

    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.halt();
    }
}

fn plot(svg: &Path, groups: usize, outcomes: &[Outcome]) -> Result<()> {
    let root = SVGBackend::new(svg, (800, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let max = outcomes
        .iter()
        .flat_map(|o| o.outages_ms.iter().copied())
        .fold(100.0f64, f64::max)
        * 1.1;
    let rounds = outcomes
        .iter()
        .map(|o| o.outages_ms.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Crash outage under load: {NODES} nodes x {groups} groups, interval {INTERVAL}s, stale {STALE}s"),
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..rounds as f64 + 0.5, 0f64..max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("crash (SIGKILL + link down of VIP 0's holder)")
        .y_desc("client outage (ms)")
        .draw()
        .map_err(plot_error)?;
    let colours = [BLUE, RED, GREEN];
    let width = 0.8 / outcomes.len().max(1) as f64;
    for (k, o) in outcomes.iter().enumerate() {
        let colour = colours[k % colours.len()];
        chart
            .draw_series(o.outages_ms.iter().enumerate().map(|(i, ms)| {
                let x0 = i as f64 + 0.6 + k as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, *ms)], colour.filled())
            }))
            .map_err(plot_error)?
            .label(o.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, STALE * 1000.0), (rounds as f64 + 0.5, STALE * 1000.0)],
            BLACK,
        ))
        .map_err(plot_error)?
        .label("stale")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 10, y)], BLACK));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plot: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_replies_are_read_with_their_time() {
        assert_eq!(
            parse_reply(
                "[1764690000.123456] 64 bytes from 2001:db8::1:0: icmp_seq=1 ttl=64 time=0.05 ms"
            ),
            Some(1764690000.123456)
        );
        assert_eq!(
            parse_reply("[1764690000.1] no answer yet for icmp_seq=3"),
            None
        );
        assert_eq!(pct(&[1.0, 2.0, 3.0, 4.0], 0.5), "2 ms");
        assert_eq!(pct(&[1.0, 2.0, 3.0, 4.0], 1.0), "4 ms");
    }
}
