//! The size budget of docs/PROTOCOL.md: what is promised to fit in 1200
//! bytes and in MAX_DATAGRAM, checked at the worst case.

use proptest::prelude::*;
use std::net::{IpAddr, Ipv6Addr};
use vippy_core::wire::{
    ArpShare, Body, ConfigChunk, EncodeError, GroupSet, Header, Heartbeat, Key, MAX_CHUNK_DATA,
    MAX_DATAGRAM, Message, Neighbour, PinEntry, Pins, decode, encode,
};

/// The budget for one datagram: a size that crosses any path unfragmented.
const BUDGET: usize = 1200;

fn header(name_len: usize) -> Header {
    Header {
        sender: "n".repeat(name_len),
        incarnation: u64::MAX,
        sequence: u64::MAX,
    }
}

fn worst_heartbeat(name_len: usize, holds: GroupSet) -> Message {
    Message {
        header: header(name_len),
        body: Body::Heartbeat(Heartbeat {
            config_version: u64::MAX,
            config_digest: [0xff; 32],
            mature: true,
            active: true,
            reasons: vec!["r".repeat(Heartbeat::MAX_REASON_LEN); Heartbeat::MAX_REASONS],
            cannot: GroupSet::new(holds.len()),
            holds,
            handoffs: vec![],
            echoes: vec![],
        }),
    }
}

fn size(msg: &Message) -> usize {
    let key = Key::derive(b"size");
    let bytes = encode(msg, &key).expect("fits");
    assert_eq!(decode(&bytes, &key).as_ref(), Ok(msg));
    bytes.len()
}

fn all(len: usize) -> GroupSet {
    let mut set = GroupSet::new(len);
    for i in 0..len {
        set.insert(i);
    }
    set
}

/// 4096 groups, a 64-byte name, 8 reasons of 64 bytes, no handoffs or
/// echoes, and an empty cannot-serve set (an inactive node sends none): 1199 bytes.
#[test]
fn heartbeat_for_4096_groups_fits_the_budget() {
    let worst = size(&worst_heartbeat(64, all(4096)));
    println!("heartbeat, 4096 groups all held, 64-byte name, 8x64-byte reasons: {worst} bytes");
    assert_eq!(worst, 1199);
    assert!(worst <= BUDGET);
    // The list form is used below 255 members and is then smaller still.
    let mut sparse = GroupSet::new(4096);
    for i in (0..4096).step_by(17).take(254) {
        sparse.insert(i);
    }
    assert!(size(&worst_heartbeat(64, sparse)) < worst);
    assert!(size(&worst_heartbeat(64, GroupSet::new(4096))) < worst);
    // The longest name that keeps the worst case in budget.
    assert_eq!(size(&worst_heartbeat(65, all(4096))), BUDGET);
    // And the longest name of all still fits a datagram.
    let longest_name = size(&worst_heartbeat(255, all(4096)));
    assert_eq!(longest_name, 1390);
    assert!(longest_name <= MAX_DATAGRAM);
}

/// Where a dense heartbeat stops fitting MAX_DATAGRAM, as docs/PROTOCOL.md says.
#[test]
fn heartbeat_limit_past_4096_groups() {
    let key = Key::derive(b"size");
    assert_eq!(size(&worst_heartbeat(64, all(5704))), MAX_DATAGRAM);
    assert_eq!(
        encode(&worst_heartbeat(64, all(5705)), &key),
        Err(EncodeError::Oversize { len: 1401 })
    );
    let lean = |groups| Message {
        header: header(8),
        body: Body::Heartbeat(Heartbeat {
            config_version: 1,
            config_digest: [0; 32],
            mature: true,
            active: true,
            reasons: vec![],
            cannot: GroupSet::new(groups),
            holds: all(groups),
            handoffs: vec![],
            echoes: vec![],
        }),
    };
    assert_eq!(size(&lean(10312)), MAX_DATAGRAM);
    assert!(encode(&lean(10313), &key).is_err());
}

/// An active node (no reasons) holding every one of 4096 groups and unable
/// to serve every one either, with a 64-byte name: both sets as bitmaps.
#[test]
fn active_heartbeat_with_cannot_serve_fits_the_budget() {
    let mut msg = worst_heartbeat(64, all(4096));
    if let Body::Heartbeat(hb) = &mut msg.body {
        hb.reasons.clear();
        hb.cannot = all(4096);
    }
    let bytes = size(&msg);
    assert!(bytes <= BUDGET, "{bytes} bytes");
}

#[test]
fn worst_arp_share_fits_the_budget() {
    let entry = Neighbour {
        ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        mac: [0xff; 6],
    };
    let msg = Message {
        header: header(255),
        body: Body::ArpShare(ArpShare {
            entries: vec![entry; ArpShare::MAX_ENTRIES],
        }),
    };
    assert_eq!(ArpShare::MAX_ENTRIES, 38);
    assert_eq!(size(&msg), 1183);
}

#[test]
fn worst_pins_fit_the_budget() {
    let msg = Message {
        header: header(255),
        body: Body::Pins(Pins {
            config_version: u64::MAX,
            config_digest: [0xff; 32],
            entries: (0..Pins::MAX_ENTRIES as u16)
                .map(|group| PinEntry {
                    group,
                    node: Some(0xfffe),
                    stamp: u64::MAX,
                })
                .collect(),
        }),
    };
    assert_eq!(Pins::MAX_ENTRIES, 64);
    assert_eq!(size(&msg), 1117);
}

#[test]
fn worst_config_chunk_fits() {
    let chunk = |name_len| Message {
        header: header(name_len),
        body: Body::ConfigChunk(ConfigChunk {
            version: 1,
            digest: [0; 32],
            index: 0,
            total: 1,
            data: vec![0; MAX_CHUNK_DATA],
        }),
    };
    assert_eq!(size(&chunk(64)), 1191);
    assert_eq!(size(&chunk(255)), 1382);
}

proptest! {
    // Failing inputs are printed; integration tests have no lib.rs beside
    // them for proptest's default regression files.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Any subset of 4096 groups, with the worst name and reasons promised,
    /// stays within the budget.
    #[test]
    fn any_subset_of_4096_groups_fits(
        members in prop::collection::btree_set(0usize..4096, 0..4096),
        invert in any::<bool>(),
    ) {
        let mut holds = GroupSet::new(4096);
        for i in 0..4096 {
            if members.contains(&i) != invert {
                holds.insert(i);
            }
        }
        prop_assert!(size(&worst_heartbeat(64, holds)) <= 1199);
    }
}
