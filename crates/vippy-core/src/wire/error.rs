//! Why a datagram was rejected, why a message could not be encoded, and the
//! coarse class of a rejection that metrics count.

use super::replay::Replay;

/// Why [`decode`](super::decode) rejected a datagram. Every variant is caused
/// by the peer (or by a stranger on the network): count it, log it at debug
/// with a rate limit, and carry on: nothing a peer sends may stop a node.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than the smallest possible datagram of its version.
    #[error("datagram too short")]
    TooShort,
    /// Longer than [`MAX_DATAGRAM`](super::MAX_DATAGRAM).
    #[error("datagram of {len} bytes exceeds the maximum of {max}", max = super::MAX_DATAGRAM)]
    Oversize { len: usize },
    /// Does not start with the magic bytes: not a vippy datagram at all.
    #[error("bad magic")]
    BadMagic,
    /// A vippy datagram of a protocol version this build does not speak.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    /// The HMAC tag does not match: wrong secret, tampering or corruption.
    #[error("bad message authentication code")]
    BadMac,
    /// Authentic, but of a message kind this build does not know.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// Authentic, but a field runs past the end of the datagram.
    #[error("truncated in {field}")]
    Truncated { field: &'static str },
    /// Authentic, but a field holds a value the protocol does not allow.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// Authentic, but bytes are left over after the message.
    #[error("{extra} trailing bytes")]
    TrailingBytes { extra: usize },
}

impl WireError {
    /// The coarse class of this rejection, for metrics.
    pub fn reason(&self) -> Rejection {
        match self {
            WireError::BadMac => Rejection::Auth,
            // An authentic message of a kind we do not know comes from a
            // peer speaking a newer protocol: a version skew, not garbage.
            WireError::UnsupportedVersion(_) | WireError::UnknownKind(_) => Rejection::Version,
            WireError::TooShort
            | WireError::Oversize { .. }
            | WireError::BadMagic
            | WireError::Truncated { .. }
            | WireError::Malformed(_)
            | WireError::TrailingBytes { .. } => Rejection::Malformed,
        }
    }
}

/// Why a datagram was dropped: the one reason type from the decoder to the
/// metrics (`vippy_datagrams_rejected_total{reason}`) and the core's
/// counters. The wire layer produces the first four; the node adds the last
/// two, which need its config to tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rejection {
    /// The MAC did not verify.
    Auth,
    /// Authentic but replayed or stale (see [`ReplayWindow`](super::ReplayWindow)).
    Replay,
    /// Not a well-formed vippy datagram.
    Malformed,
    /// A protocol version (or message kind) this build does not speak.
    Version,
    /// An authentic sender outside `nodes` that could not be remembered.
    UnknownNode,
    /// Same config version as ours, different content.
    ConfigConflict,
}

impl Rejection {
    /// Every reason, in the order of the core's `Counters::rejected`, so
    /// that metrics can register every label up front.
    pub const ALL: [Rejection; 6] = [
        Rejection::Auth,
        Rejection::Replay,
        Rejection::Malformed,
        Rejection::Version,
        Rejection::UnknownNode,
        Rejection::ConfigConflict,
    ];

    /// The metric label: `"auth"`, `"replay"`, `"malformed"`, `"version"`,
    /// `"unknown_node"` or `"config_conflict"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Auth => "auth",
            Rejection::Replay => "replay",
            Rejection::Malformed => "malformed",
            Rejection::Version => "version",
            Rejection::UnknownNode => "unknown_node",
            Rejection::ConfigConflict => "config_conflict",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&WireError> for Rejection {
    fn from(e: &WireError) -> Self {
        e.reason()
    }
}

impl From<Replay> for Rejection {
    fn from(_: Replay) -> Self {
        Rejection::Replay
    }
}

/// Why [`encode`](super::encode) refused a message: a field is over a limit
/// of the protocol. These are local bugs or config limits, never the peer's.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The sender name must be 1..=255 bytes.
    #[error("sender name of {len} bytes is not 1..=255 bytes")]
    SenderLength { len: usize },
    /// More than [`Heartbeat::MAX_REASONS`](super::Heartbeat::MAX_REASONS) reasons.
    #[error("{count} inactive reasons exceed the maximum of {max}", max = super::Heartbeat::MAX_REASONS)]
    TooManyReasons { count: usize },
    /// A reason longer than [`Heartbeat::MAX_REASON_LEN`](super::Heartbeat::MAX_REASON_LEN).
    #[error("inactive reason of {len} bytes exceeds the maximum of {max}", max = super::Heartbeat::MAX_REASON_LEN)]
    ReasonTooLong { len: usize },
    /// A group set over more than [`GroupSet::MAX_LEN`](super::GroupSet::MAX_LEN) groups.
    #[error("group set over {len} groups exceeds the maximum of {max}", max = super::GroupSet::MAX_LEN)]
    TooManyGroups { len: usize },
    /// Chunk data longer than [`MAX_CHUNK_DATA`](super::MAX_CHUNK_DATA).
    #[error("config chunk of {len} bytes exceeds the maximum of {max}", max = super::MAX_CHUNK_DATA)]
    ChunkTooLarge { len: usize },
    /// A chunk index not below the chunk total.
    #[error("config chunk index {index} is not below the total {total}")]
    ChunkIndex { index: u32, total: u32 },
    /// More than [`ArpShare::MAX_ENTRIES`](super::ArpShare::MAX_ENTRIES) neighbours.
    #[error("{count} neighbours exceed the maximum of {max} per message", max = super::ArpShare::MAX_ENTRIES)]
    TooManyNeighbours { count: usize },
    /// Handoffs too many, unsorted, or of a group outside the group set.
    #[error("handoffs must be at most {max}, sorted by group and within the group set", max = super::Heartbeat::MAX_HANDOFFS)]
    Handoffs,
    /// The cannot-serve set is over another group count than the holdings.
    #[error("the cannot-serve set must be over as many groups as the holdings")]
    CannotServe,
    /// Pins too many, unsorted, or naming node index `0xffff`.
    #[error("pins must be at most {max}, sorted by group, with node indices below 65535", max = super::Pins::MAX_ENTRIES)]
    Pins,
    /// More than [`Heartbeat::MAX_ECHOES`](super::Heartbeat::MAX_ECHOES) echoes.
    #[error("more than {max} echoes", max = super::Heartbeat::MAX_ECHOES)]
    Echoes,
    /// The whole datagram would exceed [`MAX_DATAGRAM`](super::MAX_DATAGRAM).
    #[error("encoded datagram of {len} bytes exceeds the maximum of {max}", max = super::MAX_DATAGRAM)]
    Oversize { len: usize },
}
