//! `nodes`, `vips` and `version`: the part every node must agree on.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::address::{cidr, interface_name};
use super::required;
use crate::config::cluster::{Cluster, Group};
use crate::config::error::suggest;
use crate::config::fields::{Fields, Object, index_path};
use crate::config::json5::{Kind, Position, Value};

pub(super) const CLUSTER_KEYS: &[&str] = &["version", "vips", "nodes"];

const MAX_NODE_NAME: usize = 64;

/// Group indices travel as 16-bit numbers, and a heartbeat holding any
/// subset of 4096 groups stays within its 1200-byte budget (docs/PROTOCOL.md).
const MAX_GROUPS: usize = 4096;

const MAX_NODES: usize = 1024;

pub(super) fn read_cluster(
    f: &mut Fields,
    top: &Object,
    interfaces: &mut BTreeMap<IpAddr, String>,
) -> Option<Cluster> {
    let version = match top.get("version") {
        None => Some(0),
        Some(v) => f.integer(v, "version", 0, (1u64 << 53) - 1),
    };
    let nodes = required(f, top, "nodes").and_then(|v| read_nodes(f, v));
    let groups = match (required(f, top, "vips"), &nodes) {
        (Some(v), Some(nodes)) => read_vips(f, v, nodes, interfaces),
        _ => None,
    };
    Some(Cluster::new(version?, groups?, nodes?))
}

fn read_nodes(f: &mut Fields, v: &Value) -> Option<Vec<String>> {
    let items = f.array(v, "nodes")?;
    if items.is_empty() {
        f.error("nodes", Some(v.at), "must list at least one node");
        return None;
    }
    if items.len() > MAX_NODES {
        f.error(
            "nodes",
            Some(v.at),
            format!(
                "lists {} nodes; at most {MAX_NODES} are supported",
                items.len()
            ),
        );
        return None;
    }
    let mut nodes: Vec<String> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = index_path("nodes", i);
        let Some(name) = f.string(item, &path) else {
            ok = false;
            continue;
        };
        if let Some(problem) = node_name_problem(name) {
            f.error(
                &path,
                Some(item.at),
                format!("\"{name}\" is not a usable node name: {problem}"),
            );
            ok = false;
        } else if let Some(first) = nodes.iter().position(|n| n == name) {
            f.error(
                &path,
                Some(item.at),
                format!("node \"{name}\" is listed twice (also nodes[{first}])"),
            );
            ok = false;
        }
        nodes.push(name.to_string());
    }
    ok.then_some(nodes)
}

fn node_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NODE_NAME {
        Some("longer than 64 bytes")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains spaces or control characters")
    } else {
        None
    }
}

fn read_vips(
    f: &mut Fields,
    v: &Value,
    nodes: &[String],
    interfaces: &mut BTreeMap<IpAddr, String>,
) -> Option<Vec<Group>> {
    let items = f.array(v, "vips")?;
    if items.len() > MAX_GROUPS {
        f.error(
            "vips",
            Some(v.at),
            format!(
                "has {} groups; at most {MAX_GROUPS} are supported",
                items.len()
            ),
        );
        return None;
    }
    let mut groups = Vec::new();
    let mut ok = true;
    // Where each address was first seen, to report duplicates with both places.
    let mut seen: BTreeMap<IpAddr, String> = BTreeMap::new();
    for (g, item) in items.iter().enumerate() {
        let gpath = index_path("vips", g);
        let Some(entries) = f.array(item, &gpath) else {
            ok = false;
            continue;
        };
        let mut preferred = None;
        let mut ips = Vec::new();
        let errors_before = f.errors.len();
        for (e, entry) in entries.iter().enumerate() {
            let epath = index_path(&gpath, e);
            match &entry.kind {
                Kind::String(name) if e == 0 => {
                    if nodes.contains(name) {
                        preferred = Some(name.clone());
                    } else {
                        let hint =
                            if name.parse::<IpNet>().is_ok() || name.parse::<IpAddr>().is_ok() {
                                format!(" (a VIP is written {{ \"ip\": \"{name}\" }})")
                            } else {
                                let known: Vec<&str> = nodes.iter().map(String::as_str).collect();
                                match suggest(name, &known) {
                                    Some(k) => format!(" (did you mean \"{k}\"?)"),
                                    None => format!(" (nodes are: {})", nodes.join(", ")),
                                }
                            };
                        f.error(
                            &epath,
                            Some(entry.at),
                            format!("preferred node \"{name}\" is not in \"nodes\"{hint}"),
                        );
                        ok = false;
                    }
                }
                Kind::String(_) => {
                    f.error(&epath, Some(entry.at), "only the first entry of a group may be a node name; VIPs are objects like { \"ip\": \"10.0.0.1/24\" }");
                    ok = false;
                }
                _ => match read_vip(f, entry, &epath) {
                    Some((net, interface)) => {
                        if let Some(first) = seen.get(&net.addr()) {
                            f.error(&format!("{epath}.ip"), Some(entry.at), format!("{} is already used at {first}; an address can belong to one group only", net.addr()));
                            ok = false;
                        } else {
                            seen.insert(net.addr(), format!("{epath}.ip"));
                        }
                        if let Some(name) = interface {
                            interfaces.insert(net.addr(), name);
                        }
                        ips.push(net);
                    }
                    None => ok = false,
                },
            }
        }
        if ips.is_empty() && f.errors.len() == errors_before {
            f.error(
                &gpath,
                Some(item.at),
                "group has no VIPs; each group needs at least one { \"ip\": \"ADDRESS/PREFIX\" }",
            );
            ok = false;
        }
        groups.push(Group::new(preferred, ips));
    }
    ok.then_some(groups)
}

/// `{ "interface": "eth0", "ip": "10.8.3.195/24" }`; the interface is optional.
fn read_vip(f: &mut Fields, v: &Value, path: &str) -> Option<(IpNet, Option<String>)> {
    let obj = f.object(v, path, &["ip", "interface"])?;
    let interface = match obj.get("interface") {
        None => Some(None),
        Some(iv) => interface_name(f, iv, &obj.child("interface")).map(Some),
    };
    let ip_path = obj.child("ip");
    let net = match obj.get("ip") {
        None => {
            f.error(&ip_path, Some(obj.at), "is required but missing");
            None
        }
        Some(iv) => f
            .string(iv, &ip_path)
            .and_then(|s| vip_net(f, s, &ip_path, iv.at)),
    };
    Some((net?, interface?))
}

/// A VIP: an address with its prefix length, usable as a host address.
fn vip_net(f: &mut Fields, s: &str, path: &str, at: Position) -> Option<IpNet> {
    let net = cidr(f, s, path, at)?;
    let addr = net.addr();
    let problem = if addr.is_unspecified() {
        Some("the unspecified address")
    } else if addr.is_loopback() {
        Some("a loopback address")
    } else if addr.is_multicast() {
        Some("a multicast address")
    } else if matches!(addr, IpAddr::V4(v4) if v4.is_broadcast()) {
        Some("the broadcast address")
    } else {
        None
    };
    if let Some(problem) = problem {
        f.error(
            path,
            Some(at),
            format!("{addr} is {problem} and cannot be a VIP"),
        );
        return None;
    }
    Some(net)
}
