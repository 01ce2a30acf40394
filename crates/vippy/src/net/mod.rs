//! The Linux data plane (docs/ARCHITECTURE.md, "The data plane"): addresses and
//! neighbours over rtnetlink, gratuitous ARP and unsolicited neighbour
//! advertisements on packet sockets, and the UDP chat sockets. Nothing here
//! runs `ip`.
//!
//! # Layout
//! - `netlink.rs`: [`Netlink`] — plumb and release VIPs, list links,
//!   addresses and neighbours, find the interface for an address
//! - `announce.rs`: [`Announcer`] and [`Pacer`] — ARP and NA frames, sent
//!   paced on an AF_PACKET socket
//! - `link_events.rs`: [`NetEvents`] — the kernel's link and address
//!   change notifications
//! - `frames.rs`: the frames themselves, built with etherparse, and
//!   [`frames::claim`], which reads who says an address is theirs
//! - `packet.rs`: [`PacketSocket`] — the AF_PACKET socket both of the
//!   others send on, and the conflict probe listens with
//! - `conflict.rs`: [`probe_conflicts`] — ARP probes and DAD solicitations
//!   for held VIPs, and the foreign MACs that answer
//! - `chat.rs`: [`Chat`] — the multicast/unicast UDP sockets nodes talk over
//! - `arrival.rs`: when a chat datagram arrived, from the kernel's stamp
//! - `error.rs`: [`NetError`]

mod announce;
mod arrival;
mod chat;
mod conflict;
mod error;
pub mod frames;
mod link_events;
mod netlink;
mod packet;

pub use announce::{Announcer, DEFAULT_BURST, DEFAULT_RATE, GarpForm, Pacer, forwards_ipv6};
pub use chat::{Chat, ChatConfig, ChatInterfaces, Received};
pub use conflict::{PROBE_WAIT, Sighting, probe_conflicts};
pub use error::NetError;
pub use link_events::NetEvents;
pub use netlink::{
    Address, Link, Neighbour, Netlink, VIP_ADDRESS_PROTOCOL, VipInterface, connected_interface,
    promote_secondaries, vip_interface,
};
pub use packet::{PacketSocket, Receiver};

/// A MAC address.
pub type Mac = [u8; 6];
