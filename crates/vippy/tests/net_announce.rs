//! `vippy::net::Announcer` in the lab: a client's neighbour entry for a VIP
//! follows gratuitous ARP (both forms), a targeted ARP reply and an
//! unsolicited NA; and the time a 1000-VIP burst takes.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use support::net::{eventually, inside, lab_link, netlink};
use vippy::net::{Announcer, GarpForm, Netlink, forwards_ipv6};
use vippy_lab::{Lab, LabHost, LabSpec};

/// Linux ignores ARP updates to an entry changed less than `locktime` ago
/// (1 s by default); the tests wait it out before each move.
const ARP_LOCKTIME: Duration = Duration::from_millis(1100);

struct Holder {
    nl: Netlink,
    index: u32,
    announcer: Announcer,
}

async fn holder(host: &LabHost) -> Holder {
    let nl = netlink(host);
    let link = lab_link(&nl, host).await;
    let announcer = inside(host, || Announcer::new(link.index, link.mac.unwrap())).unwrap();
    Holder {
        nl,
        index: link.index,
        announcer,
    }
}

async fn client_sees(lab: &Lab, client: &LabHost, vip: IpAddr, mac: [u8; 6]) -> bool {
    eventually(Duration::from_secs(2), || async {
        lab.neighbour(client, vip).unwrap() == Some(mac)
    })
    .await
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn gratuitous_arp_moves_the_clients_entry() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec::nodes(2)).unwrap();
    let [n1, n2] = lab.nodes() else { panic!() };
    let client = lab.client().unwrap();
    let (mut h1, mut h2) = (holder(n1).await, holder(n2).await);
    let vip = Ipv4Addr::new(198, 51, 100, 100);
    let net = IpNet::new(IpAddr::V4(vip), 24).unwrap();

    // node2 holds the VIP; the client learns it by talking to it.
    h2.nl.add_address(h2.index, net).await.unwrap();
    assert!(lab.ping(client, IpAddr::V4(vip)).unwrap());
    assert_eq!(
        lab.neighbour(client, IpAddr::V4(vip)).unwrap(),
        Some(n2.mac)
    );

    // Moves to node1, announced in request form.
    h2.nl.del_address(h2.index, net).await.unwrap();
    h1.nl.add_address(h1.index, net).await.unwrap();
    tokio::time::sleep(ARP_LOCKTIME).await;
    h1.announcer
        .gratuitous_arp(vip, GarpForm::Request)
        .await
        .unwrap();
    assert!(
        client_sees(&lab, client, IpAddr::V4(vip), n1.mac).await,
        "request form"
    );
    assert!(lab.ping(client, IpAddr::V4(vip)).unwrap());

    // Back to node2, in reply form.
    h1.nl.del_address(h1.index, net).await.unwrap();
    h2.nl.add_address(h2.index, net).await.unwrap();
    tokio::time::sleep(ARP_LOCKTIME).await;
    h2.announcer
        .gratuitous_arp(vip, GarpForm::Reply)
        .await
        .unwrap();
    assert!(
        client_sees(&lab, client, IpAddr::V4(vip), n2.mac).await,
        "reply form"
    );

    // To node1 again, told to the client alone.
    h2.nl.del_address(h2.index, net).await.unwrap();
    h1.nl.add_address(h1.index, net).await.unwrap();
    tokio::time::sleep(ARP_LOCKTIME).await;
    h1.announcer
        .arp_reply(vip, client.ipv4, client.mac)
        .await
        .unwrap();
    assert!(
        client_sees(&lab, client, IpAddr::V4(vip), n1.mac).await,
        "targeted reply"
    );
    assert!(lab.ping(client, IpAddr::V4(vip)).unwrap());
    assert_eq!(h1.announcer.sent(), 2);
}

#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn unsolicited_na_moves_the_clients_ipv6_entry() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec::nodes(2)).unwrap();
    let [n1, n2] = lab.nodes() else { panic!() };
    let client = lab.client().unwrap();
    let (mut h1, h2) = (holder(n1).await, holder(n2).await);
    let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
    let net = IpNet::new(IpAddr::V6(vip), 64).unwrap();

    h2.nl.add_address(h2.index, net).await.unwrap();
    assert!(lab.ping(client, IpAddr::V6(vip)).unwrap());
    assert_eq!(
        lab.neighbour(client, IpAddr::V6(vip)).unwrap(),
        Some(n2.mac)
    );

    // An NA with Override updates the existing entry (RFC 4861 §7.2.5).
    h2.nl.del_address(h2.index, net).await.unwrap();
    h1.nl.add_address(h1.index, net).await.unwrap();
    h1.announcer.unsolicited_na(vip, false).await.unwrap();
    assert!(client_sees(&lab, client, IpAddr::V6(vip), n1.mac).await);
    assert!(lab.ping(client, IpAddr::V6(vip)).unwrap());
}

/// On an interface that forwards IPv6, a VIP may be the hosts' gateway: its
/// NA carries the Router flag, so the client's entry is marked as a router
/// (a host drops a router whose NA lacks the flag).
#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn na_from_a_forwarding_interface_marks_the_vip_a_router() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec::nodes(1)).unwrap();
    let [n1] = lab.nodes() else { panic!() };
    let client = lab.client().unwrap();
    let mut h1 = holder(n1).await;
    let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
    let net = IpNet::new(IpAddr::V6(vip), 64).unwrap();
    assert!(!inside(n1, || forwards_ipv6(&n1.ifname)));
    let sysctl = format!("net.ipv6.conf.{}.forwarding=1", n1.ifname);
    lab.exec_ok(n1, &["sysctl", "-qw", &sysctl]).unwrap();
    let router = inside(n1, || forwards_ipv6(&n1.ifname));
    assert!(router);
    h1.nl.add_address(h1.index, net).await.unwrap();
    assert!(lab.ping(client, IpAddr::V6(vip)).unwrap());
    h1.announcer.unsolicited_na(vip, router).await.unwrap();
    let marked = eventually(Duration::from_secs(2), || async {
        let out = lab
            .exec_ok(client, &["ip", "-6", "neigh", "show", &vip.to_string()])
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains(" router")
    })
    .await;
    let out = lab.exec_ok(client, &["ip", "-6", "neigh"]).unwrap();
    assert!(marked, "{}", String::from_utf8_lossy(&out.stdout));
}

fn rx_packets(lab: &Lab, host: &LabHost) -> u64 {
    let out = lab
        .exec_ok(
            host,
            &[
                "cat",
                &format!("/sys/class/net/{}/statistics/rx_packets", host.ifname),
            ],
        )
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// A benchmark, not a check: prints how long 1000 VIPs take to announce
/// with the default pacer (recorded in docs/BENCHMARKS.md).
#[tokio::test]
#[ignore = "needs root: network namespaces"]
async fn bench_a_thousand_vips_announced() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec::nodes(1)).unwrap();
    let node = &lab.nodes()[0];
    let client = lab.client().unwrap();
    let mut h = holder(node).await;
    let v4: Vec<Ipv4Addr> = (0..1000u32)
        .map(|i| Ipv4Addr::new(203, 0, 113, 1 + (i % 250) as u8))
        .collect();
    let v6: Vec<Ipv6Addr> = (1..=1000u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, i))
        .collect();

    let start = Instant::now();
    for vip in &v6 {
        h.nl.add_address(h.index, IpNet::new(IpAddr::V6(*vip), 64).unwrap())
            .await
            .unwrap();
    }
    let plumb = start.elapsed();

    let before = rx_packets(&lab, client);
    let start = Instant::now();
    for vip in &v4 {
        h.announcer
            .gratuitous_arp(*vip, GarpForm::Both)
            .await
            .unwrap();
    }
    let arp = start.elapsed();
    // A second announcer, so the NAs also start from a full bucket.
    let mut h6 = holder(node).await;
    let start = Instant::now();
    for vip in &v6 {
        h6.announcer.unsolicited_na(*vip, false).await.unwrap();
    }
    let na = start.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received = rx_packets(&lab, client) - before;

    println!(
        "announcements: 1000 IPv4 VIPs (2000 ARP frames) {:.1} ms; 1000 IPv6 VIPs (1000 NAs) {:.1} ms; \
         {} frames sent, {received} received by the client; plumbing 1000 IPv6 VIPs {:.1} ms ({} build)",
        arp.as_secs_f64() * 1e3,
        na.as_secs_f64() * 1e3,
        h.announcer.sent() + h6.announcer.sent(),
        plumb.as_secs_f64() * 1e3,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    assert_eq!(h.announcer.sent() + h6.announcer.sent(), 3000);
}
