//! `vippy-lab demo`: the README's first command. A 3-node cluster with 6
//! VIPs in network namespaces, who owns what, a SIGKILL of the node holding
//! the most, the failover as the client sees it, timed, then teardown.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cluster::{Binaries, Cluster, ClusterSpec};
use crate::lab::format_mac;

pub fn demo() -> Result<()> {
    let started = Instant::now();
    let bins = Binaries::beside_me()?;
    let mut spec = ClusterSpec::ipv4(3, 6);
    spec.groups[5].1 = Some(2); // the last VIP prefers node3
    println!(
        "building a lab: a switch namespace, 3 node namespaces and a client, on 198.51.100.0/24"
    );
    let mut cluster = Cluster::build(spec, bins)?;
    cluster.start_all()?;
    let all = [0, 1, 2];
    let boot = cluster.wait_converged(&all, Duration::from_secs(10))?;
    println!(
        "cluster up: every VIP held exactly once, {:.2}s after start",
        boot.as_secs_f64()
    );
    cluster.wait_settled(Duration::from_secs(1), Duration::from_secs(10))?;
    println!("settled: no VIP has moved for a second\n");
    print_table(&cluster)?;

    // Kill the node that holds the most.
    let vips = cluster.vips();
    let holders = cluster.holders(&vips)?;
    let victim = (0..3)
        .max_by_key(|n| holders.iter().filter(|h| h.contains(n)).count())
        .unwrap_or(0);
    let moved: Vec<usize> = (0..vips.len())
        .filter(|&v| holders[v].contains(&victim))
        .collect();
    let victim_mac = cluster.node(victim).mac;
    if std::env::var_os("VIPPY_DEMO_DEBUG").is_some() && moved.len() > 2 {
        println!(
            "ANOMALY: node{} holds {} pid {:?}",
            victim + 1,
            moved.len(),
            cluster.daemon(victim).map(|d| d.pid())
        );
        std::thread::sleep(Duration::from_secs(60));
    }
    for &v in &moved {
        // The client talks to it first, so its neighbour entry points at the victim.
        cluster.lab.ping(cluster.client(), vips[v].addr())?;
    }
    println!(
        "\nSIGKILL node{} (holds {} VIPs; the client's ARP entries point at {})",
        victim + 1,
        moved.len(),
        format_mac(&victim_mac)
    );
    let killed = Instant::now();
    cluster.kill(victim)?;
    let survivors: Vec<usize> = all.iter().copied().filter(|&n| n != victim).collect();
    let plumbed = cluster.wait_converged(&survivors, Duration::from_secs(10))?;
    // The client's view: its neighbour entries now name the new holders.
    let wait = cluster.wait_for(Duration::from_secs(10), |c| {
        let holders = c.holders(&vips)?;
        for &v in &moved {
            let new = holders[v]
                .iter()
                .find(|n| **n != victim)
                .context("no new holder")?;
            if c.client_sees(vips[v].addr())? != Some(c.node(*new).mac) {
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    let switched = killed.elapsed();
    let _ = wait;
    let mut reachable = 0;
    for &v in &moved {
        if cluster.lab.ping(cluster.client(), vips[v].addr())? {
            reachable += 1;
        }
    }
    println!(
        "failover: VIPs plumbed on the survivors after {:.3}s; the client's ARP entries switched after {:.3}s; {reachable}/{} moved VIPs answer ping",
        plumbed.as_secs_f64(),
        switched.as_secs_f64(),
        moved.len()
    );
    println!(
        "(stale is {}s: the survivors stop hearing node{} and take over at that deadline)\n",
        cluster.spec.stale,
        victim + 1
    );
    print_table(&cluster)?;
    println!(
        "\ntearing down (namespaces, links, processes); total {:.1}s",
        started.elapsed().as_secs_f64()
    );
    drop(cluster);
    Ok(())
}

fn print_table(cluster: &Cluster) -> Result<()> {
    let vips = cluster.vips();
    let holders = cluster.holders(&vips)?;
    let running = cluster.running();
    println!(
        "  {:<20} {:<10} {:<10} client's ARP entry",
        "VIP", "held by", "preferred"
    );
    for (v, vip) in vips.iter().enumerate() {
        let live: Vec<String> = holders[v]
            .iter()
            .filter(|n| running.contains(n))
            .map(|n| format!("node{}", n + 1))
            .collect();
        let preferred = cluster.spec.groups[v]
            .1
            .map(|p| format!("node{}", p + 1))
            .unwrap_or_else(|| "-".into());
        let seen = match cluster.client_sees(vip.addr())? {
            Some(mac) => {
                let owner = cluster
                    .lab
                    .nodes()
                    .iter()
                    .find(|h| h.mac == mac)
                    .map(|h| h.name.clone())
                    .unwrap_or_default();
                format!("{} ({owner})", format_mac(&mac))
            }
            None => "-".into(),
        };
        let held = if live.is_empty() {
            "(unowned)".to_string()
        } else {
            live.join(",")
        };
        println!(
            "  {:<20} {:<10} {:<10} {seen}",
            vip.to_string(),
            held,
            preferred
        );
    }
    Ok(())
}
