//! The kernel's own word when interfaces or addresses change: an rtnetlink
//! connection subscribed to the link and address multicast groups (what
//! `ip monitor link address` listens to), so link tracking wakes on the
//! change instead of polling for it.

use futures::StreamExt;
use rtnetlink::MulticastGroup;

use super::{NetError, Netlink};

/// A netlink connection that hears link and address changes and can list
/// links and addresses itself (the answers to its own dumps are not
/// notifications). Make it inside a tokio runtime, in the namespace to
/// watch.
pub struct NetEvents {
    netlink: Netlink,
    notifications: futures::channel::mpsc::UnboundedReceiver<(
        rtnetlink::packet_core::NetlinkMessage<rtnetlink::packet_route::RouteNetlinkMessage>,
        rtnetlink::sys::SocketAddr,
    )>,
}

impl NetEvents {
    /// Subscribes to `RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR` and
    /// `RTNLGRP_IPV6_IFADDR`.
    pub fn subscribe() -> Result<NetEvents, NetError> {
        let (connection, handle, notifications) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])
        .map_err(NetError::io("opening a netlink socket for link events"))?;
        tokio::spawn(connection);
        Ok(NetEvents {
            netlink: Netlink::from_handle(handle),
            notifications,
        })
    }

    /// For listing links and addresses on this connection.
    pub fn netlink(&self) -> &Netlink {
        &self.netlink
    }

    /// Waits for the next notification, then takes every one already
    /// queued: a burst (a link going down drops its routes and addresses
    /// too) wakes the caller once. `false` once the connection is gone.
    /// Cancel-safe.
    pub async fn changed(&mut self) -> bool {
        if self.notifications.next().await.is_none() {
            return false;
        }
        while self.notifications.try_recv().is_ok() {}
        true
    }
}
