//! One test per rejection: what the decoder refuses, what the encoder
//! refuses, and the metric class of each. Datagrams that must get past the
//! MAC are sealed here with an independent implementation of the documented
//! key derivation, so the check under test is the one that fires.

mod support;

use std::net::{IpAddr, Ipv6Addr};

use vippy_core::wire::{
    ArpShare, Body, ConfigChunk, EncodeError, GroupSet, Header, Heartbeat, Key, MAX_CHUNK_DATA,
    MAX_DATAGRAM, Message, Neighbour, PROTOCOL_VERSION, PinEntry, Pins, Rejection, Replay,
    WireError, decode, encode,
};

const SECRET: &[u8] = b"reject secret";

fn key() -> Key {
    Key::derive(SECRET)
}

fn seal(signed: Vec<u8>) -> Vec<u8> {
    support::seal(SECRET, signed)
}

/// A sealed datagram of `kind` with header ("n1", 1, 2) and a raw body.
fn raw(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![b'V', b'P', PROTOCOL_VERSION, kind, 2, b'n', b'1'];
    v.extend_from_slice(&1u64.to_be_bytes());
    v.extend_from_slice(&2u64.to_be_bytes());
    v.extend_from_slice(body);
    seal(v)
}

/// A heartbeat body up to and including the flags byte.
fn heartbeat_prefix(flags: u8) -> Vec<u8> {
    let mut b = 7u64.to_be_bytes().to_vec();
    b.extend_from_slice(&[0xab; 32]);
    b.push(flags);
    b
}

/// A chunk body up to and including index and total.
fn chunk_prefix(index: u32, total: u32) -> Vec<u8> {
    let mut b = 8u64.to_be_bytes().to_vec();
    b.extend_from_slice(&[0xab; 32]);
    b.extend_from_slice(&index.to_be_bytes());
    b.extend_from_slice(&total.to_be_bytes());
    b
}

fn message(body: Body) -> Message {
    Message {
        header: Header {
            sender: "n1".into(),
            incarnation: 1,
            sequence: 2,
        },
        body,
    }
}

fn heartbeat(reasons: Vec<String>, holds: GroupSet) -> Message {
    message(Body::Heartbeat(Heartbeat {
        config_version: 7,
        config_digest: [0xab; 32],
        mature: true,
        active: false,
        reasons,
        cannot: GroupSet::new(holds.len()),
        holds,
        handoffs: vec![],
        echoes: vec![],
    }))
}

fn valid() -> Vec<u8> {
    encode(&heartbeat(vec!["booting".into()], GroupSet::new(3)), &key()).unwrap()
}

/// The datagram without its tag, for tests that change it and reseal.
fn unsealed(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len() - 32].to_vec()
}

#[test]
fn the_raw_builder_matches_the_encoder() {
    let mut body = heartbeat_prefix(0x01);
    body.extend_from_slice(&[1, 7]);
    body.extend_from_slice(b"booting");
    // group sets (held, cannot serve): 3 groups, bitmap form, none; then
    // no handoffs, no echoes
    body.extend_from_slice(&[0, 3, 0, 0, 0, 0, 0, 0]);
    assert_eq!(raw(1, &body), valid());
    assert!(decode(&valid(), &key()).is_ok());
}

#[test]
fn too_short() {
    // Every length below the framing minimum (53 bytes and a 1-byte name),
    // with a valid magic and version where they fit.
    for len in 0..54 {
        let bytes: Vec<u8> = b"VP\x02"
            .iter()
            .copied()
            .chain(std::iter::repeat(0))
            .take(len)
            .collect();
        assert_eq!(
            decode(&bytes, &key()),
            Err(WireError::TooShort),
            "{len} bytes"
        );
    }
}

#[test]
fn oversize_even_when_authentic() {
    let mut signed = unsealed(&valid());
    signed.resize(MAX_DATAGRAM + 1 - 32, 0);
    let bytes = seal(signed);
    assert_eq!(bytes.len(), MAX_DATAGRAM + 1);
    assert_eq!(
        decode(&bytes, &key()),
        Err(WireError::Oversize {
            len: MAX_DATAGRAM + 1
        })
    );
    assert_eq!(
        decode(&vec![0; 65_535], &key()),
        Err(WireError::Oversize { len: 65_535 })
    );
}

#[test]
fn bad_magic() {
    let mut signed = unsealed(&valid());
    signed[0] = b'X';
    assert_eq!(decode(&seal(signed), &key()), Err(WireError::BadMagic));
}

#[test]
fn unknown_version_even_when_short_or_authentic() {
    let mut signed = unsealed(&valid());
    signed[2] = PROTOCOL_VERSION + 1;
    assert_eq!(
        decode(&seal(signed), &key()),
        Err(WireError::UnsupportedVersion(PROTOCOL_VERSION + 1))
    );
    assert_eq!(
        decode(b"VP\x00", &key()),
        Err(WireError::UnsupportedVersion(0))
    );
}

#[test]
fn unknown_kind() {
    for kind in [0, 7, 0xff] {
        let mut signed = unsealed(&valid());
        signed[3] = kind;
        assert_eq!(
            decode(&seal(signed), &key()),
            Err(WireError::UnknownKind(kind))
        );
    }
}

#[test]
fn bad_mac_wrong_key_and_cut_tag() {
    let bytes = valid();
    assert_eq!(
        decode(&bytes, &Key::derive(b"other")),
        Err(WireError::BadMac)
    );
    assert_eq!(
        decode(&bytes[..bytes.len() - 1], &key()),
        Err(WireError::BadMac)
    );
    let mut zero_tag = bytes.clone();
    let n = zero_tag.len();
    zero_tag[n - 32..].fill(0);
    assert_eq!(decode(&zero_tag, &key()), Err(WireError::BadMac));
}

#[test]
fn trailing_bytes() {
    for extra in [1, 2, 100] {
        let mut signed = unsealed(&valid());
        signed.extend(std::iter::repeat_n(0, extra));
        assert_eq!(
            decode(&seal(signed), &key()),
            Err(WireError::TrailingBytes { extra })
        );
    }
}

#[test]
fn truncated_field() {
    // Authentic, but the body stops inside the config digest.
    let body = &heartbeat_prefix(0)[..20];
    assert_eq!(
        decode(&raw(1, body), &key()),
        Err(WireError::Truncated {
            field: "config digest"
        })
    );
    // Authentic, but the sender length points past the end.
    let mut signed = b"VP\x02\x02\xff".to_vec();
    signed.extend_from_slice(&[b'a'; 40]);
    assert_eq!(
        decode(&seal(signed), &key()),
        Err(WireError::Truncated { field: "sender" })
    );
}

#[test]
fn bad_sender() {
    let mut empty = b"VP\x02\x02\x00".to_vec();
    empty.extend_from_slice(&[0; 16 + 40]);
    assert_eq!(
        decode(&seal(empty), &key()),
        Err(WireError::Malformed("empty sender name"))
    );
    let mut not_utf8 = b"VP\x02\x02\x01\xff".to_vec();
    not_utf8.extend_from_slice(&[0; 16 + 40]);
    assert_eq!(
        decode(&seal(not_utf8), &key()),
        Err(WireError::Malformed("sender name is not UTF-8"))
    );

    for sender in [String::new(), "x".repeat(256)] {
        let mut msg = heartbeat(vec![], GroupSet::new(0));
        let len = sender.len();
        msg.header.sender = sender;
        assert_eq!(encode(&msg, &key()), Err(EncodeError::SenderLength { len }));
    }
    let mut longest = heartbeat(vec![], GroupSet::new(0));
    longest.header.sender = "é".repeat(127) + "x";
    assert_eq!(
        decode(&encode(&longest, &key()).unwrap(), &key()),
        Ok(longest)
    );
}

#[test]
fn unknown_heartbeat_flags() {
    let mut body = heartbeat_prefix(0x04);
    body.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        decode(&raw(1, &body), &key()),
        Err(WireError::Malformed("unknown heartbeat flags"))
    );
}

#[test]
fn over_limit_reasons() {
    let too_many: Vec<String> = (0..9).map(|i| format!("r{i}")).collect();
    assert_eq!(
        encode(&heartbeat(too_many, GroupSet::new(0)), &key()),
        Err(EncodeError::TooManyReasons { count: 9 })
    );
    let too_long = vec!["ok".into(), "x".repeat(Heartbeat::MAX_REASON_LEN + 1)];
    assert_eq!(
        encode(&heartbeat(too_long, GroupSet::new(0)), &key()),
        Err(EncodeError::ReasonTooLong { len: 65 })
    );
    let at_limit: Vec<String> = (0..8).map(|_| "y".repeat(64)).collect();
    let msg = heartbeat(at_limit, GroupSet::new(0));
    assert_eq!(decode(&encode(&msg, &key()).unwrap(), &key()), Ok(msg));

    // The decoder refuses the same, even when authentic.
    let mut nine = heartbeat_prefix(0);
    nine.push(9);
    for _ in 0..9 {
        nine.extend_from_slice(&[1, b'r']);
    }
    nine.extend_from_slice(&[0, 0, 0]);
    assert_eq!(
        decode(&raw(1, &nine), &key()),
        Err(WireError::Malformed("too many inactive reasons"))
    );
    let mut long = heartbeat_prefix(0);
    long.extend_from_slice(&[1, 65]);
    long.extend_from_slice(&[b'x'; 65]);
    long.extend_from_slice(&[0, 0, 0]);
    assert_eq!(
        decode(&raw(1, &long), &key()),
        Err(WireError::Malformed("inactive reason too long"))
    );
    let mut not_utf8 = heartbeat_prefix(0);
    not_utf8.extend_from_slice(&[1, 2, 0xc3, 0x28, 0, 0, 0]);
    assert_eq!(
        decode(&raw(1, &not_utf8), &key()),
        Err(WireError::Malformed("inactive reason is not UTF-8"))
    );
}

#[test]
fn over_limit_chunk_data() {
    let chunk = |data: Vec<u8>, index, total| {
        message(Body::ConfigChunk(ConfigChunk {
            version: 8,
            digest: [0xab; 32],
            index,
            total,
            data,
        }))
    };
    assert_eq!(
        encode(&chunk(vec![0; MAX_CHUNK_DATA + 1], 0, 1), &key()),
        Err(EncodeError::ChunkTooLarge { len: 1025 })
    );
    assert_eq!(
        encode(&chunk(vec![], 3, 3), &key()),
        Err(EncodeError::ChunkIndex { index: 3, total: 3 })
    );
    let full = chunk(vec![0x5a; MAX_CHUNK_DATA], 0, 1);
    assert_eq!(decode(&encode(&full, &key()).unwrap(), &key()), Ok(full));

    let mut long = chunk_prefix(0, 1);
    long.extend_from_slice(&1025u16.to_be_bytes());
    long.extend_from_slice(&[0; 1025]);
    assert_eq!(
        decode(&raw(4, &long), &key()),
        Err(WireError::Malformed("chunk data too long"))
    );
    let mut past_total = chunk_prefix(5, 5);
    past_total.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode(&raw(4, &past_total), &key()),
        Err(WireError::Malformed("chunk index not below total"))
    );
}

#[test]
fn over_limit_neighbours() {
    let entry = Neighbour {
        ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
        mac: [2, 0, 0, 0, 0, 1],
    };
    let count = ArpShare::MAX_ENTRIES + 1;
    let msg = message(Body::ArpShare(ArpShare {
        entries: vec![entry; count],
    }));
    assert_eq!(
        encode(&msg, &key()),
        Err(EncodeError::TooManyNeighbours { count })
    );

    let mut body = vec![count as u8];
    for _ in 0..count {
        body.push(4);
        body.extend_from_slice(&[198, 51, 100, 1, 2, 0, 0, 0, 0, 1]);
    }
    assert_eq!(
        decode(&raw(5, &body), &key()),
        Err(WireError::Malformed("too many neighbours"))
    );
    let family = [1, 5, 198, 51, 100, 1, 2, 0, 0, 0, 0, 1];
    assert_eq!(
        decode(&raw(5, &family), &key()),
        Err(WireError::Malformed("unknown address family"))
    );
}

#[test]
fn non_canonical_group_sets() {
    // A bitmap of 64 groups holding one: the list form is smaller.
    let mut body = heartbeat_prefix(0);
    body.extend_from_slice(&[0, 0, 64, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        decode(&raw(1, &body), &key()),
        Err(WireError::Malformed("group set not in its smaller form"))
    );
}

#[test]
fn handoffs_are_bounded_sorted_and_within_the_group_set() {
    use vippy_core::wire::Handoff;
    let with = |handoffs: Vec<Handoff>| {
        message(Body::Heartbeat(Heartbeat {
            config_version: 7,
            config_digest: [0xab; 32],
            mature: true,
            active: true,
            reasons: vec![],
            holds: GroupSet::new(8),
            cannot: GroupSet::new(8),
            handoffs,
            echoes: vec![],
        }))
    };
    let h = |group, to| Handoff { group, to };
    assert!(encode(&with(vec![h(1, 0), h(7, 2)]), &key()).is_ok());
    assert_eq!(
        encode(&with(vec![h(7, 0), h(1, 2)]), &key()),
        Err(EncodeError::Handoffs)
    );
    assert_eq!(
        encode(&with(vec![h(8, 0)]), &key()),
        Err(EncodeError::Handoffs)
    );
    assert_eq!(
        encode(&with(vec![h(1, 0), h(1, 1)]), &key()),
        Err(EncodeError::Handoffs)
    );
    // The decoder refuses the same, from an authentic sender.
    let mut body = heartbeat_prefix(0x03);
    // No reasons; holdings and cannot-serve: 8 groups each, bitmap, none.
    body.extend_from_slice(&[0, 0, 8, 0, 0, 0, 0]);
    let mut unsorted = body.clone();
    unsorted.extend_from_slice(&[2, 0, 7, 0, 0, 0, 1, 0, 2]);
    assert_eq!(
        decode(&raw(1, &unsorted), &key()),
        Err(WireError::Malformed("handoffs not sorted by group"))
    );
    let mut outside = body.clone();
    outside.extend_from_slice(&[1, 0, 8, 0, 0]);
    assert_eq!(
        decode(&raw(1, &outside), &key()),
        Err(WireError::Malformed(
            "handoff of a group outside the group set"
        ))
    );
    let mut too_many = body;
    too_many.push(33);
    assert_eq!(
        decode(&raw(1, &too_many), &key()),
        Err(WireError::Malformed("too many handoffs"))
    );
}

#[test]
fn encoder_refuses_what_would_not_fit() {
    let mut all = GroupSet::new(GroupSet::MAX_LEN);
    for i in 0..GroupSet::MAX_LEN {
        all.insert(i);
    }
    // The cannot-serve set is empty: a list of none (tag, count).
    let len = 2 + 1 + 1 + 1 + 2 + 16 + 8 + 32 + 1 + 1 + 3 + 8192 + 3 + 1 + 1 + 32;
    assert_eq!(
        encode(&heartbeat(vec![], all), &key()),
        Err(EncodeError::Oversize { len })
    );
    assert_eq!(
        encode(
            &heartbeat(vec![], GroupSet::new(GroupSet::MAX_LEN + 1)),
            &key()
        ),
        Err(EncodeError::TooManyGroups { len: 65_536 })
    );
}

#[test]
fn reject_reasons_for_metrics() {
    use Rejection::{Auth, Malformed, Version};
    let cases = [
        (WireError::TooShort, Malformed),
        (WireError::Oversize { len: 2000 }, Malformed),
        (WireError::BadMagic, Malformed),
        (WireError::UnsupportedVersion(2), Version),
        (WireError::BadMac, Auth),
        (WireError::UnknownKind(9), Version),
        (WireError::Truncated { field: "x" }, Malformed),
        (WireError::Malformed("x"), Malformed),
        (WireError::TrailingBytes { extra: 1 }, Malformed),
    ];
    for (err, reason) in cases {
        assert_eq!(err.reason(), reason, "{err}");
    }
    assert_eq!(Replay::Duplicate.reason(), Rejection::Replay);
    assert_eq!(Rejection::from(Replay::OldIncarnation), Rejection::Replay);
    let labels: Vec<_> = Rejection::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        labels,
        [
            "auth",
            "replay",
            "malformed",
            "version",
            "unknown_node",
            "config_conflict"
        ]
    );
    assert_eq!(Auth.to_string(), "auth");
}

#[test]
fn pins_are_bounded_sorted_and_never_name_node_ffff() {
    let with = |entries: Vec<PinEntry>| {
        message(Body::Pins(Pins {
            config_version: 7,
            config_digest: [0xab; 32],
            entries,
        }))
    };
    let pin = |group: u16, node: Option<u16>| PinEntry {
        group,
        node,
        stamp: 1,
    };
    let too_many = (0..=Pins::MAX_ENTRIES as u16)
        .map(|g| pin(g, Some(0)))
        .collect();
    assert_eq!(encode(&with(too_many), &key()), Err(EncodeError::Pins));
    let unsorted = vec![pin(3, Some(0)), pin(1, None)];
    assert_eq!(encode(&with(unsorted), &key()), Err(EncodeError::Pins));
    let twice = vec![pin(1, Some(0)), pin(1, None)];
    assert_eq!(encode(&with(twice), &key()), Err(EncodeError::Pins));
    let ffff = vec![pin(1, Some(u16::MAX))];
    assert_eq!(encode(&with(ffff), &key()), Err(EncodeError::Pins));

    let prefix = {
        let mut b = 7u64.to_be_bytes().to_vec();
        b.extend_from_slice(&[0xab; 32]);
        b
    };
    let mut body = prefix.clone();
    body.push(Pins::MAX_ENTRIES as u8 + 1);
    assert_eq!(
        decode(&raw(6, &body), &key()),
        Err(WireError::Malformed("too many pins"))
    );
    let mut body = prefix.clone();
    body.push(2);
    for group in [4u16, 4] {
        body.extend_from_slice(&group.to_be_bytes());
        body.extend_from_slice(&[0, 1]);
        body.extend_from_slice(&1u64.to_be_bytes());
    }
    assert_eq!(
        decode(&raw(6, &body), &key()),
        Err(WireError::Malformed("pins not sorted by group"))
    );
    let mut body = prefix;
    body.extend_from_slice(&[1, 0, 4, 0, 1]);
    assert_eq!(
        decode(&raw(6, &body), &key()),
        Err(WireError::Truncated { field: "pin stamp" })
    );
}
