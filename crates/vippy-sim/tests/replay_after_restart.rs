//! A node that has just restarted has no replay state. Heartbeats of a dead
//! peer, recorded earlier and replayed to it, must not make that peer look
//! alive: a peer counts only once it has echoed this node's incarnation.

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::load;
use vippy_core::node::{Destination, Event, Rejection};
use vippy_sim::world::{Output, World};

#[test]
fn replayed_heartbeats_of_a_dead_peer_do_not_fool_a_restarted_node() {
    let text =
        "{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.2, stale: 0.8, mature: 0.4,
                 vips: [[{ip:'203.0.113.1/24'}],[{ip:'203.0.113.2/24'}],[{ip:'203.0.113.3/24'}]],
                 nodes: ['n1','n2','n3'] }";
    let config = Arc::new(load(text, "test").unwrap());
    let mut world = World::new(
        3,
        vec![config.clone(), config.clone(), config],
        Duration::from_micros(200),
    );
    world.record();
    for i in 0..3 {
        world.start(i);
    }
    let t = world.base + Duration::from_secs(3);
    world.run_until(t);

    // n2 dies, n1 restarts (a new incarnation, no replay state); the
    // attacker keeps replaying n2's last heartbeat to n1.
    world.crash(1);
    world.crash(0);
    world.start(0);
    // Replays of the recorded heartbeat (the first is new to n1's empty
    // replay window, the rest are duplicates), while n1 matures and acts.
    let mut verdicts = Vec::new();
    for _ in 0..20 {
        if world.replay_last(1, 0) {
            let n1 = world.nodes[0].node.as_ref().unwrap();
            let view = n1.status();
            let n2 = view.peers.iter().find(|p| p.name == "n2").cloned();
            verdicts.push(n2.map(|p| (p.eligible, p.why_not.unwrap_or_default())));
        }
        let t = world.now + Duration::from_millis(200);
        world.run_until(t);
    }
    // The first replay reached a node with no replay state: accepted as
    // authentic and new, yet not trusted, for want of an echo.
    let (eligible, why) = verdicts[0].clone().expect("n1 heard the replay");
    assert!(!eligible && why.contains("not verified"), "{why}");
    assert!(
        verdicts.iter().flatten().all(|(eligible, _)| !eligible),
        "{verdicts:?}"
    );
    let n1 = world.nodes[0].node.as_ref().unwrap();
    let status = n1.status();
    // n1 and n3 hold everything between them; nothing waits on the ghost.
    for g in 1..=3 {
        let ip: ipnet::IpNet = format!("203.0.113.{g}/24").parse().unwrap();
        let holders = world.holders_of(&ip);
        assert_eq!(holders.len(), 1, "{ip} held by {holders:?}");
        assert_ne!(holders[0], 1, "{ip} on the dead node");
    }
    let n3 = status.peers.iter().find(|p| p.name == "n3").unwrap();
    assert!(n3.eligible, "the live peer verified itself: {n3:?}");
}

/// A config request recorded earlier and replayed to the node it asked,
/// after that node restarted, is not answered: it names the incarnation it
/// was sent to. (Answering would send config chunks to the recording's
/// source address, which the attacker chooses.)
#[test]
fn a_replayed_config_request_is_not_answered_after_a_restart() {
    let text = |version: u32| {
        format!(
            "{{ chat: '239.1.1.1:5007', secret: 's', version: {version}, interval: 0.2, stale: 0.8,
                mature: 0.4, vips: [[{{ip:'203.0.113.1/24'}}],[{{ip:'203.0.113.2/24'}}]],
                nodes: ['n1','n2'] }}"
        )
    };
    let newer = Arc::new(load(&text(2), "test").unwrap());
    let older = Arc::new(load(&text(1), "test").unwrap());
    let mut world = World::new(1, vec![newer, older], Duration::from_micros(200));
    world.record();
    world.start(0);
    world.start(1);
    let t = world.base + Duration::from_secs(3);
    world.run_until(t);

    // n2 fetched version 2 from n1: its unicast datagrams were the requests.
    let n1_addr = world.nodes[0].addr;
    let requests: Vec<Vec<u8>> = world
        .take_recorded()
        .into_iter()
        .filter(|r| r.node == 1)
        .filter_map(|r| match r.output {
            Output::Transmit(t) if t.destination == Destination::Peer(n1_addr) => Some(t.bytes),
            _ => None,
        })
        .collect();
    assert!(!requests.is_empty(), "n2 asked n1 for its config");
    let adopted = world.nodes[1].node.as_ref().unwrap().status();
    assert_eq!(adopted.version, 2);

    // n2 dies, n1 restarts with no replay state; the requests come again.
    world.crash(1);
    world.crash(0);
    world.start(0);
    let t = world.now + Duration::from_secs(1);
    world.run_until(t);
    world.take_recorded();
    for request in requests {
        assert!(world.replay(1, 0, request));
    }
    let outputs = world.take_recorded();
    let answers = outputs
        .iter()
        .filter(|r| r.node == 0)
        .filter(|r| matches!(&r.output, Output::Transmit(t) if matches!(t.destination, Destination::Peer(_))))
        .count();
    assert_eq!(answers, 0, "n1 sent config chunks to a replayed request");
    let refused = outputs
        .iter()
        .filter(|r| {
            matches!(&r.output, Output::Event(Event::Rejected { reason: Rejection::Replay, detail, .. })
                if detail.starts_with("config request for incarnation"))
        })
        .count();
    assert!(refused > 0, "{outputs:#?}");
}
