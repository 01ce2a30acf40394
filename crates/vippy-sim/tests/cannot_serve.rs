//! Per-group eligibility: a node that cannot serve some groups (an
//! interface down, a failed plumb) gives up exactly those, stays eligible
//! for the rest, and its peers never place them on it; once it can serve
//! them again, its preferred group comes back. (Placement moves nothing
//! else at first; keeping loads within one may then move one group onto the
//! node that lost one.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use vippy_core::config::{Config, load};
use vippy_core::node::LocalEvent;
use vippy_sim::world::World;

fn config() -> Arc<Config> {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', interval: 0.2, stale: 0.8, mature: 0.4,
           vips: [['n1', {ip:'203.0.113.1/24'}], ['n1', {ip:'203.0.113.2/24'}],
                  [{ip:'203.0.113.3/24'}], [{ip:'203.0.113.4/24'}], [{ip:'203.0.113.5/24'}],
                  [{ip:'203.0.113.6/24'}]],
           nodes: ['n1','n2','n3'] }";
    Arc::new(load(text, "test").unwrap())
}

fn ip(g: usize) -> IpNet {
    format!("203.0.113.{}/24", g + 1).parse().unwrap()
}

fn run(world: &mut World, secs: f64) {
    let t = world.now + Duration::from_secs_f64(secs);
    world.run_until(t);
}

fn holders(world: &World) -> Vec<Vec<usize>> {
    (0..6).map(|g| world.holders_of(&ip(g))).collect()
}

#[test]
fn a_dead_link_moves_only_its_groups_and_they_come_back() {
    let c = config();
    let mut world = World::new(3, vec![c.clone(), c.clone(), c], Duration::from_micros(200));
    world.strict_single_holder = true;
    for i in 0..3 {
        world.start(i);
    }
    run(&mut world, 3.0);
    let before = holders(&world);
    assert_eq!(before[0], vec![0]);
    assert_eq!(before[1], vec![0]);

    // n1's interface for group 0 goes down.
    world.local(
        0,
        LocalEvent::CannotServe {
            source: "link".into(),
            groups: BTreeMap::from([(0, "link:eth1".to_string())]),
        },
    );
    run(&mut world, 2.0);
    let after = holders(&world);
    assert_eq!(after[0].len(), 1, "group 0 is served: {after:?}");
    assert_ne!(after[0], vec![0], "not by n1");
    assert_eq!(
        after[1],
        vec![0],
        "n1 keeps the group its link still serves"
    );
    // Balance over what remains: n1, left with one group, may take one
    // other group (a planned, release-first move); nothing more moves.
    let moved: Vec<usize> = (2..6).filter(|&g| after[g] != before[g]).collect();
    assert!(moved.len() <= 1, "groups {moved:?} moved: {after:?}");
    for &g in &moved {
        assert_eq!(after[g], vec![0], "group {g} rebalanced onto n1");
    }
    let status = world.nodes[0].node.as_ref().unwrap().status();
    assert!(status.active, "n1 stays active");
    assert_eq!(status.groups[0].cannot_here, vec!["link:eth1".to_string()]);
    let seen_by_n2 = world.nodes[1].node.as_ref().unwrap().status();
    assert_eq!(
        seen_by_n2.groups[0].cannot_elsewhere,
        vec!["n1".to_string()]
    );

    // The link comes back: the preferred group returns to n1.
    world.local(
        0,
        LocalEvent::CannotServe {
            source: "link".into(),
            groups: BTreeMap::new(),
        },
    );
    run(&mut world, 2.0);
    assert_eq!(holders(&world), before);
    assert!(world.violation.is_none(), "{:?}", world.violation);
}
