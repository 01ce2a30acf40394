//! With more fresh peers than echo slots (16), a node echoes its newest
//! acquaintances and the others in turn. Once, only the 16 newest were
//! echoed: a restarted node whose single immediate echo to a peer was lost
//! was never echoed by that peer again, so the peer never counted it, placed
//! groups without it and took one it held (two holders, for good).

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::load;
use vippy_sim::world::World;

#[test]
fn a_peer_whose_first_echo_was_lost_is_echoed_again() {
    let n = 18; // 17 peers: one more than the echo slots
    let nodes: Vec<String> = (1..=n).map(|i| format!("'n{i}'")).collect();
    let vips: Vec<String> = (1..=n)
        .map(|g| format!("[{{ip:'203.0.113.{g}/24'}}]"))
        .collect();
    let text = format!(
        "{{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.2, stale: 0.8,
           mature: 0.6, vips: [{}], nodes: [{}] }}",
        vips.join(","),
        nodes.join(",")
    );
    let config = Arc::new(load(&text, "test").unwrap());
    let mut world = World::new(1, vec![config; n], Duration::from_micros(200));
    world.watched = (1..=n)
        .map(|g| format!("203.0.113.{g}/24").parse().unwrap())
        .collect();
    world.strict_single_holder = true;
    for i in 0..n {
        world.start(i);
    }
    let t = world.base + Duration::from_secs(3);
    world.run_until(t);

    // n1 restarts and everything it sends is lost for 300 ms: its one
    // immediate echo to each peer among them.
    world.crash(0);
    for j in 1..n {
        world.faults.blocked.insert((0, j));
    }
    world.start(0);
    let t = world.now + Duration::from_millis(300);
    world.run_until(t);
    world.faults.blocked.clear();
    let t = world.now + Duration::from_secs(5);
    world.run_until(t);

    let mut blind = Vec::new();
    for j in 1..n {
        let status = world.nodes[j].node.as_ref().unwrap().status();
        let n1 = status.peers.iter().find(|p| p.name == "n1").unwrap();
        if !n1.eligible {
            blind.push((status.name.clone(), n1.why_not.clone()));
        }
    }
    assert!(blind.is_empty(), "never counted n1: {blind:?}");
    // An ordinary failure elsewhere: every node places groups alike.
    world.crash(1);
    let t = world.now + Duration::from_secs(5);
    world.run_until(t);
    assert_eq!(world.violation, None);
}
