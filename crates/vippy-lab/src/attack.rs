//! The attacker of `vippy-lab bench attack`: it listens to the chat from the
//! attacker namespace (a UDP socket joined to the multicast group, as any
//! host on the LAN can), then makes datagrams of each hostile kind from what
//! it heard and sends them to the chat address as fast as the socket takes
//! them. It knows the real wire format (vippy-core), and for the two
//! valid-secret kinds the cluster's secret too: an insider gone rogue, or a
//! leaked secret, which the nodes must still not believe about names and
//! incarnations.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use vippy_core::wire::{self, Body, Echo, GroupSet, Header, Heartbeat, Key, Message};

use crate::netns::in_netns;

/// One hostile kind of datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Random bytes; half of them start with the magic and version, so
    /// they reach the MAC check.
    Random,
    /// Well-formed heartbeats under members' names claiming every group,
    /// signed with a wrong key.
    WrongKey,
    /// Captured real datagrams sent again unchanged.
    Replayed,
    /// A captured real datagram with one bit flipped.
    Tampered,
    /// A captured real datagram cut short.
    Truncated,
    /// A captured real datagram padded past the 1400-byte limit.
    Oversized,
    /// Signed with the real secret, from a name outside `nodes`.
    UnknownNode,
    /// Signed with the real secret under a member's name, with an
    /// incarnation below the member's current one.
    StaleIncarnation,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Random,
        Kind::WrongKey,
        Kind::Replayed,
        Kind::Tampered,
        Kind::Truncated,
        Kind::Oversized,
        Kind::UnknownNode,
        Kind::StaleIncarnation,
    ];

    /// The name in the table and the plot.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Random => "random bytes",
            Kind::WrongKey => "wrong key",
            Kind::Replayed => "replayed",
            Kind::Tampered => "tampered (1 bit)",
            Kind::Truncated => "truncated",
            Kind::Oversized => "oversized",
            Kind::UnknownNode => "valid secret, unknown name",
            Kind::StaleIncarnation => "valid secret, stale incarnation",
        }
    }
}

/// One datagram to send, and the member whose name it carries validly
/// (signed with the real key), if any: that member hears its own name and
/// drops it without counting it (docs/PROTOCOL.md, "Two processes under one
/// name"), so it is not expected among its rejections.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub bytes: Vec<u8>,
    pub own_name_of: Option<String>,
}

/// What the attacker heard of the chat: real datagrams and, decoded with
/// the secret, each member's current incarnation and last heartbeat.
#[derive(Debug, Clone)]
pub struct Capture {
    pub datagrams: Vec<(Vec<u8>, String)>,
    pub heartbeats: BTreeMap<String, (Header, Heartbeat)>,
}

/// Listens to `group:port` in `netns` for `listen`, until every one of
/// `members` has sent a heartbeat (and at least `listen` has passed).
pub fn capture(
    netns: &str,
    group: Ipv4Addr,
    port: u16,
    key: &Key,
    members: &[String],
    listen: Duration,
) -> Result<Capture> {
    let heard = in_netns(netns, || -> Result<Vec<Vec<u8>>> {
        let socket = UdpSocket::bind(("0.0.0.0", port)).context("binding the capture socket")?;
        socket
            .join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
            .context("joining the chat group")?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let start = Instant::now();
        let mut heard = Vec::new();
        let mut buf = vec![0u8; 65536];
        while start.elapsed() < listen * 4 {
            if let Ok((n, _)) = socket.recv_from(&mut buf) {
                heard.push(buf[..n].to_vec());
            }
            let senders: Vec<String> = heard
                .iter()
                .filter_map(|b| wire::decode(b, key).ok())
                .map(|m| m.header.sender)
                .collect();
            if start.elapsed() >= listen && members.iter().all(|m| senders.contains(m)) {
                break;
            }
        }
        Ok(heard)
    })??;
    let mut capture = Capture {
        datagrams: Vec::new(),
        heartbeats: BTreeMap::new(),
    };
    for bytes in heard {
        let msg = wire::decode(&bytes, key).context("a captured datagram does not decode")?;
        if let Body::Heartbeat(hb) = msg.body {
            capture
                .heartbeats
                .insert(msg.header.sender.clone(), (msg.header.clone(), hb));
        }
        capture.datagrams.push((bytes, msg.header.sender));
    }
    for m in members {
        ensure!(
            capture.heartbeats.contains_key(m),
            "no heartbeat of {m} heard in {:?}",
            listen * 4
        );
    }
    Ok(capture)
}

/// Makes `count` datagrams of `kind` from `capture`.
pub fn craft(
    kind: Kind,
    count: usize,
    capture: &Capture,
    key: &Key,
    rng: &mut SmallRng,
) -> Result<Vec<Datagram>> {
    ensure!(!capture.datagrams.is_empty(), "nothing was captured");
    let members: Vec<&String> = capture.heartbeats.keys().collect();
    let wrong_key = Key::derive(b"a guess at the secret");
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let (real, sender) = &capture.datagrams[k % capture.datagrams.len()];
        let datagram = match kind {
            Kind::Random => {
                let len = rng.random_range(0..=wire::MAX_DATAGRAM);
                let mut bytes = vec![0u8; len];
                rng.fill(&mut bytes[..]);
                if k % 2 == 1 && len >= 4 {
                    bytes[..3].copy_from_slice(&[b'V', b'P', wire::PROTOCOL_VERSION]);
                }
                plain(bytes)
            }
            Kind::WrongKey => {
                let member = members[k % members.len()];
                let (header, hb) = &capture.heartbeats[member];
                let msg = claim_everything(
                    member,
                    header.incarnation + 1,
                    rng.random_range(1..u64::MAX / 2),
                    hb,
                );
                plain(wire::encode(&msg, &wrong_key)?)
            }
            Kind::Replayed => Datagram {
                bytes: real.clone(),
                own_name_of: Some(sender.clone()),
            },
            Kind::Tampered => {
                let mut bytes = real.clone();
                let bit = rng.random_range(0..bytes.len() * 8);
                bytes[bit / 8] ^= 0x80 >> (bit % 8);
                plain(bytes)
            }
            Kind::Truncated => {
                let len = rng.random_range(0..real.len());
                plain(real[..len].to_vec())
            }
            Kind::Oversized => {
                let len = rng.random_range(wire::MAX_DATAGRAM + 1..=4000);
                let mut bytes = real.clone();
                let mut pad = vec![0u8; len - bytes.len()];
                rng.fill(&mut pad[..]);
                bytes.extend_from_slice(&pad);
                plain(bytes)
            }
            Kind::UnknownNode => {
                let (_, hb) = &capture.heartbeats[members[0]];
                let name = format!("intruder{}", k % 1000);
                let msg = claim_everything(&name, u64::MAX / 2, k as u64 + 1, hb);
                plain(wire::encode(&msg, key)?)
            }
            Kind::StaleIncarnation => {
                let member = members[k % members.len()];
                let (header, hb) = &capture.heartbeats[member];
                if header.incarnation == 0 {
                    bail!("{member} runs incarnation 0: none is older");
                }
                let stale = rng.random_range(0..header.incarnation);
                let sequence = rng.random_range(1..u64::MAX / 2);
                let msg = claim_everything(member, stale, sequence, hb);
                Datagram {
                    bytes: wire::encode(&msg, key)?,
                    own_name_of: Some(member.clone()),
                }
            }
        };
        out.push(datagram);
    }
    Ok(out)
}

fn plain(bytes: Vec<u8>) -> Datagram {
    Datagram {
        bytes,
        own_name_of: None,
    }
}

/// A heartbeat on the cluster's config that holds every group, mature and
/// active, echoing every incarnation `template` echoes: the most a
/// datagram could claim.
fn claim_everything(
    sender: &str,
    incarnation: u64,
    sequence: u64,
    template: &Heartbeat,
) -> Message {
    let mut holds = GroupSet::new(template.holds.len());
    for g in 0..template.holds.len() {
        holds.insert(g);
    }
    let echoes: Vec<Echo> = template.echoes.clone();
    Message {
        header: Header {
            sender: sender.to_string(),
            incarnation,
            sequence,
        },
        body: Body::Heartbeat(Heartbeat {
            config_version: template.config_version,
            config_digest: template.config_digest,
            mature: true,
            active: true,
            reasons: vec![],
            cannot: GroupSet::new(template.holds.len()),
            holds,
            handoffs: vec![],
            echoes,
        }),
    }
}

/// Sends every datagram to `to` from `netns`: as fast as the socket takes
/// them (`rate` None), or at about `rate` per second. Returns how long it
/// took. Bounded: it sends exactly `datagrams.len()` and stops.
pub fn flood(
    netns: &str,
    to: SocketAddr,
    datagrams: &[Datagram],
    rate: Option<u32>,
) -> Result<Duration> {
    in_netns(netns, || -> Result<Duration> {
        let socket = UdpSocket::bind("0.0.0.0:0").context("binding the flood socket")?;
        socket.set_multicast_ttl_v4(1)?;
        let start = Instant::now();
        for (k, d) in datagrams.iter().enumerate() {
            if let Some(rate) = rate {
                let due = start + Duration::from_secs_f64(k as f64 / f64::from(rate.max(1)));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            // The kernel refuses nothing we send to a multicast group on a
            // veth, but a full send buffer can say so: try again.
            while let Err(e) = socket.send_to(&d.bytes, to) {
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.raw_os_error() != Some(nix::libc::ENOBUFS)
                {
                    return Err(e).context("sending a datagram");
                }
                std::thread::yield_now();
            }
        }
        Ok(start.elapsed())
    })?
}

/// A generator seeded with `seed` (printed by the bench, so a run can be
/// made again).
pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}
