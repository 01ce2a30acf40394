//! `vippy::net::Netlink` in the lab: VIPs plumbed and released, links,
//! the connected-subnet lookup and the neighbour table.

mod support;

use std::net::IpAddr;

use ipnet::IpNet;
use support::net::{inside, lab_link, netlink};
use vippy::net::{Netlink, promote_secondaries};
use vippy_lab::{Lab, LabSpec};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn vips_are_plumbed_and_released_idempotently() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec::nodes(1)).unwrap();
    let node = &lab.nodes()[0];
    let client = lab.client().unwrap();
    let nl = netlink(node);
    let eth0 = lab_link(&nl, node).await;
    assert_eq!(eth0.mac, Some(node.mac));
    assert!(eth0.up && eth0.running && eth0.multicast && !eth0.loopback);
    assert!(
        nl.links()
            .await
            .unwrap()
            .iter()
            .any(|l| l.loopback && l.name == "lo")
    );

    let v4 = net("198.51.100.100/24");
    let v6 = net("2001:db8::100/64");
    for vip in [v4, v6] {
        nl.add_address(eth0.index, vip).await.unwrap();
        nl.add_address(eth0.index, vip).await.unwrap(); // again: still fine
    }
    let ours: Vec<_> = nl
        .addresses()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.vip)
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    for a in &ours {
        assert_eq!(a.ifindex, eth0.index);
        assert_eq!(a.ifname.as_deref(), Some("eth0"));
    }
    let v4_seen = ours.iter().find(|a| a.net == v4).unwrap();
    assert!(
        v4_seen.secondary,
        "the node's own address is primary in the subnet"
    );
    assert!(ours.iter().any(|a| a.net == v6));
    // The node's own addresses are not taken for VIPs.
    let own = nl.addresses().await.unwrap();
    assert!(
        own.iter()
            .any(|a| a.net == net("198.51.100.11/24") && !a.vip && !a.secondary)
    );

    // `ip` agrees, and shows the tag.
    let seen = lab.addresses(node).unwrap();
    assert!(seen.contains(&v4) && seen.contains(&v6), "{seen:?}");
    let text = String::from_utf8(
        lab.exec_ok(node, &["ip", "addr", "show", "dev", "eth0"])
            .unwrap()
            .stdout,
    )
    .unwrap();
    // No DAD: the IPv6 VIP answers at once.
    assert!(!text.contains("tentative"), "{text}");
    assert!(lab.ping(client, v6.addr()).unwrap());
    assert!(lab.ping(client, v4.addr()).unwrap());

    for vip in [v4, v6] {
        nl.del_address(eth0.index, vip).await.unwrap();
        nl.del_address(eth0.index, vip).await.unwrap(); // again: still fine
    }
    assert!(nl.addresses().await.unwrap().iter().all(|a| !a.vip));
    let seen = lab.addresses(node).unwrap();
    assert!(!seen.contains(&v4) && !seen.contains(&v6), "{seen:?}");
    // Releasing what was never there, or on a vanished interface, is fine.
    nl.del_address(eth0.index, net("203.0.113.9/32"))
        .await
        .unwrap();
    nl.del_address(9999, net("203.0.113.9/32")).await.unwrap();
    // Plumbing on a missing interface is an error that says what failed.
    let err = nl
        .add_address(9999, net("203.0.113.9/32"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("203.0.113.9/32"), "{err}");
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn interface_for_finds_the_connected_subnet() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 1,
        client: false,
        ..LabSpec::default()
    })
    .unwrap();
    let node = &lab.nodes()[0];
    let nl = netlink(node);
    let eth0 = lab_link(&nl, node).await;
    let find = async |nl: &Netlink, ip: &str| nl.interface_for(ip.parse().unwrap()).await.unwrap();

    let on_eth0 = Some((eth0.index, "eth0".to_string()));
    assert_eq!(find(&nl, "198.51.100.77").await, on_eth0);
    assert_eq!(find(&nl, "2001:db8::77").await, on_eth0);
    assert_eq!(find(&nl, "203.0.113.9").await, None);
    assert_eq!(
        find(&nl, "127.0.0.5").await.map(|(_, n)| n),
        Some("lo".to_string())
    );
    // A VIP does not make its subnet connected.
    nl.add_address(eth0.index, net("203.0.113.5/24"))
        .await
        .unwrap();
    assert_eq!(find(&nl, "203.0.113.9").await, None);
    // The node's own address there does.
    lab.exec_ok(
        node,
        &["ip", "addr", "add", "203.0.113.1/24", "dev", "eth0"],
    )
    .unwrap();
    assert_eq!(find(&nl, "203.0.113.9").await, on_eth0);

    // The VIP came first, so it is the subnet's primary address: releasing
    // it keeps the node's own address only with promote_secondaries.
    let own = net("203.0.113.1/24");
    inside(node, || promote_secondaries("eth0")).unwrap();
    assert!(inside(node, || promote_secondaries("../x")).is_err());
    nl.del_address(eth0.index, net("203.0.113.5/24"))
        .await
        .unwrap();
    assert!(lab.addresses(node).unwrap().contains(&own));
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn neighbours_hold_only_resolved_unicast_entries() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 1,
        ..LabSpec::default()
    })
    .unwrap();
    let node = &lab.nodes()[0];
    let client = lab.client().unwrap();
    let nl = netlink(node);
    let eth0 = lab_link(&nl, node).await;

    assert!(lab.ping(client, IpAddr::V4(node.ipv4)).unwrap());
    assert!(lab.ping(client, IpAddr::V6(node.ipv6.unwrap())).unwrap());
    // Unanswered: leaves an INCOMPLETE or FAILED entry behind.
    assert!(!lab.ping(node, "198.51.100.199".parse().unwrap()).unwrap());
    // NOARP without a link-layer address; permanent with one.
    lab.exec_ok(
        node,
        &[
            "ip",
            "neigh",
            "add",
            "198.51.100.198",
            "lladdr",
            "00:00:00:00:00:00",
            "dev",
            "eth0",
            "nud",
            "noarp",
        ],
    )
    .unwrap();
    lab.exec_ok(
        node,
        &[
            "ip",
            "neigh",
            "add",
            "198.51.100.197",
            "lladdr",
            "02:76:6c:00:00:c5",
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
    )
    .unwrap();

    let neighbours = nl.neighbours().await.unwrap();
    let has = |ip: &str| {
        neighbours
            .iter()
            .find(|n| n.ip == ip.parse::<IpAddr>().unwrap())
            .copied()
    };
    let c4 = has("198.51.100.200").expect("client's IPv4 entry");
    assert_eq!((c4.mac, c4.ifindex), (client.mac, eth0.index));
    assert_eq!(
        has("2001:db8::200").expect("client's IPv6 entry").mac,
        client.mac
    );
    assert!(
        has("198.51.100.199").is_none(),
        "unresolved entries are skipped"
    );
    assert!(
        has("198.51.100.198").is_none(),
        "entries without a MAC are skipped"
    );
    assert_eq!(
        has("198.51.100.197").map(|n| n.mac),
        Some([2, 0x76, 0x6c, 0, 0, 0xc5])
    );
    assert!(neighbours.iter().all(|n| !n.ip.is_multicast()));
    // The lab's own probe agrees.
    assert_eq!(
        lab.neighbour(node, "198.51.100.200".parse().unwrap())
            .unwrap(),
        Some(client.mac)
    );
}
