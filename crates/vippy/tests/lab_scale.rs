//! Thousands of VIPs on real daemons (docs/BENCHMARKS.md, "Scale"): 8 nodes
//! and 2048 single-VIP IPv6 groups on one bridge. The data plane plumbs
//! them in batches on one kernel dump each, on a thread of its own, and a
//! release holds back the transmits after it without holding the core
//! loop; before that, a node taking hundreds of VIPs read the address
//! table six times per VIP and held its core loop for seconds on every
//! release; and the link watch, on the core loop's thread, read every
//! address against every group on each address notification, so each
//! batch of plumbs held the loop for most of a second, peers went stale
//! and placement churned on an idle cluster. Seen from outside: `ip addr`
//! of every node namespace, and netlink address events
//! (`ip monitor address`) for the quiet period and the re-homing.

use std::time::Duration;

use vippy_lab::AddressMonitor;
use vippy_lab::Cluster;
use vippy_lab::bench_scale::ipv6_spec;

mod support;
use support::lab::bins;

const NODES: usize = 8;
const GROUPS: usize = 2048;
const STALE: f64 = 0.8;
const MATURE: f64 = 0.6;
/// A settled cluster with no fault moves nothing for this long.
const QUIET: Duration = Duration::from_secs(5);

/// Whether every VIP is on exactly one running node; how many are not.
fn misplaced(cluster: &Cluster) -> usize {
    let running = cluster.running();
    let holders = cluster.holders(&cluster.vips()).expect("ip addr");
    holders
        .iter()
        .filter(|nodes| nodes.iter().filter(|n| running.contains(n)).count() != 1)
        .count()
}

#[test]
#[ignore = "needs root: network namespaces"]
fn thousands_of_vips_converge_and_rehome_after_a_kill() {
    vippy_lab::need_root();
    let spec = ipv6_spec(NODES, GROUPS, 0.2, STALE, MATURE);
    let mut cluster = Cluster::build(spec, bins()).expect("lab");
    let vips = cluster.vips();
    let ips: Vec<_> = vips.iter().map(|net| net.addr()).collect();
    let monitor = AddressMonitor::start(cluster.lab.nodes(), &ips).expect("ip monitor");
    std::thread::sleep(Duration::from_millis(200)); // the monitors subscribe
    cluster.start_all().expect("daemons start");
    let all: Vec<usize> = (0..NODES).collect();
    cluster
        .wait_converged(&all, Duration::from_secs(40))
        .unwrap_or_else(|e| panic!("cold start: {} VIPs misplaced: {e}", misplaced(&cluster)));
    cluster
        .wait_settled(Duration::from_secs(2), Duration::from_secs(30))
        .expect("cold start settles");
    assert_eq!(misplaced(&cluster), 0, "{}", cluster.logs_tail());

    // Settled and nothing wrong: not one address added or removed.
    let from = monitor.now();
    std::thread::sleep(QUIET);
    let moved: Vec<_> = monitor
        .events()
        .into_iter()
        .filter(|e| e.at >= from)
        .collect();
    assert!(
        moved.is_empty(),
        "{} address changes in {QUIET:?} with no fault, first {:?}\n{}",
        moved.len(),
        moved.first(),
        cluster.logs_tail()
    );

    // node1's VIPs, then SIGKILL: its addresses stay in its kernel (a
    // process crash), so holders are counted among the running nodes.
    let before = cluster.holders(&vips).expect("ip addr");
    let orphans: Vec<usize> = (0..vips.len()).filter(|v| before[*v] == [0]).collect();
    assert!(
        orphans.len() > GROUPS / NODES / 2,
        "node1 holds only {} VIPs",
        orphans.len()
    );
    let killed_at = monitor.now();
    cluster.kill(0).expect("kill");
    cluster.lab.link_down(cluster.node(0)).expect("link down");
    let survivors: Vec<usize> = (1..NODES).collect();
    cluster
        .wait_converged(&survivors, Duration::from_secs(20))
        .unwrap_or_else(|e| {
            panic!(
                "after the kill: {} VIPs misplaced: {e}",
                misplaced(&cluster)
            )
        });
    // Settled, it stays so: never two running holders, none without one.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(misplaced(&cluster), 0, "{}", cluster.logs_tail());
    }
    let after = cluster.holders(&vips).expect("ip addr");
    for v in &orphans {
        assert!(
            after[*v].iter().any(|n| *n != 0),
            "VIP {v} of node1 not re-homed"
        );
    }
    // Each re-homed within the bound the chaos run holds every fault to
    // (stale + mature + 1 s), timed by the kernel's events.
    let events = monitor.events();
    let bound = STALE + MATURE + 1.0;
    for v in orphans {
        let plumbed = events
            .iter()
            .find(|e| e.vip == v && e.added && e.node != 0 && e.at > killed_at)
            .map(|e| e.at - killed_at);
        assert!(
            plumbed.is_some_and(|t| t <= bound),
            "VIP {v} of node1 re-homed after {plumbed:?} s (bound {bound} s)"
        );
    }
}
