//! `vippy-lab bench [ROUNDS]`: failover as a client sees it, measured on
//! real daemons in the lab. Each round builds a 3-node cluster, and times
//! (a) a SIGKILL of a holder until the client's neighbour entry for its VIP
//! names the new holder, and (b) a SIGTERM of a holder until another node
//! has the VIP plumbed. Results go to docs/BENCHMARKS.md by hand.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cluster::{Binaries, Cluster, ClusterSpec};
use crate::process::Signal;

/// `interval` and `stale` in seconds: `None` for the lab's 0.2 and 0.8.
pub fn bench(rounds: usize, timing: Option<(f64, f64)>) -> Result<()> {
    let bins = Binaries::beside_me()?;
    let mut kill = Vec::new();
    let mut term = Vec::new();
    let mut spec = ClusterSpec::ipv4(3, 6);
    if let Some((interval, stale)) = timing {
        spec.interval = interval;
        spec.stale = stale;
        spec.mature = 3.0 * interval;
    }
    println!(
        "{rounds} rounds, 3 nodes, 6 VIPs, interval {}s, stale {}s",
        spec.interval, spec.stale
    );
    for round in 0..rounds {
        kill.push(sigkill_round(spec.clone(), bins.clone())?);
        term.push(sigterm_round(spec.clone(), bins.clone())?);
        println!(
            "round {round}: SIGKILL -> client switched {:.1} ms; SIGTERM -> taken over {:.1} ms",
            ms(kill[round]),
            ms(term[round])
        );
    }
    println!(
        "SIGKILL to the client's ARP entry switched: {}",
        summary(&mut kill)
    );
    println!(
        "SIGTERM to the VIP plumbed elsewhere: {}",
        summary(&mut term)
    );
    Ok(())
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    let at = |p: f64| ms(samples[((samples.len() - 1) as f64 * p).round() as usize]);
    format!(
        "min {:.1} ms, median {:.1} ms, max {:.1} ms (n={})",
        at(0.0),
        at(0.5),
        at(1.0),
        samples.len()
    )
}

fn ready(spec: ClusterSpec, bins: Binaries) -> Result<Cluster> {
    let mut cluster = Cluster::build(spec, bins)?;
    cluster.start_all()?;
    cluster.wait_converged(&[0, 1, 2], Duration::from_secs(10))?;
    cluster.wait_settled(Duration::from_millis(500), Duration::from_secs(10))?;
    Ok(cluster)
}

fn holder_of_first(cluster: &Cluster) -> Result<usize> {
    let vips = cluster.vips();
    cluster.holders(&vips)?[0]
        .first()
        .copied()
        .context("VIP 0 has no holder")
}

fn sigkill_round(spec: ClusterSpec, bins: Binaries) -> Result<Duration> {
    let mut cluster = ready(spec, bins)?;
    let vip = cluster.vips()[0];
    let old = holder_of_first(&cluster)?;
    cluster.lab.ping(cluster.client(), vip.addr())?;
    let start = Instant::now();
    let limit = Duration::from_secs_f64(5.0 + cluster.spec.stale);
    cluster.kill(old)?;
    cluster.wait_for(limit, |c| {
        let mac = c.client_sees(vip.addr())?;
        Ok(mac.is_some() && mac != Some(c.node(old).mac))
    })?;
    Ok(start.elapsed())
}

fn sigterm_round(spec: ClusterSpec, bins: Binaries) -> Result<Duration> {
    let cluster = ready(spec, bins)?;
    let vip = cluster.vips()[0];
    let old = holder_of_first(&cluster)?;
    let start = Instant::now();
    cluster.signal(old, Signal::SIGTERM)?;
    loop {
        let holders = cluster.holders(&[vip])?;
        if holders[0].iter().any(|n| *n != old) {
            return Ok(start.elapsed());
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(5),
            "no takeover after SIGTERM"
        );
    }
}
