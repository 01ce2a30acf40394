//! A config change that removes a node (found by review: the old config's
//! node indices used to be looked up in the shorter new list, and panicked).

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::load;
use vippy_core::node::InactiveReason;
use vippy_sim::world::World;

fn config(version: u64, nodes: &str) -> Arc<vippy_core::config::Config> {
    let text = format!(
        "{{ chat: '239.1.1.1:5007', secret: 's', version: {version}, interval: 0.2, stale: 0.8, mature: 0.4,
           vips: [[{{ip:'203.0.113.1/24'}}],[{{ip:'203.0.113.2/24'}}],[{{ip:'203.0.113.3/24'}}],['n3', {{ip:'203.0.113.4/24'}}]],
           nodes: [{nodes}] }}"
    );
    Arc::new(load(&text, "test").unwrap())
}

#[test]
fn removing_a_node_moves_its_groups_and_panics_nowhere() {
    let v1 = config(1, "'n1','n2','n3'");
    let mut world = World::new(
        7,
        vec![v1.clone(), v1.clone(), v1],
        Duration::from_micros(200),
    );
    for i in 0..3 {
        world.start(i);
    }
    let t = world.base + Duration::from_secs(3);
    world.run_until(t);
    let ips: Vec<ipnet::IpNet> = (1..=4)
        .map(|g| format!("203.0.113.{g}/24").parse().unwrap())
        .collect();
    assert!(
        world.holders_of(&ips[3]) == [2],
        "n3 holds its preferred group first"
    );

    // v2 drops n3 (and with it n3's preference).
    let v2_text = "'n1','n2'";
    let v2 = {
        let text = format!(
            "{{ chat: '239.1.1.1:5007', secret: 's', version: 2, interval: 0.2, stale: 0.8, mature: 0.4,
               vips: [[{{ip:'203.0.113.1/24'}}],[{{ip:'203.0.113.2/24'}}],[{{ip:'203.0.113.3/24'}}],[{{ip:'203.0.113.4/24'}}]],
               nodes: [{v2_text}] }}"
        );
        Arc::new(load(&text, "test").unwrap())
    };
    world.reload(0, v2);
    let t = world.now + Duration::from_secs(3);
    world.run_until(t);
    assert!(world.violation.is_none(), "{:?}", world.violation);
    for ip in &ips {
        let holders = world.holders_of(ip);
        assert_eq!(holders.len(), 1, "{ip} held by {holders:?}");
        assert_ne!(holders[0], 2, "{ip} still on the removed node");
    }
    // A config that does not list a node is not adopted by it (it could
    // be another cluster's): n3 stays on v1 and stands down while a member
    // runs v2.
    let n3 = world.nodes[2].node.as_ref().unwrap();
    assert_eq!(
        n3.cluster().version,
        1,
        "the removed node keeps its own config"
    );
    assert!(
        n3.reasons().contains(&InactiveReason::NotInConfig),
        "{:?}",
        n3.reasons()
    );
}
