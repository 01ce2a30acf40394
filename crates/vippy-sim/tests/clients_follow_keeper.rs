//! After a partition of the chat (the clients' LAN intact) both sides hold
//! a group and clients follow whichever announced last. If that node then
//! lets the group go by a planned move whose recipient never takes it, the
//! keeper on the other side must still learn, when the partition heals, that
//! it had a rival, and announce again; before, only a release without a
//! recipient was told, and clients kept sending to the node that gave the
//! address up. The keeper was frozen through the partition, so it never
//! saw its rival's side go stale and come back (which alone makes it
//! announce again).

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use vippy_core::config::{Config, load};
use vippy_core::node::LocalEvent;
use vippy_sim::world::World;

fn config() -> Arc<Config> {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', interval: 0.2, stale: 0.8, mature: 0.4,
           vips: [['n2', {ip:'203.0.113.1/24'}]],
           nodes: ['n1','n2','n3'] }";
    Arc::new(load(text, "test").unwrap())
}

fn run(world: &mut World, secs: f64) {
    let t = world.now + Duration::from_secs_f64(secs);
    world.run_until(t);
}

fn partition(world: &mut World, side: &[usize], rest: &[usize]) {
    for &a in side {
        for &b in rest {
            world.faults.blocked.insert((a, b));
            world.faults.blocked.insert((b, a));
        }
    }
}

#[test]
fn a_keeper_announces_again_after_its_rival_handed_the_group_to_nobody() {
    let c = config();
    let ip: IpNet = "203.0.113.1/24".parse().unwrap();
    let mut world = World::new(7, vec![c.clone(), c.clone(), c], Duration::from_micros(200));
    for i in 0..3 {
        world.start(i);
    }
    run(&mut world, 3.0);
    assert_eq!(world.holders_of(&ip), vec![1], "n2 prefers the group");

    // n1 and n3 lose n2 and take the group on their side: their
    // announcement is the last the clients heard. n2 is frozen before it
    // can see them go stale, so it never misses them (and on its own
    // account has nothing to announce again when it hears them).
    partition(&mut world, &[0, 2], &[1]);
    run(&mut world, 0.3);
    world.pause(1);
    run(&mut world, 1.5);
    let mut holders = world.holders_of(&ip);
    holders.sort_unstable();
    assert_eq!(holders.len(), 2, "both sides hold it: {holders:?}");
    let rival = holders.into_iter().find(|&h| h != 1).unwrap();
    let other = 2 - rival; // the rival's partner: n1 <-> n3
    assert_eq!(world.client_cache[&ip.addr()].0, rival);

    // The partner stops (a frozen VM), and the rival's check fails: it
    // hands the group to the partner, which never takes it.
    world.pause(other);
    world.local(
        rival,
        LocalEvent::Health {
            check: "web".into(),
            ok: false,
        },
    );
    // The partition outlasts the handoff (which tells a keeper too).
    run(&mut world, 1.5);
    assert_eq!(world.holders_of(&ip), vec![1]);
    assert_eq!(
        world.client_cache[&ip.addr()].0,
        rival,
        "nobody announced since"
    );

    world.faults.blocked.clear();
    world.resume(1);
    // stale + 2 intervals
    run(&mut world, 1.2);
    assert_eq!(world.holders_of(&ip), vec![1]);
    assert_eq!(
        world.client_cache[&ip.addr()].0,
        1,
        "the clients still follow the node that gave the group up\n{}",
        world.trace.iter().cloned().collect::<Vec<_>>().join("\n")
    );
}
