//! Failback control (`failback`, docs/ARCHITECTURE.md "Failback"): when a
//! node that comes back gets its preferred group, and its balanced share,
//! back from the nodes that held them meanwhile.
//!
//! Three nodes, four groups; group 0 prefers n1. n1 goes away (a failing
//! check, or restarts) and comes back, with each setting. Every test runs
//! with the strict single-holder check: never two holders of an address.

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use vippy_core::config::{Config, Failback, load};
use vippy_core::node::{Cause, Event, LocalEvent};
use vippy_sim::world::World;

const N1: usize = 0;

fn config(failback: &str) -> Arc<Config> {
    let text = format!(
        "{{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.5, stale: 1.5,
            mature: 1, {failback}
            vips: [['n1', {{ip:'203.0.113.1/24'}}], [{{ip:'203.0.113.2/24'}}],
                   [{{ip:'203.0.113.3/24'}}], [{{ip:'203.0.113.4/24'}}]],
            nodes: ['n1','n2','n3'] }}"
    );
    Arc::new(load(&text, "test").unwrap())
}

fn ip(g: usize) -> IpNet {
    format!("203.0.113.{}/24", g + 1).parse().unwrap()
}

/// Three nodes booted and settled: group 0 on n1.
fn world(configs: [Arc<Config>; 3]) -> World {
    let mut world = World::new(11, configs.to_vec(), Duration::from_millis(1));
    world.watched = (0..4).map(ip).collect();
    world.strict_single_holder = true;
    for i in 0..3 {
        world.start(i);
    }
    run_for(&mut world, 4.0);
    assert_eq!(world.holders_of(&ip(0)), [N1], "group 0 starts on n1");
    world
}

fn run_for(world: &mut World, seconds: f64) {
    let t = world.now + Duration::from_secs_f64(seconds);
    world.run_until(t);
    assert!(world.violation.is_none(), "{:?}", world.violation);
}

fn check(world: &mut World, i: usize, ok: bool) {
    world.local(
        i,
        LocalEvent::Health {
            check: "web".into(),
            ok,
        },
    );
}

/// Runs `seconds` in steps of 50 ms; true if n1 held any group meanwhile.
fn n1_held_any_during(world: &mut World, seconds: f64) -> bool {
    let mut held = false;
    for _ in 0..(seconds / 0.05).round() as usize {
        run_for(world, 0.05);
        held |= (0..4).any(|g| world.holders_of(&ip(g)).contains(&N1));
    }
    held
}

fn loads(world: &World) -> Vec<usize> {
    (0..3)
        .map(|i| (0..4).filter(|&g| world.holders_of(&ip(g)) == [i]).count())
        .collect()
}

/// n1's check fails: group 0 fails over at once. Returns its new holder.
fn fail_n1(world: &mut World) -> usize {
    check(world, N1, false);
    run_for(world, 1.0);
    let holders = world.holders_of(&ip(0));
    assert_eq!(holders.len(), 1, "group 0 held once: {holders:?}");
    assert_ne!(holders[0], N1);
    holders[0]
}

/// Up 2 s, down 1 s, four times.
fn flap_n1(world: &mut World) -> bool {
    let mut held = false;
    for _ in 0..4 {
        check(world, N1, true);
        held |= n1_held_any_during(world, 2.0);
        check(world, N1, false);
        held |= n1_held_any_during(world, 1.0);
    }
    held
}

#[test]
fn failback_delay_ignores_a_flapping_node_and_gives_back_once_it_stays_up() {
    let mut world = world([
        config("failback: 5,"),
        config("failback: 5,"),
        config("failback: 5,"),
    ]);
    assert_eq!(
        world.nodes[1].node.as_ref().unwrap().status().failback,
        Failback::After(Duration::from_secs(5))
    );
    let holder = fail_n1(&mut world);
    assert!(
        !flap_n1(&mut world),
        "n1 took a group while flapping (up 2 s, down 1 s) with failback: 5"
    );
    assert_eq!(world.holders_of(&ip(0)), [holder]);

    // Up for good: the holder keeps group 0 for 5 s, then hands it back.
    check(&mut world, N1, true);
    let up = world.now;
    run_for(&mut world, 0.5);
    let status = world.nodes[holder].node.as_ref().unwrap().status();
    let pending = status.groups[0]
        .failback
        .clone()
        .expect("a pending failback");
    assert_eq!(pending.to, "n1");
    let at = pending.at.expect("a time with failback: 5");
    let after = (at - up).as_secs_f64();
    assert!(
        (5.0..5.1).contains(&after),
        "failback due {after} s after n1 came up"
    );
    assert!(
        !n1_held_any_during(&mut world, 4.3),
        "n1 took a group before it had been up 5 s"
    );
    run_for(&mut world, 0.4);
    assert_eq!(
        world.holders_of(&ip(0)),
        [N1],
        "n1 up 5.2 s: group 0 is back"
    );
    let mut back = loads(&world);
    back.sort();
    assert_eq!(back, [1, 1, 2], "balanced again");
    let status = world.nodes[holder].node.as_ref().unwrap().status();
    assert!(status.groups.iter().all(|g| g.failback.is_none()));
}

#[test]
fn failback_delay_starts_again_when_the_node_restarts() {
    // Down here is a restart (a new incarnation, booting for `mature`): up
    // 2 s, restart, four times; stale (1.5 s) never passes.
    let mut world = world([
        config("failback: 5,"),
        config("failback: 5,"),
        config("failback: 5,"),
    ]);
    world.crash(N1);
    run_for(&mut world, 2.0);
    let holder = world.holders_of(&ip(0))[0];
    let mut held = false;
    for _ in 0..4 {
        world.start(N1);
        held |= n1_held_any_during(&mut world, 3.0); // 1 s booting, 2 s up
        world.crash(N1);
    }
    assert!(!held, "n1 took a group between restarts with failback: 5");
    assert_eq!(world.holders_of(&ip(0)), [holder]);
    world.start(N1);
    assert!(
        !n1_held_any_during(&mut world, 5.5),
        "1 s booting + 4.5 s up"
    );
    run_for(&mut world, 1.0);
    assert_eq!(world.holders_of(&ip(0)), [N1]);
}

#[test]
fn manual_failback_leaves_the_group_until_its_holder_goes() {
    let mut world = world([
        config("failback: 'manual',"),
        config("failback: 'manual',"),
        config("failback: 'manual',"),
    ]);
    let holder = fail_n1(&mut world);
    let before: Vec<Vec<usize>> = (0..4).map(|g| world.holders_of(&ip(g))).collect();
    check(&mut world, N1, true);
    assert!(
        !n1_held_any_during(&mut world, 20.0),
        "n1 took a held group with failback: manual"
    );
    let after: Vec<Vec<usize>> = (0..4).map(|g| world.holders_of(&ip(g))).collect();
    assert_eq!(before, after, "nothing moved when n1 came back");
    let status = world.nodes[holder].node.as_ref().unwrap().status();
    assert_eq!(status.failback, Failback::Manual);
    let pending = status.groups[0]
        .failback
        .clone()
        .expect("a pending failback");
    assert_eq!((pending.to.as_str(), pending.at), ("n1", None));

    // The holder dies: group 0 goes to its preferred node n1, after stale.
    world.record();
    world.crash(holder);
    run_for(&mut world, 2.0);
    assert_eq!(world.holders_of(&ip(0)), [N1]);
    let holder_name = format!("n{}", holder + 1);
    let taken = world.take_recorded().into_iter().any(|r| {
        r.node == N1
            && matches!(&r.output, vippy_sim::world::Output::Event(Event::Acquired {
                group: 0, cause: Cause::PeerStale(from), ..
            }) if *from == holder_name)
    });
    assert!(taken, "n1 took group 0 because its holder went stale");
}

#[test]
fn immediate_failback_is_the_original_rule() {
    // The default and "immediate" are the same: n1 takes group 0 back
    // each time it is up, within a heartbeat or two.
    for text in ["", "failback: 'immediate',", "failback: 0,"] {
        let mut world = world([config(text), config(text), config(text)]);
        assert_eq!(
            world.nodes[0].node.as_ref().unwrap().status().failback,
            Failback::Immediate
        );
        fail_n1(&mut world);
        for _ in 0..3 {
            check(&mut world, N1, true);
            run_for(&mut world, 0.3);
            assert_eq!(world.holders_of(&ip(0)), [N1], "{text:?}: back at once");
            run_for(&mut world, 1.7);
            check(&mut world, N1, false);
            run_for(&mut world, 1.0);
            assert!(!world.holders_of(&ip(0)).contains(&N1));
        }
    }
}

#[test]
fn mixed_settings_follow_the_holder_and_never_double_hold() {
    // failback is local: each holder lets go by its own setting. n2 and n3
    // disagree; whoever holds group 0 decides, and n1 never takes it while
    // the holder keeps it.
    for (n2, n3) in [("failback: 5,", ""), ("", "failback: 'manual',")] {
        let mut world = world([config(""), config(n2), config(n3)]);
        let holder = fail_n1(&mut world);
        let setting = world.nodes[holder].node.as_ref().unwrap().status().failback;
        check(&mut world, N1, true);
        run_for(&mut world, 1.0);
        let back_at_once = world.holders_of(&ip(0)) == [N1];
        assert_eq!(
            back_at_once,
            setting == Failback::Immediate,
            "holder {holder} {setting}"
        );
        run_for(&mut world, 5.0);
        let back = world.holders_of(&ip(0)) == [N1];
        assert_eq!(
            back,
            setting != Failback::Manual,
            "holder {holder} {setting}"
        );
    }
}
