//! Fuzzes `vippy_core::wire::decode` (docs/FUZZING.md).
//!
//! Each input is decoded twice: as it is, which exercises the checks before
//! the MAC, and as the signed part of a datagram with a valid tag appended,
//! which lets the fuzzer reach the field parser behind the MAC. Whatever
//! decodes must re-encode to exactly the same bytes (the encoding is
//! canonical) and decode again to the same message.

#![no_main]

use hmac::{KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vippy_core::wire::{Key, decode, encode};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const SECRET: &[u8] = b"fuzz secret";

fn key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| Key::derive(SECRET))
}

/// The derived HMAC key, computed as docs/PROTOCOL.md specifies.
fn tagger() -> &'static HmacSha256 {
    static TAGGER: OnceLock<HmacSha256> = OnceLock::new();
    TAGGER.get_or_init(|| {
        let mut kdf = HmacSha256::new_from_slice(SECRET).expect("any key length");
        kdf.update(b"vippy chat key v1");
        HmacSha256::new_from_slice(&kdf.finalize().into_bytes()).expect("any key length")
    })
}

fn check(bytes: &[u8]) {
    let Ok(msg) = decode(bytes, key()) else {
        return;
    };
    let again = encode(&msg, key()).expect("a decoded message re-encodes");
    assert_eq!(again, bytes, "the encoding is canonical");
    assert_eq!(decode(&again, key()).as_ref(), Ok(&msg));
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut mac = tagger().clone();
    mac.update(data);
    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&mac.finalize().into_bytes());
    check(&sealed);
});
