//! Property tests of the codec: arbitrary messages round-trip to the same
//! bytes, arbitrary input never panics, and any flipped bit is rejected.

mod support;

use proptest::prelude::*;
use vippy_core::wire::{
    ArpShare, Body, ConfigChunk, ConfigRequest, Goodbye, GroupSet, Handoff, Header, Heartbeat, Key,
    MAX_CHUNK_DATA, MAX_DATAGRAM, Message, Neighbour, PinEntry, Pins, WireError, decode, encode,
};

const SECRET: &[u8] = b"property secret";

fn key() -> Key {
    Key::derive(SECRET)
}

fn seal(signed: Vec<u8>) -> Vec<u8> {
    support::seal(SECRET, signed)
}

fn config() -> ProptestConfig {
    // Failing inputs are printed; integration tests have no lib.rs beside
    // them for proptest's default regression files.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn group_set() -> impl Strategy<Value = GroupSet> {
    (0usize..=4096).prop_flat_map(|len| {
        // Sparse sets, and their complements for dense ones.
        let picks = prop::collection::vec(0..len.max(1), 0..=len.min(600));
        (picks, any::<bool>()).prop_map(move |(picks, invert)| {
            let mut set = GroupSet::new(len);
            if len > 0 {
                for i in picks {
                    set.insert(i);
                }
                if invert {
                    for i in 0..len {
                        if set.contains(i) {
                            set.remove(i);
                        } else {
                            set.insert(i);
                        }
                    }
                }
            }
            set
        })
    })
}

fn header() -> impl Strategy<Value = Header> {
    // Up to 63 chars of up to 4 bytes: at most 252 bytes.
    ("\\PC{1,63}", any::<u64>(), any::<u64>()).prop_map(|(sender, incarnation, sequence)| Header {
        sender,
        incarnation,
        sequence,
    })
}

fn body() -> impl Strategy<Value = Body> {
    let heartbeat = (
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec("\\PC{0,16}", 0..=Heartbeat::MAX_REASONS),
        group_set(),
        prop::collection::btree_map(any::<u16>(), any::<u16>(), 0..=Heartbeat::MAX_HANDOFFS),
    )
        .prop_map(
            |(config_version, config_digest, mature, active, reasons, holds, handoffs)| {
                // Handoffs name groups of the set's universe, sorted by group.
                let handoffs = handoffs
                    .into_iter()
                    .filter(|(group, _)| usize::from(*group) < holds.len())
                    .map(|(group, to)| Handoff { group, to })
                    .collect();
                Body::Heartbeat(Heartbeat {
                    config_version,
                    config_digest,
                    mature,
                    active,
                    reasons,
                    cannot: GroupSet::new(holds.len()),
                    holds,
                    handoffs,
                    echoes: vec![],
                })
            },
        );
    let goodbye = (any::<u64>(), any::<[u8; 32]>()).prop_map(|(config_version, config_digest)| {
        Body::Goodbye(Goodbye {
            config_version,
            config_digest,
        })
    });
    let request = (
        any::<u64>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<u16>(),
    )
        .prop_map(
            |(responder_incarnation, version, digest, first_chunk, count)| {
                Body::ConfigRequest(ConfigRequest {
                    responder_incarnation,
                    version,
                    digest,
                    first_chunk,
                    count,
                })
            },
        );
    let chunk = (
        any::<u64>(),
        any::<[u8; 32]>(),
        (1u32..).prop_flat_map(|total| (0..total, Just(total))),
        prop::collection::vec(any::<u8>(), 0..=MAX_CHUNK_DATA),
    )
        .prop_map(|(version, digest, (index, total), data)| {
            Body::ConfigChunk(ConfigChunk {
                version,
                digest,
                index,
                total,
                data,
            })
        });
    let neighbour =
        (any::<std::net::IpAddr>(), any::<[u8; 6]>()).prop_map(|(ip, mac)| Neighbour { ip, mac });
    let arp = prop::collection::vec(neighbour, 0..=ArpShare::MAX_ENTRIES)
        .prop_map(|entries| Body::ArpShare(ArpShare { entries }));
    let pins = (
        any::<u64>(),
        any::<[u8; 32]>(),
        prop::collection::btree_map(
            any::<u16>(),
            (prop::option::of(0u16..u16::MAX), any::<u64>()),
            0..=Pins::MAX_ENTRIES,
        ),
    )
        .prop_map(|(config_version, config_digest, entries)| {
            Body::Pins(Pins {
                config_version,
                config_digest,
                entries: entries
                    .into_iter()
                    .map(|(group, (node, stamp))| PinEntry { group, node, stamp })
                    .collect(),
            })
        });
    prop_oneof![heartbeat, goodbye, request, chunk, arp, pins]
}

fn message() -> impl Strategy<Value = Message> {
    (header(), body()).prop_map(|(header, body)| Message { header, body })
}

proptest! {
    #![proptest_config(config())]

    /// Whatever encodes decodes to the same message, and the encoding is
    /// canonical: re-encoding gives the same bytes.
    #[test]
    fn round_trip(msg in message()) {
        let bytes = encode(&msg, &key()).expect("within limits");
        prop_assert!(bytes.len() <= MAX_DATAGRAM);
        let back = decode(&bytes, &key()).expect("own encoding decodes");
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(encode(&back, &key()).unwrap(), bytes);
    }

    /// Flipping any one bit of a valid datagram is always rejected.
    #[test]
    fn any_flipped_bit_is_rejected(msg in message(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = encode(&msg, &key()).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(decode(&bytes, &key()).is_err());
    }

    /// Random bytes never panic (and almost never pass the MAC).
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1600)) {
        let _ = decode(&bytes, &key());
        let mut framed = b"VP\x01".to_vec();
        framed.extend_from_slice(&bytes);
        prop_assert!(decode(&framed, &key()).is_err());
    }

    /// Random authentic bytes reach the field parser: it never panics, and
    /// whatever it accepts re-encodes to exactly the input.
    #[test]
    fn random_authentic_bytes_never_panic(
        kind in prop_oneof![1u8..=6, any::<u8>()],
        sender_len in prop_oneof![1u8..=16, any::<u8>()],
        rest in prop::collection::vec(any::<u8>(), 0..1300),
    ) {
        let mut signed = vec![b'V', b'P', 1, kind, sender_len];
        signed.extend_from_slice(&rest);
        let bytes = seal(signed);
        match decode(&bytes, &key()) {
            Ok(msg) => prop_assert_eq!(encode(&msg, &key()).unwrap(), bytes),
            Err(e) => prop_assert_ne!(e, WireError::BadMac),
        }
    }

    /// Mutations of a valid datagram, resealed, never panic, and whatever
    /// decodes re-encodes to exactly the mutated bytes.
    #[test]
    fn resealed_mutations_never_panic(
        msg in message(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut signed = encode(&msg, &key()).unwrap();
        signed.truncate(signed.len() - 32);
        for (pos, byte) in edits {
            let i = pos.index(signed.len());
            signed[i] = byte;
        }
        let keep = 4 + cut.index(signed.len() - 3);
        signed.truncate(keep.min(signed.len()));
        let bytes = seal(signed);
        if let Ok(back) = decode(&bytes, &key()) {
            prop_assert_eq!(encode(&back, &key()).unwrap(), bytes);
        }
    }
}
