//! A health check scoped to one group (`groups: [0]`) on real daemons: when
//! it fails on the group's holder only that group moves, watched with
//! `ip monitor address` in every node namespace; when it passes again the
//! node may serve the group again. A whole-node check would move every
//! group of that node instead.

use std::path::Path;
use std::time::Duration;

use vippy_lab::{Cluster, ClusterSpec};

mod support;
use support::lab::{address_monitor, bins, holder};

const EVENTUALLY: Duration = Duration::from_secs(10);

/// node N's check fails while `DIR/failN` exists.
fn fail_file(dir: &Path, node: usize) -> std::path::PathBuf {
    dir.join(format!("fail{}", node + 1))
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_check_scoped_to_a_group_moves_that_group_only() {
    vippy_lab::need_root();
    let mut cluster = Cluster::build(ClusterSpec::ipv4(3, 6), bins()).expect("lab");
    let dir = cluster.dir().to_path_buf();
    cluster.spec.node_extra = (0..3)
        .map(|i| {
            format!(
                "  checks: [{{ name: 'db', command: ['test', '!', '-e', '{}'], groups: ['198.51.100.100'], interval: 0.1, timeout: 1, rise: 2, fall: 1 }}],\n",
                fail_file(&dir, i).display()
            )
        })
        .collect();
    let groups = cluster.spec.groups.clone();
    for i in 0..3 {
        cluster.write_config(i, 1, &groups).expect("config");
    }
    cluster.start_all().expect("daemons start");
    cluster
        .wait_converged(&[0, 1, 2], EVENTUALLY)
        .expect("cluster converges");
    cluster
        .wait_settled(Duration::from_secs(1), EVENTUALLY)
        .expect("cluster settles");

    let vips = cluster.vips();
    let before = cluster.holders(&vips).unwrap();
    let h = holder(&cluster, 0);
    let monitors: Vec<_> = (0..3).map(|i| address_monitor(&cluster, i)).collect();
    std::thread::sleep(Duration::from_millis(300)); // subscribed

    // The check fails on group 0's holder: group 0 goes elsewhere.
    std::fs::write(fail_file(&dir, h), "").unwrap();
    cluster
        .wait_for(EVENTUALLY, |c| {
            let now = c.holders(&vips)?;
            Ok(now[0].len() == 1 && now[0] != [h])
        })
        .unwrap_or_else(|e| {
            panic!(
                "group 0 did not leave node{}: {e}\n{}",
                h + 1,
                cluster.logs_tail()
            )
        });
    let moved_to = holder(&cluster, 0);
    // Long enough for a wrong decision to have shown.
    std::thread::sleep(Duration::from_secs(2));
    let after = cluster.holders(&vips).unwrap();
    for g in 1..vips.len() {
        assert_eq!(
            after[g],
            before[g],
            "group {g} moved when only group 0's check failed\n{}",
            cluster.logs_tail()
        );
    }
    assert_eq!(after[0], [moved_to]);

    // Passing again (rise 2), node h may serve group 0 again: failing the
    // check everywhere else leaves it the only candidate, and it takes it.
    std::fs::remove_file(fail_file(&dir, h)).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    for i in (0..3).filter(|&i| i != h) {
        std::fs::write(fail_file(&dir, i), "").unwrap();
    }
    cluster
        .wait_for(EVENTUALLY, |c| Ok(c.holders(&vips)?[0] == [h]))
        .unwrap_or_else(|e| {
            panic!(
                "group 0 did not come back to node{}: {e}\n{}",
                h + 1,
                cluster.logs_tail()
            )
        });
    std::thread::sleep(Duration::from_secs(1));
    let last = cluster.holders(&vips).unwrap();

    // From outside, the whole time: no other VIP was added or removed anywhere.
    let mut changes = Vec::new();
    for (log, mut child) in monitors {
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap();
        for vip in &vips[1..] {
            let addr = format!(" {}/", vip.addr());
            changes.extend(text.lines().filter(|l| l.contains(&addr)).map(String::from));
        }
    }
    assert!(
        changes.is_empty(),
        "other groups' addresses changed:\n{}\n{}",
        changes.join("\n"),
        cluster.logs_tail()
    );
    assert_eq!(&last[1..], &before[1..]);
}
