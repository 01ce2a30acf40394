//! Address conflicts: is a host that is not this one answering for a VIP
//! held here? One round on one interface sends an ARP probe (RFC 5227) for
//! each IPv4 VIP and a DAD neighbour solicitation (RFC 4862) for each IPv6
//! one, then listens for [`PROBE_WAIT`] (or less) for any frame that claims
//! one of those VIPs ([`frames::claim`]) from a MAC that is not one of this
//! host's. Which of those MACs belong to other vippy nodes is the runtime's
//! business: it knows the peers.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::frames::{self, ClaimKind};
use super::packet::{ETH_P_ARP, ETH_P_IPV6, PacketSocket, Receiver, link_address};
use super::{Mac, NetError, Pacer};

/// How long one round listens after its last probe went out: RFC 5227's
/// PROBE_WAIT. A host on the LAN answers within milliseconds; the rest is
/// margin for a loaded one.
pub const PROBE_WAIT: Duration = Duration::from_secs(1);

/// Frames longer than this are cut when read: every frame a claim is read
/// from (ARP, neighbour discovery) is far shorter.
const FRAME_BUFFER: usize = 2048;

/// A frame claiming a probed VIP from a MAC that is not this host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    pub ip: IpAddr,
    pub mac: Mac,
    pub kind: ClaimKind,
}

/// One probe round for `vips` on interface `ifindex`, whose MAC is `mac`;
/// `ours` are every MAC of this host (the interface's among them). Each
/// (VIP, MAC) pair seen is given to `found` once, as soon as it is seen.
/// Probes are paced by `pacer`; the round ends `wait` after the last one
/// went out.
pub async fn probe_conflicts(
    ifindex: u32,
    mac: Mac,
    ours: &[Mac],
    vips: &[IpAddr],
    wait: Duration,
    mut pacer: Pacer,
    mut found: impl FnMut(Sighting),
) -> Result<(), NetError> {
    // Listening before the first probe goes, so no early answer is missed.
    let listen = |wanted: bool, protocol| -> Result<Option<Receiver>, NetError> {
        wanted
            .then(|| PacketSocket::listener(ifindex, protocol)?.into_receiver())
            .transpose()
    };
    let arp = listen(vips.iter().any(IpAddr::is_ipv4), ETH_P_ARP)?;
    let ipv6 = listen(vips.iter().any(IpAddr::is_ipv6), ETH_P_IPV6)?;
    let broadcast = link_address(ifindex, ETH_P_ARP, frames::BROADCAST);
    for vip in vips {
        pacer.take().await;
        match (vip, &arp, &ipv6) {
            (IpAddr::V4(v4), Some(rx), _) => {
                rx.socket()
                    .send(&frames::arp_probe(mac, *v4), &broadcast)
                    .await?;
            }
            (IpAddr::V6(v6), _, Some(rx)) => {
                let group = frames::multicast_mac(frames::solicited_node(*v6));
                let to = link_address(ifindex, ETH_P_IPV6, group);
                rx.socket()
                    .send(&frames::dad_solicitation(mac, *v6), &to)
                    .await?;
            }
            _ => {}
        }
    }
    let wanted: BTreeSet<IpAddr> = vips.iter().copied().collect();
    let mut seen: BTreeSet<(IpAddr, Mac)> = BTreeSet::new();
    let deadline = Instant::now() + wait;
    let (mut buf4, mut buf6) = (vec![0u8; FRAME_BUFFER], vec![0u8; FRAME_BUFFER]);
    loop {
        let frame = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            n = recv(&arp, &mut buf4) => &buf4[..n?],
            n = recv(&ipv6, &mut buf6) => &buf6[..n?],
        };
        let Some(claim) = frames::claim(frame) else {
            continue;
        };
        if foreign(&claim, &wanted, ours) && seen.insert((claim.ip, claim.mac)) {
            found(Sighting {
                ip: claim.ip,
                mac: claim.mac,
                kind: claim.kind,
            });
        }
    }
}

/// Whether `claim` names a probed VIP from a MAC not ours (nor a multicast
/// or zero one, which no host answers from).
fn foreign(claim: &frames::Claim, wanted: &BTreeSet<IpAddr>, ours: &[Mac]) -> bool {
    wanted.contains(&claim.ip)
        && !ours.contains(&claim.mac)
        && claim.mac != [0; 6]
        && claim.mac[0] & 1 == 0
}

/// The next frame from `rx`, or never when there is no such listener.
async fn recv(rx: &Option<Receiver>, buf: &mut [u8]) -> Result<usize, NetError> {
    match rx {
        Some(rx) => rx.recv(buf).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const OURS: Mac = [0x02, 0x76, 0x6c, 0, 0, 0x0b];
    const OTHER: Mac = [0x02, 0x76, 0x6c, 0, 0, 0xfa];

    fn claim(ip: IpAddr, mac: Mac) -> frames::Claim {
        frames::Claim {
            ip,
            mac,
            kind: ClaimKind::Arp,
        }
    }

    #[test]
    fn only_a_probed_vip_from_another_mac_is_foreign() {
        let vip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 100));
        let other = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 101));
        let wanted = BTreeSet::from([vip]);
        assert!(foreign(&claim(vip, OTHER), &wanted, &[OURS]));
        assert!(!foreign(&claim(vip, OURS), &wanted, &[OURS]));
        assert!(!foreign(&claim(other, OTHER), &wanted, &[OURS]));
        assert!(!foreign(&claim(vip, [0; 6]), &wanted, &[OURS]));
        assert!(!foreign(&claim(vip, frames::BROADCAST), &wanted, &[OURS]));
    }
}
