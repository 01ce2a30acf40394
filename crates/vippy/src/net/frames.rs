//! The Ethernet frames that tell a LAN where a VIP now lives, built with
//! etherparse (checksums included).

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::icmpv6::NeighborAdvertisementHeader;
use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, Icmpv6Type, PacketBuilder};

use super::Mac;

/// The Ethernet broadcast address.
pub const BROADCAST: Mac = [0xff; 6];
/// All-nodes multicast, the destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet address of [`ALL_NODES`] (RFC 2464 §7: 33:33 + low 32 bits).
pub const ALL_NODES_MAC: Mac = [0x33, 0x33, 0, 0, 0, 1];
/// Ethernet frames shorter than this (without FCS) are padded, as the
/// standard asks; ARP alone is 42 bytes.
pub const MIN_FRAME: usize = 60;

/// Gratuitous ARP in request form (RFC 5227 §3, "ARP Announcement"):
/// broadcast, sender = target = the VIP, target hardware address zero.
pub fn garp_request(mac: Mac, vip: Ipv4Addr) -> Vec<u8> {
    arp(mac, BROADCAST, ArpOperation::REQUEST, vip, [0; 6], vip)
}

/// Gratuitous ARP in reply form (RFC 5944 §4.6): broadcast, sender = target
/// = the VIP, both hardware addresses ours. Some hosts only update their
/// cache from one of the two forms, so senders usually send both.
pub fn garp_reply(mac: Mac, vip: Ipv4Addr) -> Vec<u8> {
    arp(mac, BROADCAST, ArpOperation::REPLY, vip, mac, vip)
}

/// An ARP reply sent straight to one neighbour (`to_ip` at `to_mac`) that
/// may hold a stale entry for the VIP (the config's `notify` list).
pub fn arp_reply(mac: Mac, vip: Ipv4Addr, to_mac: Mac, to_ip: Ipv4Addr) -> Vec<u8> {
    arp(mac, to_mac, ArpOperation::REPLY, vip, to_mac, to_ip)
}

fn arp(
    mac: Mac,
    dst: Mac,
    op: ArpOperation,
    sender: Ipv4Addr,
    target_mac: Mac,
    target: Ipv4Addr,
) -> Vec<u8> {
    let packet = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        op,
        &mac,
        &sender.octets(),
        &target_mac,
        &target.octets(),
    )
    .expect("Ethernet/IPv4 address sizes are valid");
    let builder = PacketBuilder::ethernet2(mac, dst).arp(packet);
    let mut frame = Vec::with_capacity(MIN_FRAME);
    builder
        .write(&mut frame)
        .expect("writing to a Vec cannot fail");
    frame.resize(frame.len().max(MIN_FRAME), 0);
    frame
}

/// An unsolicited neighbour advertisement (RFC 4861 §7.2.6): from the VIP
/// to all-nodes, hop limit 255, Override set, Solicited clear, with the
/// target link-layer address option (type 2). `router` sets the Router
/// flag: a host that receives an NA without it for an address it uses as a
/// router drops that router (RFC 4861 §7.2.5), so a gateway VIP must carry it.
pub fn unsolicited_na(mac: Mac, vip: Ipv6Addr, router: bool) -> Vec<u8> {
    let flags = NeighborAdvertisementHeader {
        router,
        solicited: false,
        r#override: true,
    };
    let builder = PacketBuilder::ethernet2(mac, ALL_NODES_MAC)
        .ipv6(vip.octets(), ALL_NODES.octets(), 255)
        .icmpv6(Icmpv6Type::NeighborAdvertisement(flags));
    // Target address, then the option: type 2, length 1 (× 8 bytes), MAC.
    let mut body = [0u8; 24];
    body[..16].copy_from_slice(&vip.octets());
    body[16] = 2;
    body[17] = 1;
    body[18..].copy_from_slice(&mac);
    let mut frame = Vec::with_capacity(builder.size(body.len()));
    builder
        .write(&mut frame, &body)
        .expect("writing to a Vec cannot fail");
    frame
}

#[cfg(test)]
mod tests {
    use etherparse::{LinkSlice, NetSlice, SlicedPacket, TransportSlice};

    use super::*;

    const MAC: Mac = [0x02, 0x76, 0x6c, 0, 0, 0x0b];
    const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 100);

    fn arp_of(frame: &[u8]) -> (Mac, ArpPacket) {
        let sliced = SlicedPacket::from_ethernet(frame).unwrap();
        let Some(LinkSlice::Ethernet2(eth)) = sliced.link else {
            panic!("not Ethernet")
        };
        assert_eq!(eth.source(), MAC);
        assert_eq!(eth.ether_type(), EtherType::ARP);
        let Some(NetSlice::Arp(arp)) = sliced.net else {
            panic!("not ARP")
        };
        (eth.destination(), arp.to_packet())
    }

    #[test]
    fn gratuitous_request_is_a_broadcast_announcement() {
        let frame = garp_request(MAC, VIP);
        assert_eq!(frame.len(), MIN_FRAME);
        let (dst, arp) = arp_of(&frame);
        assert_eq!(dst, BROADCAST);
        assert_eq!(arp.operation, ArpOperation::REQUEST);
        assert_eq!(arp.sender_hw_addr(), MAC);
        assert_eq!(arp.sender_protocol_addr(), VIP.octets());
        assert_eq!(arp.target_hw_addr(), [0; 6]);
        assert_eq!(arp.target_protocol_addr(), VIP.octets());
    }

    #[test]
    fn gratuitous_reply_carries_our_mac_twice() {
        let (dst, arp) = arp_of(&garp_reply(MAC, VIP));
        assert_eq!(dst, BROADCAST);
        assert_eq!(arp.operation, ArpOperation::REPLY);
        assert_eq!(arp.sender_hw_addr(), MAC);
        assert_eq!(arp.target_hw_addr(), MAC);
        assert_eq!(arp.sender_protocol_addr(), VIP.octets());
        assert_eq!(arp.target_protocol_addr(), VIP.octets());
    }

    #[test]
    fn targeted_reply_goes_to_one_neighbour() {
        let to_mac = [0x02, 0x76, 0x6c, 0, 0, 0xc8];
        let to_ip = Ipv4Addr::new(198, 51, 100, 200);
        let (dst, arp) = arp_of(&arp_reply(MAC, VIP, to_mac, to_ip));
        assert_eq!(dst, to_mac);
        assert_eq!(arp.operation, ArpOperation::REPLY);
        assert_eq!(arp.sender_protocol_addr(), VIP.octets());
        assert_eq!(arp.target_hw_addr(), to_mac);
        assert_eq!(arp.target_protocol_addr(), to_ip.octets());
    }

    #[test]
    fn unsolicited_na_follows_rfc_4861() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let frame = unsolicited_na(MAC, vip, false);
        assert_eq!(frame.len(), 14 + 40 + 8 + 24);
        let sliced = SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(LinkSlice::Ethernet2(eth)) = sliced.link else {
            panic!()
        };
        assert_eq!(eth.destination(), ALL_NODES_MAC);
        let Some(NetSlice::Ipv6(ip)) = &sliced.net else {
            panic!()
        };
        assert_eq!(ip.header().hop_limit(), 255);
        assert_eq!(ip.header().source_addr(), vip);
        assert_eq!(ip.header().destination_addr(), ALL_NODES);
        let Some(TransportSlice::Icmpv6(icmp)) = sliced.transport else {
            panic!()
        };
        let Icmpv6Type::NeighborAdvertisement(flags) = icmp.icmp_type() else {
            panic!()
        };
        assert!(flags.r#override && !flags.solicited && !flags.router);
        let routed = unsolicited_na(MAC, vip, true);
        let sliced = SlicedPacket::from_ethernet(&routed).unwrap();
        let Some(TransportSlice::Icmpv6(routed)) = sliced.transport else {
            panic!()
        };
        let Icmpv6Type::NeighborAdvertisement(routed) = routed.icmp_type() else {
            panic!()
        };
        assert!(routed.router && routed.r#override && !routed.solicited);
        assert_eq!(&icmp.payload()[..16], &vip.octets());
        assert_eq!(&icmp.payload()[16..], &[2, 1, 0x02, 0x76, 0x6c, 0, 0, 0x0b]);
        // The checksum the builder wrote is the one the pseudo-header gives.
        let expected = icmp
            .header()
            .icmp_type
            .calc_checksum(vip.octets(), ALL_NODES.octets(), icmp.payload())
            .unwrap();
        assert_eq!(icmp.checksum(), expected);
        assert_ne!(icmp.checksum(), 0);
    }
}
