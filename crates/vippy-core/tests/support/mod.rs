//! Shared by the wire and placement tests: sealing datagrams with an
//! independent implementation of the documented key derivation, and a small
//! reproducible PRNG.
#![allow(dead_code)]

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Appends a valid tag to `signed` for `secret`, deriving the key as
/// docs/PROTOCOL.md says (not through `Key`, so the code under test does
/// not check itself).
pub fn seal(secret: &[u8], mut signed: Vec<u8>) -> Vec<u8> {
    let mut kdf = HmacSha256::new_from_slice(secret).unwrap();
    kdf.update(b"vippy chat key v1");
    let derived = kdf.finalize().into_bytes();
    let mut mac = HmacSha256::new_from_slice(&derived).unwrap();
    mac.update(&signed);
    signed.extend_from_slice(&mac.finalize().into_bytes());
    signed
}

/// SplitMix64: enough randomness for test clusters, reproducible by seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}
