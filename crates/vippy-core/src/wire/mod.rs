//! The wire protocol (docs/PROTOCOL.md): message encoding, HMAC-SHA256
//! authentication and anti-replay. Pure: bytes in, bytes out.
//!
//! Every datagram is `magic, version, kind, header, body, tag`, with the
//! HMAC-SHA256 tag over everything before it; docs/PROTOCOL.md gives the
//! layout byte by byte and the size budget.
//!
//! # Layout
//! - `frame.rs`: [`encode`] and [`decode`] of whole datagrams.
//! - `message.rs`: the message types and their bodies' layout.
//! - `groupset.rs`: [`GroupSet`], the held groups, as bitmap or list.
//! - `auth.rs`: [`Key`] derivation and the tag.
//! - `replay.rs`: [`ReplayWindow`], per-sender anti-replay.
//! - `reader.rs`: the bounds-checked byte cursor decoding uses.
//! - `error.rs`: [`WireError`], [`EncodeError`], [`Rejection`].
//!
//! A receiver runs, per datagram: [`decode`] (length, magic, version, MAC,
//! then fields), then [`ReplayWindow::check`] for the sender, then its own
//! checks, and only then [`ReplayWindow::accept`].
//!
//! ```
//! use vippy_core::wire::*;
//!
//! let key = Key::derive(b"cluster secret");
//! let mut holds = GroupSet::new(3);
//! holds.insert(1);
//! let msg = Message {
//!     header: Header { sender: "node1".into(), incarnation: 7, sequence: 1 },
//!     body: Body::Heartbeat(Heartbeat {
//!         config_version: 1,
//!         config_digest: [0; 32],
//!         mature: true,
//!         active: true,
//!         reasons: vec![],
//!         cannot: GroupSet::new(holds.len()),
//!         holds,
//!         handoffs: vec![],
//!         echoes: vec![],
//!     }),
//! };
//! let bytes = encode(&msg, &key)?;
//!
//! let mut window = ReplayWindow::new();
//! let got = decode(&bytes, &key)?;
//! window.check(got.header.incarnation, got.header.sequence)?;
//! window.accept(got.header.incarnation, got.header.sequence);
//! assert_eq!(got, msg);
//! assert_eq!(
//!     window.check(7, 1).map_err(|e| e.reason().as_str()),
//!     Err("replay")
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod error;
mod frame;
mod groupset;
mod message;
mod reader;
mod replay;

pub use auth::Key;
pub use error::{EncodeError, Rejection, WireError};
pub use frame::{decode, decode_any, encode};
pub use groupset::GroupSet;
pub use message::{
    ArpShare, Body, ConfigChunk, ConfigRequest, Echo, Goodbye, Handoff, Header, Heartbeat, Message,
    Neighbour, PinEntry, Pins,
};
pub use replay::{Replay, ReplayWindow};

/// The protocol version this build speaks; the third byte of every datagram.
pub const PROTOCOL_VERSION: u8 = 2;

/// The longest datagram [`decode`] accepts and [`encode`] produces.
pub const MAX_DATAGRAM: usize = 1400;

/// The most config bytes in one [`ConfigChunk`].
pub const MAX_CHUNK_DATA: usize = 1024;

/// SHA-256 of the canonical cluster config.
pub type Digest = [u8; 32];

/// The first two bytes of every datagram.
pub const MAGIC: [u8; 2] = *b"VP";

/// Bytes of a datagram that are not body: magic 2, version 1, kind 1,
/// sender length 1, incarnation 8, sequence 8, tag 32 (plus the sender name).
const FRAMING: usize = 2 + 1 + 1 + 1 + 8 + 8 + auth::TAG_LEN;

/// The framing with the longest sender name.
const MAX_FRAMING: usize = FRAMING + Header::MAX_SENDER_LEN;
