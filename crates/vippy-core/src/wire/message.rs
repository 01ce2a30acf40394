//! The messages nodes exchange and their byte layout after the framing
//! (docs/PROTOCOL.md, "Wire protocol"). Each type has `encode`, which
//! refuses values over the protocol's limits, and `read`, which rejects the
//! same values, so whatever encodes also decodes to an equal message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::{EncodeError, WireError};
use super::groupset::GroupSet;
use super::reader::Reader;
use super::{Digest, MAX_CHUNK_DATA};

/// Who sent a datagram and where it stands in the sender's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The sender's node name, 1..=[`Header::MAX_SENDER_LEN`] bytes of UTF-8.
    pub sender: String,
    /// Grows across the sender's restarts.
    pub incarnation: u64,
    /// Grows within one incarnation.
    pub sequence: u64,
}

impl Header {
    /// The longest sender name (its length is one byte on the wire).
    pub const MAX_SENDER_LEN: usize = u8::MAX as usize;
}

/// One datagram's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// What a datagram says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Heartbeat(Heartbeat),
    Goodbye(Goodbye),
    ConfigRequest(ConfigRequest),
    ConfigChunk(ConfigChunk),
    ArpShare(ArpShare),
    Pins(Pins),
}

/// Sent every `interval` and at once on any change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub config_version: u64,
    pub config_digest: Digest,
    pub mature: bool,
    pub active: bool,
    /// Why the sender is inactive, e.g. `"booting"`, `"check:http"`: at most
    /// [`Heartbeat::MAX_REASONS`], each at most [`Heartbeat::MAX_REASON_LEN`] bytes.
    pub reasons: Vec<String>,
    /// The groups the sender holds, by index in its config's group list.
    pub holds: GroupSet,
    /// The groups the sender cannot serve although it is active (an
    /// interface down, a plumb that failed, a check scoped to them): no
    /// node places them on it. Over as many groups as `holds`.
    pub cannot: GroupSet,
    /// Groups the sender released for a planned move and the node it hands
    /// each to: only that node may take them while the sender is present, so
    /// nodes whose views differ for a moment cannot both take one. Sorted by
    /// group, at most [`Heartbeat::MAX_HANDOFFS`].
    pub handoffs: Vec<Handoff>,
    /// Incarnations of peers the sender met recently, echoed back: proof to
    /// a node that has just (re)started that this heartbeat is live, not a
    /// replay recorded before it started. At most [`Heartbeat::MAX_ECHOES`].
    pub echoes: Vec<Echo>,
}

/// "I have heard node `node` (index in the sender's config) at `incarnation`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Echo {
    pub node: u16,
    pub incarnation: u64,
}

/// "I released `group` for `to`", both as indices in the sender's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Handoff {
    pub group: u16,
    pub to: u16,
}

impl Heartbeat {
    /// The most inactive reasons one heartbeat carries.
    pub const MAX_REASONS: usize = 8;
    /// The longest inactive reason, in bytes.
    pub const MAX_REASON_LEN: usize = 64;
    /// The most handoffs one heartbeat carries.
    pub const MAX_HANDOFFS: usize = 32;
    /// The most echoes one heartbeat carries.
    pub const MAX_ECHOES: usize = 16;
}

/// Sent on a graceful stop, after the sender has released its VIPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goodbye {
    pub config_version: u64,
    pub config_digest: Digest,
}

/// Asks for `count` chunks of the config `version`/`digest`, from `first_chunk` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRequest {
    /// The incarnation of the node asked: a request recorded before that
    /// node restarted names an older one and is not answered.
    pub responder_incarnation: u64,
    pub version: u64,
    pub digest: Digest,
    pub first_chunk: u32,
    pub count: u16,
}

/// Chunk `index` of `total` of the canonical config `version`/`digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChunk {
    pub version: u64,
    pub digest: Digest,
    /// Below `total`.
    pub index: u32,
    pub total: u32,
    /// At most [`MAX_CHUNK_DATA`] bytes.
    pub data: Vec<u8>,
}

/// Part of the sender's neighbour table (ARP and NDP), shared every `arp-cache`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpShare {
    /// At most [`ArpShare::MAX_ENTRIES`]; a larger table takes several messages.
    pub entries: Vec<Neighbour>,
}

impl ArpShare {
    /// The most entries in one message: with a 255-byte sender name and all
    /// entries IPv6, the datagram stays within 1200 bytes
    /// (53 + 255 framing + 1 count + 38 * 23 = 1183).
    pub const MAX_ENTRIES: usize = (1200 - super::MAX_FRAMING - 1) / NEIGHBOUR_V6_LEN;
}

/// One entry of a neighbour table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    pub ip: IpAddr,
    pub mac: [u8; 6],
}

const NEIGHBOUR_V6_LEN: usize = 1 + 16 + 6;

/// The operator's planned moves as the sender knows them: the cluster-wide
/// pin table (docs/ARCHITECTURE.md, "Planned moves"), merged entry by entry,
/// the higher stamp winning. Sent beside heartbeats while it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pins {
    pub config_version: u64,
    /// Indices below are in this config; a receiver on another ignores them.
    pub config_digest: Digest,
    /// Strictly ascending by group, at most [`Pins::MAX_ENTRIES`].
    pub entries: Vec<PinEntry>,
}

/// "Group `group` is pinned to node `node`" (`None`: the pin was cleared),
/// decided at `stamp`; both indices in the sender's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PinEntry {
    pub group: u16,
    /// Never `Some(0xffff)`: that value means "cleared" on the wire.
    pub node: Option<u16>,
    pub stamp: u64,
}

impl Pins {
    /// The most entries (pins and cleared pins) one message carries: with a
    /// 255-byte sender name the datagram stays within 1200 bytes
    /// (53 + 255 framing + 41 + 64 * 12 = 1117).
    pub const MAX_ENTRIES: usize = 64;
}

const PIN_CLEARED: u16 = u16::MAX;

const KIND_HEARTBEAT: u8 = 1;
const KIND_GOODBYE: u8 = 2;
const KIND_CONFIG_REQUEST: u8 = 3;
const KIND_CONFIG_CHUNK: u8 = 4;
const KIND_ARP_SHARE: u8 = 5;
const KIND_PINS: u8 = 6;

const FLAG_MATURE: u8 = 0x01;
const FLAG_ACTIVE: u8 = 0x02;

const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

impl Header {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.sender.len();
        let len_byte = match u8::try_from(len) {
            Ok(0) | Err(_) => return Err(EncodeError::SenderLength { len }),
            Ok(b) => b,
        };
        out.push(len_byte);
        out.extend_from_slice(self.sender.as_bytes());
        put_u64(out, self.incarnation);
        put_u64(out, self.sequence);
        Ok(())
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let len = usize::from(r.u8("sender length")?);
        if len == 0 {
            return Err(WireError::Malformed("empty sender name"));
        }
        let sender = r.str(len, "sender", "sender name is not UTF-8")?.to_owned();
        Ok(Header {
            sender,
            incarnation: r.u64("incarnation")?,
            sequence: r.u64("sequence")?,
        })
    }
}

impl Body {
    pub(crate) fn kind(&self) -> u8 {
        match self {
            Body::Heartbeat(_) => KIND_HEARTBEAT,
            Body::Goodbye(_) => KIND_GOODBYE,
            Body::ConfigRequest(_) => KIND_CONFIG_REQUEST,
            Body::ConfigChunk(_) => KIND_CONFIG_CHUNK,
            Body::ArpShare(_) => KIND_ARP_SHARE,
            Body::Pins(_) => KIND_PINS,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Body::Heartbeat(b) => b.encode(out),
            Body::Goodbye(b) => {
                b.encode(out);
                Ok(())
            }
            Body::ConfigRequest(b) => {
                b.encode(out);
                Ok(())
            }
            Body::ConfigChunk(b) => b.encode(out),
            Body::ArpShare(b) => b.encode(out),
            Body::Pins(b) => b.encode(out),
        }
    }

    pub(crate) fn is_known_kind(kind: u8) -> bool {
        (KIND_HEARTBEAT..=KIND_PINS).contains(&kind)
    }

    pub(crate) fn read(kind: u8, r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(match kind {
            KIND_HEARTBEAT => Body::Heartbeat(Heartbeat::read(r)?),
            KIND_GOODBYE => Body::Goodbye(Goodbye::read(r)?),
            KIND_CONFIG_REQUEST => Body::ConfigRequest(ConfigRequest::read(r)?),
            KIND_CONFIG_CHUNK => Body::ConfigChunk(ConfigChunk::read(r)?),
            KIND_ARP_SHARE => Body::ArpShare(ArpShare::read(r)?),
            KIND_PINS => Body::Pins(Pins::read(r)?),
            other => return Err(WireError::UnknownKind(other)),
        })
    }
}

impl Heartbeat {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let count = self.reasons.len();
        if count > Self::MAX_REASONS {
            return Err(EncodeError::TooManyReasons { count });
        }
        if let Some(long) = self.reasons.iter().find(|r| r.len() > Self::MAX_REASON_LEN) {
            return Err(EncodeError::ReasonTooLong { len: long.len() });
        }
        put_u64(out, self.config_version);
        out.extend_from_slice(&self.config_digest);
        let mut flags = 0;
        if self.mature {
            flags |= FLAG_MATURE;
        }
        if self.active {
            flags |= FLAG_ACTIVE;
        }
        out.push(flags);
        // Both bounds were checked above, so these casts do not truncate.
        out.push(count as u8);
        for reason in &self.reasons {
            out.push(reason.len() as u8);
            out.extend_from_slice(reason.as_bytes());
        }
        self.holds.encode(out)?;
        if self.cannot.len() != self.holds.len() {
            return Err(EncodeError::CannotServe);
        }
        self.cannot.encode_members(out);
        let sorted = self.handoffs.windows(2).all(|w| w[0].group < w[1].group);
        let in_range = self
            .handoffs
            .iter()
            .all(|h| usize::from(h.group) < self.holds.len());
        if self.handoffs.len() > Self::MAX_HANDOFFS || !sorted || !in_range {
            return Err(EncodeError::Handoffs);
        }
        out.push(self.handoffs.len() as u8);
        for h in &self.handoffs {
            put_u16(out, h.group);
            put_u16(out, h.to);
        }
        if self.echoes.len() > Self::MAX_ECHOES {
            return Err(EncodeError::Echoes);
        }
        out.push(self.echoes.len() as u8);
        for e in &self.echoes {
            put_u16(out, e.node);
            put_u64(out, e.incarnation);
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let config_version = r.u64("config version")?;
        let config_digest = r.array("config digest")?;
        let flags = r.u8("flags")?;
        if flags & !(FLAG_MATURE | FLAG_ACTIVE) != 0 {
            return Err(WireError::Malformed("unknown heartbeat flags"));
        }
        let count = usize::from(r.u8("reason count")?);
        if count > Self::MAX_REASONS {
            return Err(WireError::Malformed("too many inactive reasons"));
        }
        let mut reasons = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(r.u8("reason length")?);
            if len > Self::MAX_REASON_LEN {
                return Err(WireError::Malformed("inactive reason too long"));
            }
            reasons.push(
                r.str(len, "reason", "inactive reason is not UTF-8")?
                    .to_owned(),
            );
        }
        let holds = GroupSet::read(r)?;
        let cannot = GroupSet::read_members(r, holds.len())?;
        let count = usize::from(r.u8("handoff count")?);
        if count > Self::MAX_HANDOFFS {
            return Err(WireError::Malformed("too many handoffs"));
        }
        let mut handoffs: Vec<Handoff> = Vec::with_capacity(count);
        for _ in 0..count {
            let h = Handoff {
                group: r.u16("handoff group")?,
                to: r.u16("handoff node")?,
            };
            if usize::from(h.group) >= holds.len() {
                return Err(WireError::Malformed(
                    "handoff of a group outside the group set",
                ));
            }
            if handoffs.last().is_some_and(|last| last.group >= h.group) {
                return Err(WireError::Malformed("handoffs not sorted by group"));
            }
            handoffs.push(h);
        }
        let count = usize::from(r.u8("echo count")?);
        if count > Self::MAX_ECHOES {
            return Err(WireError::Malformed("too many echoes"));
        }
        let mut echoes = Vec::with_capacity(count);
        for _ in 0..count {
            echoes.push(Echo {
                node: r.u16("echo node")?,
                incarnation: r.u64("echo incarnation")?,
            });
        }
        Ok(Heartbeat {
            config_version,
            config_digest,
            mature: flags & FLAG_MATURE != 0,
            active: flags & FLAG_ACTIVE != 0,
            reasons,
            holds,
            cannot,
            handoffs,
            echoes,
        })
    }
}

impl Goodbye {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.config_version);
        out.extend_from_slice(&self.config_digest);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Goodbye {
            config_version: r.u64("config version")?,
            config_digest: r.array("config digest")?,
        })
    }
}

impl ConfigRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.responder_incarnation);
        put_u64(out, self.version);
        out.extend_from_slice(&self.digest);
        put_u32(out, self.first_chunk);
        put_u16(out, self.count);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ConfigRequest {
            responder_incarnation: r.u64("responder incarnation")?,
            version: r.u64("config version")?,
            digest: r.array("config digest")?,
            first_chunk: r.u32("first chunk")?,
            count: r.u16("chunk count")?,
        })
    }
}

impl ConfigChunk {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.index >= self.total {
            return Err(EncodeError::ChunkIndex {
                index: self.index,
                total: self.total,
            });
        }
        let len = self.data.len();
        let len16 = match u16::try_from(len) {
            Ok(l) if len <= MAX_CHUNK_DATA => l,
            _ => return Err(EncodeError::ChunkTooLarge { len }),
        };
        put_u64(out, self.version);
        out.extend_from_slice(&self.digest);
        put_u32(out, self.index);
        put_u32(out, self.total);
        put_u16(out, len16);
        out.extend_from_slice(&self.data);
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let version = r.u64("config version")?;
        let digest = r.array("config digest")?;
        let index = r.u32("chunk index")?;
        let total = r.u32("chunk total")?;
        if index >= total {
            return Err(WireError::Malformed("chunk index not below total"));
        }
        let len = usize::from(r.u16("chunk length")?);
        if len > MAX_CHUNK_DATA {
            return Err(WireError::Malformed("chunk data too long"));
        }
        Ok(ConfigChunk {
            version,
            digest,
            index,
            total,
            data: r.take(len, "chunk data")?.to_vec(),
        })
    }
}

impl ArpShare {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let count = self.entries.len();
        if count > Self::MAX_ENTRIES {
            return Err(EncodeError::TooManyNeighbours { count });
        }
        // MAX_ENTRIES < 256, checked above.
        out.push(count as u8);
        for n in &self.entries {
            match n.ip {
                IpAddr::V4(ip) => {
                    out.push(FAMILY_V4);
                    out.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    out.push(FAMILY_V6);
                    out.extend_from_slice(&ip.octets());
                }
            }
            out.extend_from_slice(&n.mac);
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let count = usize::from(r.u8("neighbour count")?);
        if count > Self::MAX_ENTRIES {
            return Err(WireError::Malformed("too many neighbours"));
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let ip = match r.u8("address family")? {
                FAMILY_V4 => IpAddr::V4(Ipv4Addr::from(r.array::<4>("IPv4 address")?)),
                FAMILY_V6 => IpAddr::V6(Ipv6Addr::from(r.array::<16>("IPv6 address")?)),
                _ => return Err(WireError::Malformed("unknown address family")),
            };
            entries.push(Neighbour {
                ip,
                mac: r.array("MAC address")?,
            });
        }
        Ok(ArpShare { entries })
    }
}

impl Pins {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let sorted = self.entries.windows(2).all(|w| w[0].group < w[1].group);
        let valid = self.entries.iter().all(|e| e.node != Some(PIN_CLEARED));
        if self.entries.len() > Self::MAX_ENTRIES || !sorted || !valid {
            return Err(EncodeError::Pins);
        }
        put_u64(out, self.config_version);
        out.extend_from_slice(&self.config_digest);
        // At most MAX_ENTRIES < 256, checked above.
        out.push(self.entries.len() as u8);
        for e in &self.entries {
            put_u16(out, e.group);
            put_u16(out, e.node.unwrap_or(PIN_CLEARED));
            put_u64(out, e.stamp);
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let config_version = r.u64("config version")?;
        let config_digest = r.array("config digest")?;
        let count = usize::from(r.u8("pin count")?);
        if count > Self::MAX_ENTRIES {
            return Err(WireError::Malformed("too many pins"));
        }
        let mut entries: Vec<PinEntry> = Vec::with_capacity(count);
        for _ in 0..count {
            let group = r.u16("pin group")?;
            let node = r.u16("pin node")?;
            let entry = PinEntry {
                group,
                node: (node != PIN_CLEARED).then_some(node),
                stamp: r.u64("pin stamp")?,
            };
            if entries.last().is_some_and(|last| last.group >= group) {
                return Err(WireError::Malformed("pins not sorted by group"));
            }
            entries.push(entry);
        }
        Ok(Pins {
            config_version,
            config_digest,
            entries,
        })
    }
}
