//! Planned moves (`Node::pin`, docs/ARCHITECTURE.md "Planned moves"): the
//! operator pins a group to a node through any node; the pin spreads to
//! every node, the holder releases first and the pin node takes it.
//!
//! Three nodes, four groups; group 0 prefers n1. Every test runs with the
//! strict single-holder check (never two holders of an address, at any
//! instant), and the moves run under 20 % message loss with jitter.

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use vippy_core::config::{Config, load};
use vippy_core::node::{LocalEvent, PinError};
use vippy_sim::world::World;

const N1: usize = 0;
const N2: usize = 1;
const N3: usize = 2;

fn config() -> Arc<Config> {
    // stale is six heartbeats: 20 % loss does not make a peer look gone.
    let text = "{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.5, stale: 3,
            mature: 1,
            vips: [['n1', {ip:'203.0.113.1/24'}], [{ip:'203.0.113.2/24'}],
                   [{ip:'203.0.113.3/24'}], [{ip:'203.0.113.4/24'}]],
            nodes: ['n1','n2','n3'] }";
    Arc::new(load(text, "test").unwrap())
}

fn ip(g: usize) -> IpNet {
    format!("203.0.113.{}/24", g + 1).parse().unwrap()
}

/// Three nodes booted and settled on a clean network, then a lossy one.
fn world(seed: u64) -> World {
    let mut world = World::new(seed, vec![config(); 3], Duration::from_millis(1));
    world.watched = (0..4).map(ip).collect();
    world.strict_single_holder = true;
    for i in 0..3 {
        world.start(i);
    }
    run_for(&mut world, 4.0);
    assert_eq!(world.holders_of(&ip(0)), [N1], "group 0 starts on n1");
    world.faults.loss = 0.2;
    world.faults.jitter = Duration::from_millis(5);
    world
}

fn run_for(world: &mut World, seconds: f64) {
    let t = world.now + Duration::from_secs_f64(seconds);
    world.run_until(t);
    assert!(world.violation.is_none(), "{:?}", world.violation);
}

fn drain(world: &mut World, i: usize, drained: bool) {
    world.local(
        i,
        LocalEvent::Admin {
            source: "operator".into(),
            active: !drained,
            reason: None,
        },
    );
}

/// The pin of `group` as node `i` sees it.
fn pin_seen(world: &World, i: usize, group: usize) -> Option<String> {
    let node = world.nodes[i].node.as_ref()?;
    node.status().groups[group].pin.clone().map(|p| p.node)
}

fn every_group_held_once(world: &World) {
    for g in 0..4 {
        assert_eq!(world.holders_of(&ip(g)).len(), 1, "group {g}");
    }
}

#[test]
fn a_move_asked_of_any_node_spreads_and_holds_under_loss() {
    for seed in 1..=20 {
        // Asked of the holder, of the recipient and of a third node in turn.
        let asked = [N1, N3, N2][seed as usize % 3];
        let mut world = world(seed);
        let pinned = world.pin(asked, 0, "n3").expect("n3 is eligible");
        assert!(!pinned.already_there);
        run_for(&mut world, 3.0);
        assert_eq!(world.holders_of(&ip(0)), [N3], "seed {seed}: group 0 moved");
        for i in 0..3 {
            assert_eq!(pin_seen(&world, i, 0).as_deref(), Some("n3"), "seed {seed}");
        }
        every_group_held_once(&world);

        // The preferred node leaves and comes back: the pin holds.
        drain(&mut world, N1, true);
        run_for(&mut world, 3.0);
        drain(&mut world, N1, false);
        run_for(&mut world, 4.0);
        assert_eq!(world.holders_of(&ip(0)), [N3], "seed {seed}: still pinned");
        every_group_held_once(&world);

        // Cleared (asked of another node): normal placement, n1 again.
        let cleared = world.unpin([N2, N1, N3][seed as usize % 3], 0).unwrap();
        assert_eq!(cleared.as_deref(), Some("n3"));
        run_for(&mut world, 4.0);
        assert_eq!(world.holders_of(&ip(0)), [N1], "seed {seed}: back to n1");
        for i in 0..3 {
            assert_eq!(
                pin_seen(&world, i, 0),
                None,
                "seed {seed}: cleared on n{}",
                i + 1
            );
        }
        every_group_held_once(&world);
    }
}

#[test]
fn moving_again_replaces_the_pin() {
    let mut world = world(31);
    world.pin(N2, 0, "n3").unwrap();
    run_for(&mut world, 3.0);
    assert_eq!(world.holders_of(&ip(0)), [N3]);
    let again = world.pin(N1, 0, "n2").unwrap();
    assert_eq!(again.replaced.as_deref(), Some("n3"));
    run_for(&mut world, 3.0);
    assert_eq!(world.holders_of(&ip(0)), [N2]);
    // Moving it to its holder only pins it.
    let here = world.pin(N3, 0, "n2").unwrap();
    assert!(here.already_there && here.replaced.is_none());
    every_group_held_once(&world);
}

#[test]
fn the_pin_ends_when_its_node_stops_serving() {
    let mut world = world(41);
    world.pin(N1, 0, "n3").unwrap();
    run_for(&mut world, 3.0);
    assert_eq!(world.holders_of(&ip(0)), [N3]);
    drain(&mut world, N3, true);
    run_for(&mut world, 3.0);
    assert_eq!(world.holders_of(&ip(0)), [N1], "back to the preferred node");
    drain(&mut world, N3, false);
    run_for(&mut world, 4.0);
    assert_eq!(
        world.holders_of(&ip(0)),
        [N1],
        "the pin ended with the drain"
    );
    for i in 0..3 {
        assert_eq!(pin_seen(&world, i, 0), None);
    }

    // A crash: the pin is dormant while n3 is gone and ends when it restarts.
    world.pin(N2, 0, "n3").unwrap();
    run_for(&mut world, 3.0);
    assert_eq!(world.holders_of(&ip(0)), [N3]);
    world.crash(N3);
    run_for(&mut world, 5.0);
    assert_eq!(world.holders_of(&ip(0)), [N1]);
    world.start(N3);
    run_for(&mut world, 6.0);
    assert_eq!(
        world.holders_of(&ip(0)),
        [N1],
        "a restarted n3 gets nothing back"
    );
    for i in 0..3 {
        assert_eq!(pin_seen(&world, i, 0), None);
    }
    every_group_held_once(&world);
}

#[test]
fn refusals_name_what_is_wrong() {
    let mut world = world(51);
    assert_eq!(
        world.pin(N1, 9, "n3"),
        Err(PinError::NoSuchGroup { group: 9, count: 4 })
    );
    assert_eq!(
        world.pin(N1, 0, "n9"),
        Err(PinError::NoSuchNode { node: "n9".into() })
    );
    drain(&mut world, N3, true);
    run_for(&mut world, 1.0);
    let refused = world.pin(N1, 0, "n3").unwrap_err();
    assert!(
        matches!(&refused, PinError::NotEligible { node, .. } if node == "n3"),
        "{refused}"
    );
    assert!(refused.to_string().contains("administrative"), "{refused}");
    let own = world.pin(N3, 0, "n3").unwrap_err();
    assert!(matches!(own, PinError::NotEligible { .. }), "{own}");
    world.crash(N2);
    world.start(N2);
    let booting = world.pin(N2, 0, "n1").unwrap_err();
    assert!(matches!(booting, PinError::Booting { .. }), "{booting}");
    assert_eq!(world.holders_of(&ip(0)), [N1], "nothing moved");
}
