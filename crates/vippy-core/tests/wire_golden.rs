//! Golden byte vectors: one per message kind (two for heartbeats, one per
//! group-set form). A fixed key and message must give exactly these bytes,
//! and these bytes must decode to exactly that message, so an accidental
//! change of the format fails here. The layout is in docs/PROTOCOL.md.
//!
//! After an intended change of format (which needs a new PROTOCOL_VERSION),
//! the failure message prints the new hex to paste in after review.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vippy_core::wire::{
    ArpShare, Body, ConfigChunk, ConfigRequest, Echo, Goodbye, GroupSet, Handoff, Header,
    Heartbeat, Key, MAX_DATAGRAM, Message, Neighbour, PROTOCOL_VERSION, PinEntry, Pins, WireError,
    decode, encode,
};

const SECRET: &[u8] = b"golden secret";

fn key() -> Key {
    Key::derive(SECRET)
}

fn header(sequence: u64) -> Header {
    Header {
        sender: "node1".into(),
        incarnation: 0x0102_0304_0506_0708,
        sequence,
    }
}

fn digest() -> [u8; 32] {
    std::array::from_fn(|i| 0xd0 ^ i as u8)
}

fn groups(len: usize, members: &[usize]) -> GroupSet {
    let mut set = GroupSet::new(len);
    for &i in members {
        set.insert(i);
    }
    set
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Each golden message with its expected bytes (whitespace is ignored).
fn vectors() -> Vec<(&'static str, Message, &'static str)> {
    vec![
        (
            "heartbeat, bitmap",
            Message {
                header: header(42),
                body: Body::Heartbeat(Heartbeat {
                    config_version: 7,
                    config_digest: digest(),
                    mature: true,
                    active: false,
                    reasons: vec!["booting".into(), "check:http".into()],
                    holds: groups(10, &[1, 3, 9]),
                    cannot: groups(10, &[0, 4]),
                    handoffs: vec![Handoff { group: 2, to: 1 }],
                    echoes: vec![Echo {
                        node: 1,
                        incarnation: 9,
                    }],
                }),
            },
            concat!(
                "56500201056e6f6465310102030405060708000000000000002a000000000000 ",
                "0007d0d1d2d3d4d5d6d7d8d9dadbdcdddedfc0c1c2c3c4c5c6c7c8c9cacbcccd ",
                "cecf010207626f6f74696e670a636865636b3a68747470000a00504000880001 ",
                "000200010100010000000000000009117fec5e64a25d384420a227273702196f ",
                "71e3b7a0cce33e9c46abd87f250f4b ",
            ),
        ),
        (
            "heartbeat, list",
            Message {
                header: header(43),
                body: Body::Heartbeat(Heartbeat {
                    config_version: 7,
                    config_digest: digest(),
                    mature: true,
                    active: true,
                    reasons: vec![],
                    holds: groups(100, &[5, 77]),
                    cannot: groups(100, &[]),
                    handoffs: vec![],
                    echoes: vec![],
                }),
            },
            concat!(
                "56500201056e6f6465310102030405060708000000000000002b000000000000 ",
                "0007d0d1d2d3d4d5d6d7d8d9dadbdcdddedfc0c1c2c3c4c5c6c7c8c9cacbcccd ",
                "cecf030000640100020005004d0100000000efae293ea58ba7fa7c13703d4c2b ",
                "46cf235f16cd82a26dbc96e9d21d87c2b49c ",
            ),
        ),
        (
            "goodbye",
            Message {
                header: header(44),
                body: Body::Goodbye(Goodbye {
                    config_version: 7,
                    config_digest: digest(),
                }),
            },
            concat!(
                "56500202056e6f6465310102030405060708000000000000002c000000000000 ",
                "0007d0d1d2d3d4d5d6d7d8d9dadbdcdddedfc0c1c2c3c4c5c6c7c8c9cacbcccd ",
                "cecf767ff6f23a0b6d2518d857ba5fb2303eb816aa3ba361f89764b121f14786 ",
                "179b ",
            ),
        ),
        (
            "config request",
            Message {
                header: header(45),
                body: Body::ConfigRequest(ConfigRequest {
                    responder_incarnation: 9,
                    version: 8,
                    digest: digest(),
                    first_chunk: 2,
                    count: 3,
                }),
            },
            concat!(
                "56500203056e6f6465310102030405060708000000000000002d000000000000 ",
                "00090000000000000008d0d1d2d3d4d5d6d7d8d9dadbdcdddedfc0c1c2c3c4c5 ",
                "c6c7c8c9cacbcccdcecf000000020003865603d8ad8db1975691a6841fb12517 ",
                "f75c866fd1913d7dbd6180e015948e10 ",
            ),
        ),
        (
            "config chunk",
            Message {
                header: header(46),
                body: Body::ConfigChunk(ConfigChunk {
                    version: 8,
                    digest: digest(),
                    index: 2,
                    total: 5,
                    data: br#"{"version":8}"#.to_vec(),
                }),
            },
            concat!(
                "56500204056e6f6465310102030405060708000000000000002e000000000000 ",
                "0008d0d1d2d3d4d5d6d7d8d9dadbdcdddedfc0c1c2c3c4c5c6c7c8c9cacbcccd ",
                "cecf0000000200000005000d7b2276657273696f6e223a387d4400b6ada6a9fb ",
                "197bae6671f991c5c6ffe3eeddf9c72b6b51dac412959e0379 ",
            ),
        ),
        (
            "arp share",
            Message {
                header: header(47),
                body: Body::ArpShare(ArpShare {
                    entries: vec![
                        Neighbour {
                            ip: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
                            mac: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x07],
                        },
                        Neighbour {
                            ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
                            mac: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x08],
                        },
                    ],
                }),
            },
            concat!(
                "56500205056e6f6465310102030405060708000000000000002f0204c6336407 ",
                "02005e1000070620010db800000000000000000000000702005e100008a85cb5 ",
                "28df9e852b5092712cca52ef84d6152c40266e6b48a1271e64765eb129 ",
            ),
        ),
        (
            "pins",
            Message {
                header: header(48),
                body: Body::Pins(Pins {
                    config_version: 7,
                    config_digest: digest(),
                    entries: vec![
                        PinEntry {
                            group: 2,
                            node: Some(1),
                            stamp: 0x0102_0304_0506_0708,
                        },
                        PinEntry {
                            group: 5,
                            node: None,
                            stamp: 9,
                        },
                    ],
                }),
            },
            concat!(
                "56500206056e6f64653101020304050607080000000000000030000000000000 ",
                "0007d0d1d2d3d4d5d6d7d8d9dadbdcdddedfc0c1c2c3c4c5c6c7c8c9cacbcccd ",
                "cecf020002000101020304050607080005ffff0000000000000009a32c17a263 ",
                "ef0135bd95cd47588a44522a7af021de14b7c42ab7248b2b526b07 ",
            ),
        ),
    ]
}

#[test]
fn encoding_matches_golden_bytes() {
    let mut failures = Vec::new();
    for (name, msg, expected) in vectors() {
        let actual = encode(&msg, &key()).expect("golden message encodes");
        if actual != unhex(expected) {
            failures.push(format!("{name}:\n  {}", hex(&actual)));
        }
    }
    assert!(
        failures.is_empty(),
        "encodings changed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn golden_bytes_decode_to_the_message() {
    for (name, msg, expected) in vectors() {
        assert_eq!(decode(&unhex(expected), &key()), Ok(msg), "{name}");
    }
}

/// Every single-bit flip and every whole-byte inversion at every position of
/// every golden vector is rejected, by the check that owns that position.
#[test]
fn every_tampered_byte_is_rejected() {
    for (name, _, expected) in vectors() {
        let good = unhex(expected);
        assert!(good.len() <= MAX_DATAGRAM);
        for pos in 0..good.len() {
            for mask in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[pos] ^= mask;
                let err = decode(&bad, &key()).expect_err("tampered datagram accepted");
                let expected_err = match pos {
                    0 | 1 => WireError::BadMagic,
                    2 => WireError::UnsupportedVersion(PROTOCOL_VERSION ^ mask),
                    _ => WireError::BadMac,
                };
                assert_eq!(err, expected_err, "{name}: byte {pos} ^ {mask:#04x}");
            }
        }
    }
}

/// Every prefix of every golden vector is rejected: too short for the
/// framing, or the tag no longer matches.
#[test]
fn every_truncation_is_rejected() {
    for (name, _, expected) in vectors() {
        let good = unhex(expected);
        for len in 0..good.len() {
            let err = decode(&good[..len], &key()).expect_err("truncated datagram accepted");
            let expected_err = if len < 54 {
                WireError::TooShort
            } else {
                WireError::BadMac
            };
            assert_eq!(err, expected_err, "{name}: first {len} bytes");
        }
    }
}

#[test]
fn a_different_secret_is_rejected() {
    for (name, _, expected) in vectors() {
        let err = decode(&unhex(expected), &Key::derive(b"golden secret ")).unwrap_err();
        assert_eq!(err, WireError::BadMac, "{name}");
    }
}
