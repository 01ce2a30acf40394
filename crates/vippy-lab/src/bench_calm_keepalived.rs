//! The keepalived side of `bench calm`: the same 3-node lab, load and
//! crashes, on Debian's keepalived (VRRPv3) with `advert_int` 0.02 s (it
//! takes centiseconds) and `vrrp_rt_priority` set, as keepalived's answer
//! to fast timers on a busy host. keepalived only ever runs inside the
//! lab's node namespaces.
//!
//! One `vrrp_instance` per group with one IPv6 VIP each, as vippy's groups,
//! but at most 255: a VRID is one byte, so one interface carries at most
//! 255 instances. Group `g`'s preferred node is `g % 3` (priority 150,
//! then 100, then 50; preemption on, so a restarted node takes its
//! instances back, as vippy's failback).
//!
//! `vrrp_rlimit_rttime` is raised from keepalived's 10 ms: at this many
//! instances its real-time VRRP process can use more than that between
//! sleeps, and the kernel then kills it with SIGXCPU.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::bench_calm::{Calm, CalmSpec, INTERVAL, NODES, Outcome, Pinger, epoch, measure};
use crate::keepalived::{Keepalived, find_keepalived};
use crate::lab::{Lab, LabHost, LabSpec};
use crate::process::become_subreaper;

/// The most VRRP instances on one interface.
pub const MAX_INSTANCES: usize = 255;
/// SCHED_RR priority of keepalived's VRRP process, as vippy's `realtime: 10`.
const RT_PRIORITY: u8 = 10;
/// RLIMIT_RTTIME for it, in microseconds.
const RLIMIT_RTTIME_US: u32 = 1_000_000;
const PRIORITIES: [u8; NODES] = [150, 100, 50];

/// Group `g`'s VIP, as vippy's bench uses.
fn vip(g: usize) -> IpAddr {
    format!("2001:db8::1:{g:x}").parse().expect("a VIP")
}

/// keepalived.conf for node `node` with `instances` instances.
pub fn config_text(node: usize, instances: usize) -> String {
    let mut text = format!(
        "# written by vippy-lab bench calm for node{n}\n\
         global_defs {{\n  router_id node{n}\n  vrrp_version 3\n  \
         vrrp_rt_priority {RT_PRIORITY}\n  vrrp_rlimit_rttime {RLIMIT_RTTIME_US}\n  \
         vrrp_no_swap\n}}\n",
        n = node + 1
    );
    for g in 0..instances {
        let rank = (node + NODES - g % NODES) % NODES;
        let _ = write!(
            text,
            "vrrp_instance VI_{g} {{\n  state BACKUP\n  interface eth0\n  \
             virtual_router_id {vrid}\n  priority {prio}\n  advert_int {INTERVAL}\n  \
             garp_master_delay 0\n  virtual_ipaddress {{\n    {vip}/64 dev eth0\n  }}\n}}\n",
            vrid = g + 1,
            prio = PRIORITIES[rank],
            vip = vip(g),
        );
    }
    text
}

/// The instances a run of `groups` groups uses.
pub fn instances(groups: usize) -> usize {
    groups.min(MAX_INSTANCES)
}

/// The keepalived run: built, settled, measured under the same load.
pub(crate) fn run(spec: &CalmSpec, name: &str) -> Result<Outcome> {
    let program = find_keepalived()?;
    // A SIGKILLed parent's VRRP child outlives it for a moment; reap it here.
    become_subreaper()?;
    let n = instances(spec.groups);
    let confs: Vec<String> = (0..NODES).map(|node| config_text(node, n)).collect();
    let vips = (0..n).map(|g| (vip(g), g % NODES)).collect();
    let mut k =
        Keepalived::with_configs(&program, Lab::build(LabSpec::nodes(NODES))?, &confs, vips)?;
    k.start_all()?;
    k.wait_masters(Duration::from_secs(1), Duration::from_secs(30))
        .context("keepalived did not settle before the load")?;
    measure(&mut k, spec, name)
}

impl Calm for Keepalived {
    fn nodes(&self) -> &[LabHost] {
        self.lab.nodes()
    }

    fn dir(&self) -> &Path {
        self.lab.dir()
    }

    fn vips(&self) -> Vec<IpAddr> {
        self.vip_addresses()
    }

    /// VIP 0's master is node 0 (preempt brings it back after each round).
    fn crash(&mut self) -> Result<(f64, Result<()>)> {
        let victim = 0;
        let client = self.lab.client().context("lab has a client")?.clone();
        let mut pinger = Pinger::start(&client.netns, vip(0))?;
        pinger.wait_flowing(vip(0))?;
        let killed_at = epoch();
        let host = self.lab.nodes()[victim].clone();
        self.lab.link_down(&host)?;
        self.kill(victim)?;
        let outage = pinger.outage_since(killed_at);
        pinger.stop();
        let outage = outage?;
        self.lab.link_up(&host)?;
        self.start(victim)?;
        let back = self.wait_masters(Duration::from_millis(500), Duration::from_secs(40));
        Ok((outage, back))
    }

    fn note(&self) -> String {
        format!("keepalived, {} VRRP instances", self.vip_addresses().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_leads_every_third_instance_at_real_time_priority() {
        let text = config_text(1, 6);
        assert_eq!(text.matches("vrrp_instance").count(), 6);
        assert_eq!(text.matches("priority 150").count(), 2);
        assert!(text.contains("vrrp_rt_priority 10"));
        assert!(text.contains("advert_int 0.02"));
        let vi1 = &text[text.find("VI_1 ").unwrap()..text.find("VI_2 ").unwrap()];
        assert!(vi1.contains("priority 150"), "{vi1}");
        assert!(vi1.contains("virtual_router_id 2"));
        assert!(vi1.contains("2001:db8::1:1/64"));
        assert_eq!(instances(1024), 255);
    }
}
