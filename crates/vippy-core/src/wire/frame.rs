//! Whole datagrams: framing, MAC and the order of checks (docs/PROTOCOL.md,
//! "Decoding order").

use super::auth::{Key, TAG_LEN};
use super::error::{EncodeError, WireError};
use super::message::{Body, Header, Message};
use super::reader::Reader;
use super::{FRAMING, MAGIC, MAX_DATAGRAM, PROTOCOL_VERSION};

/// The shortest datagram of this version: framing and a one-byte sender.
const MIN_DATAGRAM: usize = FRAMING + 1;

/// Encodes and signs `msg`. Fails only when a field is over a limit of the
/// protocol or the datagram would exceed [`MAX_DATAGRAM`].
pub fn encode(msg: &Message, key: &Key) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(MAX_DATAGRAM);
    out.extend_from_slice(&MAGIC);
    out.push(PROTOCOL_VERSION);
    out.push(msg.body.kind());
    msg.header.encode(&mut out)?;
    msg.body.encode(&mut out)?;
    let len = out.len().saturating_add(TAG_LEN);
    if len > MAX_DATAGRAM {
        return Err(EncodeError::Oversize { len });
    }
    let tag = key.sign(&out);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Verifies and decodes one datagram. Checks, in order: length, magic,
/// version, the MAC (in constant time, before any other field is read),
/// then every field, and that nothing trails the message. Never panics.
pub fn decode(bytes: &[u8], key: &Key) -> Result<Message, WireError> {
    decode_any(bytes, std::slice::from_ref(key)).map(|(msg, _)| msg)
}

/// [`decode`] with several accepted keys (a secret being rotated): the MAC
/// may match any of them. Returns the message and the index of the key that
/// matched, so a receiver can tell which peers still sign with an old secret.
pub fn decode_any(bytes: &[u8], keys: &[Key]) -> Result<(Message, usize), WireError> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(WireError::Oversize { len: bytes.len() });
    }
    let Some((magic, rest)) = bytes.split_first_chunk::<2>() else {
        return Err(WireError::TooShort);
    };
    if *magic != MAGIC {
        return Err(WireError::BadMagic);
    }
    // The version is checked before the minimum length, which is the
    // minimum of this version only: a short datagram of another version is
    // reported as a version skew.
    let Some(&version) = rest.first() else {
        return Err(WireError::TooShort);
    };
    if version != PROTOCOL_VERSION {
        return Err(WireError::UnsupportedVersion(version));
    }
    if bytes.len() < MIN_DATAGRAM {
        return Err(WireError::TooShort);
    }
    let Some((signed, tag)) = bytes.split_last_chunk::<TAG_LEN>() else {
        return Err(WireError::TooShort);
    };
    let Some(signed_with) = keys.iter().position(|key| key.verify(signed, tag)) else {
        return Err(WireError::BadMac);
    };

    // Authentic from here on; still checked field by field.
    let mut r = Reader::new(signed);
    r.take(MAGIC.len() + 1, "magic and version")?;
    let kind = r.u8("kind")?;
    if !Body::is_known_kind(kind) {
        return Err(WireError::UnknownKind(kind));
    }
    let header = Header::read(&mut r)?;
    let body = Body::read(kind, &mut r)?;
    r.finish()?;
    Ok((Message { header, body }, signed_with))
}
