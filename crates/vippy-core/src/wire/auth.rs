//! The chat key and the HMAC-SHA256 tag on every datagram (docs/PROTOCOL.md,
//! "Key").

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The length of the HMAC-SHA256 tag that ends every datagram.
pub(crate) const TAG_LEN: usize = 32;

/// The label that makes the chat key differ from any other use of the secret.
const KEY_LABEL: &[u8] = b"vippy chat key v1";

/// The HMAC key every datagram is signed with, derived from the cluster's
/// shared `secret`. Its `Debug` shows no key bytes.
#[derive(Clone)]
pub struct Key {
    // Keyed once; each datagram clones this state, which skips rehashing
    // the key's inner and outer pads.
    mac: HmacSha256,
}

impl Key {
    /// Derives the chat key: `HMAC-SHA256(key = secret, data = "vippy chat
    /// key v1")`, i.e. the secret used as a PRF key over a fixed label. The
    /// label separates this key from any other key a later version derives
    /// from the same secret, and the result has a fixed 32-byte length
    /// whatever the secret's length.
    pub fn derive(secret: &[u8]) -> Key {
        let mut kdf = new_mac(secret);
        kdf.update(KEY_LABEL);
        let derived = kdf.finalize().into_bytes();
        Key {
            mac: new_mac(&derived),
        }
    }

    /// The tag over `signed`.
    pub(crate) fn sign(&self, signed: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag over `signed`, compared in constant time.
    pub(crate) fn verify(&self, signed: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.verify_slice(tag).is_ok()
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length (RFC 2104 §2), so this arm is unreachable.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", Key::derive(b"hunter2")), "Key(<redacted>)");
    }

    #[test]
    fn derivation_is_hmac_of_the_label() {
        // The construction is HMAC-SHA256(key = secret, data = label); the
        // golden vectors in tests/wire_golden.rs pin the resulting bytes.
        let mut kdf = new_mac(b"secret");
        kdf.update(KEY_LABEL);
        let derived: [u8; 32] = kdf.finalize().into_bytes().into();
        let key = Key::derive(b"secret");
        let mut direct = new_mac(&derived);
        direct.update(b"abc");
        let direct: [u8; 32] = direct.finalize().into_bytes().into();
        assert_eq!(key.sign(b"abc"), direct);
        assert!(key.verify(b"abc", &direct));
        assert!(!key.verify(b"abd", &direct));
        assert!(!key.verify(b"abc", &direct[..31]));
        assert!(!Key::derive(b"other").verify(b"abc", &direct));
    }

    #[test]
    fn any_secret_length_works() {
        for secret in [&b""[..], b"x", &[7u8; 200]] {
            let key = Key::derive(secret);
            let tag = key.sign(b"m");
            assert!(key.verify(b"m", &tag));
        }
    }
}
