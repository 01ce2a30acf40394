//! Authenticated senders outside `nodes` (nodes of a newer config) are
//! remembered up to a bound. Strangers that are gone make room for new
//! ones: once, 64 departed strangers locked every later one out for good.

use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::load;
use vippy_sim::world::World;

#[test]
fn departed_strangers_make_room_for_new_ones() {
    let strangers = 80;
    // n1 runs version 2 with itself alone; the others were written for a
    // version 1 that lists them (index 0 is n1's slot in the world).
    let mine = "{ chat: '239.1.1.1:5007', secret: 's', version: 2, interval: 0.2, stale: 0.8,
                  mature: 0.6, vips: [[{ip:'203.0.113.1/24'}]], nodes: ['n1'] }";
    let names: Vec<String> = (0..=strangers)
        .map(|i| {
            if i == 0 {
                "'b0'".into()
            } else {
                format!("'s{i}'")
            }
        })
        .collect();
    let theirs = format!(
        "{{ chat: '239.1.1.1:5007', secret: 's', version: 1, interval: 0.2, stale: 0.8,
           mature: 0.6, vips: [[{{ip:'203.0.113.2/24'}}]], nodes: [{}] }}",
        names.join(",")
    );
    let mine = Arc::new(load(mine, "mine").unwrap());
    let theirs = Arc::new(load(&theirs, "theirs").unwrap());
    let mut configs = vec![mine];
    configs.extend(std::iter::repeat_n(theirs, strangers));
    let mut world = World::new(5, configs, Duration::from_micros(200));

    world.start(0);
    for i in 1..=64 {
        world.start(i);
    }
    let t = world.base + Duration::from_secs(3);
    world.run_until(t);
    for i in 1..=64 {
        world.crash(i);
    }
    let t = world.now + Duration::from_secs(3);
    world.run_until(t);
    for i in 65..=strangers {
        world.start(i);
    }
    let t = world.now + Duration::from_secs(2);
    world.run_until(t);

    let status = world.nodes[0].node.as_ref().unwrap().status();
    let recently = world.now - Duration::from_secs(1);
    let heard: Vec<&str> = status
        .peers
        .iter()
        .filter(|p| p.last_heard > recently)
        .map(|p| p.name.as_str())
        .collect();
    for i in 65..=strangers {
        assert!(
            heard.contains(&format!("s{i}").as_str()),
            "s{i} unheard: {heard:?}"
        );
    }
}
