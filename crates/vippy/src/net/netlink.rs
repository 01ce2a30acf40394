//! Addresses, links and neighbours over rtnetlink. VIPs are
//! plumbed and released idempotently, and tagged with their own address
//! protocol (`IFA_PROTO`, Linux ≥ 6.3; ignored by older kernels) so they can
//! be told from the node's own addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::AddressMessageBuilder;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};

use super::{Mac, NetError};

/// The `IFA_PROTO` value vippy puts on the VIPs it adds (`ip addr` shows it
/// as `proto 118`). Protocols 0–3 are the kernel's own.
pub const VIP_ADDRESS_PROTOCOL: u8 = 118;

/// An address on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub ifindex: u32,
    /// The interface's name, when it was known at the time of the dump.
    pub ifname: Option<String>,
    pub net: IpNet,
    /// Tagged with [`VIP_ADDRESS_PROTOCOL`]: added by vippy.
    pub vip: bool,
    /// An IPv4 secondary address (another address of the interface already
    /// covers its subnet).
    pub secondary: bool,
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// The Ethernet address, for links that have a 6-byte one.
    pub mac: Option<Mac>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Up and with carrier (`IFF_RUNNING`).
    pub running: bool,
    pub multicast: bool,
    pub loopback: bool,
}

/// A usable entry of the kernel's neighbour table (ARP or NDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Neighbour {
    pub ip: IpAddr,
    pub mac: Mac,
    pub ifindex: u32,
}

/// An rtnetlink connection. Make it inside a tokio runtime: its connection
/// task is spawned there, and its socket belongs to the calling thread's
/// network namespace.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl Netlink {
    pub fn new() -> Result<Netlink, NetError> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(NetError::io("opening a netlink socket"))?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// A `Netlink` on a connection opened elsewhere (`NetEvents`).
    pub(super) fn from_handle(handle: rtnetlink::Handle) -> Netlink {
        Netlink { handle }
    }

    /// Plumbs a VIP: IPv4 with the given prefix, IPv6 with `IFA_F_NODAD` so
    /// it is usable at once. Already present is success.
    pub async fn add_address(&self, ifindex: u32, net: IpNet) -> Result<(), NetError> {
        let mut request = self
            .handle
            .address()
            .add(ifindex, net.addr(), net.prefix_len());
        let message = request.message_mut();
        message
            .attributes
            .push(AddressAttribute::Protocol(AddressProtocol::Other(
                VIP_ADDRESS_PROTOCOL,
            )));
        if net.addr().is_ipv6() {
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match request.execute().await {
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            result => result.map_err(NetError::netlink(format!(
                "adding {net} to interface {ifindex}"
            ))),
        }
    }

    /// Releases a VIP. Already absent (or the interface gone) is success.
    pub async fn del_address(&self, ifindex: u32, net: IpNet) -> Result<(), NetError> {
        let message = match net.addr() {
            IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(ifindex)
                .address(a, net.prefix_len())
                .build(),
            IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(ifindex)
                .address(a, net.prefix_len())
                .build(),
        };
        match self.handle.address().del(message).execute().await {
            Err(e)
                if matches!(
                    errno(&e),
                    Some(libc::ENOENT | libc::EADDRNOTAVAIL | libc::ENODEV)
                ) =>
            {
                Ok(())
            }
            result => result.map_err(NetError::netlink(format!(
                "removing {net} from interface {ifindex}"
            ))),
        }
    }

    /// Every address of every interface (multicast and anycast ones aside).
    pub async fn addresses(&self) -> Result<Vec<Address>, NetError> {
        let links = self.links().await?;
        self.addresses_on(&links).await
    }

    /// Like [`Netlink::addresses`], naming interfaces from `links` (a dump
    /// the caller already has) instead of dumping them again.
    pub async fn addresses_on(&self, links: &[Link]) -> Result<Vec<Address>, NetError> {
        let names: HashMap<u32, &str> = links.iter().map(|l| (l.index, l.name.as_str())).collect();
        let messages: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(NetError::netlink("listing addresses"))?;
        Ok(messages
            .iter()
            .filter_map(parse_address)
            .map(|mut a| {
                a.ifname = names.get(&a.ifindex).map(|n| n.to_string());
                a
            })
            .collect())
    }

    /// Every interface.
    pub async fn links(&self) -> Result<Vec<Link>, NetError> {
        let messages: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(NetError::netlink("listing links"))?;
        Ok(messages.iter().map(parse_link).collect())
    }

    /// The neighbour table, IPv4 and IPv6, without multicast addresses,
    /// unresolved (INCOMPLETE, FAILED, NONE) entries and entries without a
    /// link-layer address: what is worth sharing with peers (`ArpShare`).
    pub async fn neighbours(&self) -> Result<Vec<Neighbour>, NetError> {
        let messages: Vec<NeighbourMessage> = self
            .handle
            .neighbours()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(NetError::netlink("listing neighbours"))?;
        Ok(messages.iter().filter_map(parse_neighbour).collect())
    }

    /// The interface (index, name) whose connected subnet contains `ip`, for
    /// VIPs configured without an interface. VIPs (tagged ones)
    /// and host routes (/32, /128) do not count as connected subnets; the
    /// longest prefix wins.
    pub async fn interface_for(&self, ip: IpAddr) -> Result<Option<(u32, String)>, NetError> {
        let addresses = self.addresses().await?;
        Ok(connected_interface(&addresses, ip)
            .map(|a| (a.ifindex, a.ifname.clone().unwrap_or_default())))
    }
}

/// Sets `net.ipv4.conf.<ifname>.promote_secondaries` to 1 in the calling
/// thread's namespace. Without it, removing an interface's primary IPv4
/// address removes every secondary of that subnet with it: releasing a VIP
/// that happened to be plumbed first would take the other VIPs, and even the
/// node's own address, down too. A sysctl write, not `ip`.
///
/// Nothing is written when it is on already, for the interface or for
/// `all` (the kernel ORs the two), as the packaged unit sets it before
/// start: under `ProtectKernelTunables=yes` /proc/sys is read-only. The
/// error when it is off and cannot be set names the sysctl, to be logged.
pub fn promote_secondaries(ifname: &str) -> Result<(), NetError> {
    if ifname.is_empty() || ifname.contains('/') || ifname.starts_with('.') {
        return Err(NetError::Invalid(format!("interface name {ifname:?}")));
    }
    let on = |conf: &str| {
        std::fs::read_to_string(format!(
            "/proc/sys/net/ipv4/conf/{conf}/promote_secondaries"
        ))
        .is_ok_and(|v| v.trim() == "1")
    };
    if on(ifname) || on("all") {
        return Ok(());
    }
    let path = format!("/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries");
    std::fs::write(&path, "1").map_err(NetError::io(format!(
        "net.ipv4.conf.{ifname}.promote_secondaries is off (and so is \
         net.ipv4.conf.all.promote_secondaries) and writing {path} failed"
    )))
}

/// The interface a VIP goes on: the one the config names for it (by name,
/// whether or not it exists here), else the one whose connected subnet
/// contains it (see [`connected_interface`]). The data plane plumbs there
/// and link tracking watches it.
pub fn vip_interface(
    configured: Option<&String>,
    ip: IpAddr,
    addresses: &[Address],
    links: &[Link],
) -> Option<VipInterface> {
    match configured {
        Some(name) => Some(VipInterface {
            index: links.iter().find(|l| &l.name == name).map(|l| l.index),
            name: name.clone(),
        }),
        None => connected_interface(addresses, ip).map(|a| {
            let name = links
                .iter()
                .find(|l| l.index == a.ifindex)
                .map(|l| l.name.clone());
            VipInterface {
                index: Some(a.ifindex),
                name: name.or(a.ifname.clone()).unwrap_or_default(),
            }
        }),
    }
}

/// Where a VIP goes ([`vip_interface`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipInterface {
    /// `None`: a configured interface that does not exist here.
    pub index: Option<u32>,
    pub name: String,
}

/// See [`Netlink::interface_for`].
pub fn connected_interface(addresses: &[Address], ip: IpAddr) -> Option<&Address> {
    addresses
        .iter()
        .filter(|a| !a.vip && a.net.prefix_len() < a.net.max_prefix_len())
        .filter(|a| a.net.contains(&ip))
        .max_by_key(|a| (a.net.prefix_len(), std::cmp::Reverse(a.ifindex)))
}

/// The kernel's errno behind a netlink error, positive.
fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => Some(message.raw_code().abs()),
        _ => None,
    }
}

fn parse_address(message: &AddressMessage) -> Option<Address> {
    let mut local = None;
    let mut address = None;
    let mut flags = None;
    let mut vip = false;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Flags(f) => flags = Some(*f),
            AddressAttribute::Protocol(p) => vip = u8::from(*p) == VIP_ADDRESS_PROTOCOL,
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's
    // on point-to-point links, and the only one IPv6 usually sends.
    let ip = local.or(address)?;
    let secondary = match flags {
        Some(f) => f.contains(AddressFlags::Secondary),
        None => message.header.flags.contains(AddressHeaderFlags::Secondary),
    };
    Some(Address {
        ifindex: message.header.index,
        ifname: None,
        net: IpNet::new(ip, message.header.prefix_len).ok()?,
        vip,
        secondary,
    })
}

fn parse_link(message: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mac = None;
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Address(bytes) => mac = <Mac>::try_from(bytes.as_slice()).ok(),
            _ => {}
        }
    }
    let flags = message.header.flags;
    Link {
        index: message.header.index,
        name,
        mac,
        up: flags.contains(LinkFlags::Up),
        running: flags.contains(LinkFlags::Running),
        multicast: flags.contains(LinkFlags::Multicast),
        loopback: flags.contains(LinkFlags::Loopback),
    }
}

fn parse_neighbour(message: &NeighbourMessage) -> Option<Neighbour> {
    if matches!(
        message.header.state,
        NeighbourState::Incomplete | NeighbourState::Failed | NeighbourState::None
    ) {
        return None;
    }
    let mut ip = None;
    let mut mac = None;
    for attribute in &message.attributes {
        match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => ip = Some(IpAddr::V4(*a)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                ip = Some(IpAddr::V6(*a))
            }
            NeighbourAttribute::LinkLayerAddress(bytes) => {
                mac = <Mac>::try_from(bytes.as_slice()).ok()
            }
            _ => {}
        }
    }
    let (ip, mac) = (ip?, mac?);
    if ip.is_multicast() || mac == [0; 6] || mac[0] & 1 == 1 {
        return None;
    }
    Some(Neighbour {
        ip,
        mac,
        ifindex: message.header.ifindex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(ifindex: u32, net: &str, vip: bool, secondary: bool) -> Address {
        Address {
            ifindex,
            ifname: Some(format!("if{ifindex}")),
            net: net.parse().unwrap(),
            vip,
            secondary,
        }
    }

    #[test]
    fn connected_interface_ignores_vips_and_host_routes() {
        let addresses = [
            address(1, "127.0.0.1/8", false, false),
            address(2, "198.51.100.11/24", false, false),
            address(2, "198.51.100.12/24", true, true),
            // An own address can be secondary to a VIP that came first.
            address(6, "203.0.112.5/24", true, false),
            address(6, "203.0.112.1/24", false, true),
            address(3, "203.0.113.5/24", true, false),
            address(3, "203.0.113.6/32", false, false),
            address(4, "2001:db8::11/64", false, false),
            address(5, "2001:db8::/48", false, false),
        ];
        let find =
            |ip: &str| connected_interface(&addresses, ip.parse().unwrap()).map(|a| a.ifindex);
        assert_eq!(find("198.51.100.100"), Some(2));
        assert_eq!(
            find("203.0.113.7"),
            None,
            "only a VIP and a host route cover it"
        );
        assert_eq!(find("203.0.113.6"), None);
        assert_eq!(find("2001:db8::100"), Some(4), "longest prefix wins");
        assert_eq!(find("2001:db8:0:1::1"), Some(5));
        assert_eq!(find("203.0.112.9"), Some(6));
        assert_eq!(find("192.0.2.1"), None);
    }
}
