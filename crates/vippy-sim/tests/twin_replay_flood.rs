//! Datagrams of a node's own earlier runs, recorded and replayed to it,
//! must not make it talk more. Each is heard as a possible twin (a second
//! process under its name, docs/PROTOCOL.md); hearing a new twin used to
//! send a heartbeat at once, so replaying two old runs' datagrams in turn
//! drew one multicast heartbeat per datagram: the attacker, with no secret,
//! made the node flood the cluster. Twin of the lab's `lab_attack`
//! (stale incarnation kind).

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::load;
use vippy_core::node::Destination;
use vippy_sim::world::{Output, Recorded, World};

fn sent_by(outputs: &[Recorded], node: usize) -> Vec<Vec<u8>> {
    outputs
        .iter()
        .filter(|r| r.node == node)
        .filter_map(|r| match &r.output {
            Output::Transmit(t) if t.destination == Destination::Cluster => Some(t.bytes.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn replayed_datagrams_of_earlier_runs_draw_no_extra_heartbeats() {
    let text =
        "{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.2, stale: 0.8, mature: 0.4,
                 vips: [[{ip:'203.0.113.1/24'}],[{ip:'203.0.113.2/24'}],[{ip:'203.0.113.3/24'}]],
                 nodes: ['n1','n2','n3'] }";
    let config = Arc::new(load(text, "test").unwrap());
    let mut world = World::new(
        5,
        vec![config.clone(), config.clone(), config],
        Duration::from_millis(1),
    );
    world.record();
    for i in 0..3 {
        world.start(i);
    }
    // Two earlier runs of n2, each recorded.
    let mut old_runs = Vec::new();
    for _ in 0..2 {
        let t = world.now + Duration::from_secs(2);
        world.run_until(t);
        let recorded = world.take_recorded();
        old_runs.push(sent_by(&recorded, 1).pop().expect("n2 sent something"));
        world.crash(1);
        world.start(1);
    }
    let t = world.now + Duration::from_secs(3);
    world.run_until(t);
    let holders_before: Vec<Vec<usize>> = (1..=3)
        .map(|g| world.holders_of(&format!("203.0.113.{g}/24").parse().unwrap()))
        .collect();
    world.take_recorded();

    // For one second, every 5 ms, a datagram of one or the other old run.
    for k in 0..200 {
        world.replay(1, 1, old_runs[k % 2].clone());
        let t = world.now + Duration::from_millis(5);
        world.run_until(t);
    }
    let heartbeats = sent_by(&world.take_recorded(), 1).len();
    // One a interval (5 in the second), and at most one more a interval
    // for telling the twin it is heard.
    assert!(
        heartbeats <= 12,
        "n2 sent {heartbeats} datagrams to the cluster in 1 s of replays (about 5 without them)"
    );
    let holders_after: Vec<Vec<usize>> = (1..=3)
        .map(|g| world.holders_of(&format!("203.0.113.{g}/24").parse().unwrap()))
        .collect();
    assert_eq!(holders_before, holders_after, "nothing moved");
    let n2 = world.nodes[1].node.as_ref().unwrap();
    assert!(n2.status().active, "n2 still serves");
}
