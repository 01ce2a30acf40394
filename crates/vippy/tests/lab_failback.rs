//! `failback` on real daemons: a preferred node that flaps (drained and
//! undrained through the API) with `failback: 3` never takes its group back
//! during the flaps, watched with `ip monitor address` in its namespace, and
//! takes it once it has stayed eligible for 3 s.

use std::time::{Duration, Instant};

use vippy_lab::{Cluster, ClusterSpec};

mod support;
use support::lab::{address_monitor, bins};

fn vippyctl(cluster: &Cluster, i: usize, args: &[&str]) {
    let out = cluster.vippyctl(i, args).unwrap();
    assert!(
        out.status.success(),
        "vippyctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_flapping_preferred_node_takes_its_group_only_after_failback_seconds() {
    vippy_lab::need_root();
    let mut spec = ClusterSpec::ipv4(2, 1);
    spec.groups[0].1 = Some(0); // preferred: node1
    spec.extra = "  failback: 3,\n".into();
    let mut cluster = Cluster::build(spec, bins()).expect("lab");
    cluster.start_all().unwrap();
    let vips = cluster.vips();
    cluster
        .wait_for(Duration::from_secs(10), |c| Ok(c.holders(&vips)?[0] == [0]))
        .unwrap();
    vippyctl(&cluster, 0, &["drain", "--reason", "flapping"]);
    cluster
        .wait_for(Duration::from_secs(5), |c| Ok(c.holders(&vips)?[0] == [1]))
        .unwrap();

    // node1's address changes from here on, timestamped by the kernel.
    let (log, mut monitor) = address_monitor(&cluster, 0);
    std::thread::sleep(Duration::from_millis(300)); // subscribed
    for _ in 0..4 {
        vippyctl(&cluster, 0, &["undrain"]);
        std::thread::sleep(Duration::from_millis(1500));
        vippyctl(&cluster, 0, &["drain", "--reason", "flapping"]);
        std::thread::sleep(Duration::from_millis(700));
    }
    let flaps_over = Instant::now();
    let during = std::fs::read_to_string(&log).unwrap();
    let vip = vips[0].addr().to_string();
    let took: Vec<&str> = during.lines().filter(|l| l.contains(&vip)).collect();
    assert!(
        took.is_empty(),
        "node1 plumbed its VIP during the flaps:\n{}\n{}",
        took.join("\n"),
        cluster.logs_tail()
    );
    assert_eq!(cluster.holders(&vips).unwrap()[0], [1]);

    // Up for good: back after failback (3 s), not before about that.
    vippyctl(&cluster, 0, &["undrain"]);
    let up = Instant::now();
    cluster
        .wait_for(Duration::from_secs(8), |c| Ok(c.holders(&vips)?[0] == [0]))
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs_tail()));
    let after = up.elapsed();
    let _ = monitor.kill();
    let _ = monitor.wait();
    assert!(
        after >= Duration::from_millis(2500),
        "node1 took its group back {after:?} after it came up (failback 3 s)"
    );
    eprintln!(
        "flaps over at {:?}; back after {after:?}",
        flaps_over.elapsed()
    );
}
