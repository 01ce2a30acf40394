//! What one placement decision costs a node of a settled cluster, in wall
//! time (docs/BENCHMARKS.md, "Simulator at scale"):
//!
//! ```text
//! cargo run --release -p vippy-sim --example decide_cost -- 16 4096
//! ```
//!
//! Starts `nodes` nodes with `groups` groups on the simulator (no work
//! cost, slow timers so nothing expires while it measures), lets them
//! settle, then makes one node decide again and again: each round marks a
//! group it does not hold as one it cannot serve, or clears that, which
//! changes nothing placement gives it but makes it run over every group.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vippy_core::node::LocalEvent;
use vippy_sim::rng::Rng;
use vippy_sim::scenario::Shape;
use vippy_sim::world::World;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: decide_cost NODES GROUPS"))
        .collect();
    let (nodes, groups) = match args[..] {
        [n, g] => (n, g),
        _ => (16, 4096),
    };
    let mut shape = Shape::scale(&mut Rng::new(1), nodes, groups);
    shape.interval = Duration::from_secs(1);
    shape.stale = Duration::from_secs(3);
    shape.mature = Duration::from_secs(2);
    let config = shape.config(1, 0);
    let mut world = World::new(1, vec![config; nodes], Duration::from_millis(1));
    for i in 0..nodes {
        world.start(i);
    }
    let t = world.now + Duration::from_secs(8);
    world.run_until(t);
    let node = world.nodes[0].node.as_mut().expect("running");
    let held: Vec<std::net::IpAddr> = node.held_ips().map(|ip| ip.addr()).collect();
    let other = node
        .cluster()
        .groups
        .iter()
        .position(|g| !held.contains(&g.ips[0].addr()))
        .expect("a group n1 does not hold");
    let rounds = 200u32;
    let before = node.counters().decisions;
    let now = world.now;
    let started = Instant::now();
    for round in 0..rounds {
        let groups = if round % 2 == 0 {
            BTreeMap::from([(other, "bench".to_string())])
        } else {
            BTreeMap::new()
        };
        node.handle_local(
            now,
            LocalEvent::CannotServe {
                source: "bench".into(),
                groups,
            },
        );
        while node.poll_transmit().is_some() || node.poll_event().is_some() {}
        while node.poll_action().is_some() {}
    }
    let elapsed = started.elapsed();
    let decisions = node.counters().decisions - before;
    println!(
        "{nodes} nodes x {groups} groups: {decisions} decisions in {:.1} ms: {:.1} us each, {:.0} ns per group",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / f64::from(decisions as u32),
        elapsed.as_secs_f64() * 1e9 / (decisions as f64 * groups as f64)
    );
}
