//! `vippy::net::Chat` in the lab: multicast reaches the other nodes and not
//! the sender, on every interface or a named one; unicast peers work where
//! multicast is dropped.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use support::net::{eventually, inside, netlink};
use vippy::net::{Chat, ChatConfig, ChatInterfaces, NetError};
use vippy_lab::{Lab, LabHost, LabSpec};

const PORT: u16 = 7600;
const GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 1, 1);

fn config(interfaces: ChatInterfaces, peers: Vec<SocketAddr>) -> ChatConfig {
    ChatConfig {
        port: PORT,
        group_v4: Some(GROUP_V4),
        group_v6: Some(GROUP_V6),
        interfaces,
        peers,
    }
}

async fn chat(host: &LabHost, config: ChatConfig) -> Result<Chat, NetError> {
    let links = netlink(host).links().await.unwrap();
    inside(host, move || Chat::bind(config, &links))
}

/// Every datagram that arrives within `wait`: (payload, sender IP).
async fn drain(chat: &Chat, wait: Duration) -> Vec<(Vec<u8>, IpAddr)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1500];
    while let Ok(Ok(r)) = tokio::time::timeout(wait, chat.recv_from(&mut buf)).await {
        got.push((buf[..r.len].to_vec(), r.from.ip()));
    }
    got
}

fn sources(got: &[(Vec<u8>, IpAddr)], payload: &[u8]) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = got
        .iter()
        .filter(|(p, _)| p == payload)
        .map(|(_, ip)| *ip)
        .collect();
    ips.sort();
    ips
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn multicast_reaches_the_other_nodes_but_not_the_sender() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 3,
        client: false,
        ..LabSpec::default()
    })
    .unwrap();
    let [n1, n2, n3] = lab.nodes() else { panic!() };
    let c1 = chat(n1, config(ChatInterfaces::All, vec![])).await.unwrap();
    let c2 = chat(n2, config(ChatInterfaces::All, vec![])).await.unwrap();
    let c3 = chat(n3, config(ChatInterfaces::Named("eth0".into()), vec![]))
        .await
        .unwrap();
    assert_eq!(
        c1.interfaces()
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>(),
        ["eth0"]
    );

    assert_eq!(
        c1.multicast(b"hello from node1").await.unwrap(),
        2,
        "IPv4 and IPv6 on eth0"
    );
    let expected = vec![IpAddr::V4(n1.ipv4), IpAddr::V6(n1.ipv6.unwrap())];
    let wait = Duration::from_millis(300);
    let (got2, got3, got1) = tokio::join!(drain(&c2, wait), drain(&c3, wait), drain(&c1, wait));
    assert_eq!(sources(&got2, b"hello from node1"), expected);
    assert_eq!(sources(&got3, b"hello from node1"), expected);
    assert!(got1.is_empty(), "node1 heard itself: {got1:?}");

    // Replies flow back the same way.
    c3.multicast(b"node3 here").await.unwrap();
    let got1 = drain(&c1, wait).await;
    assert_eq!(
        sources(&got1, b"node3 here"),
        vec![IpAddr::V4(n3.ipv4), IpAddr::V6(n3.ipv6.unwrap())]
    );
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn a_missing_interface_or_group_is_refused() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 1,
        client: false,
        ..LabSpec::default()
    })
    .unwrap();
    let node = &lab.nodes()[0];
    let err = chat(node, config(ChatInterfaces::Named("eth9".into()), vec![]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("eth9"), "{err}");
    let mut bad = config(ChatInterfaces::All, vec![]);
    bad.group_v4 = Some(Ipv4Addr::new(198, 51, 100, 1));
    assert!(chat(node, bad).await.is_err());
    // The port is free again after a failed bind.
    chat(node, config(ChatInterfaces::All, vec![]))
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn unicast_peers_work_where_multicast_is_dropped() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 3,
        client: false,
        ..LabSpec::default()
    })
    .unwrap();
    let nodes = lab.nodes();
    for node in nodes {
        lab.drop_multicast(node).unwrap();
    }
    let peers_of = |me: &LabHost| -> Vec<SocketAddr> {
        nodes
            .iter()
            .filter(|n| n.name != me.name)
            .flat_map(|n| {
                [
                    SocketAddr::new(IpAddr::V4(n.ipv4), PORT),
                    SocketAddr::new(IpAddr::V6(n.ipv6.unwrap()), PORT),
                ]
            })
            .collect()
    };
    let mut chats = Vec::new();
    for node in nodes {
        chats.push(
            chat(node, config(ChatInterfaces::All, peers_of(node)))
                .await
                .unwrap(),
        );
    }
    let wait = Duration::from_millis(300);

    // Multicast is cut…
    chats[0].multicast(b"lost").await.unwrap();
    assert!(drain(&chats[1], wait).await.is_empty());

    // …unicast to the peers is not.
    let (sent, failed) = chats[0].send_to_peers(b"hello peers").await;
    assert_eq!((sent, failed.len()), (4, 0));
    let n1 = &nodes[0];
    let expected = vec![IpAddr::V4(n1.ipv4), IpAddr::V6(n1.ipv6.unwrap())];
    let (got2, got3) = tokio::join!(drain(&chats[1], wait), drain(&chats[2], wait));
    assert_eq!(sources(&got2, b"hello peers"), expected);
    assert_eq!(sources(&got3, b"hello peers"), expected);

    // One peer by hand.
    chats[2]
        .send_to(b"just you", SocketAddr::new(IpAddr::V4(n1.ipv4), PORT))
        .await
        .unwrap();
    assert_eq!(
        sources(&drain(&chats[0], wait).await, b"just you"),
        vec![IpAddr::V4(nodes[2].ipv4)]
    );
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn all_sends_once_out_of_each_interface() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 2,
        client: true,
        ..LabSpec::default()
    })
    .unwrap();
    let [n1, n2] = lab.nodes() else { panic!() };
    let client = lab.client().unwrap();
    // A second link, straight from node1 to the client, beside the bridge.
    lab.add_veth(n1, "m0", client, "m1").unwrap();
    // IPv6 works on a new link once it has its link-local address.
    for (host, dev) in [(n1, "m0"), (client, "m1")] {
        let ready = eventually(Duration::from_secs(3), || async {
            let out = lab
                .exec_ok(host, &["ip", "-6", "addr", "show", "dev", dev])
                .unwrap();
            String::from_utf8_lossy(&out.stdout).contains("fe80")
        })
        .await;
        assert!(ready, "{dev} has no IPv6 link-local address");
    }

    let c1 = chat(n1, config(ChatInterfaces::All, vec![])).await.unwrap();
    let c2 = chat(n2, config(ChatInterfaces::All, vec![])).await.unwrap();
    let cc = chat(client, config(ChatInterfaces::All, vec![]))
        .await
        .unwrap();
    let mut names: Vec<&str> = c1.interfaces().iter().map(|(_, n)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["eth0", "m0"]);

    assert_eq!(
        c1.multicast(b"twice").await.unwrap(),
        4,
        "two groups on two interfaces"
    );
    let wait = Duration::from_millis(300);
    let (got2, gotc) = tokio::join!(drain(&c2, wait), drain(&cc, wait));
    // node2 is only on the bridge: one copy per group.
    assert_eq!(got2.len(), 2, "{got2:?}");
    // The client is on both links: a copy per group from each.
    assert_eq!(gotc.len(), 4, "{gotc:?}");
}

/// The groups joined on `dev` in `host`'s namespace, from `ip maddr`.
fn memberships(lab: &Lab, host: &LabHost, dev: &str) -> String {
    let out = lab
        .exec(host, &["ip", "maddr", "show", "dev", dev])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// With `chat_interface` "all", an interface that appears after start is
/// joined and used at the next refresh, one that goes is dropped, and one
/// that fails does not stop multicast on the others.
#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn chat_follows_interfaces_that_come_and_go() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 2,
        client: false,
        ..LabSpec::default()
    })
    .unwrap();
    let [n1, n2] = lab.nodes() else { panic!() };
    let mut c1 = chat(n1, config(ChatInterfaces::All, vec![])).await.unwrap();
    assert_eq!(
        c1.multicast(b"one link").await.unwrap(),
        2,
        "v4 and v6 via eth0"
    );

    // A second link between the two nodes, made after the chat started.
    lab.add_veth(n1, "vx1", n2, "vx2").unwrap();
    assert!(!memberships(&lab, n1, "vx1").contains("239.1.2.3"));

    let links = netlink(n1).links().await.unwrap();
    let (joined, failed, left) = c1.refresh(&links);
    assert_eq!((joined, left), (vec!["vx1".to_string()], vec![]));
    assert!(failed.is_empty(), "{failed:?}");
    let joined = memberships(&lab, n1, "vx1");
    assert!(
        joined.contains("239.1.2.3") && joined.contains("ff15::1:1"),
        "{joined}"
    );
    assert_eq!(c1.multicast(b"two links").await.unwrap(), 4);
    // Nothing changed: nothing to do.
    let (joined, failed, left) = c1.refresh(&links);
    assert!(joined.is_empty() && failed.is_empty() && left.is_empty());

    // Down without a refresh yet: the other link still carries the chat.
    lab.exec_ok(n1, &["ip", "link", "set", "vx1", "down"])
        .unwrap();
    let sent = c1.multicast(b"one down").await.unwrap();
    assert_eq!(sent, 2, "sending via vx1 fails, via eth0 goes on");

    lab.exec_ok(n1, &["ip", "link", "del", "vx1"]).unwrap();
    let links = netlink(n1).links().await.unwrap();
    let (joined, _, left) = c1.refresh(&links);
    assert_eq!((joined, left), (vec![], vec!["vx1".to_string()]));
    assert_eq!(c1.interfaces().len(), 1);
    assert_eq!(c1.multicast(b"one link again").await.unwrap(), 2);
}

/// A datagram left in the socket queue is read with the moment it arrived
/// (the kernel's receive stamp), not the moment it was read: the core's
/// self-doubt rule needs the wait. The wait is at least the time the test
/// left it queued, however slow the machine.
#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn a_queued_datagram_is_read_with_its_arrival_time() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 2,
        client: false,
        ..LabSpec::default()
    })
    .unwrap();
    let nodes = lab.nodes();
    let to = |n: &LabHost| vec![SocketAddr::new(IpAddr::V4(n.ipv4), PORT)];
    let sender = chat(&nodes[0], config(ChatInterfaces::All, to(&nodes[1])))
        .await
        .unwrap();
    let receiver = chat(&nodes[1], config(ChatInterfaces::All, to(&nodes[0])))
        .await
        .unwrap();
    let left = Duration::from_millis(200);
    let (sent, failed) = sender.send_to_peers(b"queued").await;
    assert_eq!((sent, failed.len()), (1, 0));
    tokio::time::sleep(left).await;
    let mut buf = [0u8; 64];
    let got = tokio::time::timeout(Duration::from_secs(2), receiver.recv_from(&mut buf))
        .await
        .expect("the datagram arrives")
        .unwrap();
    assert_eq!(&buf[..got.len], b"queued");
    let waited = std::time::Instant::now().saturating_duration_since(got.arrived);
    assert!(waited >= left, "read as arriving {waited:?} ago");
}
