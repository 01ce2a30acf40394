//! Telling the network that a VIP moved: frames from
//! [`super::frames`] sent on a [`PacketSocket`] of one interface, paced by a
//! token bucket whose default burst lets 1000 VIPs go out at once.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use socket2::SockAddr;
use tokio::time::Instant;

use super::packet::{ETH_P_ARP, ETH_P_IPV6, PacketSocket, link_address};
use super::{Mac, NetError, frames};

/// Default sustained rate, frames per second.
pub const DEFAULT_RATE: u32 = 20_000;
/// Default burst, frames: announcing 1000 VIPs in both ARP forms (2000
/// frames) needs no waiting.
pub const DEFAULT_BURST: u32 = 2_048;

/// Which gratuitous ARP to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GarpForm {
    /// RFC 5227 §3 announcement (ARP request).
    Request,
    /// RFC 5944 §4.6 gratuitous reply.
    Reply,
    /// Both, request first: hosts differ in which form they honour.
    #[default]
    Both,
}

/// A token bucket: `rate` frames per second, up to `burst` at once.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(DEFAULT_RATE, DEFAULT_BURST)
    }
}

impl Pacer {
    /// A full bucket. A zero rate or burst is taken as one.
    pub fn new(rate: u32, burst: u32) -> Pacer {
        let burst = f64::from(burst.max(1));
        Pacer {
            rate: f64::from(rate.max(1)),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Waits until one frame may go, and takes its token.
    pub async fn take(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.rate);
            tokio::time::sleep(wait).await;
            self.tokens = 1.0;
            self.last = now + wait;
        }
        self.tokens -= 1.0;
    }
}

/// Sends announcement frames out of one interface, on a sending-only
/// [`PacketSocket`].
#[derive(Debug)]
pub struct Announcer {
    socket: PacketSocket,
    mac: Mac,
    arp_to: SockAddr,
    ipv6_to: SockAddr,
    pacer: Pacer,
    sent: u64,
}

impl Announcer {
    /// An announcer for interface `ifindex` whose MAC is `mac`, with the
    /// default pacer.
    pub fn new(ifindex: u32, mac: Mac) -> Result<Announcer, NetError> {
        Ok(Announcer {
            socket: PacketSocket::sender(ifindex)?,
            mac,
            arp_to: link_address(ifindex, ETH_P_ARP, frames::BROADCAST),
            ipv6_to: link_address(ifindex, ETH_P_IPV6, frames::ALL_NODES_MAC),
            pacer: Pacer::default(),
            sent: 0,
        })
    }

    /// Replaces the pacer.
    pub fn with_pacer(mut self, pacer: Pacer) -> Announcer {
        self.pacer = pacer;
        self
    }

    pub fn mac(&self) -> Mac {
        self.mac
    }

    /// Frames sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Broadcasts a gratuitous ARP for `vip` in the given form(s).
    pub async fn gratuitous_arp(&mut self, vip: Ipv4Addr, form: GarpForm) -> Result<(), NetError> {
        if form != GarpForm::Reply {
            self.send_arp(&frames::garp_request(self.mac, vip)).await?;
        }
        if form != GarpForm::Request {
            self.send_arp(&frames::garp_reply(self.mac, vip)).await?;
        }
        Ok(())
    }

    /// Sends an ARP reply for `vip` straight to the neighbour `to_ip` at
    /// `to_mac`.
    pub async fn arp_reply(
        &mut self,
        vip: Ipv4Addr,
        to_ip: Ipv4Addr,
        to_mac: Mac,
    ) -> Result<(), NetError> {
        self.send_arp(&frames::arp_reply(self.mac, vip, to_mac, to_ip))
            .await
    }

    /// Sends an unsolicited neighbour advertisement for `vip` to all nodes,
    /// with the Router flag when `router` (see [`forwards_ipv6`]).
    pub async fn unsolicited_na(&mut self, vip: Ipv6Addr, router: bool) -> Result<(), NetError> {
        let frame = frames::unsolicited_na(self.mac, vip, router);
        let to = self.ipv6_to.clone();
        self.send(&frame, &to).await
    }

    async fn send_arp(&mut self, frame: &[u8]) -> Result<(), NetError> {
        let to = self.arp_to.clone();
        self.send(frame, &to).await
    }

    /// Sends one whole Ethernet frame, paced.
    async fn send(&mut self, frame: &[u8], to: &SockAddr) -> Result<(), NetError> {
        self.pacer.take().await;
        self.socket.send(frame, to).await?;
        self.sent += 1;
        Ok(())
    }
}

/// Whether this namespace forwards IPv6 on `ifname` (its
/// `net.ipv6.conf.IFNAME.forwarding` is 1): then a VIP on it may be the
/// hosts' gateway, and its advertisements carry the Router flag, as the
/// kernel's own do. Unreadable counts as not forwarding.
pub fn forwards_ipv6(ifname: &str) -> bool {
    if ifname.is_empty() || ifname.contains('/') || ifname.starts_with('.') {
        return false;
    }
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{ifname}/forwarding"))
        .is_ok_and(|v| v.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_bursts_then_keeps_the_rate() {
        let mut pacer = Pacer::new(1000, 10);
        let start = Instant::now();
        for _ in 0..10 {
            pacer.take().await;
        }
        assert_eq!(Instant::now(), start, "the burst goes at once");
        for _ in 0..100 {
            pacer.take().await;
        }
        let took = Instant::now() - start;
        assert!(
            took >= Duration::from_millis(99) && took <= Duration::from_millis(101),
            "{took:?}"
        );
    }
}
