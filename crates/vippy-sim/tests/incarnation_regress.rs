//! A node restarted twice with its clock behind (no `state_dir`) raises its
//! incarnation above the one a peer holds for it. The second run may hear a
//! peer that missed the first run, and so raise itself from the same
//! number the first run did: a peer that met the first run must not take
//! the second for a replay of it (its datagrams were rejected as duplicate
//! sequence numbers, with nothing telling it why, until the sequence caught
//! up with the first run's).

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::{Config, load};
use vippy_sim::world::World;

fn config() -> Arc<Config> {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', interval: 0.2, stale: 0.8, mature: 0.4,
           vips: [[{ip:'203.0.113.1/24'}],[{ip:'203.0.113.2/24'}],[{ip:'203.0.113.3/24'}]],
           nodes: ['n1','n2','n3'] }";
    Arc::new(load(text, "test").unwrap())
}

fn run(world: &mut World, secs: f64) {
    let t = world.now + Duration::from_secs_f64(secs);
    world.run_until(t);
}

fn cut(world: &mut World, a: usize, b: usize) {
    world.faults.blocked.insert((a, b));
    world.faults.blocked.insert((b, a));
}

/// Whether `viewer` counts `peer` with `incarnation`.
fn counts(world: &World, viewer: usize, peer: &str) -> Option<u64> {
    let status = world.nodes[viewer].node.as_ref()?.status();
    status
        .peers
        .iter()
        .find(|p| p.name == peer && p.present)
        .map(|p| p.incarnation)
}

#[test]
fn a_second_run_behind_the_clock_is_not_taken_for_a_replay_of_the_first() {
    let c = config();
    let mut world = World::new(
        11,
        vec![c.clone(), c.clone(), c],
        Duration::from_micros(200),
    );
    world.start_as(0, 1_000_000);
    world.start(1);
    world.start(2);
    run(&mut world, 3.0);

    // First run behind the clock, heard by n3 only: it raises itself above
    // what n3 holds, and runs long enough to number many heartbeats.
    cut(&mut world, 0, 1);
    world.crash(0);
    world.start_as(0, 500_500);
    run(&mut world, 8.0);
    let first = counts(&world, 2, "n1").expect("n3 counts the first run");
    assert!(first > 1_000_000, "raised above the first: {first}");

    // Second run, further behind; n2 (which still holds the very first
    // incarnation) is heard before n3.
    world.crash(0);
    world.faults.blocked.clear();
    cut(&mut world, 0, 2);
    world.start_as(0, 250_500);
    run(&mut world, 1.0);
    world.faults.blocked.clear();
    run(&mut world, 2.0);
    let trace = || world.trace.iter().cloned().collect::<Vec<_>>().join("\n");
    let second = counts(&world, 2, "n1");
    assert!(
        second.is_some_and(|s| s > first),
        "n3 does not count the second run ({second:?}, first {first})\n{}",
        trace()
    );
    assert!(
        counts(&world, 1, "n1").is_some(),
        "n2 counts it\n{}",
        trace()
    );
}
