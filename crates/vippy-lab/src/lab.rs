//! The lab's shape: a switch namespace holding a bridge, and one namespace per
//! host (nodes, an optional client and attacker) joined to it by a veth pair.
//! Built by [`Lab::build`], torn down when the [`Lab`] drops.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail, ensure};

use crate::command::run;
use crate::netns::{kill_all, netns_add, netns_delete, processes_in, sysctl};
use crate::process::LabProcess;
use crate::sweep::{DEFAULT_FAMILY, sweep};

/// The name of the lab interface inside every host namespace.
pub const HOST_IFNAME: &str = "eth0";
/// The bridge inside the switch namespace.
pub const BRIDGE: &str = "br0";
/// The most nodes a lab holds (their addresses are 198.51.100.11 up to .110).
pub const MAX_NODES: usize = 100;

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabSpec {
    /// Node hosts, named node1…nodeN.
    pub nodes: usize,
    /// A client host (198.51.100.200, 2001:db8::200).
    pub client: bool,
    /// An attacker host (198.51.100.250, 2001:db8::250).
    pub attacker: bool,
    /// Give hosts IPv6 addresses (2001:db8::/64) besides IPv4 (198.51.100.0/24).
    pub ipv6: bool,
    /// The family of names (default `vl-`); [`sweep`] works per family.
    pub family: Option<String>,
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            nodes: 3,
            client: true,
            attacker: false,
            ipv6: true,
            family: None,
        }
    }
}

impl LabSpec {
    /// `nodes` nodes and a client, IPv4 and IPv6.
    pub fn nodes(nodes: usize) -> Self {
        LabSpec {
            nodes,
            ..LabSpec::default()
        }
    }
}

/// One host of the lab: a namespace with one interface on the lab's bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// `node1`…, `client` or `attacker`.
    pub name: String,
    /// The host's namespace, e.g. `vl-4242-0-n1`.
    pub netns: String,
    /// The lab interface inside the namespace (`eth0`).
    pub ifname: String,
    /// The host end's peer on the bridge, in the switch namespace (`n1`).
    pub port: String,
    /// 198.51.100.x/24.
    pub ipv4: Ipv4Addr,
    /// 2001:db8::x/64, when the lab has IPv6.
    pub ipv6: Option<Ipv6Addr>,
    /// The MAC address of `ifname`, `02:76:6c:00:00:x` (x = the host octet).
    pub mac: [u8; 6],
}

/// A built lab. Dropping it kills every process left in its namespaces,
/// deletes the namespaces (and with them every veth and the bridge) and
/// removes its directory (kept, and its path printed, if the thread is
/// panicking, so a failed test's logs can be read; a later sweep removes it).
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    family: String,
    switch: String,
    nodes: Vec<LabHost>,
    client: Option<LabHost>,
    attacker: Option<LabHost>,
    dir: PathBuf,
    /// Namespaces made so far, in creation order (deleted in reverse).
    made: Vec<String>,
}

static LABS_BUILT: AtomicU32 = AtomicU32::new(0);

impl Lab {
    /// Sweeps leftovers of the family, then builds the lab.
    pub fn build(spec: LabSpec) -> Result<Lab> {
        ensure!(
            nix::unistd::geteuid().is_root(),
            "the lab must run as root (it creates network namespaces)"
        );
        ensure!(
            spec.nodes <= MAX_NODES,
            "a lab holds at most {MAX_NODES} nodes"
        );
        let family = spec
            .family
            .clone()
            .unwrap_or_else(|| DEFAULT_FAMILY.to_string());
        ensure!(
            !family.is_empty()
                && family.len() <= 16
                && family
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "lab family {family:?}: 1 to 16 characters of [A-Za-z0-9-]"
        );
        sweep(&family);

        let seq = LABS_BUILT.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{family}{}-{seq}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut lab = Lab {
            switch: format!("{prefix}-sw"),
            prefix,
            family,
            nodes: Vec::new(),
            client: None,
            attacker: None,
            dir,
            made: Vec::new(),
        };
        // On any error below, dropping `lab` removes what was made so far.
        lab.build_switch()?;
        for i in 1..=spec.nodes {
            let host = lab.add_host(
                &format!("node{i}"),
                &format!("n{i}"),
                10 + i as u8,
                spec.ipv6,
            )?;
            lab.nodes.push(host);
        }
        if spec.client {
            lab.client = Some(lab.add_host("client", "c", 200, spec.ipv6)?);
        }
        if spec.attacker {
            lab.attacker = Some(lab.add_host("attacker", "x", 250, spec.ipv6)?);
        }
        Ok(lab)
    }

    fn build_switch(&mut self) -> Result<()> {
        let sw = self.switch.clone();
        netns_add(&sw)?;
        self.made.push(sw.clone());
        // The switch only forwards: no IPv6 of its own, so it sends no
        // router solicitations, MLD reports or DAD probes into the lab.
        sysctl(&sw, "net.ipv6.conf.all.disable_ipv6", "1")?;
        sysctl(&sw, "net.ipv6.conf.default.disable_ipv6", "1")?;
        // No multicast snooping, so chat multicast floods to every port, as
        // on a plain switch.
        run(
            "ip",
            &[
                "-n",
                &sw,
                "link",
                "add",
                BRIDGE,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
                "stp_state",
                "0",
            ],
        )?;
        run("ip", &["-n", &sw, "link", "set", BRIDGE, "up"])?;
        Ok(())
    }

    fn add_host(&mut self, name: &str, role: &str, octet: u8, ipv6: bool) -> Result<LabHost> {
        let netns = format!("{}-{role}", self.prefix);
        netns_add(&netns)?;
        self.made.push(netns.clone());
        let mac = [0x02, 0x76, 0x6c, 0x00, 0x00, octet];
        let mac_text = format_mac(&mac);
        // Both ends are made from inside the switch namespace, so no name
        // ever exists in the host's own namespace, even for a moment.
        run(
            "ip",
            &[
                "-n",
                &self.switch,
                "link",
                "add",
                role,
                "type",
                "veth",
                "peer",
                "name",
                HOST_IFNAME,
                "address",
                &mac_text,
                "netns",
                &netns,
            ],
        )?;
        run(
            "ip",
            &[
                "-n",
                &self.switch,
                "link",
                "set",
                role,
                "master",
                BRIDGE,
                "up",
            ],
        )?;

        // Addresses are usable at once: no duplicate address detection.
        for scope in ["all", "default", HOST_IFNAME] {
            sysctl(&netns, &format!("net.ipv6.conf.{scope}.accept_dad"), "0")?;
            sysctl(
                &netns,
                &format!("net.ipv6.conf.{scope}.router_solicitations"),
                "0",
            )?;
        }
        let ipv4 = Ipv4Addr::new(198, 51, 100, octet);
        run(
            "ip",
            &[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{ipv4}/24"),
                "dev",
                HOST_IFNAME,
            ],
        )?;
        let ipv6 = if ipv6 {
            let addr: Ipv6Addr = format!("2001:db8::{octet}")
                .parse()
                .context("lab IPv6 address")?;
            run(
                "ip",
                &[
                    "-n",
                    &netns,
                    "-6",
                    "addr",
                    "add",
                    &format!("{addr}/64"),
                    "dev",
                    HOST_IFNAME,
                    "nodad",
                ],
            )?;
            Some(addr)
        } else {
            None
        };
        run("ip", &["-n", &netns, "link", "set", HOST_IFNAME, "up"])?;
        // Lets tools that send to 239.0.0.0/8 without naming an interface work.
        run(
            "ip",
            &[
                "-n",
                &netns,
                "route",
                "add",
                "224.0.0.0/4",
                "dev",
                HOST_IFNAME,
            ],
        )?;
        Ok(LabHost {
            name: name.to_string(),
            netns,
            ifname: HOST_IFNAME.to_string(),
            port: role.to_string(),
            ipv4,
            ipv6,
            mac,
        })
    }

    /// The nodes, node1 first.
    pub fn nodes(&self) -> &[LabHost] {
        &self.nodes
    }

    /// The client host, if the spec asked for one.
    pub fn client(&self) -> Option<&LabHost> {
        self.client.as_ref()
    }

    /// The attacker host, if the spec asked for one.
    pub fn attacker(&self) -> Option<&LabHost> {
        self.attacker.as_ref()
    }

    /// Every host: nodes, then client, then attacker.
    pub fn hosts(&self) -> impl Iterator<Item = &LabHost> {
        self.nodes
            .iter()
            .chain(self.client.iter())
            .chain(self.attacker.iter())
    }

    /// The host with this name (`node2`, `client`…).
    pub fn host(&self, name: &str) -> Option<&LabHost> {
        self.hosts().find(|h| h.name == name)
    }

    /// The namespace holding the bridge.
    pub fn switch_netns(&self) -> &str {
        &self.switch
    }

    /// Every namespace of the lab, switch first.
    pub fn namespaces(&self) -> &[String] {
        &self.made
    }

    /// The lab's name prefix, e.g. `vl-4242-0`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The family this lab's names belong to.
    pub fn family(&self) -> &str {
        &self.family
    }

    /// A directory for configs, logs and sockets, removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts `program` inside the host's namespace (through `ip netns exec`,
    /// which execs it, so the child's pid is the program's), stdout and
    /// stderr appended to `log`.
    pub fn spawn(
        &self,
        host: &LabHost,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<LabProcess> {
        self.spawn_inner(host, program, args, env, log, false)
    }

    /// Like [`Lab::spawn`], but the program leads a process group of its
    /// own, so [`LabProcess::signal_group`] reaches it and every child it
    /// forks (for daemons that fork workers, like keepalived).
    pub fn spawn_group(
        &self,
        host: &LabHost,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<LabProcess> {
        self.spawn_inner(host, program, args, env, log, true)
    }

    fn spawn_inner(
        &self,
        host: &LabHost,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        log: &Path,
        group: bool,
    ) -> Result<LabProcess> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening log {}", log.display()))?;
        let err = out.try_clone().context("cloning log handle")?;
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &host.netns])
            .arg(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if group {
            command.process_group(0);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {} in {}", program.display(), host.netns))?;
        Ok(LabProcess::new(child, host.name.clone(), log.to_path_buf()))
    }

    /// Runs a command inside the host's namespace and returns its output,
    /// whatever its exit status.
    pub fn exec(&self, host: &LabHost, cmd: &[&str]) -> Result<Output> {
        let (program, args) = cmd.split_first().context("exec: empty command")?;
        Command::new("ip")
            .args(["netns", "exec", &host.netns, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {cmd:?} in {}", host.netns))
    }

    /// A veth pair added while the lab runs, both ends up: `name` in `host`,
    /// `peer_name` in `peer` (the same host for a second interface there).
    /// It goes with the namespaces when the lab drops.
    pub fn add_veth(
        &self,
        host: &LabHost,
        name: &str,
        peer: &LabHost,
        peer_name: &str,
    ) -> Result<()> {
        let add = ["ip", "link", "add", name, "type", "veth"];
        let other_end = ["peer", "name", peer_name, "netns", &peer.netns];
        self.exec_ok(host, &[&add[..], &other_end[..]].concat())?;
        self.exec_ok(host, &["ip", "link", "set", name, "up"])?;
        self.exec_ok(peer, &["ip", "link", "set", peer_name, "up"])?;
        Ok(())
    }

    /// A second LAN: a bridge `bridge` in the switch namespace and, for
    /// every node and the client, a veth whose host end is `ifname`
    /// (203.0.113.x/24, the host's octet; MAC `02:76:6c:00:01:x`) and whose
    /// bridge end is `<port><suffix>` (`n1b` for node1 with suffix `b`).
    /// Returns the bridge ends by host name. It goes with the namespaces.
    pub fn add_lan(
        &self,
        bridge: &str,
        ifname: &str,
        suffix: &str,
    ) -> Result<Vec<(String, String)>> {
        let sw = self.switch.clone();
        run(
            "ip",
            &[
                "-n",
                &sw,
                "link",
                "add",
                bridge,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
                "stp_state",
                "0",
            ],
        )?;
        run("ip", &["-n", &sw, "link", "set", bridge, "up"])?;
        let mut ports = Vec::new();
        for host in self.hosts() {
            let port = format!("{}{suffix}", host.port);
            let octet = host.ipv4.octets()[3];
            let mac = format_mac(&[0x02, 0x76, 0x6c, 0x00, 0x01, octet]);
            run(
                "ip",
                &[
                    "-n",
                    &sw,
                    "link",
                    "add",
                    &port,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    ifname,
                    "address",
                    &mac,
                    "netns",
                    &host.netns,
                ],
            )?;
            run(
                "ip",
                &["-n", &sw, "link", "set", &port, "master", bridge, "up"],
            )?;
            let addr = format!("203.0.113.{octet}/24");
            run(
                "ip",
                &["-n", &host.netns, "addr", "add", &addr, "dev", ifname],
            )?;
            run("ip", &["-n", &host.netns, "link", "set", ifname, "up"])?;
            ports.push((host.name.clone(), port));
        }
        Ok(ports)
    }

    /// Sets a bridge-side port (in the switch namespace) up or down: the
    /// host's end stays administratively up and loses or regains carrier.
    pub fn set_port(&self, port: &str, up: bool) -> Result<()> {
        let state = if up { "up" } else { "down" };
        run("ip", &["-n", &self.switch, "link", "set", port, state])?;
        Ok(())
    }

    /// Like [`Lab::exec`], failing unless the command exits with status 0.
    pub fn exec_ok(&self, host: &LabHost, cmd: &[&str]) -> Result<Output> {
        let output = self.exec(host, cmd)?;
        if !output.status.success() {
            bail!(
                "{cmd:?} in {} failed ({}): {}",
                host.name,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(output)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Every process of every namespace found first, then all killed:
        // killed one namespace at a time, the last daemons lived long
        // enough to see the others go stale and take their groups, a
        // cascade that filled kept logs with noise.
        let pids: Vec<i32> = self.made.iter().flat_map(|ns| processes_in(ns)).collect();
        kill_all(&pids);
        // Hosts first, the switch last.
        for ns in self.made.iter().rev() {
            if let Err(e) = netns_delete(ns) {
                eprintln!("vippy-lab: {e:#}");
            }
        }
        if std::thread::panicking() || std::env::var_os("VIPPY_LAB_KEEP").is_some() {
            eprintln!(
                "vippy-lab: lab {} failed; its files are kept in {}",
                self.prefix,
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `02:76:6c:00:00:0b` form.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `02:76:6c:00:00:0b`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_round_trip() {
        let mac = [0x02, 0x76, 0x6c, 0, 0, 0x0b];
        assert_eq!(format_mac(&mac), "02:76:6c:00:00:0b");
        assert_eq!(parse_mac("02:76:6c:00:00:0b"), Some(mac));
        assert_eq!(parse_mac("02:76:6c:00:00"), None);
        assert_eq!(parse_mac("02:76:6c:00:00:0b:01"), None);
        assert_eq!(parse_mac("zz:76:6c:00:00:0b"), None);
    }
}
