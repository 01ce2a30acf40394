//! A vippy cluster in a lab: real `vippyd` processes in the node
//! namespaces, their configs and sockets in the lab's directory, and the
//! questions tests and the demo ask of it (who holds what, how long a
//! takeover took).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ipnet::IpNet;

use crate::lab::{Lab, LabHost, LabSpec};
use crate::process::{LabProcess, Signal};

/// The cluster's shape.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub nodes: usize,
    /// VIP groups: each a list of addresses with prefix, and an optional
    /// preferred node (index).
    pub groups: Vec<(Vec<String>, Option<usize>)>,
    pub version: u64,
    pub interval: f64,
    pub stale: f64,
    pub mature: f64,
    /// Unicast peers instead of multicast.
    pub unicast: bool,
    pub attacker: bool,
    /// More top-level config, JSON5 members without braces (e.g. `quorum: 2,`).
    pub extra: String,
    /// More top-level config for single nodes: `node_extra[i]` is added to
    /// node `i`'s config after `extra` (e.g. a health check on one node);
    /// nodes past the end get nothing more.
    pub node_extra: Vec<String>,
}

impl ClusterSpec {
    /// `nodes` nodes and `groups` single-VIP IPv4 groups 198.51.100.100 on.
    pub fn ipv4(nodes: usize, groups: usize) -> ClusterSpec {
        ClusterSpec {
            nodes,
            groups: (0..groups)
                .map(|g| (vec![format!("198.51.100.{}/24", 100 + g)], None))
                .collect(),
            version: 1,
            interval: 0.2,
            stale: 0.8,
            mature: 0.6,
            unicast: false,
            attacker: false,
            extra: String::new(),
            node_extra: Vec::new(),
        }
    }

    /// The cluster's secret in `lab` (the attack bench signs with it).
    pub fn secret(lab: &Lab) -> String {
        format!("lab-secret-{}", lab.prefix())
    }

    /// The config text for `node` (index), at `version` with `groups`.
    pub fn config_text(
        &self,
        lab: &Lab,
        node: usize,
        version: u64,
        groups: &[(Vec<String>, Option<usize>)],
    ) -> String {
        let mut vips = String::new();
        for (ips, preferred) in groups {
            vips.push_str("    [");
            if let Some(p) = preferred {
                let _ = write!(vips, "'node{}', ", p + 1);
            }
            let entries: Vec<String> = ips.iter().map(|ip| format!("{{ ip: '{ip}' }}")).collect();
            vips.push_str(&entries.join(", "));
            vips.push_str("],\n");
        }
        let nodes: Vec<String> = (1..=self.nodes).map(|i| format!("'node{i}'")).collect();
        let peers = if self.unicast {
            let list: Vec<String> = lab
                .nodes()
                .iter()
                .map(|h| format!("{}: '{}:5007'", h.name, h.ipv4))
                .collect();
            format!("  peers: {{ {} }},\n", list.join(", "))
        } else {
            String::new()
        };
        let chat = if self.unicast {
            "0.0.0.0:5007"
        } else {
            "239.1.1.1:5007"
        };
        let socket = lab.dir().join(format!("node{}.sock", node + 1));
        let node_extra = self.node_extra.get(node).map_or("", String::as_str);
        format!(
            "// written by vippy-lab for node{n}\n{{\n  chat: '{chat}',\n  secret: '{secret}',\n  version: {version},\n  vips: [\n{vips}  ],\n  nodes: [{nodes}],\n  interval: {interval},\n  stale: {stale},\n  mature: {mature},\n  management: '{socket}',\n  garp: {{ count: 2, interval: 0.5 }},\n{peers}{extra}{node_extra}\n}}\n",
            n = node + 1,
            secret = Self::secret(lab),
            nodes = nodes.join(", "),
            interval = self.interval,
            stale = self.stale,
            mature = self.mature,
            socket = socket.display(),
            extra = self.extra,
        )
    }
}

/// Where the binaries are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub vippyd: PathBuf,
    pub vippyctl: PathBuf,
}

impl Binaries {
    /// Beside the running executable (target/…/vippy-lab), or `VIPPYD` /
    /// `VIPPYCTL` from the environment.
    pub fn beside_me() -> Result<Binaries> {
        let me = std::env::current_exe().context("finding this executable")?;
        let dir = me.parent().context("executable has no directory")?;
        let find = |env: &str, name: &str| -> Result<PathBuf> {
            if let Ok(path) = std::env::var(env) {
                return Ok(PathBuf::from(path));
            }
            let path = dir.join(name);
            if path.exists() {
                Ok(path)
            } else {
                bail!(
                    "{name} not found beside {} (build it with `cargo build --release --bins`, or set {env})",
                    me.display()
                )
            }
        };
        Ok(Binaries {
            vippyd: find("VIPPYD", "vippyd")?,
            vippyctl: find("VIPPYCTL", "vippyctl")?,
        })
    }
}

/// A running cluster. Dropping it stops the daemons and tears the lab down.
pub struct Cluster {
    pub spec: ClusterSpec,
    pub bins: Binaries,
    // Daemons drop before the lab, so they are killed before namespaces go.
    daemons: Vec<Option<LabProcess>>,
    pub lab: Lab,
}

impl Cluster {
    /// Builds the lab and writes every node's config; starts no daemon.
    pub fn build(spec: ClusterSpec, bins: Binaries) -> Result<Cluster> {
        let lab = Lab::build(LabSpec {
            nodes: spec.nodes,
            client: true,
            attacker: spec.attacker,
            ipv6: true,
            family: None,
        })?;
        let cluster = Cluster {
            daemons: (0..spec.nodes).map(|_| None).collect(),
            spec,
            bins,
            lab,
        };
        for i in 0..cluster.spec.nodes {
            cluster.write_config(i, cluster.spec.version, &cluster.spec.groups.clone())?;
        }
        Ok(cluster)
    }

    pub fn node(&self, i: usize) -> &LabHost {
        &self.lab.nodes()[i]
    }

    pub fn client(&self) -> &LabHost {
        self.lab.client().expect("clusters have a client")
    }

    pub fn config_path(&self, i: usize) -> PathBuf {
        self.lab.dir().join(format!("node{}.conf", i + 1))
    }

    pub fn socket(&self, i: usize) -> PathBuf {
        self.lab.dir().join(format!("node{}.sock", i + 1))
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.lab.dir().join(format!("node{}.log", i + 1))
    }

    pub fn write_config(
        &self,
        i: usize,
        version: u64,
        groups: &[(Vec<String>, Option<usize>)],
    ) -> Result<()> {
        let text = self.spec.config_text(&self.lab, i, version, groups);
        std::fs::write(self.config_path(i), text).context("writing a node config")
    }

    /// Starts (or restarts) node `i`'s daemon.
    pub fn start(&mut self, i: usize) -> Result<()> {
        self.start_with(i, &[])
    }

    /// Starts (or restarts) node `i`'s daemon with more `vippyd` arguments
    /// after `-c FILE -n NODE` (e.g. `["-p", PROGRAM]`).
    pub fn start_with(&mut self, i: usize, args: &[&str]) -> Result<()> {
        self.start_env(i, args, &[])
    }

    /// Like [`Cluster::start_with`], with more environment (e.g. libfaketime's).
    pub fn start_env(&mut self, i: usize, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
        let config = self.config_path(i).display().to_string();
        let name = format!("node{}", i + 1);
        let host = self.lab.nodes()[i].clone();
        // VIPPY_LAB_LOG=debug shows the daemons' debug lines in the logs.
        let level = std::env::var("VIPPY_LAB_LOG").unwrap_or_else(|_| "info".into());
        let mut argv = vec!["-c", config.as_str(), "-n", name.as_str()];
        argv.extend_from_slice(args);
        let process = self.lab.spawn(
            &host,
            &self.bins.vippyd,
            &argv,
            &[&[("VIPPY_LOG", level.as_str())], env].concat(),
            &self.log_path(i),
        )?;
        self.daemons[i] = Some(process);
        Ok(())
    }

    pub fn start_all(&mut self) -> Result<()> {
        for i in 0..self.spec.nodes {
            self.start(i)?;
        }
        Ok(())
    }

    /// The process id of node `i`'s daemon, if it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.daemons[i].as_ref().map(LabProcess::pid)
    }

    pub fn daemon(&mut self, i: usize) -> Option<&mut LabProcess> {
        self.daemons[i].as_mut()
    }

    pub fn signal(&self, i: usize, signal: Signal) -> Result<()> {
        self.daemons[i]
            .as_ref()
            .context("daemon not running")?
            .signal(signal)
    }

    /// SIGKILL: the daemon dies; its addresses stay in the kernel, as after
    /// a real crash of the process (not of the machine).
    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut p) = self.daemons[i].take() {
            p.kill()?;
        }
        Ok(())
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self, i: usize) -> Result<bool> {
        let Some(mut p) = self.daemons[i].take() else {
            return Ok(false);
        };
        let (status, in_time) = p.terminate(Duration::from_secs(3))?;
        Ok(in_time && status.success())
    }

    /// Every VIP of the spec's groups (first address of each group).
    pub fn vips(&self) -> Vec<IpNet> {
        self.spec
            .groups
            .iter()
            .filter_map(|(ips, _)| ips.first()?.parse().ok())
            .collect()
    }

    /// For each VIP, the nodes (indices) that have it on their interface.
    pub fn holders(&self, vips: &[IpNet]) -> Result<Vec<Vec<usize>>> {
        let mut holders = vec![Vec::new(); vips.len()];
        for (i, host) in self.lab.nodes().iter().enumerate() {
            let addresses = self.lab.addresses(host)?;
            for (v, vip) in vips.iter().enumerate() {
                if addresses.iter().any(|a| a.addr() == vip.addr()) {
                    holders[v].push(i);
                }
            }
        }
        Ok(holders)
    }

    /// Polls `check` until it returns true or `timeout` passes; returns how
    /// long it took.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Cluster) -> Result<bool>,
    ) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if check(self)? {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!("condition not met within {timeout:?}\n{}", self.logs_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Nodes whose daemon runs (a SIGKILLed daemon's addresses stay in its
    /// kernel, as after a real process crash, so holders are counted among
    /// these).
    pub fn running(&self) -> Vec<usize> {
        (0..self.spec.nodes)
            .filter(|&i| self.daemons[i].is_some())
            .collect()
    }

    /// Whether every VIP is held by exactly one running daemon, one of `eligible`.
    pub fn converged(&self, eligible: &[usize]) -> Result<bool> {
        let running = self.running();
        let holders = self.holders(&self.vips())?;
        Ok(holders.iter().all(|nodes| {
            let live: Vec<usize> = nodes
                .iter()
                .copied()
                .filter(|n| running.contains(n))
                .collect();
            live.len() == 1 && eligible.contains(&live[0])
        }))
    }

    /// Waits until [`Cluster::converged`].
    pub fn wait_converged(&self, eligible: &[usize], timeout: Duration) -> Result<Duration> {
        self.wait_for(timeout, |c| c.converged(eligible))
    }

    /// Waits until no VIP has changed hands for `quiet` (late starters have
    /// taken their share), at most `timeout`.
    pub fn wait_settled(&self, quiet: Duration, timeout: Duration) -> Result<()> {
        let vips = self.vips();
        let mut last = self.holders(&vips)?;
        let mut since = Instant::now();
        let start = Instant::now();
        while since.elapsed() < quiet {
            if start.elapsed() > timeout {
                bail!("VIPs still moving after {timeout:?}\n{}", self.logs_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
            let now = self.holders(&vips)?;
            if now != last {
                last = now;
                since = Instant::now();
            }
        }
        Ok(())
    }

    /// The client's neighbour entry for `ip`.
    pub fn client_sees(&self, ip: IpAddr) -> Result<Option<[u8; 6]>> {
        self.lab.neighbour(self.client(), ip)
    }

    /// `vippyctl -s SOCK ARGS…` run in node `i`'s namespace.
    pub fn vippyctl(&self, i: usize, args: &[&str]) -> Result<std::process::Output> {
        let socket = self.socket(i).display().to_string();
        let mut cmd: Vec<&str> = vec![self.bins.vippyctl.to_str().context("path")?, "-s", &socket];
        cmd.extend_from_slice(args);
        self.lab.exec(self.node(i), &cmd)
    }

    /// `curl -sS --unix-socket SOCK ARGS…` run in node `i`'s namespace, on
    /// node `i`'s management socket; `args` end with the URL (the host is
    /// ignored: `http://localhost/status`).
    pub fn curl(&self, i: usize, args: &[&str]) -> Result<std::process::Output> {
        let socket = self.socket(i).display().to_string();
        let mut cmd: Vec<&str> = vec!["curl", "-sS", "--unix-socket", &socket];
        cmd.extend_from_slice(args);
        self.lab.exec(self.node(i), &cmd)
    }

    /// The last lines of every node's log, for failure messages.
    pub fn logs_tail(&self) -> String {
        let mut out = String::new();
        for i in 0..self.spec.nodes {
            let text = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let _ = writeln!(out, "--- node{} log (last 25 lines) ---", i + 1);
            for line in &lines[lines.len().saturating_sub(25)..] {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }

    pub fn dir(&self) -> &Path {
        self.lab.dir()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for daemon in self.daemons.iter_mut().flatten() {
            let _ = daemon.kill();
        }
    }
}
