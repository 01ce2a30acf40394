//! The cluster-wide part of the configuration: what must agree on every
//! node (version, vips without interface names, nodes), its canonical text
//! and its digest (docs/CONFIGURATION.md, "What must agree across the
//! cluster").

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use sha2::{Digest as _, Sha256};

use crate::hash::stable_hash;

/// SHA-256 of the canonical text.
pub type Digest = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The node that prefers this group, if any (the original's leading string).
    pub preferred: Option<String>,
    pub ips: Vec<IpNet>,
    /// Stable identity across config versions: a hash of the addresses, so a
    /// group keeps its holder when other groups are added or removed, or its
    /// prefix length or preference changes.
    pub key: u64,
}

impl Group {
    pub fn new(preferred: Option<String>, ips: Vec<IpNet>) -> Group {
        let mut identity = String::new();
        for ip in &ips {
            let _ = write!(identity, "{},", ip.addr());
        }
        Group {
            preferred,
            key: stable_hash(identity.as_bytes()),
            ips,
        }
    }

    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.ips.iter().map(|net| net.addr())
    }

    /// "10.8.3.195/24, 10.8.3.196/24" for logs and status.
    pub fn describe(&self) -> String {
        let ips: Vec<String> = self.ips.iter().map(|ip| ip.to_string()).collect();
        ips.join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub version: u64,
    pub groups: Vec<Group>,
    pub nodes: Vec<String>,
    /// Stable hash of each node name, by index (placement's node keys).
    pub node_keys: Vec<u64>,
    digest: Digest,
}

impl Cluster {
    /// Builds a cluster from parts that have already been validated.
    pub fn new(version: u64, groups: Vec<Group>, nodes: Vec<String>) -> Cluster {
        let node_keys = nodes.iter().map(|n| stable_hash(n.as_bytes())).collect();
        let mut cluster = Cluster {
            version,
            groups,
            nodes,
            node_keys,
            digest: [0; 32],
        };
        let mut hasher = Sha256::new();
        hasher.update(b"vippy-cluster-v1\n");
        hasher.update(cluster.canonical_text().as_bytes());
        cluster.digest = hasher.finalize().into();
        cluster
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The first bytes of the digest in hex, for logs and status.
    pub fn short_digest(&self) -> String {
        hex(&self.digest[..6])
    }

    pub fn node_index(&self, name: &str) -> Option<u16> {
        self.nodes
            .iter()
            .position(|n| n == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// Index of the group with this identity key.
    pub fn group_by_key(&self, key: u64) -> Option<usize> {
        self.groups.iter().position(|g| g.key == key)
    }

    /// The canonical text: compact JSON, fixed key order, no interface
    /// names. It is both what the digest covers and what a config transfer
    /// carries, and it loads with [`super::load_cluster`].
    pub fn canonical_text(&self) -> String {
        let mut out = String::with_capacity(64 + self.groups.len() * 32);
        let _ = write!(out, "{{\"version\":{},\"vips\":[", self.version);
        for (g, group) in self.groups.iter().enumerate() {
            if g > 0 {
                out.push(',');
            }
            out.push('[');
            let mut first = true;
            if let Some(node) = &group.preferred {
                push_json_string(&mut out, node);
                first = false;
            }
            for ip in &group.ips {
                if !first {
                    out.push(',');
                }
                first = false;
                let _ = write!(out, "{{\"ip\":\"{ip}\"}}");
            }
            out.push(']');
        }
        out.push_str("],\"nodes\":[");
        for (n, node) in self.nodes.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_json_string(&mut out, node);
        }
        out.push_str("]}");
        out
    }
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
