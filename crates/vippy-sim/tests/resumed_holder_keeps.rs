//! A node that held groups and was paused for longer than `stale` comes
//! back to peers that took its groups meanwhile and no longer echo it
//! (they judged it stale). Until they hear its first heartbeat they look
//! deaf to it: a holder that does not hear us. It used to give way to them
//! at once while they, hearing it again, gave way to it, so the group was
//! held by nobody for a decision round. Now a resumed node waits for its
//! peers to have heard it before calling them deaf.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::{Config, load};
use vippy_core::node::Action;
use vippy_sim::world::{Output, World};

fn config() -> Arc<Config> {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', interval: 0.2, stale: 0.8, mature: 0.4,
           vips: [[{ip:'203.0.113.1/24'}],[{ip:'203.0.113.2/24'}],[{ip:'203.0.113.3/24'}],
                  [{ip:'203.0.113.4/24'}],[{ip:'203.0.113.5/24'}],[{ip:'203.0.113.6/24'}]],
           nodes: ['n1','n2','n3'] }";
    Arc::new(load(text, "test").unwrap())
}

fn run(world: &mut World, secs: f64) {
    let t = world.now + Duration::from_secs_f64(secs);
    world.run_until(t);
}

/// The longest time, after `from` (seconds since start), that a group was
/// plumbed on no node, from the recorded plumbs and unplumbs.
fn longest_unheld(world: &World, from: f64) -> BTreeMap<usize, f64> {
    let mut holders: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    let mut empty_since: BTreeMap<usize, f64> = BTreeMap::new();
    let mut longest: BTreeMap<usize, f64> = BTreeMap::new();
    for r in &world.recorder.as_ref().unwrap().outputs {
        let at = r.at.as_secs_f64();
        match &r.output {
            Output::Action(Action::Plumb { group, .. }) => {
                holders.entry(*group).or_default().insert(r.node);
                if let Some(since) = empty_since.remove(group)
                    && since >= from
                {
                    let gap = longest.entry(*group).or_default();
                    *gap = gap.max(at - since);
                }
            }
            Output::Action(Action::Unplumb {
                group: Some(group), ..
            }) => {
                let on = holders.entry(*group).or_default();
                if on.remove(&r.node) && on.is_empty() {
                    empty_since.insert(*group, at);
                }
            }
            _ => {}
        }
    }
    for (group, since) in empty_since {
        longest.insert(group, f64::MAX - since);
    }
    longest
}

#[test]
fn a_resumed_holder_does_not_leave_its_groups_unheld() {
    let c = config();
    let mut world = World::new(
        11,
        vec![c.clone(), c.clone(), c],
        Duration::from_micros(200),
    );
    world.record();
    for i in 0..3 {
        world.start(i);
    }
    // Settled, n3 holding its share; then stopped for 2.5 × stale.
    run(&mut world, 2.0);
    world.pause(2);
    run(&mut world, 2.0);
    let resumed_at = world.elapsed();
    world.resume(2);
    run(&mut world, 3.0);
    // A handoff leaves a group unheld for one network delay (0.2 ms here)
    // plus the receiver's turn; a decision round (50 ms) means someone
    // gave way to a peer that was giving way to it.
    let gaps = longest_unheld(&world, resumed_at);
    let long: Vec<(usize, f64)> = gaps.into_iter().filter(|(_, gap)| *gap > 0.01).collect();
    assert!(
        long.is_empty(),
        "groups unheld after the resume (group, seconds): {long:?}"
    );
    for g in 0..6 {
        let ip = format!("203.0.113.{}/24", g + 1).parse().unwrap();
        let holders = world.holders_of(&ip);
        assert_eq!(holders.len(), 1, "group {g}: {holders:?}");
        assert_eq!(world.client_cache[&ip.addr()].0, holders[0], "group {g}");
    }
}
