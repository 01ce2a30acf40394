//! A datagram of another protocol version (a node mid rolling upgrade) is
//! counted as a version rejection and shown in status by address, never
//! acted on; a flood of them is remembered within a bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vippy_core::config::load;
use vippy_core::node::{Node, Rejection, SecretBytes};
use vippy_core::wire::{Body, Goodbye, Header, Key, Message, encode};

fn node(now: Instant) -> Node {
    let text = "{ chat: '239.1.1.1:5007', secret: 's', version: 1, vips: [[{ip:'203.0.113.1/24'}]],
                  nodes: ['n1','n2'] }";
    let config = Arc::new(load(text, "test").unwrap());
    Node::new(config, "n1", &[SecretBytes(b"s".to_vec())], 1, now)
}

/// A valid goodbye from n2, with its version byte set to `version`.
fn datagram(version: u8) -> Vec<u8> {
    let msg = Message {
        header: Header {
            sender: "n2".into(),
            incarnation: 5,
            sequence: 1,
        },
        body: Body::Goodbye(Goodbye {
            config_version: 1,
            config_digest: [0; 32],
        }),
    };
    let mut bytes = encode(&msg, &Key::derive(b"s")).unwrap();
    bytes[2] = version;
    bytes
}

#[test]
fn another_protocol_version_is_shown_by_address_and_counted() {
    let now = Instant::now();
    let mut n1 = node(now);
    let from = "198.51.100.12:5007".parse().unwrap();
    n1.handle_datagram(now, from, &datagram(3));
    assert_eq!(n1.counters().rejected(Rejection::Version), 1);
    let status = n1.status();
    assert_eq!(status.other_protocols, [(from, 3)]);
    assert!(
        status.peers.is_empty(),
        "never acted on: {:?}",
        status.peers
    );
}

#[test]
fn a_flood_of_addresses_is_remembered_within_a_bound() {
    let now = Instant::now();
    let mut n1 = node(now);
    for i in 0..1000u32 {
        let from = format!("198.51.100.{}:{}", i % 250, 1000 + i)
            .parse()
            .unwrap();
        n1.handle_datagram(
            now + Duration::from_micros(u64::from(i)),
            from,
            &datagram(9),
        );
    }
    assert!(n1.status().other_protocols.len() <= 16);
    assert_eq!(n1.counters().rejected(Rejection::Version), 1000);
}
