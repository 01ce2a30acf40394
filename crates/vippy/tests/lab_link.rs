//! Link tracking on real daemons (docs/OPERATIONS.md, "Link tracking"): the
//! chat runs on eth0, the VIPs on a second LAN (eth1, bridge br1). A holder
//! whose eth1 loses carrier gives its group up after `link_down_grace`; a
//! node whose configured interface does not exist never takes its group.
//! Observed from outside: `ip addr` in the node namespaces, the client's
//! ping and neighbour table on the second LAN, `ip monitor`.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use support::lab::{address_monitor, bins};
use vippy_lab::{Cluster, ClusterSpec};

const LINK_VIP: &str = "203.0.113.50/24";
const MISSING_VIP: &str = "203.0.113.60/24";

/// `VIPPY_LAB_UNTRACKED=1` runs these tests with `track_interfaces: false`,
/// to see them fail without link tracking.
fn untracked() -> String {
    match std::env::var_os("VIPPY_LAB_UNTRACKED") {
        Some(_) => "  track_interfaces: false,\n".to_string(),
        None => String::new(),
    }
}

/// A cluster whose client and nodes also sit on a second LAN, eth1.
fn two_lans(spec: ClusterSpec) -> Cluster {
    let cluster = Cluster::build(spec, bins()).expect("lab");
    cluster.lab.add_lan("br1", "eth1", "b").expect("second LAN");
    cluster
}

/// The nodes (indices) with `vip` on any interface.
fn holders_of(cluster: &Cluster, vip: &str) -> Vec<usize> {
    let vip: IpNet = vip.parse().unwrap();
    (0..cluster.spec.nodes)
        .filter(|&i| {
            cluster
                .lab
                .all_addresses(cluster.node(i))
                .expect("ip addr")
                .iter()
                .any(|a| a.addr() == vip.addr())
        })
        .collect()
}

fn wait_single_holder(
    cluster: &Cluster,
    vip: &str,
    not: Option<usize>,
    timeout: Duration,
) -> usize {
    let start = Instant::now();
    loop {
        let h = holders_of(cluster, vip);
        if h.len() == 1 && Some(h[0]) != not {
            return h[0];
        }
        assert!(
            start.elapsed() < timeout,
            "{vip} held by {h:?} after {timeout:?}\n{}",
            cluster.logs_tail()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs root: network namespaces"]
fn carrier_lost_on_the_holder_moves_its_group() {
    vippy_lab::need_root();
    let mut spec = ClusterSpec::ipv4(3, 0);
    spec.groups = vec![(vec![LINK_VIP.to_string()], None)];
    let grace = 0.5;
    spec.extra = format!("  link_down_grace: {grace},\n{}", untracked());
    let mut cluster = two_lans(spec);
    cluster.start_all().expect("daemons start");
    let holder = wait_single_holder(&cluster, LINK_VIP, None, Duration::from_secs(10));
    // Settled: nothing moves for a while.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(holders_of(&cluster, LINK_VIP), [holder]);

    // The bridge side goes down: the holder's eth1 stays admin-up and
    // loses carrier.
    let port = format!("n{}b", holder + 1);
    let cut = Instant::now();
    cluster.lab.set_port(&port, false).expect("port down");
    let link = cluster
        .lab
        .exec_ok(cluster.node(holder), &["ip", "-j", "link", "show", "eth1"])
        .expect("ip link");
    let link = String::from_utf8_lossy(&link.stdout).to_string();
    assert!(
        link.contains("NO-CARRIER") && link.contains("\"UP\""),
        "the node's eth1 is up without carrier: {link}"
    );
    let new = wait_single_holder(&cluster, LINK_VIP, Some(holder), Duration::from_secs(5));
    let took = cut.elapsed();
    eprintln!(
        "carrier cut on node{} -> {LINK_VIP} on node{} in {took:?}",
        holder + 1,
        new + 1
    );
    let interval = cluster.spec.interval;
    // Grace, a heartbeat to hear of it, the plumb, and the lab's slack.
    let bound = Duration::from_secs_f64(grace + 2.0 * interval + 1.5);
    assert!(
        took < bound,
        "moved in {took:?}, more than {bound:?}\n{}",
        cluster.logs_tail()
    );
    assert!(
        took >= Duration::from_secs_f64(grace * 0.8),
        "moved in {took:?}: before the grace of {grace}s"
    );

    // The client on the second LAN reaches it on the new holder.
    let ip: IpAddr = LINK_VIP.parse::<IpNet>().unwrap().addr();
    assert!(
        cluster.lab.ping(cluster.client(), ip).expect("ping"),
        "the client reaches {ip}\n{}",
        cluster.logs_tail()
    );
    let octet = cluster.node(new).ipv4.octets()[3];
    let mac = [0x02, 0x76, 0x6c, 0x00, 0x01, octet];
    cluster
        .wait_for(Duration::from_secs(3), |c| {
            Ok(c.lab.neighbour(c.client(), ip)? == Some(mac))
        })
        .expect("the client's neighbour entry names the new holder's eth1");

    // The old holder says why.
    let status = String::from_utf8_lossy(
        &cluster
            .vippyctl(holder, &["status"])
            .expect("vippyctl")
            .stdout,
    )
    .to_string();
    assert!(
        status.contains("cannot serve here: link:eth1"),
        "status of the old holder:\n{status}"
    );

    // Carrier back: the old holder is not eligible for the group again
    // before its eth1 has been up for `mature`, so nothing moves before.
    // Then placement decides: with one group on three nodes the capacity
    // rule gives it to the old holder (as it did at the start), so it goes
    // back there, release-first.
    cluster.lab.set_port(&port, true).expect("port up");
    let back = Instant::now();
    let mature = Duration::from_secs_f64(cluster.spec.mature);
    while back.elapsed() < mature.mul_f64(0.8) {
        assert_eq!(
            holders_of(&cluster, LINK_VIP),
            [new],
            "the group moved back before the link had been up for mature\n{}",
            cluster.logs_tail()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let again = wait_single_holder(
        &cluster,
        LINK_VIP,
        Some(new),
        mature + Duration::from_secs(3),
    );
    assert_eq!(again, holder, "placement's choice, as at the start");
    let status = String::from_utf8_lossy(
        &cluster
            .vippyctl(holder, &["status"])
            .expect("vippyctl")
            .stdout,
    )
    .to_string();
    assert!(
        !status.contains("cannot serve here"),
        "eligible again once up for mature:\n{status}"
    );
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_missing_interface_keeps_its_group_away() {
    vippy_lab::need_root();
    // node1 is preferred, and would take the group but for its interface.
    let mut spec = ClusterSpec::ipv4(3, 0);
    spec.groups = vec![(vec![MISSING_VIP.to_string()], Some(0))];
    spec.extra = untracked();
    let mut cluster = two_lans(spec);
    let path = cluster.config_path(0);
    let text = std::fs::read_to_string(&path).unwrap();
    let named = format!("{{ ip: '{MISSING_VIP}' }}");
    assert!(text.contains(&named), "{text}");
    let text = text.replace(
        &named,
        &format!("{{ ip: '{MISSING_VIP}', interface: 'eth9' }}"),
    );
    std::fs::write(&path, text).unwrap();

    let (log, mut monitor) = address_monitor(&cluster, 0);
    cluster.start_all().expect("daemons start");
    let holder = wait_single_holder(&cluster, MISSING_VIP, Some(0), Duration::from_secs(10));
    assert_ne!(holder, 0);
    // Well past mature and a few reconcile rounds: still never on node1.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert_eq!(
            holders_of(&cluster, MISSING_VIP),
            [holder],
            "{}",
            cluster.logs_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status =
        String::from_utf8_lossy(&cluster.vippyctl(0, &["status"]).expect("vippyctl").stdout)
            .to_string();
    assert!(
        status.contains("cannot serve here: link:eth9"),
        "status of node1:\n{status}"
    );
    let _ = monitor.kill();
    let _ = monitor.wait();
    let seen = std::fs::read_to_string(&log).unwrap_or_default();
    let ip = MISSING_VIP.split('/').next().unwrap();
    assert!(
        !seen.contains(ip),
        "{ip} was never plumbed on node1, yet ip monitor saw:\n{seen}"
    );
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_failed_plumb_gives_the_group_away_until_the_subnet_appears() {
    vippy_lab::need_root();
    // node1 is preferred, but has no address in the VIP's subnet (and the
    // VIP names no interface): its plumb fails.
    const VIP: &str = "203.0.113.70/24";
    let mut spec = ClusterSpec::ipv4(3, 0);
    spec.groups = vec![(vec![VIP.to_string()], Some(0))];
    let mut cluster = two_lans(spec);
    let node1 = cluster.node(0).clone();
    let own = "203.0.113.11/24";
    cluster
        .lab
        .exec_ok(&node1, &["ip", "addr", "del", own, "dev", "eth1"])
        .expect("address removed");
    cluster.start_all().expect("daemons start");
    let holder = wait_single_holder(&cluster, VIP, Some(0), Duration::from_secs(10));
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(
            holders_of(&cluster, VIP),
            [holder],
            "{}",
            cluster.logs_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status =
        String::from_utf8_lossy(&cluster.vippyctl(0, &["status"]).expect("vippyctl").stdout)
            .to_string();
    assert!(
        status.contains("cannot serve here: plumb-failed:"),
        "status of node1:\n{status}"
    );
    // The operator adds the address: node1 tries again without a restart
    // and, preferred, gets its group back.
    cluster
        .lab
        .exec_ok(&node1, &["ip", "addr", "add", own, "dev", "eth1"])
        .expect("address added");
    let back = wait_single_holder(&cluster, VIP, Some(holder), Duration::from_secs(5));
    assert_eq!(back, 0, "{}", cluster.logs_tail());
}
