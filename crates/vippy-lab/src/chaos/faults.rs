//! Doing and undoing each fault of the schedule on the running cluster:
//! signals to the daemons, bridge ports, nftables tables of their own (one
//! per fault, so overlapping faults on a host heal one at a time), config
//! files and SIGHUP, and drains through `vippyctl` on the management socket.

use anyhow::{Context, Result, bail};

use super::schedule::{BASE_GROUPS, Fault, FaultKind, LOSS_PERCENT};
use crate::cluster::Cluster;
use crate::command::run_with_stdin;
use crate::lab::{LabHost, format_mac};
use crate::process::Signal;

/// The chat link in every node namespace.
pub const CHAT_IFNAME: &str = "eth0";
/// The VIP LAN in every node namespace and the client's.
pub const VIP_IFNAME: &str = "eth1";
/// The VIP LAN's bridge ports are the chat ports' names with this suffix.
pub const VIP_PORT_SUFFIX: &str = "b";

/// The groups of the pool as config entries: addresses with prefix, and
/// a preferred node.
pub type GroupEntries = Vec<(Vec<String>, Option<usize>)>;

/// What undoing a fault found.
#[derive(Debug, Default)]
pub struct Undone {
    /// The daemon was started again.
    pub restarted: bool,
}

/// What doing a fault found.
#[derive(Debug, Default)]
pub struct Done {
    /// A SIGTERM whose daemon did not exit cleanly in time.
    pub unclean_stop: bool,
}

fn table(fault: &Fault) -> String {
    format!("vippy_chaos_{}", fault.id)
}

/// Starts `fault`. `pool` is every group a config may have.
pub fn begin(cluster: &mut Cluster, fault: &Fault, pool: &GroupEntries) -> Result<Done> {
    let mut done = Done::default();
    match &fault.kind {
        FaultKind::Kill { node } => cluster.kill(*node)?,
        FaultKind::Term { node } => done.unclean_stop = !cluster.terminate(*node)?,
        FaultKind::Stop { node, .. } => cluster.signal(*node, Signal::SIGSTOP)?,
        FaultKind::ChatDown { node } => cluster.lab.link_down(cluster.node(*node))?,
        FaultKind::VipCarrierDown { node } => {
            let port = format!("{}{VIP_PORT_SUFFIX}", cluster.node(*node).port);
            cluster.lab.set_port(&port, false)?;
        }
        FaultKind::Loss { node } => add_rules(
            cluster.node(*node),
            &table(fault),
            &[format!("numgen random mod 100 < {LOSS_PERCENT} drop")],
        )?,
        FaultKind::Partition { side } => {
            let (inside, outside): (Vec<usize>, Vec<usize>) =
                (0..cluster.spec.nodes).partition(|n| side.contains(n));
            cut(cluster, &table(fault), &inside, &outside)?;
            cut(cluster, &table(fault), &outside, &inside)?;
        }
        FaultKind::OneWay { node, deaf } => {
            let others: Vec<usize> = (0..cluster.spec.nodes).filter(|n| n != node).collect();
            if *deaf {
                cut(cluster, &table(fault), &[*node], &others)?;
            } else {
                cut(cluster, &table(fault), &others, &[*node])?;
            }
        }
        FaultKind::Reload {
            node,
            version,
            optional,
        } => {
            let groups = &pool[..BASE_GROUPS + optional];
            for i in 0..cluster.spec.nodes {
                cluster.write_config(i, *version, groups)?;
            }
            cluster.signal(*node, Signal::SIGHUP)?;
        }
        FaultKind::Drain { node } => vippyctl(cluster, *node, "drain")?,
    }
    Ok(done)
}

/// Undoes `fault`.
pub fn end(cluster: &mut Cluster, fault: &Fault) -> Result<Undone> {
    let mut undone = Undone::default();
    match &fault.kind {
        FaultKind::Kill { node } | FaultKind::Term { node } => {
            cluster.start(*node)?;
            undone.restarted = true;
        }
        FaultKind::Stop { node, .. } => cluster.signal(*node, Signal::SIGCONT)?,
        FaultKind::ChatDown { node } => cluster.lab.link_up(cluster.node(*node))?,
        FaultKind::VipCarrierDown { node } => {
            let port = format!("{}{VIP_PORT_SUFFIX}", cluster.node(*node).port);
            cluster.lab.set_port(&port, true)?;
        }
        FaultKind::Loss { .. } | FaultKind::Partition { .. } | FaultKind::OneWay { .. } => {
            for host in cluster.lab.nodes() {
                delete_table(host, &table(fault))?;
            }
        }
        FaultKind::Reload { .. } => {}
        FaultKind::Drain { node } => vippyctl(cluster, *node, "undrain")?,
    }
    Ok(undone)
}

/// `hearers` drop every chat-link frame whose source is one of `speakers`.
fn cut(cluster: &Cluster, table: &str, hearers: &[usize], speakers: &[usize]) -> Result<()> {
    let rules: Vec<String> = speakers
        .iter()
        .map(|&s| format!("ether saddr {} drop", format_mac(&cluster.node(s).mac)))
        .collect();
    for &h in hearers {
        add_rules(cluster.node(h), table, &rules)?;
    }
    Ok(())
}

/// A `netdev` table of the fault's own on the host's chat link, with
/// `rules` on its ingress hook.
fn add_rules(host: &LabHost, table: &str, rules: &[String]) -> Result<()> {
    let mut script = format!(
        "add table netdev {table}\nadd chain netdev {table} ingress {{ type filter hook ingress device \"{CHAT_IFNAME}\" priority -400; policy accept; }}\n"
    );
    for rule in rules {
        script += &format!("add rule netdev {table} ingress {rule}\n");
    }
    nft(host, &script)
}

fn delete_table(host: &LabHost, table: &str) -> Result<()> {
    // `add` first makes the delete succeed where the fault added nothing.
    nft(
        host,
        &format!("add table netdev {table}\ndelete table netdev {table}\n"),
    )
}

fn nft(host: &LabHost, script: &str) -> Result<()> {
    run_with_stdin(
        "ip",
        &["netns", "exec", &host.netns, "nft", "-f", "-"],
        Some(script),
    )
    .with_context(|| format!("nftables in {}", host.name))?;
    Ok(())
}

fn vippyctl(cluster: &Cluster, node: usize, command: &str) -> Result<()> {
    let out = cluster.vippyctl(node, &[command])?;
    if !out.status.success() {
        bail!(
            "vippyctl {command} on node{}: {}",
            node + 1,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
