//! The network-namespace lab: a switch namespace with a bridge, node, client
//! and attacker namespaces on it, processes inside them, faults, and a sweep
//! of what earlier runs left. Everything that sends packets in vippy's tests
//! runs here, never in the host's own namespace. See docs/LAB.md.
//!
//! # Layout
//! - `lab.rs`: [`LabSpec`], [`Lab`] (build, drop, spawn, exec), [`LabHost`]
//! - `netns.rs`: named namespaces and [`in_netns`]
//! - `process.rs`: [`LabProcess`], signals and orderly stop
//! - `fault.rs`: link down, isolation, partitions, multicast drop, loss
//! - `probe.rs`: addresses, neighbours and ping as `ip`/`ping` see them
//! - `sweep.rs`: removing leftovers of dead runs
//! - `keepalived.rs`: the same failover bench on keepalived (VRRP), for comparison
//! - `bench_scale.rs`: thousands of VIPs: cold start, re-homing, idle cost
//! - `bench_calm.rs`: 20 ms timers on a saturated machine: false failovers
//!   and crash outage, vippy with `realtime` and without
//! - `bench_calm_keepalived.rs`: the same on keepalived with `vrrp_rt_priority`
//! - `monitor.rs`: address changes as netlink events (`ip -ts monitor`)
//! - `cluster.rs`: [`Cluster`]: real vippyd daemons in the lab, and what they hold
//! - `command.rs`: running `ip` and `nft` with useful errors
//! - `attack.rs`: the attacker: capture the chat, forge, replay, tamper, flood
//! - `witness.rs`: what the attack bench reads from outside the daemons
//! - `bench_attack.rs`: `vippy-lab bench attack`, its table
//! - `plot.rs`: the attack bench's ownership plot and the chaos outage plot (SVG)
//! - `chaos/`: `vippy-lab chaos`: seeded overlapping faults on five daemons,
//!   invariants checked from outside

pub mod attack;
pub mod bench;
pub mod bench_attack;
pub mod bench_calm;
pub mod bench_calm_keepalived;
pub mod bench_scale;
pub mod chaos;
mod cluster;
mod command;
pub mod demo;
mod fault;
pub mod keepalived;
mod lab;
mod monitor;
mod netns;
mod plot;
mod probe;
mod process;
mod sweep;
pub mod witness;

pub use cluster::{Binaries, Cluster, ClusterSpec};
pub use fault::NFT_TABLE;
pub use lab::{BRIDGE, HOST_IFNAME, Lab, LabHost, LabSpec, MAX_NODES, format_mac, parse_mac};
pub use monitor::{AddressEvent, AddressMonitor};
pub use netns::{NETNS_DIR, in_netns, netns_exists, netns_list, netns_path};
pub use probe::{parse_addresses, parse_neighbour};
pub use process::{LabProcess, Signal, become_subreaper, process_ended};
pub use sweep::{DEFAULT_FAMILY, Swept, owner_pid, sweep};

/// Whether this process runs as root (the lab needs it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The first line of every test marked `#[ignore = "needs root: …"]`: run
/// without root (`cargo test -- --include-ignored` as a user), it fails at
/// once and says why, instead of somewhere inside the lab.
pub fn need_root() {
    assert!(
        is_root(),
        "this test needs root (it builds network namespaces or runs commands as another user); scripts/test.sh runs it as root"
    );
}
