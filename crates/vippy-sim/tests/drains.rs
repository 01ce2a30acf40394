//! Administrative drains from several sources (an operator, plugins): the
//! node serves again only when every source has undrained it.

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::load;
use vippy_core::node::{InactiveReason, LocalEvent, NodeStatus};
use vippy_sim::world::World;

fn drain(source: &str, active: bool, reason: Option<&str>) -> LocalEvent {
    LocalEvent::Admin {
        source: source.into(),
        active,
        reason: reason.map(String::from),
    }
}

fn n2(world: &World) -> NodeStatus {
    world.nodes[1].node.as_ref().unwrap().status()
}

fn held_by_n2(world: &World) -> usize {
    (1..=3)
        .filter(|g| {
            let ip = format!("203.0.113.{g}/24").parse().unwrap();
            world.holders_of(&ip) == [1]
        })
        .count()
}

#[test]
fn a_node_drained_by_two_sources_serves_again_only_when_both_undrain() {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.2, stale: 0.8,
                  mature: 0.4, vips: [[{ip:'203.0.113.1/24'}],[{ip:'203.0.113.2/24'}],
                  [{ip:'203.0.113.3/24'}]], nodes: ['n1','n2','n3'] }";
    let config = Arc::new(load(text, "test").unwrap());
    let mut world = World::new(7, vec![config.clone(); 3], Duration::from_micros(200));
    for i in 0..3 {
        world.start(i);
    }
    let settle = |world: &mut World| {
        let t = world.now + Duration::from_secs(3);
        world.run_until(t);
    };
    settle(&mut world);
    assert_eq!(held_by_n2(&world), 1);

    world.local(1, drain("admin", false, Some("kernel upgrade")));
    world.local(1, drain("disk-guard", false, Some("disk full")));
    settle(&mut world);
    let status = n2(&world);
    assert!(!status.active && status.reasons.contains(&InactiveReason::Administrative));
    assert_eq!(status.drains.len(), 2, "{:?}", status.drains);
    assert_eq!(status.drains["disk-guard"], "disk full");
    assert_eq!(held_by_n2(&world), 0);

    // The operator's undrain lifts only the operator's drain.
    world.local(1, drain("admin", true, None));
    settle(&mut world);
    let status = n2(&world);
    assert!(!status.active, "still drained by disk-guard");
    assert_eq!(status.drains.keys().collect::<Vec<_>>(), ["disk-guard"]);
    assert_eq!(held_by_n2(&world), 0);

    world.local(1, drain("disk-guard", true, None));
    settle(&mut world);
    assert!(n2(&world).active);
    assert_eq!(held_by_n2(&world), 1);

    // Undrain-all lifts every drain at once; an undrain by a source that
    // never drained changes nothing.
    world.local(1, drain("a", false, None));
    world.local(1, drain("b", false, None));
    world.local(1, drain("c", true, None));
    settle(&mut world);
    assert_eq!(n2(&world).drains["a"], "drained");
    assert!(!n2(&world).active);
    world.local(1, LocalEvent::UndrainAll);
    settle(&mut world);
    assert!(n2(&world).active && n2(&world).drains.is_empty());
    assert_eq!(held_by_n2(&world), 1);
}
