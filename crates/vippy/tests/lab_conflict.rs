//! Address conflicts on the LAN: a host outside the cluster (the lab's
//! attacker namespace) with a VIP configured by hand is reported by the
//! vippyd holding it, with that host's MAC, in status, `vippyctl status`
//! and the metrics, for IPv4 (ARP probe) and IPv6 (DAD solicitation); and
//! without any extra announcements (no ARP war). Vippy nodes taking a VIP
//! from each other, a killed one still answering for it included, are no
//! conflict.

use std::time::{Duration, Instant};

use vippy_lab::{Cluster, ClusterSpec, format_mac};

mod support;
use support::lab::{started, status};

const V4: &str = "198.51.100.100";
const V6: &str = "2001:db8::100";

/// One group with an IPv4 and an IPv6 VIP, `arp-cache` seconds between
/// probe rounds.
fn spec(nodes: usize, arp_cache: f64) -> ClusterSpec {
    let mut spec = ClusterSpec::ipv4(nodes, 0);
    spec.groups = vec![(vec![format!("{V4}/24"), format!("{V6}/64")], Some(0))];
    spec.attacker = true;
    spec.extra = format!("  'arp-cache': {arp_cache},\n");
    spec
}

/// The attacker namespace takes the VIPs by hand, as a careless operator
/// or a cloned VM would.
fn squat(cluster: &Cluster, ips: &[&str]) {
    let host = cluster.lab.attacker().expect("attacker host");
    for ip in ips {
        let with_prefix = if ip.contains(':') {
            format!("{ip}/128")
        } else {
            format!("{ip}/32")
        };
        let mut cmd = vec!["ip", "addr", "add", &with_prefix, "dev", &host.ifname];
        if ip.contains(':') {
            cmd.push("nodad");
        }
        cluster.lab.exec_ok(host, &cmd).expect("ip addr add");
    }
}

/// `(ip, mac)` of every conflict node `i` reports.
fn conflicts(cluster: &Cluster, i: usize) -> Vec<(String, String)> {
    status(cluster, i)["conflicts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c["ip"].as_str().unwrap_or("").to_string(),
                c["mac"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn metrics(cluster: &Cluster, i: usize) -> String {
    let out = cluster.vippyctl(i, &["metrics"]).expect("vippyctl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until node `i` reports both VIPs answered by `mac`; how long it took.
fn wait_reported(cluster: &Cluster, i: usize, mac: &str, timeout: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let seen = conflicts(cluster, i);
        let both = [V4, V6]
            .iter()
            .all(|ip| seen.iter().any(|(c_ip, c_mac)| c_ip == ip && c_mac == mac));
        if both {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "node{} reported {seen:?} after {timeout:?}, not both VIPs with {mac}\n{}",
            i + 1,
            cluster.logs_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_host_that_takes_a_held_vip_by_hand_is_reported_within_one_arp_cache() {
    vippy_lab::need_root();
    let arp_cache = 2.0;
    let cluster = started(spec(1, arp_cache));
    assert!(conflicts(&cluster, 0).is_empty(), "no conflict before");
    let garp_before = status(&cluster, 0)["counters"]["announcements_sent.garp"].clone();

    squat(&cluster, &[V4, V6]);
    let attacker = format_mac(&cluster.lab.attacker().unwrap().mac);
    // The next periodic round sees it: within one interval, plus the
    // moment an answer takes and a status refresh.
    let took = wait_reported(
        &cluster,
        0,
        &attacker,
        Duration::from_secs_f64(arp_cache + 0.5),
    );
    eprintln!("reported after {took:?}");

    let text = cluster.vippyctl(0, &["status"]).unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for ip in [V4, V6] {
        assert!(
            text.contains(&format!(
                "Conflict: {ip} on eth0 also answered by {attacker}"
            )),
            "{text}"
        );
    }
    let m = metrics(&cluster, 0);
    for ip in [V4, V6] {
        let line = format!("vippy_address_conflicts_total{{ip=\"{ip}\"}} ");
        let count: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line}\n{m}"));
        assert!(count >= 1, "{line}{count}");
    }

    // Two more rounds: still reported, and not one announcement more than
    // before the conflict (garp.count repeats ended long ago; no refresh).
    std::thread::sleep(Duration::from_secs_f64(arp_cache * 2.0 + 0.5));
    let after = status(&cluster, 0);
    assert_eq!(
        after["counters"]["announcements_sent.garp"], garp_before,
        "the conflict made vippyd announce again"
    );
    let sightings: Vec<u64> = after["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sightings"].as_u64().unwrap())
        .collect();
    assert!(sightings.iter().all(|&n| n >= 2), "{sightings:?}");
    let log = std::fs::read_to_string(cluster.log_path(0)).unwrap();
    assert!(
        log.contains(&format!(
            "ADDRESS CONFLICT: {V4} on eth0 is also answered by {attacker}"
        )),
        "{log}"
    );
    assert_eq!(
        log.matches("ADDRESS CONFLICT").count(),
        2,
        "one error line per VIP, not one per round\n{log}"
    );
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_host_that_already_has_the_vip_is_reported_on_acquisition() {
    vippy_lab::need_root();
    // No periodic round within the test: only the probe that goes with
    // plumbing can see it.
    let mut cluster = Cluster::build(spec(1, 600.0), support::lab::bins()).expect("lab");
    squat(&cluster, &[V4, V6]);
    cluster.start_all().expect("daemon starts");
    cluster
        .wait_converged(&[0], Duration::from_secs(10))
        .expect("converges");
    let attacker = format_mac(&cluster.lab.attacker().unwrap().mac);
    wait_reported(&cluster, 0, &attacker, Duration::from_secs(3));
}

#[test]
#[ignore = "needs root: network namespaces"]
fn failover_between_vippy_nodes_is_no_conflict() {
    vippy_lab::need_root();
    let mut cluster = started(spec(2, 0.5));
    // A few arp-cache rounds: each node has shared its own addresses.
    std::thread::sleep(Duration::from_secs(2));
    let vips = cluster.vips();
    let preferred = 0;
    assert_eq!(cluster.holders(&vips).unwrap()[0], vec![preferred]);

    // Ordinary: node1 stops, node2 takes the group; node1 comes back and
    // takes it again (its preferred group, a planned move).
    assert!(cluster.terminate(0).unwrap(), "node1 stops cleanly");
    cluster
        .wait_for(Duration::from_secs(5), |c| {
            Ok(c.holders(&vips)?[0] == vec![1])
        })
        .expect("node2 takes over");
    cluster.start(0).unwrap();
    cluster
        .wait_converged(&[0, 1], Duration::from_secs(10))
        .expect("converges again");
    cluster
        .wait_for(Duration::from_secs(5), |c| {
            Ok(c.holders(&vips)?[0] == vec![0])
        })
        .expect("node1 takes its group back");
    std::thread::sleep(Duration::from_secs(2));
    for i in [0, 1] {
        assert_no_conflict(&cluster, i);
    }

    // A crash: node1 dies with the VIPs still on its interface, so its
    // kernel answers node2's probes. That is a vippy node, not a stranger.
    cluster.kill(0).unwrap();
    cluster
        .wait_for(Duration::from_secs(5), |c| {
            Ok(c.holders(&vips)?[0] == vec![0, 1])
        })
        .expect("node2 takes over while the dead node1 still has the VIP");
    std::thread::sleep(Duration::from_secs(2));

    assert_no_conflict(&cluster, 1);
}

fn assert_no_conflict(cluster: &Cluster, i: usize) {
    let seen = conflicts(cluster, i);
    assert!(seen.is_empty(), "node{}: {seen:?}", i + 1);
    assert_eq!(
        status(cluster, i)["counters"]["address_conflicts"],
        0,
        "node{}",
        i + 1
    );
    assert!(!metrics(cluster, i).contains("vippy_address_conflicts_total{"));
}
