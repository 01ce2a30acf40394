//! A node back from a pause (SIGSTOP, a frozen VM, a starved loop) has
//! datagrams queued that say what its peers did meanwhile. Its own timers
//! fire first, and a decision made then acts on the old view: it took
//! groups its peers had taken meanwhile "as unowned" and announced them
//! beside their holders, then released them once it read the backlog, so
//! clients followed a node that no longer held the address. Now it decides
//! nothing until it has read what queued.

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

fn recorded(world: &World) -> impl Iterator<Item = &vippy_sim::world::Recorded> {
    world.recorder.as_ref().unwrap().outputs.iter()
}

/// When (seconds since start) the first output matching `f` came, after 1 s.
fn first_output_at(world: &World, f: impl Fn(&vippy_sim::world::Recorded) -> bool) -> f64 {
    recorded(world)
        .filter(|r| r.at.as_secs_f64() > 1.0 && f(r))
        .map(|r| r.at.as_secs_f64())
        .next()
        .unwrap_or(f64::MAX)
}

#[test]
fn a_resumed_node_takes_nothing_its_peers_took_while_it_was_stopped() {
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
    // n3 is eligible (at `mature`, 0.4 s) but stopped before it claims its
    // share of the groups nobody holds yet (a moment later, once the
    // membership is still); n1 and n2 take everything once it goes stale.
    run(&mut world, 0.44);
    world.pause(2);
    run(&mut world, 2.0);
    for g in 0..6 {
        let ip = format!("203.0.113.{}/24", g + 1).parse().unwrap();
        assert_eq!(world.holders_of(&ip).len(), 1, "group {g} is held once");
    }
    let resumed_at = world.elapsed();
    world.resume(2);
    run(&mut world, 3.0);
    // What n3 plumbed on waking, before its peers let anything go.
    let first_release = first_output_at(&world, |r| {
        r.node != 2 && matches!(r.output, Output::Action(Action::Unplumb { .. }))
    });
    let early: Vec<usize> = recorded(&world)
        .filter(|r| r.node == 2 && r.at.as_secs_f64() >= resumed_at)
        .filter(|r| r.at.as_secs_f64() < first_release)
        .filter_map(|r| match &r.output {
            Output::Action(Action::Plumb { group, .. }) => Some(*group),
            _ => None,
        })
        .collect();
    assert_eq!(early, Vec::<usize>::new(), "n3 took groups its peers held");
    // Every group still ends up on exactly one node, and clients follow it.
    for g in 0..6 {
        let ip = format!("203.0.113.{}/24", g + 1).parse().unwrap();
        let holders = world.holders_of(&ip);
        assert_eq!(holders.len(), 1, "group {g}: {holders:?}");
        assert_eq!(world.client_cache[&ip.addr()].0, holders[0], "group {g}");
    }
}
