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
//! - `frames.rs`: the frames themselves, built with etherparse
//! - `chat.rs`: [`Chat`] — the multicast/unicast UDP sockets nodes talk over
//! - `error.rs`: [`NetError`]

mod announce;
mod chat;
mod error;
pub mod frames;
mod netlink;

pub use announce::{Announcer, DEFAULT_BURST, DEFAULT_RATE, GarpForm, Pacer, forwards_ipv6};
pub use chat::{Chat, ChatConfig, ChatInterfaces};
pub use error::NetError;
pub use netlink::{
    Address, Link, Neighbour, Netlink, VIP_ADDRESS_PROTOCOL, connected_interface,
    promote_secondaries,
};

/// A MAC address.
pub type Mac = [u8; 6];
