//! Telling the network that a VIP moved: frames from
//! [`super::frames`] sent on an AF_PACKET socket of one interface, paced by a
//! token bucket whose default burst lets 1000 VIPs go out at once.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};
use tokio::time::Instant;

use super::{Mac, NetError, frames};

/// Default sustained rate, frames per second.
pub const DEFAULT_RATE: u32 = 20_000;
/// Default burst, frames: announcing 1000 VIPs in both ARP forms (2000
/// frames) needs no waiting.
pub const DEFAULT_BURST: u32 = 2_048;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

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

/// Sends announcement frames out of one interface. The socket is opened with
/// protocol 0, so it never receives (and never queues) anything. It belongs
/// to the network namespace of the thread that made it.
#[derive(Debug)]
pub struct Announcer {
    socket: Socket,
    ifindex: u32,
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
        let what = format!("opening a packet socket for interface {ifindex}");
        let socket = Socket::new(Domain::PACKET, Type::RAW, None).map_err(NetError::io(&what))?;
        socket.set_nonblocking(true).map_err(NetError::io(&what))?;
        Ok(Announcer {
            socket,
            ifindex,
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

    /// Sends one whole Ethernet frame, paced. A full socket buffer or device
    /// queue (`EAGAIN`, `ENOBUFS`: rare, as the socket only sends) is waited
    /// out in 1 ms steps for up to about 100 ms; polling keeps the socket
    /// off tokio's reactor, which would need an `unsafe` registration.
    async fn send(&mut self, frame: &[u8], to: &SockAddr) -> Result<(), NetError> {
        self.pacer.take().await;
        let mut full_queue_waits = 0;
        loop {
            match self.socket.send_to(frame, to) {
                Ok(_) => {
                    self.sent += 1;
                    return Ok(());
                }
                Err(e)
                    if (e.kind() == std::io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS))
                        && full_queue_waits < 100 =>
                {
                    full_queue_waits += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => {
                    return Err(NetError::io(format!(
                        "sending on interface {}",
                        self.ifindex
                    ))(e));
                }
            }
        }
    }
}

/// The `sockaddr_ll` that sends a frame of `protocol` out of `ifindex`.
fn link_address(ifindex: u32, protocol: u16, dst: Mac) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `view_as` needs one of the platform's `sockaddr_*` types, and
    // `sockaddr_ll` is one (a zeroed `sockaddr_storage` is large and aligned
    // enough for it; only plain integer fields are written). `SockAddr::new`
    // needs storage initialised up to `len`, a valid address of its family:
    // `len` is exactly `size_of::<sockaddr_ll>()` and `sll_family` is set.
    unsafe {
        let ll: &mut libc::sockaddr_ll = storage.view_as();
        ll.sll_family = libc::AF_PACKET as u16;
        ll.sll_protocol = protocol.to_be();
        ll.sll_ifindex = ifindex as i32;
        ll.sll_halen = 6;
        ll.sll_addr[..6].copy_from_slice(&dst);
        SockAddr::new(
            storage,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
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

    #[test]
    fn link_address_is_a_packet_address() {
        let address = link_address(7, ETH_P_ARP, frames::BROADCAST);
        assert_eq!(address.family(), libc::AF_PACKET as libc::sa_family_t);
        assert_eq!(
            address.len() as usize,
            std::mem::size_of::<libc::sockaddr_ll>()
        );
    }
}
