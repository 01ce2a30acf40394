//! `peers`: unicast chat addresses by node name.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::address::{family, socket_addr};
use crate::config::cluster::Cluster;
use crate::config::error::suggest;
use crate::config::fields::Fields;
use crate::config::json5::{Kind, Value};

pub(super) fn read_peers(
    f: &mut Fields,
    v: &Value,
    cluster: &Cluster,
    chat: SocketAddr,
) -> Option<BTreeMap<String, SocketAddr>> {
    let Kind::Object(members) = &v.kind else {
        f.error(
            "peers",
            Some(v.at),
            format!(
                "must be an object of node name to \"ADDRESS:PORT\", not {}",
                v.type_name()
            ),
        );
        return None;
    };
    let mut peers = BTreeMap::new();
    let mut ok = true;
    for m in members {
        let path = format!("peers.{}", m.key);
        if !cluster.nodes.contains(&m.key) {
            let known: Vec<&str> = cluster.nodes.iter().map(String::as_str).collect();
            let hint = suggest(&m.key, &known)
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_else(|| format!(" (nodes are: {})", cluster.nodes.join(", ")));
            f.error(
                &path,
                Some(m.key_at),
                format!("\"{}\" is not in \"nodes\"{hint}", m.key),
            );
            ok = false;
            continue;
        }
        let Some(addr) = socket_addr(f, &m.value, &path) else {
            ok = false;
            continue;
        };
        if addr.is_ipv4() != chat.is_ipv4() {
            f.error(
                &path,
                Some(m.value.at),
                format!(
                    "{addr} is {} but \"chat\" ({chat}) is {}; chat uses one address family",
                    family(addr.ip()),
                    family(chat.ip())
                ),
            );
            ok = false;
            continue;
        }
        if addr.ip().is_multicast() || addr.ip().is_unspecified() {
            f.error(
                &path,
                Some(m.value.at),
                format!("{addr} is not a unicast address"),
            );
            ok = false;
            continue;
        }
        if peers.insert(m.key.clone(), addr).is_some() {
            f.error(&path, Some(m.key_at), "peer appears more than once");
            ok = false;
        }
    }
    ok.then_some(peers)
}
