//! What the lab test files share: the binaries under test,
//! a node's status as JSON, and a started cluster.

use std::time::Duration;

use vippy_lab::{Binaries, Cluster, ClusterSpec};

pub fn bins() -> Binaries {
    Binaries {
        vippyd: env!("CARGO_BIN_EXE_vippyd").into(),
        vippyctl: env!("CARGO_BIN_EXE_vippyctl").into(),
    }
}

/// `vippyctl status --json` of node `i`.
pub fn status(cluster: &Cluster, i: usize) -> serde_json::Value {
    let out = cluster
        .vippyctl(i, &["status", "--json"])
        .expect("vippyctl runs");
    assert!(
        out.status.success(),
        "vippyctl status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status is JSON")
}

/// A cluster of `spec` with every daemon started, converged and settled.
pub fn started(spec: ClusterSpec) -> Cluster {
    let mut cluster = Cluster::build(spec, bins()).expect("lab");
    cluster.start_all().expect("daemons start");
    let all: Vec<usize> = (0..cluster.spec.nodes).collect();
    cluster
        .wait_converged(&all, Duration::from_secs(10))
        .expect("cluster converges");
    cluster
        .wait_settled(Duration::from_secs(1), Duration::from_secs(10))
        .expect("cluster settles");
    cluster
}

/// The single running holder of VIP `v`.
pub fn holder(cluster: &Cluster, v: usize) -> usize {
    let running = cluster.running();
    let h = cluster.holders(&cluster.vips()).unwrap();
    let live: Vec<usize> = h[v]
        .iter()
        .copied()
        .filter(|n| running.contains(n))
        .collect();
    assert_eq!(
        live.len(),
        1,
        "VIP {v} held by {live:?}\n{}",
        cluster.logs_tail()
    );
    live[0]
}

/// `ip -ts monitor address` in node `i`'s namespace, written to a log in
/// the lab directory: every address change, timestamped by the kernel, so a
/// plumb of a few milliseconds is seen. Kill the child to stop it.
pub fn address_monitor(cluster: &Cluster, i: usize) -> (std::path::PathBuf, std::process::Child) {
    let log = cluster.dir().join(format!("monitor{i}.log"));
    let child = std::process::Command::new("ip")
        .args(["-ts", "-n", &cluster.node(i).netns, "monitor", "address"])
        .stdout(std::fs::File::create(&log).expect("monitor log"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ip monitor starts");
    (log, child)
}
