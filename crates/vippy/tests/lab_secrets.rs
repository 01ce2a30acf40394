//! Rotating the shared secret on real daemons, one node at a time and by
//! reloads alone (docs/OPERATIONS.md, "Rotating the secret"): no address
//! moves (watched with `ip monitor address` in every node namespace) and no
//! datagram is rejected for its tag at any step.

use std::time::Duration;

use vippy_lab::{Cluster, ClusterSpec, Signal};

mod support;
use support::lab::{address_monitor, started, status};

/// Node `i`'s config with its secret line replaced by `secrets`.
fn write_secrets(cluster: &Cluster, i: usize, secrets: &[&str]) {
    let path = cluster.config_path(i);
    let text = std::fs::read_to_string(&path).unwrap();
    let list: Vec<String> = secrets.iter().map(|s| format!("'{s}'")).collect();
    let line = format!("  secrets: [{}],", list.join(", "));
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("secret: ") || l.trim_start().starts_with("secrets: ") {
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
}

fn counter(cluster: &Cluster, i: usize, name: &str) -> u64 {
    status(cluster, i)["counters"][name].as_u64().unwrap_or(0)
}

#[test]
#[ignore = "needs root: network namespaces"]
fn rotating_the_secret_node_by_node_moves_nothing_and_rejects_nothing() {
    vippy_lab::need_root();
    let cluster = started(ClusterSpec::ipv4(3, 3));
    let old = format!("lab-secret-{}", cluster.lab.prefix());
    let new = "the-new-lab-secret";
    let monitors: Vec<_> = (0..3).map(|i| address_monitor(&cluster, i)).collect();
    std::thread::sleep(Duration::from_millis(300)); // subscribed
    let auth_before: Vec<u64> = (0..3)
        .map(|i| counter(&cluster, i, "datagrams_rejected.auth"))
        .collect();

    let steps: [[&str; 2]; 3] = [[&old, new], [new, &old], [new, ""]];
    for (step, secrets) in steps.iter().enumerate() {
        let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
        for i in 0..3 {
            write_secrets(&cluster, i, &secrets);
            cluster.signal(i, Signal::SIGHUP).unwrap();
            std::thread::sleep(Duration::from_secs_f64(cluster.spec.stale * 2.0));
            for j in 0..3 {
                let s = status(&cluster, j);
                let peers = s["peers"].as_array().unwrap();
                let fresh = peers
                    .iter()
                    .filter(|p| {
                        p["last_heard_seconds"].as_f64().unwrap_or(f64::MAX) < cluster.spec.stale
                    })
                    .count();
                assert_eq!(
                    fresh,
                    2,
                    "step {step}, node{} reloaded: node{} {s}",
                    i + 1,
                    j + 1
                );
            }
        }
        if step == 0 {
            // Everyone accepts both and signs with the old one.
            let s = status(&cluster, 0);
            assert!(
                s["peers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|p| p["secret_index"] == 0),
                "{s}"
            );
        }
    }
    let auth_after: Vec<u64> = (0..3)
        .map(|i| counter(&cluster, i, "datagrams_rejected.auth"))
        .collect();
    assert_eq!(
        auth_before, auth_after,
        "datagrams rejected for their tag during the rotation"
    );

    let vips = cluster.vips();
    for (i, (log, mut child)) in monitors.into_iter().enumerate() {
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap();
        let moves: Vec<&str> = text
            .lines()
            .filter(|l| {
                vips.iter().any(|v| {
                    l.contains(&format!(" {v} ")) || l.contains(&format!(" {}/", v.addr()))
                })
            })
            .collect();
        assert!(
            moves.is_empty(),
            "node{} saw VIP addresses change:\n{}\n{}",
            i + 1,
            moves.join("\n"),
            cluster.logs_tail()
        );
    }
}
