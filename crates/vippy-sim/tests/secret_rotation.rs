//! Rotating the shared secret one node at a time: add the new secret second
//! everywhere, move it first everywhere, drop the old one. At no step does
//! a node stop hearing a peer or a group move; each peer's status shows which
//! secret it signs with. Skipping the first step cuts the rotated node off,
//! which is why the order is documented.

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::{Config, load};
use vippy_core::node::{LocalEvent, SecretBytes};
use vippy_sim::world::{SECRET, World};

const NEW: &[u8] = b"the new secret";

fn config() -> Arc<Config> {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.2, stale: 0.6,
                  mature: 0.4, vips: [[{ip:'203.0.113.1/24'}],[{ip:'203.0.113.2/24'}],
                  [{ip:'203.0.113.3/24'}]], nodes: ['n1','n2','n3'] }";
    Arc::new(load(text, "test").unwrap())
}

fn holders(world: &World) -> Vec<Vec<usize>> {
    (1..=3)
        .map(|g| world.holders_of(&format!("203.0.113.{g}/24").parse().unwrap()))
        .collect()
}

fn reload(world: &mut World, i: usize, secrets: &[&[u8]]) {
    let config = world.nodes[i].config.clone();
    let secrets = secrets.iter().map(|s| SecretBytes(s.to_vec())).collect();
    world.local(i, LocalEvent::Reload { config, secrets });
}

fn settle(world: &mut World) {
    let t = world.now + Duration::from_secs(2);
    world.run_until(t);
}

/// Peers node `i` hears now (heard within one interval), with the index of
/// the secret each signs with.
fn heard(world: &World, i: usize) -> Vec<(String, usize)> {
    let status = world.nodes[i].node.as_ref().unwrap().status();
    let recently = world.now - Duration::from_millis(300);
    status
        .peers
        .iter()
        .filter(|p| p.last_heard > recently)
        .map(|p| (p.name.clone(), p.secret_index))
        .collect()
}

#[test]
fn rotating_one_node_at_a_time_moves_nothing() {
    let old = SECRET.as_bytes();
    let mut world = World::new(11, vec![config(); 3], Duration::from_micros(200));
    for i in 0..3 {
        world.start(i);
    }
    settle(&mut world);
    let start = holders(&world);
    assert!(start.iter().all(|h| h.len() == 1), "{start:?}");

    let steps: [&[&[u8]]; 3] = [&[old, NEW], &[NEW, old], &[NEW]];
    for (step, secrets) in steps.iter().enumerate() {
        for i in 0..3 {
            reload(&mut world, i, secrets);
            settle(&mut world);
            assert_eq!(holders(&world), start, "step {step}, node {i}");
            for j in 0..3 {
                assert_eq!(
                    heard(&world, j).len(),
                    2,
                    "step {step}, node {i}: n{} hears {:?}",
                    j + 1,
                    heard(&world, j)
                );
            }
        }
    }
    // Mid-rotation some datagrams matched a node's second secret, and the
    // counter operators watch saw them.
    let counters = world.nodes[0].node.as_ref().unwrap().counters().clone();
    assert!(counters.older_secret_datagrams > 0);
}

#[test]
fn the_old_secret_shows_per_peer_while_others_still_sign_with_it() {
    let old = SECRET.as_bytes();
    let mut world = World::new(12, vec![config(); 3], Duration::from_micros(200));
    for i in 0..3 {
        world.start(i);
    }
    settle(&mut world);
    for i in 0..3 {
        reload(&mut world, i, &[old, NEW]);
    }
    settle(&mut world);
    // n1 moves the new secret first; n2 and n3 still sign with the old.
    reload(&mut world, 0, &[NEW, old]);
    settle(&mut world);
    assert_eq!(
        heard(&world, 0),
        [("n2".to_string(), 1), ("n3".to_string(), 1)]
    );
    let n2 = heard(&world, 1);
    assert!(n2.contains(&("n1".to_string(), 1)), "{n2:?}");
    assert!(n2.contains(&("n3".to_string(), 0)), "{n2:?}");
}

#[test]
fn dropping_the_old_secret_first_cuts_the_node_off() {
    let mut world = World::new(13, vec![config(); 3], Duration::from_micros(200));
    for i in 0..3 {
        world.start(i);
    }
    settle(&mut world);
    reload(&mut world, 0, &[NEW]);
    settle(&mut world);
    assert!(heard(&world, 0).is_empty(), "{:?}", heard(&world, 0));
}
