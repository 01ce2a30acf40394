//! An AF_PACKET socket on one interface: what the announcer sends gratuitous
//! ARP and NA on, and what the conflict probe sends probes on and listens
//! with. Written by hand over socket2 because no kept crate offers
//! link-layer sockets with tokio integration for both uses.

use std::io::Read as _;
use std::mem::ManuallyDrop;
use std::time::Duration;

use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::{Mac, NetError};

pub(crate) const ETH_P_ARP: u16 = 0x0806;
pub(crate) const ETH_P_IPV6: u16 = 0x86dd;

/// A packet socket bound to one interface. One made by
/// [`PacketSocket::sender`] never receives (and never queues) anything; one
/// made by [`PacketSocket::listener`] receives the frames of one protocol
/// on that interface. It belongs to the network namespace of the thread
/// that made it.
#[derive(Debug)]
pub struct PacketSocket {
    /// Taken only by `Drop`.
    socket: ManuallyDrop<Socket>,
    /// Closing a socket that listens waits for an RCU grace period in the
    /// kernel (tens of ms on a busy host): it is closed off this thread.
    listening: bool,
    ifindex: u32,
}

impl PacketSocket {
    /// A socket that only sends (protocol 0).
    pub fn sender(ifindex: u32) -> Result<PacketSocket, NetError> {
        let what = format!("opening a packet socket for interface {ifindex}");
        let socket = Socket::new(Domain::PACKET, Type::RAW, None).map_err(NetError::io(&what))?;
        socket.set_nonblocking(true).map_err(NetError::io(&what))?;
        Ok(PacketSocket {
            socket: ManuallyDrop::new(socket),
            listening: false,
            ifindex,
        })
    }

    /// A socket that also receives every `protocol` frame on `ifindex`
    /// (both directions: this host's own frames come back too).
    pub fn listener(ifindex: u32, protocol: u16) -> Result<PacketSocket, NetError> {
        let what = format!("opening a listening packet socket for interface {ifindex}");
        // Made without a protocol and bound with it: one made with it is
        // hooked on every interface at once, and bind unhooks it again,
        // which waits for an RCU grace period (tens of ms on a busy host).
        let socket = Socket::new(Domain::PACKET, Type::RAW, None).map_err(NetError::io(&what))?;
        socket.set_nonblocking(true).map_err(NetError::io(&what))?;
        socket
            .bind(&link_address(ifindex, protocol, [0; 6]))
            .map_err(NetError::io(&what))?;
        Ok(PacketSocket {
            socket: ManuallyDrop::new(socket),
            listening: true,
            ifindex,
        })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one whole Ethernet frame. A full socket buffer or device queue
    /// (`EAGAIN`, `ENOBUFS`: rare, as these sockets mostly send) is waited
    /// out in 1 ms steps for up to about 100 ms; polling keeps a sending
    /// socket off tokio's reactor, where it has nothing to wait for.
    pub async fn send(&self, frame: &[u8], to: &SockAddr) -> Result<(), NetError> {
        let mut full_queue_waits = 0;
        loop {
            match self.socket.send_to(frame, to) {
                Ok(_) => return Ok(()),
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

    /// Registers a listener with tokio's reactor, so [`Receiver::recv`]
    /// waits without polling.
    pub fn into_receiver(self) -> Result<Receiver, NetError> {
        let ifindex = self.ifindex;
        // SAFETY: the descriptor is the socket's own, open since `listener`
        // made it; the `AsyncFd` owns the `PacketSocket`, so it stays open
        // and is the same descriptor (`as_raw_fd` returns the field) until
        // the `AsyncFd`, which deregisters it first, is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(self, Interest::READABLE) }
            .map_err(|e| NetError::io(format!("watching interface {ifindex}"))(e.into()))?;
        Ok(Receiver { fd })
    }
}

/// A listening [`PacketSocket`] on tokio's reactor.
#[derive(Debug)]
pub struct Receiver {
    fd: AsyncFd<PacketSocket>,
}

impl Receiver {
    pub fn socket(&self) -> &PacketSocket {
        self.fd.get_ref()
    }

    /// The next frame into `buf`; its length.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize, NetError> {
        loop {
            let mut guard = self.fd.readable().await.map_err(NetError::io(format!(
                "receiving on interface {}",
                self.socket().ifindex
            )))?;
            match guard.try_io(|inner| (&*inner.get_ref().socket).read(buf)) {
                Ok(result) => {
                    return result.map_err(NetError::io(format!(
                        "receiving on interface {}",
                        self.socket().ifindex
                    )));
                }
                Err(_would_block) => continue,
            }
        }
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and never used after.
        let socket = unsafe { ManuallyDrop::take(&mut self.socket) };
        if self.listening {
            // The data plane and the core loop share one thread: a close
            // that waits for the kernel must not hold them (docs/BENCHMARKS.md,
            // "Thousands of VIPs on real daemons").
            std::thread::spawn(move || drop(socket));
        }
    }
}

impl std::os::fd::AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}

/// The `sockaddr_ll` that sends a frame of `protocol` out of `ifindex` to
/// `dst` (or binds to `protocol` on `ifindex`).
pub(crate) fn link_address(ifindex: u32, protocol: u16, dst: Mac) -> SockAddr {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_address_is_a_packet_address() {
        let address = link_address(7, ETH_P_ARP, super::super::frames::BROADCAST);
        assert_eq!(address.family(), libc::AF_PACKET as libc::sa_family_t);
        assert_eq!(
            address.len() as usize,
            std::mem::size_of::<libc::sockaddr_ll>()
        );
    }
}
