//! Stable hashes: identical on every node, every architecture and every
//! release, because placement on different nodes must agree.

use sha2::{Digest, Sha256};

/// The first eight bytes of SHA-256, big-endian. Used once per node name and
/// once per group when a config is loaded, never on a hot path.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Combines a node key and a group key into a rendezvous weight.
/// SplitMix64's finaliser: cheap, and every input bit affects every output bit.
pub fn weight(node_key: u64, group_key: u64) -> u64 {
    let mut z = node_key ^ group_key.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_is_pinned() {
        // Pinned so a change of hash (which would move groups between
        // releases in a mixed cluster) cannot slip in unnoticed.
        assert_eq!(stable_hash(b"node1"), 0xca12_f31b_8cbf_5f29);
    }
}
