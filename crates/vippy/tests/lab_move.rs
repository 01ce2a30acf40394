//! Planned moves on real daemons: `vippyctl move` asked of a third node
//! moves a group to node3, release first (the old holder's delete comes
//! before node3's add in `ip monitor address`, so no moment of two
//! holders), the pin holds across a drain and undrain of the preferred
//! node, and `vippyctl move --clear` gives normal placement back.

use std::time::Duration;

use vippy_lab::{Cluster, ClusterSpec};

mod support;
use support::lab::{address_monitor, holder, started, status};

fn vippyctl(cluster: &Cluster, i: usize, args: &[&str]) -> String {
    let out = cluster.vippyctl(i, args).unwrap();
    assert!(
        out.status.success(),
        "vippyctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How far apart two namespaces' `ip -ts monitor` stamps may be for
/// events in the other order: each `ip` process stamps a change when it
/// reads it, not when the kernel made it, so on a loaded host one monitor
/// may read a delete a few hundred microseconds after another read the add
/// that the delete caused (the add follows a heartbeat sent only after the
/// delete completed).
const STAMP_JITTER: f64 = 0.001;

/// `[2026-12-01T22:45:08.053406] 2: eth0    inet 198.51.100.100/24 …` (or
/// `Deleted …`) as (seconds of the day, added, VIP index), for the lab's VIPs.
fn address_event(line: &str, vips: &[ipnet::IpNet]) -> Option<(f64, bool, usize)> {
    let (stamp, rest) = line.strip_prefix('[')?.split_once("] ")?;
    let clock = stamp.split_once('T')?.1;
    let mut parts = clock.split(':');
    let (h, m, sec): (f64, f64, f64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    let stamp = h * 3600.0 + m * 60.0 + sec;
    let added = !rest.starts_with("Deleted");
    let address = rest
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?;
    let ip: ipnet::IpNet = address.parse().ok()?;
    let v = vips.iter().position(|vip| vip.addr() == ip.addr())?;
    Some((stamp, added, v))
}

/// Waits until node `i`'s status shows group 0 pinned to `node`.
fn pinned_everywhere(cluster: &Cluster, i: usize, node: Option<&str>) {
    let want = node.map_or(serde_json::Value::Null, |n| n.into());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let seen = status(cluster, i);
        if seen["groups"][0]["pinned_to"] == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node{} shows group 0 as {}\n{}",
            i + 1,
            seen["groups"][0],
            cluster.logs_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_planned_move_releases_first_holds_across_a_drain_and_clears() {
    vippy_lab::need_root();
    let mut spec = ClusterSpec::ipv4(3, 3);
    spec.groups[0].1 = Some(0); // preferred: node1
    let cluster = started(spec);
    let vips = cluster.vips();
    assert_eq!(
        holder(&cluster, 0),
        0,
        "group 0 starts on its preferred node1"
    );

    // Every node's address changes from here on, timestamped by the kernel.
    let monitors: Vec<_> = (0..3).map(|i| address_monitor(&cluster, i)).collect();
    std::thread::sleep(Duration::from_millis(300)); // subscribed
    let mut held = cluster.holders(&vips).unwrap();

    // Asked of node2, which neither holds the group nor gets it.
    let said = vippyctl(&cluster, 1, &["move", "0", "node3"]);
    assert!(said.contains("moving to node3"), "{said}");
    cluster
        .wait_for(Duration::from_secs(5), |c| Ok(c.holders(&vips)?[0] == [2]))
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs_tail()));
    for i in 0..3 {
        pinned_everywhere(&cluster, i, Some("node3"));
    }
    let text = vippyctl(&cluster, 0, &["status"]);
    assert!(
        text.lines()
            .any(|l| l.contains("198.51.100.100/24") && l.contains("(pinned to node3 by operator)")),
        "{text}"
    );

    // The preferred node goes and comes back: the pin holds.
    vippyctl(&cluster, 0, &["drain", "--reason", "maintenance"]);
    let refused = cluster.vippyctl(1, &["move", "1", "node1"]).unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("node node1 is not eligible"), "{why}");
    std::thread::sleep(Duration::from_secs_f64(cluster.spec.stale * 2.0));
    assert_eq!(holder(&cluster, 0), 2);
    vippyctl(&cluster, 0, &["undrain"]);
    cluster
        .wait_converged(&[0, 1, 2], Duration::from_secs(10))
        .unwrap();
    std::thread::sleep(Duration::from_secs_f64(cluster.spec.stale * 2.0));
    assert_eq!(
        holder(&cluster, 0),
        2,
        "still pinned to node3 after the undrain"
    );

    // Cleared, asked of node3: group 0 goes back to node1, release first.
    let said = vippyctl(&cluster, 2, &["move", "198.51.100.100", "--clear"]);
    assert!(said.contains("cleared"), "{said}");
    cluster
        .wait_for(Duration::from_secs(5), |c| Ok(c.holders(&vips)?[0] == [0]))
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs_tail()));
    for i in 0..3 {
        pinned_everywhere(&cluster, i, None);
    }
    std::thread::sleep(Duration::from_millis(300)); // the last events logged

    let mut events = Vec::new();
    for (i, (log, mut child)) in monitors.into_iter().enumerate() {
        let _ = child.kill();
        let _ = child.wait();
        for line in std::fs::read_to_string(&log).unwrap().lines() {
            if let Some((at, added, v)) = address_event(line, &vips) {
                events.push((at, i, added, v));
            }
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Replayed in time order from the state before the move: no address is
    // added while another node has it, except within `STAMP_JITTER` of that
    // node's delete (see there).
    let mut bad = Vec::new();
    for (k, (at, node, added, v)) in events.iter().enumerate() {
        if *added {
            for other in held[*v].iter().filter(|n| *n != node) {
                let deleted = events[k..]
                    .iter()
                    .find(|e| e.1 == *other && e.3 == *v && !e.2)
                    .map(|e| e.0);
                if deleted.is_none_or(|d| d > at + STAMP_JITTER) {
                    bad.push(format!(
                        "{at:.6}: node{} added {} while node{} had it (deleted at {deleted:?})",
                        node + 1,
                        vips[*v],
                        other + 1
                    ));
                }
            }
            held[*v].push(*node);
        } else {
            held[*v].retain(|n| n != node);
        }
    }
    assert!(
        bad.is_empty(),
        "two holders:\n{}\n{}",
        bad.join("\n"),
        cluster.logs_tail()
    );
    // Group 0: node1 deletes, then node3 adds; at the clear node3 deletes,
    // then node1 adds.
    let g0: Vec<(f64, usize, bool)> = events
        .iter()
        .filter(|e| e.3 == 0)
        .map(|e| (e.0, e.1, e.2))
        .collect();
    let find = |node: usize, added: bool| -> Vec<f64> {
        g0.iter()
            .filter(|e| e.1 == node && e.2 == added)
            .map(|e| e.0)
            .collect()
    };
    let (n1_del, n3_add, n3_del, n1_add) =
        (find(0, false), find(2, true), find(2, false), find(0, true));
    assert!(
        n1_del.len() == 1 && n3_add.len() == 1 && n3_del.len() == 1 && n1_add.len() == 1,
        "group 0 changed hands more than twice: {g0:?}"
    );
    assert!(
        n1_del[0] <= n3_add[0] + STAMP_JITTER,
        "node3 added group 0 before node1 deleted it: {g0:?}"
    );
    assert!(n3_add[0] < n3_del[0], "{g0:?}");
    assert!(
        n3_del[0] <= n1_add[0] + STAMP_JITTER,
        "node1 added group 0 back before node3 deleted it: {g0:?}"
    );
}
