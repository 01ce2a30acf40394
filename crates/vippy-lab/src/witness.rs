//! What the attack bench reads from outside the daemons: each node's
//! Prometheus metrics over its API socket, the kernel's count of attacker
//! datagrams that reached the node (an nftables counter in its namespace)
//! and of UDP datagrams dropped for a full socket buffer (`/proc/net/snmp`),
//! the daemon's CPU time (`/proc/PID/stat`), its log, and who holds which
//! VIP (`ip monitor address` and `ip -j addr`, sampled).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cluster::Cluster;
use crate::command::run_with_stdin;
use crate::lab::HOST_IFNAME;
use crate::probe::parse_addresses;

/// The nftables table the bench adds to each node namespace to count the
/// attacker's datagrams (apart from the fault table, `vippy_lab`).
const COUNT_TABLE: &str = "vippy_attack_count";

/// One node at one moment.
#[derive(Debug, Clone, Default)]
pub struct NodeReading {
    /// `name{labels}` → value, from `/metrics`.
    pub metrics: BTreeMap<String, f64>,
    /// Datagrams from the attacker that reached the node's IP input.
    pub reached: u64,
    /// UDP datagrams the kernel dropped for a full receive buffer (every
    /// socket in the namespace; only vippyd's is busy).
    pub rcvbuf_errors: u64,
    /// utime + stime of vippyd, in clock ticks.
    pub cpu_ticks: u64,
    /// The log's length in bytes.
    pub log_len: u64,
}

impl NodeReading {
    pub fn metric(&self, key: &str) -> f64 {
        self.metrics.get(key).copied().unwrap_or(0.0)
    }

    /// The rejection counter for `reason`.
    pub fn rejected(&self, reason: &str) -> u64 {
        self.metric(&format!(
            "vippy_datagrams_rejected_total{{reason=\"{reason}\"}}"
        )) as u64
    }
}

/// Adds the counting table to every node namespace.
pub fn count_attacker(cluster: &Cluster, attacker: Ipv4Addr, port: u16) -> Result<()> {
    for host in cluster.lab.nodes() {
        let rules = format!(
            "table inet {COUNT_TABLE} {{\n  chain input {{\n    type filter hook input priority -300; policy accept;\n    ip saddr {attacker} udp dport {port} counter\n  }}\n}}\n"
        );
        run_with_stdin(
            "ip",
            &["netns", "exec", &host.netns, "nft", "-f", "-"],
            Some(&rules),
        )?;
    }
    Ok(())
}

/// Reads node `i` now.
pub fn read_node(cluster: &Cluster, i: usize) -> Result<NodeReading> {
    let host = cluster.node(i);
    let out = cluster.curl(i, &["http://localhost/metrics"])?;
    if !out.status.success() {
        bail!(
            "metrics of node{}: {}",
            i + 1,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let metrics = parse_metrics(&String::from_utf8_lossy(&out.stdout));
    let nft = cluster
        .lab
        .exec_ok(host, &["nft", "list", "table", "inet", COUNT_TABLE])?;
    let reached = parse_counter(&String::from_utf8_lossy(&nft.stdout))
        .with_context(|| format!("no counter in {COUNT_TABLE} of node{}", i + 1))?;
    let snmp = cluster.lab.exec_ok(host, &["cat", "/proc/net/snmp"])?;
    let rcvbuf_errors = parse_snmp(
        &String::from_utf8_lossy(&snmp.stdout),
        "Udp:",
        "RcvbufErrors",
    )
    .context("no Udp RcvbufErrors in /proc/net/snmp")?;
    let cpu_ticks = cluster.pid(i).map(cpu_ticks).transpose()?.unwrap_or(0);
    let log_len = std::fs::metadata(cluster.log_path(i)).map_or(0, |m| m.len());
    Ok(NodeReading {
        metrics,
        reached,
        rcvbuf_errors,
        cpu_ticks,
        log_len,
    })
}

/// Every node, node1 first.
pub fn read_all(cluster: &Cluster) -> Result<Vec<NodeReading>> {
    (0..cluster.spec.nodes)
        .map(|i| read_node(cluster, i))
        .collect()
}

/// Prometheus text: `name{labels} value` lines, comments skipped.
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The packets of the first `counter packets N` in `nft list` output.
fn parse_counter(text: &str) -> Option<u64> {
    let at = text.find("counter packets ")? + "counter packets ".len();
    text[at..].split_whitespace().next()?.parse().ok()
}

/// A field of `/proc/net/snmp`: a header line and a value line per protocol.
fn parse_snmp(text: &str, protocol: &str, field: &str) -> Option<u64> {
    let mut lines = text.lines().filter(|l| l.starts_with(protocol));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let at = names.iter().position(|n| *n == field)?;
    values.get(at)?.parse().ok()
}

/// utime + stime of `pid` in clock ticks, from `/proc/PID/stat`.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it do not.
    let rest = &stat[stat.rfind(')').context("no ) in stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, the 12th and 13th after the name.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100.0, |t| t as f64)
}

/// The lines of node `i`'s log written after `from` bytes.
pub fn log_since(cluster: &Cluster, i: usize, from: u64) -> String {
    let bytes = std::fs::read(cluster.log_path(i)).unwrap_or_default();
    let from = (from as usize).min(bytes.len());
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}

/// One sample of who holds what: for each VIP, the nodes (indices) that
/// have it on their interface.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Since the watch started.
    pub at: Duration,
    pub holders: Vec<Vec<usize>>,
}

/// Watches ownership while the flood runs: `ip monitor address` in every
/// node namespace (every change, as the kernel reports it) and a sample of
/// `ip -j addr` on every node about every 100 ms, for the plot.
pub struct OwnershipWatch {
    start: Instant,
    monitors: Vec<(Child, PathBuf)>,
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

impl OwnershipWatch {
    pub fn start(cluster: &Cluster) -> Result<OwnershipWatch> {
        let mut monitors = Vec::new();
        for (i, host) in cluster.lab.nodes().iter().enumerate() {
            let log = cluster.dir().join(format!("attack-monitor{}.log", i + 1));
            let child = Command::new("ip")
                .args(["-ts", "-n", &host.netns, "monitor", "address"])
                .stdout(std::fs::File::create(&log).context("monitor log")?)
                .stderr(Stdio::null())
                .spawn()
                .context("starting ip monitor")?;
            monitors.push((child, log));
        }
        let start = Instant::now();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (samples, stop) = (samples.clone(), stop.clone());
            let vips: Vec<IpAddr> = cluster.vips().iter().map(|v| v.addr()).collect();
            let namespaces: Vec<String> = cluster
                .lab
                .nodes()
                .iter()
                .map(|h| h.netns.clone())
                .collect();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(holders) = holders(&namespaces, &vips) {
                        let at = start.elapsed();
                        samples
                            .lock()
                            .expect("samples")
                            .push(Sample { at, holders });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        // Let the monitors subscribe before anything can change.
        std::thread::sleep(Duration::from_millis(200));
        Ok(OwnershipWatch {
            start,
            monitors,
            samples,
            stop,
            sampler: Some(sampler),
        })
    }

    /// Since the watch started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// VIP address changes the monitors have logged so far, per node:
    /// each a line naming one of `vips`.
    pub fn changes(&self, vips: &[String]) -> Vec<Vec<String>> {
        self.monitors
            .iter()
            .map(|(_, log)| {
                let Ok(file) = std::fs::File::open(log) else {
                    return Vec::new();
                };
                BufReader::new(file)
                    .lines()
                    .map_while(|l| l.ok())
                    .filter(|l| vips.iter().any(|v| l.contains(&format!("inet {v}/"))))
                    .collect()
            })
            .collect()
    }

    /// Stops sampling and the monitors; returns the samples.
    pub fn finish(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
        std::mem::take(&mut *self.samples.lock().expect("samples"))
    }
}

/// For each VIP, the nodes whose lab interface has it (`ip -j addr`).
fn holders(namespaces: &[String], vips: &[IpAddr]) -> Option<Vec<Vec<usize>>> {
    let mut holders = vec![Vec::new(); vips.len()];
    for (i, netns) in namespaces.iter().enumerate() {
        let out = Command::new("ip")
            .args(["-n", netns, "-j", "addr", "show", "dev", HOST_IFNAME])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let addresses = parse_addresses(&out.stdout).ok()?;
        for (v, vip) in vips.iter().enumerate() {
            if addresses.iter().any(|a| a.addr() == *vip) {
                holders[v].push(i);
            }
        }
    }
    Some(holders)
}

impl Drop for OwnershipWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for (child, _) in &mut self.monitors {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prometheus_nft_and_snmp_text() {
        let m = parse_metrics(
            "# HELP x\nvippy_datagrams_rejected_total{reason=\"auth\"} 12\nvippy_heartbeats_sent_total 7\n",
        );
        assert_eq!(m["vippy_datagrams_rejected_total{reason=\"auth\"}"], 12.0);
        assert_eq!(m["vippy_heartbeats_sent_total"], 7.0);
        let nft = "table inet t {\n chain input {\n  ip saddr 198.51.100.250 udp dport 5007 counter packets 42 bytes 4200\n }\n}\n";
        assert_eq!(parse_counter(nft), Some(42));
        let snmp = "Ip: Forwarding\nIp: 2\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\nUdp: 10 0 3 5 3\n";
        assert_eq!(parse_snmp(snmp, "Udp:", "RcvbufErrors"), Some(3));
        assert_eq!(parse_snmp(snmp, "Udp:", "Nothing"), None);
    }
}
