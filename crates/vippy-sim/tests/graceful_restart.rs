//! A node stopped gracefully (goodbye) and started again: its peers must
//! hear the new incarnation at once. Its goodbye carried the old
//! incarnation's sequence number, far above the new one's first datagrams;
//! comparing the two once made peers drop the new heartbeats until the new
//! sequence caught up (a day, after a day of uptime), so the restarted node
//! never verified anyone and took every group next to their holders.

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::load;
use vippy_core::node::{Destination, LocalEvent};
use vippy_sim::world::{Output, World};

#[test]
fn a_node_restarted_after_goodbye_is_heard_at_once() {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.2, stale: 0.8,
                  mature: 0.6, vips: [[{ip:'203.0.113.1/24'}],[{ip:'203.0.113.2/24'}],
                  [{ip:'203.0.113.3/24'}],[{ip:'203.0.113.4/24'}]], nodes: ['n1','n2'] }";
    let config = Arc::new(load(text, "test").unwrap());
    let mut world = World::new(3, vec![config.clone(); 2], Duration::from_micros(200));
    world.watched = (1..=4)
        .map(|g| format!("203.0.113.{g}/24").parse().unwrap())
        .collect();
    world.strict_single_holder = true;
    world.start(0);
    world.start(1);
    // Long enough for n1's sequence numbers to run far ahead.
    let t = world.base + Duration::from_secs(120);
    world.run_until(t);

    world.local(0, LocalEvent::Shutdown);
    let t = world.now + Duration::from_millis(50);
    world.run_until(t);
    world.crash(0);
    world.start(0);
    let t = world.now + Duration::from_secs(3);
    world.run_until(t);
    assert_eq!(world.violation, None);

    let n1 = world.nodes[0].node.as_ref().unwrap().status();
    let n2 = world.nodes[1].node.as_ref().unwrap().status();
    let n2_seen_by_n1 = n1.peers.iter().find(|p| p.name == "n2").unwrap();
    let n1_seen_by_n2 = n2.peers.iter().find(|p| p.name == "n1").unwrap();
    assert!(n2_seen_by_n1.eligible, "{n2_seen_by_n1:?}");
    assert!(n1_seen_by_n2.eligible, "{n1_seen_by_n2:?}");
    for g in 1..=4 {
        let ip = format!("203.0.113.{g}/24").parse().unwrap();
        assert_eq!(world.holders_of(&ip).len(), 1, "group {g}");
    }
    let n1_holds = (1..=4)
        .filter(|g| world.holders_of(&format!("203.0.113.{g}/24").parse().unwrap()) == [0])
        .count();
    assert_eq!(n1_holds, 2, "n1 took its share back");
}

/// A heartbeat sent just before a goodbye but delivered after it is not
/// hearing from the peer: it must not refresh the departed peer.
#[test]
fn a_heartbeat_overtaken_by_the_goodbye_does_not_refresh_the_peer() {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.2, stale: 0.8,
                  mature: 0.6, vips: [[{ip:'203.0.113.1/24'}]], nodes: ['n1','n2'] }";
    let config = Arc::new(load(text, "test").unwrap());
    let mut world = World::new(3, vec![config.clone(); 2], Duration::from_micros(200));
    world.record();
    world.start(0);
    world.start(1);
    let t = world.base + Duration::from_secs(3);
    world.run_until(t);
    world.take_recorded();

    // n1 stops; its last heartbeat and goodbye reach n2 in reverse order.
    world.faults.blocked.insert((0, 1));
    world.local(0, LocalEvent::Shutdown);
    let sent: Vec<Vec<u8>> = world
        .take_recorded()
        .into_iter()
        .filter(|r| r.node == 0)
        .filter_map(|r| match r.output {
            Output::Transmit(t) if t.destination == Destination::Cluster => Some(t.bytes),
            _ => None,
        })
        .collect();
    let [.., heartbeat, goodbye] = &sent[..] else {
        panic!("n1 sent a heartbeat and a goodbye: {}", sent.len())
    };
    world.replay(0, 1, goodbye.clone());
    let heard = |w: &World| {
        let status = w.nodes[1].node.as_ref().unwrap().status();
        status
            .peers
            .iter()
            .find(|p| p.name == "n1")
            .unwrap()
            .last_heard
    };
    let at_goodbye = heard(&world);
    let t = world.now + Duration::from_millis(500);
    world.run_until(t);
    world.replay(0, 1, heartbeat.clone());
    assert_eq!(
        heard(&world),
        at_goodbye,
        "a pre-goodbye heartbeat refreshed n1"
    );
}
