//! Standing down never leaves groups unserved: a same-version conflict
//! makes the losing side stand down only for a winner that serves (not
//! one drained, failing a check or still booting). And with
//! `quorum` set, a config that changes one group spreading through the
//! cluster moves nothing else (quorum once counted only peers on the same
//! digest, so every node lost it while the new config spread).

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use vippy_core::config::{Config, load};
use vippy_core::node::{InactiveReason, LocalEvent};
use vippy_sim::world::World;

fn config(version: u64, extra: &str, quorum: bool) -> Arc<Config> {
    let text = format!(
        "{{ chat: '239.1.1.1:5007', secret: 's', version: {version}, interval: 0.2, stale: 0.8, mature: 0.4,
           quorum: {},
           vips: [[{{ip:'203.0.113.1/24'}}],[{{ip:'203.0.113.2/24'}}],[{{ip:'203.0.113.3/24'}}]{extra}],
           nodes: ['n1','n2','n3'] }}",
        if quorum { "'majority'" } else { "'off'" }
    );
    Arc::new(load(&text, "test").unwrap())
}

fn ips(n: usize) -> Vec<IpNet> {
    (1..=n)
        .map(|g| format!("203.0.113.{g}/24").parse().unwrap())
        .collect()
}

/// Three nodes on `v1`, started and settled.
fn settled(v1: &Arc<Config>) -> World {
    let mut world = World::new(
        3,
        vec![v1.clone(), v1.clone(), v1.clone()],
        Duration::from_micros(200),
    );
    for i in 0..3 {
        world.start(i);
    }
    run(&mut world, 3.0);
    world
}

fn run(world: &mut World, secs: f64) {
    let t = world.now + Duration::from_secs_f64(secs);
    world.run_until(t);
}

/// n1 is drained, then reloaded with a different file at the same version
/// whose digest wins the tie-break. Before, n2 and n3 stood down for it and
/// no VIP was served anywhere.
#[test]
fn a_drained_winner_of_a_conflict_does_not_take_the_cluster_down() {
    let v1 = config(1, "", false);
    let mut world = settled(&v1);
    world.local(
        0,
        LocalEvent::Admin {
            source: "admin".into(),
            active: false,
            reason: Some("maintenance".into()),
        },
    );
    run(&mut world, 2.0);
    world.reload(0, winning(&v1));
    run(&mut world, 3.0);
    each_group_held_once_not_by_n1(&world);
    for i in 1..3 {
        let reasons = world.nodes[i].node.as_ref().unwrap().reasons().to_vec();
        assert!(
            !reasons.contains(&InactiveReason::ConfigConflict),
            "n{} stood down for a drained winner: {reasons:?}",
            i + 1
        );
    }
    // Undrained, the winner serves, and the losers stand down for it.
    world.local(
        0,
        LocalEvent::Admin {
            source: "admin".into(),
            active: true,
            reason: None,
        },
    );
    run(&mut world, 3.0);
    for i in 1..3 {
        let reasons = world.nodes[i].node.as_ref().unwrap().reasons().to_vec();
        assert!(
            reasons.contains(&InactiveReason::ConfigConflict),
            "n{} serves beside an active winner: {reasons:?}",
            i + 1
        );
    }
}

/// A config at version 1 with another group whose digest beats `v1`'s, so
/// a node running it wins the tie-break.
fn winning(v1: &Config) -> Arc<Config> {
    let mine = v1.cluster.digest();
    [
        ", [{ip:'203.0.113.9/24'}]",
        ", [{ip:'203.0.113.8/24'}]",
        ", [{ip:'203.0.113.7/24'}]",
    ]
    .iter()
    .map(|extra| config(1, extra, false))
    .find(|c| c.cluster.digest() > mine)
    .expect("one of three digests is higher")
}

fn each_group_held_once_not_by_n1(world: &World) {
    for ip in ips(3) {
        let holders = world.holders_of(&ip);
        assert_eq!(
            holders.len(),
            1,
            "{ip} held by {holders:?}\n{:?}",
            world.trace
        );
        assert_ne!(holders[0], 0, "the inactive winner holds nothing");
    }
}

/// The same with a winner that fails a health check: the losers keep
/// serving until it passes.
#[test]
fn a_failing_winner_of_a_conflict_does_not_take_the_cluster_down() {
    let v1 = config(1, "", false);
    let mut world = settled(&v1);
    let check = |ok| LocalEvent::Health {
        check: "web".into(),
        ok,
    };
    world.local(0, check(false));
    run(&mut world, 2.0);
    world.reload(0, winning(&v1));
    run(&mut world, 3.0);
    each_group_held_once_not_by_n1(&world);
    world.local(0, check(true));
    run(&mut world, 3.0);
    for i in 1..3 {
        let reasons = world.nodes[i].node.as_ref().unwrap().reasons().to_vec();
        assert!(
            reasons.contains(&InactiveReason::ConfigConflict),
            "n{} serves beside a passing winner: {reasons:?}",
            i + 1
        );
    }
}

/// And with a winner that is still booting (restarted on the winning file,
/// not yet mature): the losers serve on until it matures.
#[test]
fn a_booting_winner_of_a_conflict_does_not_take_the_cluster_down() {
    let v1 = config(1, "", false);
    let mut world = settled(&v1);
    world.crash(0);
    run(&mut world, 2.0);
    world.nodes[0].config = winning(&v1);
    world.start(0);
    // `mature` is 0.4 s: well inside its boot.
    run(&mut world, 0.25);
    each_group_held_once_not_by_n1(&world);
    run(&mut world, 3.0);
    for i in 1..3 {
        let reasons = world.nodes[i].node.as_ref().unwrap().reasons().to_vec();
        assert!(
            reasons.contains(&InactiveReason::ConfigConflict),
            "n{} serves beside a mature winner: {reasons:?}",
            i + 1
        );
    }
    for ip in ips(3) {
        let holders = world.holders_of(&ip);
        assert_eq!(holders, vec![0], "{ip}\n{:?}", world.trace);
    }
}

/// With quorum, a new version that adds a group spreads from one node: no
/// group already held moves or goes unserved on the way.
#[test]
fn with_quorum_a_spreading_config_moves_nothing_else() {
    let v1 = config(1, "", true);
    let mut world = World::new(
        4,
        vec![v1.clone(), v1.clone(), v1],
        Duration::from_micros(200),
    );
    for i in 0..3 {
        world.start(i);
    }
    run(&mut world, 3.0);
    let before: Vec<Vec<usize>> = ips(3).iter().map(|ip| world.holders_of(ip)).collect();
    assert!(before.iter().all(|h| h.len() == 1), "{before:?}");
    world.reload(1, config(2, ", [{ip:'203.0.113.4/24'}]", true));
    let end = world.now + Duration::from_secs(3);
    while world.now < end {
        run(&mut world, 0.01);
        let now: Vec<Vec<usize>> = ips(3).iter().map(|ip| world.holders_of(ip)).collect();
        assert_eq!(
            now, before,
            "an unchanged group moved while v2 spread\n{:?}",
            world.trace
        );
    }
    assert_eq!(
        world.holders_of(&ips(4)[3]).len(),
        1,
        "the new group is served"
    );
}
