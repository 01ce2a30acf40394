//! `vippy-lab bench-keepalived [ROUNDS]`: the same two failover figures as
//! `vippy-lab bench`, measured on Debian's keepalived (VRRPv3) in the same
//! lab, for a head-to-head comparison (docs/BENCHMARKS.md, "Against
//! keepalived"). keepalived only ever runs inside the lab's node namespaces.
//!
//! Layout, chosen to match the vippy bench (3 nodes, 6 VIPs, balanced):
//! three `vrrp_instance`s, each with 2 VIPs, node k the highest priority of
//! instance k (150, then 100, then 50), so each node is master of one
//! instance. `advert_int 0.2`, the same as vippy's `interval`: a backup
//! declares the master down after 3 × advert_int + skew, skew =
//! (256 − priority) × advert_int / 256, i.e. 0.72 s for the priority-100
//! backup, against vippy's `stale` 0.8 s. No second GARP burst
//! (`garp_master_delay 0`); the first burst (5 GARPs) is sent on becoming
//! master. Multicast adverts (224.0.0.18) on the lab bridge.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{ms, summary};
use crate::lab::{Lab, LabSpec};
use crate::process::{LabProcess, Signal, become_subreaper};

/// VRRP advertisement interval (s) by default, as the lab's vippy `interval`.
pub const ADVERT_INT: f64 = 0.2;
const NODES: usize = 3;
const INSTANCES: usize = 3;
const VIPS: usize = 6;
/// Priorities of an instance's preferred node, then the next, then the last.
const PRIORITIES: [u8; NODES] = [150, 100, 50];

/// The VIPs 198.51.100.100…105; VIP `v` belongs to instance `v % 3`.
fn vip(v: usize) -> IpAddr {
    IpAddr::from([198, 51, 100, 100 + v as u8])
}

/// keepalived.conf for node `node` (index).
pub fn config_text(node: usize, advert_int: f64) -> String {
    let mut text = format!(
        "# written by vippy-lab bench-keepalived for node{n}\n\
         global_defs {{\n  router_id node{n}\n  vrrp_version 3\n}}\n",
        n = node + 1
    );
    for instance in 0..INSTANCES {
        // Node `instance` is preferred, then the next node, and so on.
        let rank = (node + NODES - instance) % NODES;
        let _ = write!(
            text,
            "vrrp_instance VI_{i} {{\n  state BACKUP\n  interface eth0\n  \
             virtual_router_id {vrid}\n  priority {prio}\n  advert_int {advert_int}\n  \
             garp_master_delay 0\n  virtual_ipaddress {{\n",
            i = instance + 1,
            vrid = 51 + instance,
            prio = PRIORITIES[rank],
        );
        for v in (instance..VIPS).step_by(INSTANCES) {
            let _ = writeln!(text, "    {}/24 dev eth0", vip(v));
        }
        text.push_str("  }\n}\n");
    }
    text
}

/// keepalived on every node of a lab, each VIP expected on one preferred
/// node. Dropping it kills every keepalived process (the whole group)
/// before the lab goes.
pub(crate) struct Keepalived {
    program: PathBuf,
    daemons: Vec<Option<LabProcess>>,
    /// The VIPs, and for each the node whose priority is highest.
    vips: Vec<(IpAddr, usize)>,
    pub(crate) lab: Lab,
}

impl Keepalived {
    fn build(program: &Path, advert_int: f64) -> Result<Keepalived> {
        let confs: Vec<String> = (0..NODES).map(|n| config_text(n, advert_int)).collect();
        let vips = (0..VIPS).map(|v| (vip(v), v % INSTANCES)).collect();
        Keepalived::with_configs(program, Lab::build(LabSpec::nodes(NODES))?, &confs, vips)
    }

    /// keepalived on `lab`'s nodes, node `n` with `confs[n]`; not started.
    pub(crate) fn with_configs(
        program: &Path,
        lab: Lab,
        confs: &[String],
        vips: Vec<(IpAddr, usize)>,
    ) -> Result<Keepalived> {
        for (node, text) in confs.iter().enumerate() {
            std::fs::write(conf(&lab, node), text).context("writing keepalived.conf")?;
        }
        Ok(Keepalived {
            program: program.to_path_buf(),
            daemons: (0..confs.len()).map(|_| None).collect(),
            vips,
            lab,
        })
    }

    pub(crate) fn start_all(&mut self) -> Result<()> {
        for node in 0..self.daemons.len() {
            self.start(node)?;
        }
        Ok(())
    }

    pub(crate) fn start(&mut self, node: usize) -> Result<()> {
        let dir = self.lab.dir();
        let file = |what: &str| {
            dir.join(format!("node{}.{what}", node + 1))
                .display()
                .to_string()
        };
        let (conf, pid, vrrp_pid, checkers_pid) = (
            file("conf"),
            file("pid"),
            file("vrrp.pid"),
            file("checkers.pid"),
        );
        // Foreground (-n), VRRP only (-P), log to the console (-l) in
        // detail (-D), not to syslog (-G); pid files in the lab dir.
        let args = [
            "-n",
            "-P",
            "-l",
            "-D",
            "-G",
            "-f",
            &conf,
            "-p",
            &pid,
            "-r",
            &vrrp_pid,
            "-c",
            &checkers_pid,
        ];
        let host = self.lab.nodes()[node].clone();
        let log = self.log_path(node);
        let process = self
            .lab
            .spawn_group(&host, &self.program, &args, &[], &log)?;
        self.daemons[node] = Some(process);
        Ok(())
    }

    /// SIGKILL of every keepalived process of `node` (parent and VRRP child
    /// at once, as a crash).
    pub(crate) fn kill(&mut self, node: usize) -> Result<()> {
        if let Some(mut daemon) = self.daemons[node].take() {
            daemon.kill_group()?;
        }
        Ok(())
    }

    fn log_path(&self, node: usize) -> PathBuf {
        self.lab.dir().join(format!("node{}.log", node + 1))
    }

    /// The VIPs, in order.
    pub(crate) fn vip_addresses(&self) -> Vec<IpAddr> {
        self.vips.iter().map(|(ip, _)| *ip).collect()
    }

    /// For each VIP, the nodes that have it plumbed.
    pub(crate) fn holders(&self) -> Result<Vec<Vec<usize>>> {
        let mut holders = vec![Vec::new(); self.vips.len()];
        for (i, host) in self.lab.nodes().iter().enumerate() {
            let addresses = self.lab.addresses(host)?;
            for (nodes, (ip, _)) in holders.iter_mut().zip(&self.vips) {
                if addresses.iter().any(|a| a.addr() == *ip) {
                    nodes.push(i);
                }
            }
        }
        Ok(holders)
    }

    /// Waits until every VIP is on exactly one node, its instance's
    /// preferred one, and nothing moved for `quiet`.
    pub(crate) fn wait_masters(&self, quiet: Duration, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let mut since = Instant::now();
        let mut last = self.holders()?;
        loop {
            let balanced = last
                .iter()
                .zip(&self.vips)
                .all(|(nodes, (_, preferred))| nodes == &[*preferred]);
            if balanced && since.elapsed() >= quiet {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!(
                    "no stable masters after {timeout:?}: {last:?}\n{}",
                    self.logs_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
            let now = self.holders()?;
            if now != last {
                last = now;
                since = Instant::now();
            }
        }
    }

    pub(crate) fn logs_tail(&self) -> String {
        let mut out = String::new();
        for node in 0..self.daemons.len() {
            let text = std::fs::read_to_string(self.log_path(node)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let _ = writeln!(
                out,
                "--- node{} keepalived log (last 25 lines) ---",
                node + 1
            );
            for line in &lines[lines.len().saturating_sub(25)..] {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        for daemon in self.daemons.iter_mut().flatten() {
            let _ = daemon.kill_group();
        }
    }
}

fn conf(lab: &Lab, node: usize) -> PathBuf {
    lab.dir().join(format!("node{}.conf", node + 1))
}

/// `keepalived` on the PATH (install it with scripts/install-bench-deps.sh),
/// or `KEEPALIVED` from the environment.
pub(crate) fn find_keepalived() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("KEEPALIVED") {
        return Ok(PathBuf::from(path));
    }
    for dir in ["/usr/sbin", "/usr/local/sbin", "/sbin"] {
        let path = Path::new(dir).join("keepalived");
        if path.exists() {
            return Ok(path);
        }
    }
    bail!("keepalived not found (run scripts/install-bench-deps.sh, or set KEEPALIVED)")
}

fn ready(program: &Path, advert_int: f64) -> Result<Keepalived> {
    let mut lab = Keepalived::build(program, advert_int)?;
    lab.start_all()?;
    lab.wait_masters(Duration::from_millis(500), Duration::from_secs(10))?;
    Ok(lab)
}

/// What a round measured, and whether the old master still had the VIP.
struct Round {
    took: Duration,
    left_plumbed: bool,
}

/// SIGKILL of every keepalived process of VIP 0's master (parent and VRRP
/// child at once, as a crash) until the client's neighbour entry for VIP 0
/// names another node.
fn sigkill_round(program: &Path, advert_int: f64) -> Result<Round> {
    let mut k = ready(program, advert_int)?;
    let ip = vip(0);
    let old = 0;
    let client = k.lab.client().context("lab has a client")?.clone();
    k.lab.ping(&client, ip)?;
    let old_mac = k.lab.nodes()[old].mac;
    let start = Instant::now();
    let mut daemon = k.daemons[old].take().context("master not running")?;
    daemon.signal_group(Signal::SIGKILL)?;
    loop {
        let mac = k.lab.neighbour(&client, ip)?;
        if mac.is_some() && mac != Some(old_mac) {
            break;
        }
        if start.elapsed() > Duration::from_secs_f64(5.0 + 4.0 * advert_int) {
            bail!("client still sees {mac:?} after SIGKILL\n{}", k.logs_tail());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    daemon.kill_group()?;
    let left_plumbed = k.holders()?[0].contains(&old);
    Ok(Round { took, left_plumbed })
}

/// SIGTERM of VIP 0's master keepalived (the parent, as a service manager
/// stops it; it stops its VRRP child, which sends priority-0 adverts) until
/// another node has VIP 0 plumbed.
fn sigterm_round(program: &Path, advert_int: f64) -> Result<Round> {
    let k = ready(program, advert_int)?;
    let old = 0;
    let start = Instant::now();
    k.daemons[old]
        .as_ref()
        .context("master not running")?
        .signal(Signal::SIGTERM)?;
    loop {
        let holders = k.holders()?;
        if holders[0].iter().any(|n| *n != old) {
            return Ok(Round {
                took: start.elapsed(),
                left_plumbed: holders[0].contains(&old),
            });
        }
        if start.elapsed() > Duration::from_secs_f64(5.0 + 4.0 * advert_int) {
            bail!("no takeover after SIGTERM\n{}", k.logs_tail());
        }
    }
}

/// `advert_int` in seconds ([`ADVERT_INT`] unless asked otherwise).
pub fn bench(rounds: usize, advert_int: f64) -> Result<()> {
    let program = find_keepalived()?;
    // keepalived's VRRP children outlive a SIGKILLed parent for a moment;
    // reap them here rather than leave zombies.
    become_subreaper()?;
    let version = std::process::Command::new(&program)
        .arg("--version")
        .output()
        .context("running keepalived --version")?;
    let version = String::from_utf8_lossy(&version.stderr);
    println!(
        "{rounds} rounds, 3 nodes, {VIPS} VIPs in {INSTANCES} VRRPv3 instances, advert_int {advert_int}s ({})",
        version.lines().next().unwrap_or("keepalived").trim()
    );
    let mut kill = Vec::new();
    let mut term = Vec::new();
    let mut kill_left = 0;
    let mut term_left = 0;
    for round in 0..rounds {
        let k = sigkill_round(&program, advert_int)?;
        let t = sigterm_round(&program, advert_int)?;
        kill_left += usize::from(k.left_plumbed);
        term_left += usize::from(t.left_plumbed);
        println!(
            "round {round}: SIGKILL -> client switched {:.1} ms (VIP left on the killed node: {}); \
             SIGTERM -> taken over {:.1} ms",
            ms(k.took),
            if k.left_plumbed { "yes" } else { "no" },
            ms(t.took)
        );
        kill.push(k.took);
        term.push(t.took);
    }
    println!(
        "SIGKILL to the client's ARP entry switched: {}",
        summary(&mut kill)
    );
    println!(
        "SIGTERM to the VIP plumbed elsewhere: {}",
        summary(&mut term)
    );
    println!(
        "VIP still plumbed on the old master at takeover: after SIGKILL {kill_left}/{rounds}, after SIGTERM {term_left}/{rounds}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_leads_one_instance() {
        for node in 0..NODES {
            let text = config_text(node, ADVERT_INT);
            assert_eq!(text.matches("vrrp_instance").count(), INSTANCES);
            assert_eq!(text.matches("priority 150").count(), 1);
            assert_eq!(text.matches("priority 100").count(), 1);
            assert_eq!(text.matches("priority 50").count(), 1);
            assert!(text.contains("advert_int 0.2"));
            assert!(text.contains("vrrp_version 3"));
        }
        // Node 1 leads VI_1, which holds VIP 0 (and VIP 3).
        let first = config_text(0, ADVERT_INT);
        let vi1 = &first[first.find("VI_1").unwrap()..first.find("VI_2").unwrap()];
        assert!(vi1.contains("priority 150"));
        assert!(vi1.contains("198.51.100.100/24"));
        assert!(vi1.contains("198.51.100.103/24"));
    }
}
