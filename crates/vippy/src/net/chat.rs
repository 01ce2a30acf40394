//! The sockets nodes chat over (docs/PROTOCOL.md): UDP on one port, multicast to an
//! administratively scoped group (IPv4 and/or IPv6) on every multicast-capable
//! interface or on one named interface, and unicast to configured peers.
//! Multicast leaves with TTL/hop limit 1 and is not looped back, so a node
//! never hears itself.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6, SockaddrStorage,
    recvmsg, sendmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeSpec;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::{Link, NetError};

/// Where the chat's multicast goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChatInterfaces {
    /// Every interface that is up, multicast-capable and not loopback.
    #[default]
    All,
    /// One interface, by name.
    Named(String),
}

/// The chat's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatConfig {
    pub port: u16,
    /// IPv4 multicast group (239.0.0.0/8), if IPv4 multicast is used.
    pub group_v4: Option<Ipv4Addr>,
    /// IPv6 multicast group (e.g. ff15::1:1), if IPv6 multicast is used.
    pub group_v6: Option<Ipv6Addr>,
    pub interfaces: ChatInterfaces,
    /// Unicast peers, for networks without multicast.
    pub peers: Vec<SocketAddr>,
}

/// The bound chat sockets: one IPv4 and one IPv6 (IPv6-only) socket, both on
/// the chat port, each present when its family is used (a group or a peer of
/// that family; IPv4 always, for peers that appear later).
#[derive(Debug)]
pub struct Chat {
    config: ChatConfig,
    v4: UdpSocket,
    v6: Option<UdpSocket>,
    /// Interfaces multicast goes out of and is joined on.
    interfaces: Vec<(u32, String)>,
    /// When each socket (IPv4, IPv6) was last seen with nothing queued:
    /// what is read later arrived after it.
    empty_at: [Mutex<Instant>; 2],
}

/// One datagram read from the chat.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub len: usize,
    pub from: SocketAddr,
    /// When it reached the socket (see `arrival.rs`).
    pub arrived: Instant,
}

impl Chat {
    /// Binds the chat port and joins the groups on the chosen interfaces
    /// (from `links`, e.g. [`super::Netlink::links`]). Call inside a tokio
    /// runtime; the sockets belong to the calling thread's namespace.
    pub fn bind(config: ChatConfig, links: &[Link]) -> Result<Chat, NetError> {
        let interfaces = checked_interfaces(&config, links)?;
        let port = config.port;

        let v4 = v4_socket(port)?;
        if let Some(group) = config.group_v4 {
            for (index, name) in &interfaces {
                join_on(&SockRef::from(&v4), IpAddr::V4(group), *index, name)?;
            }
        }
        let v6 = if wants_v6(&config) {
            let v6 = v6_socket(port)?;
            if let Some(group) = config.group_v6 {
                for (index, name) in &interfaces {
                    join_on(&SockRef::from(&v6), IpAddr::V6(group), *index, name)?;
                }
            }
            Some(v6)
        } else {
            None
        };

        Ok(Chat {
            v4: tokio_socket(v4)?,
            v6: v6.map(tokio_socket).transpose()?,
            config,
            interfaces,
            empty_at: [Mutex::new(Instant::now()), Mutex::new(Instant::now())],
        })
    }

    /// Takes on `config` (a reload that changed `chat`, `chat_interface` or
    /// `peers`): all of it, or on an error nothing, and the chat goes on as
    /// before. On another port, fresh sockets are bound and the old ones
    /// close when this returns. On the same port the bound sockets stay (a
    /// second socket could not bind the port while they hold it): the peers
    /// are replaced, the groups are joined on the interfaces that are new to
    /// them and left on the others, and an IPv6 socket is bound or closed
    /// when the IPv6 part comes or goes. Datagrams queued meanwhile are kept.
    pub fn reconfigure(&mut self, config: ChatConfig, links: &[Link]) -> Result<(), NetError> {
        if config.port != self.config.port {
            *self = Chat::bind(config, links)?;
            return Ok(());
        }
        let interfaces = checked_interfaces(&config, links)?;
        let fresh_v6 = match (&self.v6, wants_v6(&config)) {
            (None, true) => Some(v6_socket(config.port)?),
            _ => None,
        };
        let memberships = |c: &ChatConfig, on: &[(u32, String)]| -> Vec<(IpAddr, u32, String)> {
            let groups = [c.group_v4.map(IpAddr::V4), c.group_v6.map(IpAddr::V6)];
            groups
                .into_iter()
                .flatten()
                .flat_map(|g| on.iter().map(move |(i, n)| (g, *i, n.clone())))
                .collect()
        };
        let have = memberships(&self.config, &self.interfaces);
        let want = memberships(&config, &interfaces);
        // The socket a group is joined on: a fresh IPv6 socket has none yet.
        let socket_for = |group: &IpAddr| -> Option<SockRef<'_>> {
            match group {
                IpAddr::V4(_) => Some(SockRef::from(&self.v4)),
                IpAddr::V6(_) => match (&fresh_v6, &self.v6) {
                    (Some(fresh), _) => Some(SockRef::from(fresh)),
                    (None, Some(v6)) => Some(SockRef::from(v6)),
                    (None, None) => None,
                },
            }
        };
        let held = |group: &IpAddr, index: u32| {
            (group.is_ipv4() || fresh_v6.is_none())
                && have.iter().any(|(g, i, _)| g == group && *i == index)
        };
        let mut joined: Vec<(IpAddr, u32)> = Vec::new();
        let mut failure = None;
        for (group, index, name) in &want {
            if held(group, *index) {
                continue;
            }
            let Some(socket) = socket_for(group) else {
                continue;
            };
            match join_on(&socket, *group, *index, name) {
                Ok(()) => joined.push((*group, *index)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let registered = match (failure, fresh_v6) {
            (Some(e), _) => Err(e),
            (None, Some(fresh)) => tokio_socket(fresh).map(Some),
            (None, None) => Ok(None),
        };
        let fresh_v6 = match registered {
            Ok(fresh) => fresh,
            Err(e) => {
                // Back to what was: leave what this call joined on the
                // sockets that stay (a fresh IPv6 socket is closed anyway).
                for (group, index) in joined {
                    if group.is_ipv4() || self.v6.is_some() {
                        let _ = self.leave_group(group, index);
                    }
                }
                return Err(e);
            }
        };
        for (group, index, _) in &have {
            if !want.iter().any(|(g, i, _)| g == group && i == index) {
                // An interface gone since may fail to leave, harmlessly.
                let _ = self.leave_group(*group, *index);
            }
        }
        if fresh_v6.is_some() {
            self.v6 = fresh_v6;
        } else if !wants_v6(&config) {
            self.v6 = None;
        }
        self.config = config;
        self.interfaces = interfaces;
        Ok(())
    }

    fn leave_group(&self, group: IpAddr, index: u32) -> io::Result<()> {
        match group {
            IpAddr::V4(g) => SockRef::from(&self.v4)
                .leave_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(index)),
            IpAddr::V6(g) => match &self.v6 {
                Some(v6) => SockRef::from(v6).leave_multicast_v6(&g, index),
                None => Ok(()),
            },
        }
    }

    /// The interfaces multicast is joined on and sent out of.
    pub fn interfaces(&self) -> &[(u32, String)] {
        &self.interfaces
    }

    /// Follows the host's interfaces (from a fresh [`super::Netlink::links`]):
    /// joins the groups on interfaces that appeared or came up since, and
    /// stops using those gone or down, so a VLAN created after start, or
    /// the named interface recreated, carries the chat without a restart.
    /// Returns the names joined and left; a join that fails is retried at
    /// the next refresh.
    pub fn refresh(&mut self, links: &[Link]) -> (Vec<String>, Vec<NetError>, Vec<String>) {
        let want = chosen(&self.config.interfaces, links);
        let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.interfaces)
            .into_iter()
            .partition(|have| want.contains(have));
        self.interfaces = kept;
        let mut left = Vec::new();
        for (index, name) in gone {
            // The kernel drops memberships of a vanished interface; leaving
            // one that is only down may fail, harmlessly.
            let _ = self.leave(index);
            left.push(name);
        }
        let mut joined = Vec::new();
        let mut failed = Vec::new();
        for (index, name) in want {
            if self.interfaces.iter().any(|(i, _)| *i == index) {
                continue;
            }
            match self.join(index, &name) {
                Ok(()) => {
                    joined.push(name.clone());
                    self.interfaces.push((index, name));
                }
                Err(e) => failed.push(e),
            }
        }
        (joined, failed, left)
    }

    fn join(&self, index: u32, name: &str) -> Result<(), NetError> {
        if let Some(group) = self.config.group_v4 {
            SockRef::from(&self.v4)
                .join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(index))
                .map_err(NetError::io(format!("joining {group} on {name}")))?;
        }
        if let (Some(group), Some(v6)) = (self.config.group_v6, &self.v6) {
            SockRef::from(v6)
                .join_multicast_v6(&group, index)
                .map_err(NetError::io(format!("joining {group} on {name}")))?;
        }
        Ok(())
    }

    fn leave(&self, index: u32) -> io::Result<()> {
        if let Some(group) = self.config.group_v4 {
            SockRef::from(&self.v4)
                .leave_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(index))?;
        }
        if let (Some(group), Some(v6)) = (self.config.group_v6, &self.v6) {
            SockRef::from(v6).leave_multicast_v6(&group, index)?;
        }
        Ok(())
    }

    pub fn config(&self) -> &ChatConfig {
        &self.config
    }

    /// Multicasts `bytes` to each configured group, once per interface; an
    /// interface that fails (down, gone) does not stop the others. Returns
    /// how many datagrams went out, or the first failure if none did.
    pub async fn multicast(&self, bytes: &[u8]) -> Result<usize, NetError> {
        let mut sent = 0;
        let mut first_failure = None;
        for (index, name) in &self.interfaces {
            if let Some(group) = self.config.group_v4 {
                let to = SocketAddrV4::new(group, self.config.port);
                match send_v4_via(&self.v4, bytes, to, *index).await {
                    Ok(_) => sent += 1,
                    Err(e) => {
                        let what = format!("multicasting to {group} via {name}");
                        first_failure.get_or_insert(NetError::io(what)(e));
                    }
                }
            }
            if let (Some(group), Some(v6)) = (self.config.group_v6, &self.v6) {
                let to = SocketAddrV6::new(group, self.config.port, 0, 0);
                match send_v6_via(v6, bytes, to, *index).await {
                    Ok(_) => sent += 1,
                    Err(e) => {
                        let what = format!("multicasting to {group} via {name}");
                        first_failure.get_or_insert(NetError::io(what)(e));
                    }
                }
            }
        }
        match first_failure {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }

    /// Sends `bytes` to one peer.
    pub async fn send_to(&self, bytes: &[u8], peer: SocketAddr) -> Result<(), NetError> {
        let socket = match peer.ip() {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(_) => self.v6.as_ref().ok_or_else(|| {
                NetError::Invalid(format!("peer {peer}: chat has no IPv6 socket"))
            })?,
        };
        socket
            .send_to(bytes, peer)
            .await
            .map_err(NetError::io(format!("sending to {peer}")))?;
        Ok(())
    }

    /// Sends `bytes` to every configured peer; a peer that cannot be reached
    /// now does not stop the others. Returns how many were sent and the
    /// failures.
    pub async fn send_to_peers(&self, bytes: &[u8]) -> (usize, Vec<NetError>) {
        let mut sent = 0;
        let mut failed = Vec::new();
        for peer in &self.config.peers {
            match self.send_to(bytes, *peer).await {
                Ok(()) => sent += 1,
                Err(e) => failed.push(e),
            }
        }
        (sent, failed)
    }

    /// Receives one datagram from either socket: its length, its sender and
    /// when it arrived.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<Received, NetError> {
        loop {
            let ready = match &self.v6 {
                None => self.v4.readable().await.map(|_| (&self.v4, 0)),
                Some(v6) => tokio::select! {
                    r = self.v4.readable() => r.map(|_| (&self.v4, 0)),
                    r = v6.readable() => r.map(|_| (v6, 1)),
                },
            };
            let (socket, family) = ready.map_err(NetError::io("waiting for chat"))?;
            if let Some(got) = self.read_one(socket, family, buf) {
                return got;
            }
        }
    }

    /// A datagram already queued on either socket, without waiting; `None`
    /// when both are empty.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> Option<Result<Received, NetError>> {
        let sockets = std::iter::once(&self.v4).chain(self.v6.as_ref());
        sockets
            .enumerate()
            .find_map(|(family, socket)| self.read_one(socket, family, buf))
    }

    /// One read of `socket`; `None` when it had nothing queued.
    fn read_one(
        &self,
        socket: &UdpSocket,
        family: usize,
        buf: &mut [u8],
    ) -> Option<Result<Received, NetError>> {
        match socket.try_io(Interest::READABLE, || read_stamped(socket, buf)) {
            Ok((len, from, stamp)) => {
                let empty_at = *lock(&self.empty_at[family]);
                let arrived =
                    super::arrival::arrived(Instant::now(), SystemTime::now(), stamp, empty_at);
                Some(Ok(Received { len, from, arrived }))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *lock(&self.empty_at[family]) = Instant::now();
                None
            }
            Err(e) => Some(Err(NetError::io("receiving chat")(e))),
        }
    }
}

/// The guard of a lock no holder can poison (a plain store of an instant).
fn lock(at: &Mutex<Instant>) -> std::sync::MutexGuard<'_, Instant> {
    at.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One `recvmsg`: the datagram into `buf`, its sender and its kernel
/// receive stamp (`SO_TIMESTAMPNS`, set on every chat socket).
fn read_stamped(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<SystemTime>)> {
    let mut control = nix::cmsg_space!(TimeSpec);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(control.as_mut_slice()),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let stamp = msg.cmsgs().ok().and_then(|mut cmsgs| {
        cmsgs.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => Some(wall_time(ts)),
            _ => None,
        })
    });
    let from = msg
        .address
        .and_then(|a| socket_addr(&a))
        .ok_or_else(|| io::Error::other("a chat datagram without an IP sender"))?;
    Ok((msg.bytes, from, stamp))
}

fn wall_time(ts: TimeSpec) -> SystemTime {
    let since = std::time::Duration::new(ts.tv_sec().max(0) as u64, ts.tv_nsec() as u32);
    SystemTime::UNIX_EPOCH + since
}

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// The interfaces `which` names among `links`: every one up, multicast-capable
/// and not loopback, or the named one if it exists.
fn chosen(which: &ChatInterfaces, links: &[Link]) -> Vec<(u32, String)> {
    links
        .iter()
        .filter(|l| match which {
            ChatInterfaces::All => l.up && l.multicast && !l.loopback,
            ChatInterfaces::Named(name) => &l.name == name,
        })
        .map(|l| (l.index, l.name.clone()))
        .collect()
}

/// The interfaces `config` uses among `links`, once its groups and named
/// interface are checked.
fn checked_interfaces(config: &ChatConfig, links: &[Link]) -> Result<Vec<(u32, String)>, NetError> {
    let interfaces = chosen(&config.interfaces, links);
    if let ChatInterfaces::Named(name) = &config.interfaces
        && interfaces.is_empty()
    {
        return Err(NetError::Invalid(format!(
            "chat interface {name} does not exist"
        )));
    }
    let groups = [
        config.group_v4.map(IpAddr::V4),
        config.group_v6.map(IpAddr::V6),
    ];
    if let Some(group) = groups.into_iter().flatten().find(|g| !g.is_multicast()) {
        return Err(NetError::Invalid(format!(
            "chat group {group} is not multicast"
        )));
    }
    Ok(interfaces)
}

/// An IPv6 socket is bound for an IPv6 group or an IPv6 peer.
fn wants_v6(config: &ChatConfig) -> bool {
    config.group_v6.is_some() || config.peers.iter().any(SocketAddr::is_ipv6)
}

fn v4_socket(port: u16) -> Result<Socket, NetError> {
    let v4 = socket(Domain::IPV4, port)?;
    let what = |w: &str| format!("chat IPv4 socket: {w}");
    v4.set_multicast_loop_v4(false)
        .map_err(NetError::io(what("loop off")))?;
    v4.set_multicast_ttl_v4(1)
        .map_err(NetError::io(what("TTL 1")))?;
    // Only the groups joined here, not every group any socket joined.
    v4.set_multicast_all_v4(false)
        .map_err(NetError::io(what("multicast_all off")))?;
    Ok(v4)
}

fn v6_socket(port: u16) -> Result<Socket, NetError> {
    let v6 = socket(Domain::IPV6, port)?;
    let what = |w: &str| format!("chat IPv6 socket: {w}");
    v6.set_multicast_loop_v6(false)
        .map_err(NetError::io(what("loop off")))?;
    v6.set_multicast_hops_v6(1)
        .map_err(NetError::io(what("hops 1")))?;
    v6.set_multicast_all_v6(false)
        .map_err(NetError::io(what("multicast_all off")))?;
    Ok(v6)
}

fn tokio_socket(socket: Socket) -> Result<UdpSocket, NetError> {
    UdpSocket::from_std(socket.into()).map_err(NetError::io("registering a chat socket with tokio"))
}

/// Joins `group` on interface `index` (`name`, for the error).
fn join_on(socket: &SockRef<'_>, group: IpAddr, index: u32, name: &str) -> Result<(), NetError> {
    let family = if group.is_ipv4() { "IPv4" } else { "IPv6" };
    match group {
        IpAddr::V4(g) => socket.join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(index)),
        IpAddr::V6(g) => socket.join_multicast_v6(&g, index),
    }
    .map_err(NetError::io(format!(
        "chat {family} socket: joining {group} on {name}"
    )))
}

fn socket(domain: Domain, port: u16) -> Result<Socket, NetError> {
    let family = if domain == Domain::IPV4 {
        "IPv4"
    } else {
        "IPv6"
    };
    let what = format!("chat {family} socket on port {port}");
    let socket =
        Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(NetError::io(&what))?;
    let any: SocketAddr = if domain == Domain::IPV4 {
        (Ipv4Addr::UNSPECIFIED, port).into()
    } else {
        socket.set_only_v6(true).map_err(NetError::io(&what))?;
        (Ipv6Addr::UNSPECIFIED, port).into()
    };
    socket.set_nonblocking(true).map_err(NetError::io(&what))?;
    // The kernel stamps each datagram as it arrives: the core measures how
    // long it queued behind a busy loop.
    setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
        .map_err(|e| NetError::io(&what)(io::Error::from(e)))?;
    socket.bind(&any.into()).map_err(NetError::io(&what))?;
    Ok(socket)
}

/// Sends out of interface `index` whatever the socket's default, by an
/// `IP_PKTINFO` control message: one socket serves every interface, and
/// concurrent sends cannot race on a socket option.
async fn send_v4_via(
    socket: &UdpSocket,
    bytes: &[u8],
    to: SocketAddrV4,
    index: u32,
) -> io::Result<usize> {
    let info = libc::in_pktinfo {
        ipi_ifindex: index as i32,
        ipi_spec_dst: libc::in_addr { s_addr: 0 },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    let to = SockaddrIn::from(to);
    socket
        .async_io(Interest::WRITABLE, || {
            sendmsg(
                socket.as_raw_fd(),
                &[IoSlice::new(bytes)],
                &[ControlMessage::Ipv4PacketInfo(&info)],
                MsgFlags::empty(),
                Some(&to),
            )
            .map_err(io::Error::from)
        })
        .await
}

/// The IPv6 twin of [`send_v4_via`], with `IPV6_PKTINFO`.
async fn send_v6_via(
    socket: &UdpSocket,
    bytes: &[u8],
    to: SocketAddrV6,
    index: u32,
) -> io::Result<usize> {
    let info = libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr { s6_addr: [0; 16] },
        ipi6_ifindex: index,
    };
    let to = SockaddrIn6::from(to);
    socket
        .async_io(Interest::WRITABLE, || {
            sendmsg(
                socket.as_raw_fd(),
                &[IoSlice::new(bytes)],
                &[ControlMessage::Ipv6PacketInfo(&info)],
                MsgFlags::empty(),
                Some(&to),
            )
            .map_err(io::Error::from)
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr, UdpSocket as StdUdp};
    use std::time::Duration;

    use super::{Chat, ChatConfig, ChatInterfaces};

    /// A UDP port free a moment ago.
    fn free_port() -> u16 {
        StdUdp::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn unicast(port: u16, peers: &[u16]) -> ChatConfig {
        ChatConfig {
            port,
            group_v4: None,
            group_v6: None,
            interfaces: ChatInterfaces::All,
            peers: peers
                .iter()
                .map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, *p)))
                .collect(),
        }
    }

    async fn hears(chat: &Chat, port: u16, payload: &[u8]) -> bool {
        let sender = StdUdp::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        sender
            .send_to(payload, (Ipv4Addr::LOCALHOST, port))
            .unwrap();
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(2), chat.recv_from(&mut buf)).await {
            Ok(Ok(got)) => &buf[..got.len] == payload,
            _ => false,
        }
    }

    #[tokio::test]
    async fn reconfigure_on_the_same_port_keeps_the_socket_and_takes_the_new_peers() {
        let port = free_port();
        let mut chat = Chat::bind(unicast(port, &[9]), &[]).unwrap();
        assert!(hears(&chat, port, b"before").await);
        // A second bind of the port fails while the chat holds it: which is
        // why the same port is reconfigured in place.
        assert!(Chat::bind(unicast(port, &[9]), &[]).is_err());

        chat.reconfigure(unicast(port, &[9, 10]), &[]).unwrap();
        assert_eq!(chat.config().peers.len(), 2);
        assert!(hears(&chat, port, b"after").await);
    }

    #[tokio::test]
    async fn a_failed_reconfigure_changes_nothing() {
        let port = free_port();
        let mut chat = Chat::bind(unicast(port, &[9]), &[]).unwrap();
        let mut named = unicast(port, &[9, 10]);
        named.interfaces = ChatInterfaces::Named("no-such-if0".into());
        let e = chat.reconfigure(named, &[]).unwrap_err();
        assert!(e.to_string().contains("no-such-if0"), "{e}");
        assert_eq!(chat.config(), &unicast(port, &[9]));
        assert!(hears(&chat, port, b"still").await);

        // Another port that is taken: the old socket stays.
        let taken = StdUdp::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        assert!(chat.reconfigure(unicast(taken_port, &[9]), &[]).is_err());
        assert_eq!(chat.config().port, port);
        assert!(hears(&chat, port, b"kept").await);
    }

    #[tokio::test]
    async fn reconfigure_to_another_port_binds_it_and_frees_the_old() {
        let port = free_port();
        let mut chat = Chat::bind(unicast(port, &[9]), &[]).unwrap();
        let other = loop {
            let p = free_port();
            if p != port {
                break p;
            }
        };
        chat.reconfigure(unicast(other, &[9]), &[]).unwrap();
        assert_eq!(chat.config().port, other);
        assert!(hears(&chat, other, b"moved").await);
        // The old port is free again.
        drop(StdUdp::bind((Ipv4Addr::UNSPECIFIED, port)).unwrap());
    }
}
