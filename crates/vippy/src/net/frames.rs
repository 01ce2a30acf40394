//! The Ethernet frames that tell a LAN where a VIP now lives, the probes
//! that ask whether another host already answers for it, and the reading of
//! what comes back ([`claim`]), all with etherparse (checksums included).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::icmpv6::NeighborAdvertisementHeader;
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Icmpv6Type, LinkSlice, NetSlice,
    PacketBuilder, SlicedPacket, TransportSlice,
};

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

/// An ARP probe (RFC 5227 §2.1.1): broadcast, sender IP 0.0.0.0, target
/// the VIP, target hardware address zero. A host that has the VIP answers
/// with a reply to `mac`; the zero sender keeps every cache on the LAN as
/// it is.
pub fn arp_probe(mac: Mac, vip: Ipv4Addr) -> Vec<u8> {
    let none = Ipv4Addr::UNSPECIFIED;
    arp(mac, BROADCAST, ArpOperation::REQUEST, none, [0; 6], vip)
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

/// The solicited-node multicast address of `ip` (RFC 4291 §2.7.1):
/// ff02::1:ff00:0/104 and the low 24 bits.
pub fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    let low = u16::from_be_bytes([o[14], o[15]]);
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(o[13]), low)
}

/// The Ethernet address of an IPv6 multicast address (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> Mac {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// A duplicate address detection probe (RFC 4862 §5.4.2): a neighbour
/// solicitation for the VIP from the unspecified address to its
/// solicited-node group, hop limit 255, without a source link-layer option
/// (none may go with the unspecified source). A host that has the VIP
/// answers with an advertisement to all-nodes.
pub fn dad_solicitation(mac: Mac, vip: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(vip);
    let builder = PacketBuilder::ethernet2(mac, multicast_mac(group))
        .ipv6(Ipv6Addr::UNSPECIFIED.octets(), group.octets(), 255)
        .icmpv6(Icmpv6Type::NeighborSolicitation);
    // Reserved (4 bytes, in the ICMPv6 header), then the target address.
    let body = vip.octets();
    let mut frame = Vec::with_capacity(builder.size(body.len()));
    builder
        .write(&mut frame, &body)
        .expect("writing to a Vec cannot fail");
    frame
}

impl ClaimKind {
    /// The name status and logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Arp => "arp",
            ClaimKind::ArpProbe => "arp-probe",
            ClaimKind::Advertisement => "advertisement",
            ClaimKind::Solicitation => "solicitation",
            ClaimKind::DadProbe => "dad-probe",
        }
    }
}

/// A host saying that an address is its own, read from one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub ip: IpAddr,
    /// Where traffic for `ip` would go: the ARP sender or the advertised
    /// link-layer address, else the frame's Ethernet source.
    pub mac: Mac,
    pub kind: ClaimKind,
}

/// How a frame claims an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// An ARP request or reply sent from the address (a probe's answer, a
    /// gratuitous ARP, an ordinary query).
    Arp,
    /// An ARP probe for the address: another host is about to take it.
    ArpProbe,
    /// A neighbour advertisement for the address.
    Advertisement,
    /// A neighbour solicitation sent from the address.
    Solicitation,
    /// A duplicate address detection probe for the address.
    DadProbe,
}

/// Which address, if any, `frame` says its sender has (or is about to
/// take): ARP with a sender IP claims it, an ARP probe (sender 0.0.0.0)
/// its target; a neighbour advertisement its target, a solicitation its
/// source, a DAD probe (unspecified source) its target. Anything else,
/// malformed frames included, claims nothing.
pub fn claim(frame: &[u8]) -> Option<Claim> {
    let sliced = SlicedPacket::from_ethernet(frame).ok()?;
    let Some(LinkSlice::Ethernet2(eth)) = &sliced.link else {
        return None;
    };
    let source = eth.source();
    match &sliced.net {
        Some(NetSlice::Arp(arp)) => {
            if arp.hw_addr_type() != ArpHardwareId::ETHERNET
                || arp.proto_addr_type() != EtherType::IPV4
            {
                return None;
            }
            let mac = <Mac>::try_from(arp.sender_hw_addr()).ok()?;
            let sender = Ipv4Addr::from(<[u8; 4]>::try_from(arp.sender_protocol_addr()).ok()?);
            let target = Ipv4Addr::from(<[u8; 4]>::try_from(arp.target_protocol_addr()).ok()?);
            let (ip, kind) = if !sender.is_unspecified() {
                (sender, ClaimKind::Arp)
            } else if arp.operation() == ArpOperation::REQUEST {
                (target, ClaimKind::ArpProbe)
            } else {
                return None;
            };
            Some(Claim {
                ip: IpAddr::V4(ip),
                mac,
                kind,
            })
        }
        Some(NetSlice::Ipv6(ipv6)) => {
            let Some(TransportSlice::Icmpv6(icmp)) = &sliced.transport else {
                return None;
            };
            let payload = icmp.payload();
            let target = Ipv6Addr::from(<[u8; 16]>::try_from(payload.get(..16)?).ok()?);
            let options = &payload[16..];
            let src = ipv6.header().source_addr();
            match icmp.icmp_type() {
                Icmpv6Type::NeighborAdvertisement(_) => Some(Claim {
                    ip: IpAddr::V6(target),
                    mac: link_layer_option(options, 2).unwrap_or(source),
                    kind: ClaimKind::Advertisement,
                }),
                Icmpv6Type::NeighborSolicitation if src.is_unspecified() => Some(Claim {
                    ip: IpAddr::V6(target),
                    mac: source,
                    kind: ClaimKind::DadProbe,
                }),
                Icmpv6Type::NeighborSolicitation => Some(Claim {
                    ip: IpAddr::V6(src),
                    mac: link_layer_option(options, 1).unwrap_or(source),
                    kind: ClaimKind::Solicitation,
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The MAC in the first NDP option of `kind` (1 source, 2 target
/// link-layer address), if well formed.
fn link_layer_option(mut options: &[u8], kind: u8) -> Option<Mac> {
    while options.len() >= 2 {
        let len = usize::from(options[1]) * 8;
        if len == 0 || len > options.len() {
            return None;
        }
        if options[0] == kind && len == 8 {
            return <Mac>::try_from(&options[2..8]).ok();
        }
        options = &options[len..];
    }
    None
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn arp_probe_follows_rfc_5227() {
        let frame = arp_probe(MAC, VIP);
        assert_eq!(frame.len(), MIN_FRAME);
        let (dst, arp) = arp_of(&frame);
        assert_eq!(dst, BROADCAST);
        assert_eq!(arp.operation, ArpOperation::REQUEST);
        assert_eq!(arp.sender_hw_addr(), MAC);
        assert_eq!(arp.sender_protocol_addr(), [0; 4]);
        assert_eq!(arp.target_hw_addr(), [0; 6]);
        assert_eq!(arp.target_protocol_addr(), VIP.octets());
    }

    #[test]
    fn solicited_node_takes_the_low_24_bits() {
        let vip: Ipv6Addr = "2001:db8::12:3456".parse().unwrap();
        let group = solicited_node(vip);
        assert_eq!(group, "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap());
        assert_eq!(multicast_mac(group), [0x33, 0x33, 0xff, 0x12, 0x34, 0x56]);
    }

    #[test]
    fn dad_solicitation_follows_rfc_4862() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let frame = dad_solicitation(MAC, vip);
        assert_eq!(frame.len(), 14 + 40 + 8 + 16);
        let sliced = SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(LinkSlice::Ethernet2(eth)) = sliced.link else {
            panic!()
        };
        assert_eq!(eth.source(), MAC);
        assert_eq!(eth.destination(), [0x33, 0x33, 0xff, 0, 0x01, 0]);
        let Some(NetSlice::Ipv6(ip)) = &sliced.net else {
            panic!()
        };
        assert_eq!(ip.header().hop_limit(), 255);
        assert!(ip.header().source_addr().is_unspecified());
        assert_eq!(ip.header().destination_addr(), solicited_node(vip));
        let Some(TransportSlice::Icmpv6(icmp)) = sliced.transport else {
            panic!()
        };
        assert_eq!(icmp.icmp_type(), Icmpv6Type::NeighborSolicitation);
        assert_eq!(icmp.payload(), &vip.octets());
        let expected = icmp
            .header()
            .icmp_type
            .calc_checksum(
                Ipv6Addr::UNSPECIFIED.octets(),
                solicited_node(vip).octets(),
                icmp.payload(),
            )
            .unwrap();
        assert_eq!(icmp.checksum(), expected);
    }

    const OTHER: Mac = [0x02, 0x76, 0x6c, 0, 0, 0xfa];

    #[test]
    fn an_answer_to_a_probe_claims_the_vip() {
        // What Linux sends back to an ARP probe: a reply from the VIP.
        let answer = arp(
            OTHER,
            MAC,
            ArpOperation::REPLY,
            VIP,
            MAC,
            Ipv4Addr::UNSPECIFIED,
        );
        assert_eq!(
            claim(&answer),
            Some(Claim {
                ip: IpAddr::V4(VIP),
                mac: OTHER,
                kind: ClaimKind::Arp
            })
        );
        assert_eq!(
            claim(&garp_request(OTHER, VIP)).unwrap().ip,
            IpAddr::V4(VIP)
        );
    }

    #[test]
    fn a_probe_claims_its_target_and_a_query_its_sender() {
        let probe = claim(&arp_probe(OTHER, VIP)).unwrap();
        assert_eq!((probe.ip, probe.mac), (IpAddr::V4(VIP), OTHER));
        assert_eq!(probe.kind, ClaimKind::ArpProbe);
        // Someone asking who has the VIP claims its own address, not the VIP.
        let asker = Ipv4Addr::new(198, 51, 100, 200);
        let query = arp(OTHER, BROADCAST, ArpOperation::REQUEST, asker, [0; 6], VIP);
        assert_eq!(claim(&query).unwrap().ip, IpAddr::V4(asker));
        // A reply from nobody claims nothing.
        let none = Ipv4Addr::UNSPECIFIED;
        let odd = arp(OTHER, BROADCAST, ArpOperation::REPLY, none, [0; 6], VIP);
        assert_eq!(claim(&odd), None);
    }

    #[test]
    fn an_advertisement_claims_its_target_with_the_advertised_mac() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let na = claim(&unsolicited_na(OTHER, vip, false)).unwrap();
        assert_eq!(na.ip, IpAddr::V6(vip));
        assert_eq!(na.mac, OTHER);
        assert_eq!(na.kind, ClaimKind::Advertisement);
        // A DAD probe from another host names the VIP it wants.
        let dad = claim(&dad_solicitation(OTHER, vip)).unwrap();
        assert_eq!((dad.ip, dad.mac), (IpAddr::V6(vip), OTHER));
        assert_eq!(dad.kind, ClaimKind::DadProbe);
    }

    #[test]
    fn an_advertisement_without_the_option_claims_the_ethernet_source() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let flags = NeighborAdvertisementHeader {
            router: false,
            solicited: true,
            r#override: true,
        };
        let builder = PacketBuilder::ethernet2(OTHER, MAC)
            .ipv6(
                vip.octets(),
                "2001:db8::11".parse::<Ipv6Addr>().unwrap().octets(),
                255,
            )
            .icmpv6(Icmpv6Type::NeighborAdvertisement(flags));
        let mut frame = Vec::new();
        builder.write(&mut frame, &vip.octets()).unwrap();
        assert_eq!(claim(&frame).unwrap().mac, OTHER);
    }

    #[test]
    fn junk_claims_nothing() {
        assert_eq!(claim(&[]), None);
        assert_eq!(claim(&[0xff; 13]), None);
        let mut short = garp_reply(OTHER, VIP);
        short.truncate(20);
        assert_eq!(claim(&short), None);
        // An NA whose option length runs past the end keeps the source MAC.
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let mut na = unsolicited_na(OTHER, vip, false);
        let at = na.len() - 7;
        na[at] = 9;
        assert_eq!(claim(&na).map(|c| c.mac), Some(OTHER));
        assert_eq!(link_layer_option(&[2, 9, 0, 0], 2), None);
        assert_eq!(link_layer_option(&[2, 0], 2), None);
        assert_eq!(
            link_layer_option(&[1, 1, 1, 2, 3, 4, 5, 6, 2, 1, 6, 5, 4, 3, 2, 1], 2),
            Some([6, 5, 4, 3, 2, 1])
        );
    }
}
