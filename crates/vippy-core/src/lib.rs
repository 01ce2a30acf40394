//! The pure half of vippy: configuration, wire format, placement and the
//! node state machine. Nothing here touches a socket, a clock or a random
//! number generator, so the simulator can run it on a fake clock; the
//! daemon in `crates/vippy` drives it (docs/ARCHITECTURE.md).
//!
//! # Layout
//! - [`config`]: parse (JSON5, so the original's files load), validate,
//!   normalise and digest the configuration.
//! - [`wire`]: message encoding, HMAC-SHA256 authentication, anti-replay.
//! - [`placement`]: the pure assignment of groups to nodes.
//! - [`node`]: the sans-IO state machine that decides who holds what.
//! - [`hash`]: the stable hashes placement and the digest share.

pub mod config;
pub mod hash;
pub mod node;
pub mod placement;
pub mod wire;
