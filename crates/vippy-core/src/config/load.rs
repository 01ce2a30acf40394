//! Turning configuration text into a validated [`Config`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::cluster::{Cluster, Group};
use super::error::{ConfigErrors, suggest};
use super::fields::{Fields, Object, index_path};
use super::json5::{self, Kind, Position, Value};
use super::model::*;

/// Top-level keys: the original's, then vippy's extensions.
pub const TOP_KEYS: &[&str] = &[
    "chat",
    "chat_interface",
    "secret",
    "version",
    "vips",
    "nodes",
    "interval",
    "mature",
    "stale",
    "arp-cache",
    "notify",
    "management",
    "logging",
    "secret_file",
    "peers",
    "garp",
    "checks",
    "hooks",
    "plugins",
    "quorum",
    "management_mode",
    "state_dir",
    "secrets",
    "metrics",
    "failback",
    "track_interfaces",
    "link_down_grace",
    "realtime",
];

const CLUSTER_KEYS: &[&str] = &["version", "vips", "nodes"];
const MAX_NODE_NAME: usize = 64;
/// Group indices travel as 16-bit numbers, and a heartbeat holding any
/// subset of 4096 groups stays within its 1200-byte budget (docs/PROTOCOL.md).
const MAX_GROUPS: usize = 4096;
const MAX_NODES: usize = 1024;
const DAY: f64 = 86_400.0;

/// Parses and validates a whole configuration file. `source` names the
/// file in error messages.
pub fn load(text: &str, source: &str) -> Result<Config, ConfigErrors> {
    let mut f = Fields::new(source);
    let root = parse(&mut f, text)?;
    let config = read_config(&mut f, &root);
    match config {
        Some(config) if f.errors.is_empty() => Ok(config),
        _ => Err(errors_in_order(f)),
    }
}

/// Parses the cluster-wide part alone: the canonical text a peer sends in
/// a config transfer (and that [`Cluster::canonical_text`] writes).
pub fn load_cluster(text: &str, source: &str) -> Result<Cluster, ConfigErrors> {
    let mut f = Fields::new(source);
    let root = parse(&mut f, text)?;
    let cluster = f
        .object(&root, "", CLUSTER_KEYS)
        .and_then(|top| read_cluster(&mut f, &top, &mut BTreeMap::new()));
    match cluster {
        Some(cluster) if f.errors.is_empty() => Ok(cluster),
        _ => Err(errors_in_order(f)),
    }
}

fn parse(f: &mut Fields, text: &str) -> Result<Value, ConfigErrors> {
    json5::parse(text).map_err(|e| {
        f.error("", Some(e.at), e.message);
        ConfigErrors(std::mem::take(&mut f.errors))
    })
}

fn errors_in_order(mut f: Fields) -> ConfigErrors {
    f.errors.sort_by_key(|e| {
        e.at.unwrap_or(Position {
            line: u32::MAX,
            column: 0,
        })
    });
    ConfigErrors(f.errors)
}

fn read_config(f: &mut Fields, root: &Value) -> Option<Config> {
    let top = f.object(root, "", TOP_KEYS)?;
    let mut interfaces = BTreeMap::new();
    let cluster = read_cluster(f, &top, &mut interfaces);

    let chat = required(f, &top, "chat").and_then(|v| socket_addr(f, v, "chat"));
    let chat_interface = match top.get("chat_interface") {
        None => Some(ChatInterface::All),
        Some(v) => f.string(v, "chat_interface").map(|s| match s {
            "all" => ChatInterface::All,
            name => ChatInterface::Named(name.to_string()),
        }),
    };
    let secrets = read_secrets(f, &top);

    let interval = duration_or(f, &top, "interval", 0.001, 3600.0, 1.0);
    let mature = duration_or(f, &top, "mature", 0.0, DAY, 5.0);
    let stale = duration_or(f, &top, "stale", 0.001, DAY, 3.0);
    let arp_cache = duration_or(f, &top, "arp-cache", 0.1, DAY, 15.0);
    if let (Some(interval), Some(stale)) = (interval, stale)
        && stale <= interval
    {
        let at = top.get("stale").map(|v| v.at);
        f.error(
            "stale",
            at,
            format!(
                "stale ({}) must be longer than interval ({}), or every peer would go stale between heartbeats",
                secs(stale),
                secs(interval)
            ),
        );
    }

    let notify = match top.get("notify") {
        None => Some(Vec::new()),
        Some(v) => read_notify(f, v),
    };
    let management = match top.get("management") {
        None => Some(PathBuf::from("/var/run/vippy.socket")),
        Some(v) => f.string(v, "management").map(PathBuf::from),
    };
    let management_mode = match top.get("management_mode") {
        None => Some(0o600),
        Some(v) => read_mode(f, v),
    };
    let logging = match top.get("logging") {
        None => Some(Logging {
            driver: LogDriver::Console,
            facility: Facility::Daemon,
            mask: LevelMask::default_mask(),
        }),
        Some(v) => read_logging(f, v),
    };
    let peers = match (top.get("peers"), &cluster, chat) {
        (None, _, _) => Some(BTreeMap::new()),
        (Some(v), Some(cluster), Some(chat)) => read_peers(f, v, cluster, chat),
        (Some(_), _, _) => None,
    };
    if let (Some(chat), Some(peers)) = (chat, &peers)
        && !chat.ip().is_multicast()
        && peers.is_empty()
    {
        let at = top.get("chat").map(|v| v.at);
        f.error(
            "chat",
            at,
            format!(
                "{} is not a multicast address and no \"peers\" are configured; use a multicast group such as 239.1.1.1:5007, or list unicast peers",
                chat.ip()
            ),
        );
    }
    let garp = match top.get("garp") {
        None => Some(Garp::default()),
        Some(v) => read_garp(f, v),
    };
    let checks = match (top.get("checks"), &cluster) {
        (None, _) => Some(Vec::new()),
        (Some(v), Some(cluster)) => read_checks(f, v, cluster),
        (Some(_), None) => None,
    };
    let hooks = match top.get("hooks") {
        None => Some(Hooks {
            timeout: Duration::from_secs(10),
            ..Hooks::default()
        }),
        Some(v) => read_hooks(f, v),
    };
    let plugins = match top.get("plugins") {
        None => Some(Vec::new()),
        Some(v) => f.array(v, "plugins").and_then(|items| {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                out.push(read_command(f, item, &index_path("plugins", i), false)?);
            }
            Some(out)
        }),
    };
    let quorum = match (top.get("quorum"), &cluster) {
        (None, _) => Some(Quorum::Off),
        (Some(v), Some(cluster)) => read_quorum(f, v, cluster.nodes.len()),
        (Some(_), None) => None,
    };
    let metrics = match top.get("metrics") {
        None => Some(None),
        Some(v) => socket_addr(f, v, "metrics").map(Some),
    };
    let failback = match top.get("failback") {
        None => Some(Failback::Immediate),
        Some(v) => read_failback(f, v),
    };
    let track_interfaces = match top.get("track_interfaces") {
        None => Some(true),
        Some(v) => f.boolean(v, "track_interfaces"),
    };
    // One heartbeat interval unless set: a carrier blip shorter than that
    // moves nothing.
    let link_down_grace = match (top.get("link_down_grace"), interval) {
        (None, interval) => interval,
        (Some(v), _) => f.duration(v, "link_down_grace", 0.0, DAY),
    };
    let realtime = match top.get("realtime") {
        None => Some(None),
        Some(v) => read_realtime(f, v),
    };
    let state_dir = match top.get("state_dir") {
        None => Some(None),
        Some(v) => f.string(v, "state_dir").map(|s| Some(PathBuf::from(s))),
    };

    Some(Config {
        source: f.source.to_string(),
        cluster: Arc::new(cluster?),
        interfaces,
        chat: chat?,
        chat_interface: chat_interface?,
        secrets: secrets?,
        interval: interval?,
        mature: mature?,
        stale: stale?,
        arp_cache: arp_cache?,
        notify: notify?,
        management: management?,
        management_mode: management_mode?,
        logging: logging?,
        peers: peers?,
        garp: garp?,
        checks: checks?,
        hooks: hooks?,
        plugins: plugins?,
        quorum: quorum?,
        failback: failback?,
        track_interfaces: track_interfaces?,
        link_down_grace: link_down_grace?,
        realtime: realtime?,
        state_dir: state_dir?,
        metrics: metrics?,
    })
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

fn required<'v>(f: &mut Fields, top: &Object<'v>, key: &str) -> Option<&'v Value> {
    let v = top.get(key);
    if v.is_none() {
        f.error(&top.child(key), Some(top.at), "is required but missing");
    }
    v
}

fn duration_or(
    f: &mut Fields,
    obj: &Object,
    key: &str,
    min: f64,
    max: f64,
    default: f64,
) -> Option<Duration> {
    match obj.get(key) {
        None => Some(Duration::from_secs_f64(default)),
        Some(v) => f.duration(v, &obj.child(key), min, max),
    }
}

fn read_cluster(
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

fn interface_name(f: &mut Fields, v: &Value, path: &str) -> Option<String> {
    let name = f.string(v, path)?;
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
        f.error(
            path,
            Some(v.at),
            format!(
                "\"{name}\" is not a valid interface name (1 to 15 characters, no '/' or spaces)"
            ),
        );
        return None;
    }
    Some(name.to_string())
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

/// ADDRESS/PREFIX, with a specific message for each way it goes wrong.
fn cidr(f: &mut Fields, s: &str, path: &str, at: Position) -> Option<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net);
    }
    let message = match s.split_once('/') {
        None if s.parse::<IpAddr>().is_ok() => {
            let example = if s.contains(':') { "/64" } else { "/24" };
            format!("\"{s}\" needs a prefix length, e.g. \"{s}{example}\"")
        }
        None => format!(
            "\"{s}\" is not an address with a prefix length (ADDRESS/PREFIX, e.g. 10.8.3.195/24)"
        ),
        Some((addr, prefix)) => match (addr.parse::<IpAddr>(), prefix.parse::<u8>()) {
            (Err(_), _) => format!("\"{addr}\" in \"{s}\" is not an IPv4 or IPv6 address"),
            (Ok(_), Err(_)) => format!("\"{prefix}\" in \"{s}\" is not a prefix length"),
            (Ok(IpAddr::V4(_)), Ok(p)) => {
                format!("/{p} in \"{s}\" is too long for an IPv4 address (at most /32)")
            }
            (Ok(IpAddr::V6(_)), Ok(p)) => {
                format!("/{p} in \"{s}\" is too long for an IPv6 address (at most /128)")
            }
        },
    };
    f.error(path, Some(at), message);
    None
}

fn socket_addr(f: &mut Fields, v: &Value, path: &str) -> Option<SocketAddr> {
    let s = f.string(v, path)?;
    match s.parse::<SocketAddr>() {
        Ok(addr) if addr.port() == 0 => {
            f.error(
                path,
                Some(v.at),
                format!("\"{s}\" needs a port other than 0"),
            );
            None
        }
        Ok(addr) => Some(addr),
        Err(_) => {
            let hint = if s.parse::<IpAddr>().is_ok() {
                " (it needs a port, e.g. 239.1.1.1:5007 or [ff15::1]:5007)"
            } else {
                " (expected ADDRESS:PORT, e.g. 239.1.1.1:5007 or [ff15::1]:5007)"
            };
            f.error(
                path,
                Some(v.at),
                format!("\"{s}\" is not an address and port{hint}"),
            );
            None
        }
    }
}

/// `secret`, `secret_file` or `secrets` (exactly one of them).
fn read_secrets(f: &mut Fields, top: &Object) -> Option<Vec<Secret>> {
    let Some(list) = top.get("secrets") else {
        return read_secret(f, top).map(|s| vec![s]);
    };
    if let Some(other) = top.get("secret").or(top.get("secret_file")) {
        f.error(
            "secrets",
            Some(other.at),
            "give \"secrets\" or one of \"secret\" and \"secret_file\", not both",
        );
        return None;
    }
    let items = f.array(list, "secrets")?;
    if items.is_empty() {
        f.error(
            "secrets",
            Some(list.at),
            "is empty; list at least one secret (the first signs, every one is accepted)",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = index_path("secrets", i);
        let secret = match &item.kind {
            Kind::String(s) if s.is_empty() => {
                f.error(&path, Some(item.at), "is empty; a secret must be set");
                None
            }
            Kind::String(s) => Some(Secret::Inline(s.clone())),
            Kind::Object(_) => f.object(item, &path, &["file"]).and_then(|o| {
                let Some(v) = o.get("file") else {
                    f.error(
                        &path,
                        Some(item.at),
                        "needs \"file\": the path of a file holding the secret",
                    );
                    return None;
                };
                secret_file(f, v, &format!("{path}.file"))
            }),
            _ => {
                f.error(
                    &path,
                    Some(item.at),
                    format!(
                        "must be a string or {{ \"file\": PATH }}, not {}",
                        item.type_name()
                    ),
                );
                None
            }
        };
        match secret {
            Some(s) if out.contains(&s) => {
                f.error(&path, Some(item.at), "repeats an earlier entry");
                ok = false;
            }
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// The path of a file holding a secret, at `path` (`secret_file`, or a
/// `secrets` entry's `file`).
fn secret_file(f: &mut Fields, v: &Value, path: &str) -> Option<Secret> {
    let s = f.string(v, path)?;
    if s.is_empty() {
        f.error(
            path,
            Some(v.at),
            "is empty; give the path of a file holding the secret",
        );
        return None;
    }
    Some(Secret::File(PathBuf::from(s)))
}

fn read_secret(f: &mut Fields, top: &Object) -> Option<Secret> {
    match (top.get("secret"), top.get("secret_file")) {
        (Some(_), Some(v)) => {
            f.error(
                "secret_file",
                Some(v.at),
                "give either \"secret\" or \"secret_file\", not both",
            );
            None
        }
        (Some(v), None) => {
            let s = f.string(v, "secret")?;
            if s.is_empty() {
                f.error("secret", Some(v.at), "is empty; every message is authenticated with it, so it must be set (the same on every node)");
                return None;
            }
            Some(Secret::Inline(s.to_string()))
        }
        (None, Some(v)) => secret_file(f, v, "secret_file"),
        (None, None) => {
            f.error("secret", Some(top.at), "is missing: set \"secret\" or \"secret_file\"; every message is authenticated with it");
            None
        }
    }
}

fn read_notify(f: &mut Fields, v: &Value) -> Option<Vec<NotifyTarget>> {
    let items = f.array(v, "notify")?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = index_path("notify", i);
        match &item.kind {
            Kind::String(s) if s == "arp-cache" => out.push(NotifyTarget::ArpCache),
            Kind::String(s) => {
                f.error(&path, Some(item.at), format!("\"{s}\" is not a notify target: use \"arp-cache\" or {{ \"ip\": \"NETWORK/PREFIX\" }}"));
                ok = false;
            }
            _ => {
                let Some(obj) = f.object(item, &path, &["ip", "interface"]) else {
                    ok = false;
                    continue;
                };
                let interface = match obj.get("interface") {
                    None => Some(None),
                    Some(iv) => interface_name(f, iv, &obj.child("interface")).map(Some),
                };
                let net = match obj.get("ip") {
                    None => {
                        f.error(&obj.child("ip"), Some(obj.at), "is required but missing");
                        None
                    }
                    Some(iv) => f
                        .string(iv, &obj.child("ip"))
                        .and_then(|s| cidr(f, s, &obj.child("ip"), iv.at)),
                };
                match (net, interface) {
                    (Some(net), Some(interface)) => {
                        out.push(NotifyTarget::Network { net, interface })
                    }
                    _ => ok = false,
                }
            }
        }
    }
    ok.then_some(out)
}

fn read_mode(f: &mut Fields, v: &Value) -> Option<u32> {
    let s = match &v.kind {
        Kind::String(s) => s.as_str(),
        _ => {
            f.error(
                "management_mode",
                Some(v.at),
                "write the mode as a string of octal digits, e.g. \"0660\"",
            );
            return None;
        }
    };
    match u32::from_str_radix(s, 8) {
        Ok(mode) if mode <= 0o777 => Some(mode),
        _ => {
            f.error(
                "management_mode",
                Some(v.at),
                format!("\"{s}\" is not a file mode (octal digits up to 0777, e.g. \"0660\")"),
            );
            None
        }
    }
}

fn read_logging(f: &mut Fields, v: &Value) -> Option<Logging> {
    let obj = f.object(v, "logging", &["driver", "facility", "mask"])?;
    let driver = match obj.get("driver") {
        None => Some(LogDriver::Console),
        Some(dv) => f.string(dv, "logging.driver").and_then(|s| match s {
            "console" => Some(LogDriver::Console),
            "posix" | "syslog" => Some(LogDriver::Syslog),
            "journald" => Some(LogDriver::Journald),
            other => {
                f.error(
                    "logging.driver",
                    Some(dv.at),
                    format!(
                        "\"{other}\" is not a logging driver (console, syslog, posix or journald)"
                    ),
                );
                None
            }
        }),
    };
    let facility = match obj.get("facility") {
        None => Some(Facility::Daemon),
        Some(fv) => f.string(fv, "logging.facility").and_then(|s| {
            let found = Facility::from_name(s);
            if found.is_none() {
                let hint = suggest(s, &Facility::NAMES)
                    .map(|k| format!(" (did you mean \"{k}\"?)"))
                    .unwrap_or_default();
                f.error(
                    "logging.facility",
                    Some(fv.at),
                    format!("\"{s}\" is not a syslog facility{hint}"),
                );
            }
            found
        }),
    };
    let mask = match obj.get("mask") {
        None => Some(LevelMask::default_mask()),
        Some(mv) => {
            let names: Vec<&str> = Severity::ALL.iter().map(|s| s.name()).collect();
            let mobj = f.object(mv, "logging.mask", &names)?;
            // Levels left out of the mask stay at the default (on, but debug).
            let mut mask = LevelMask::default_mask();
            let mut ok = true;
            for member in mobj.members {
                let Some(severity) = Severity::from_name(&member.key) else {
                    continue; // reported as an unknown key
                };
                match f.boolean(&member.value, &mobj.child(&member.key)) {
                    Some(on) => mask.set(severity, on),
                    None => ok = false,
                }
            }
            ok.then_some(mask)
        }
    };
    Some(Logging {
        driver: driver?,
        facility: facility?,
        mask: mask?,
    })
}

fn read_peers(
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

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

fn read_garp(f: &mut Fields, v: &Value) -> Option<Garp> {
    let obj = f.object(v, "garp", &["count", "interval", "refresh", "rate"])?;
    let default = Garp::default();
    let count = match obj.get("count") {
        None => Some(default.count),
        Some(cv) => f.integer(cv, "garp.count", 1, 100).map(|n| n as u32),
    };
    let interval = match obj.get("interval") {
        None => Some(default.interval),
        Some(iv) => f.duration(iv, "garp.interval", 0.001, 60.0),
    };
    // 0 or absent: no periodic refresh.
    let refresh = match obj.get("refresh") {
        None => Some(None),
        Some(Value {
            kind: Kind::Null, ..
        }) => Some(None),
        Some(rv) => f
            .duration(rv, "garp.refresh", 0.0, DAY)
            .map(|d| (!d.is_zero()).then_some(d)),
    };
    let rate = match obj.get("rate") {
        None => Some(default.rate),
        Some(rv) => f.integer(rv, "garp.rate", 1, 10_000_000).map(|n| n as u32),
    };
    Some(Garp {
        count: count?,
        interval: interval?,
        refresh: refresh?,
        rate: rate?,
    })
}

/// A command: `"prog arg"` (split on spaces, no shell), `["prog", "arg"]`,
/// or `{ "command": ..., "shell": true }` to run it with /bin/sh.
fn read_command(f: &mut Fields, v: &Value, path: &str, shell: bool) -> Option<Command> {
    match &v.kind {
        Kind::Object(_) => {
            let obj = f.object(v, path, &["command", "shell"])?;
            command_object(f, &obj)
        }
        Kind::String(s) if shell => Some(Command::Shell(s.clone())),
        Kind::String(s) => {
            let argv: Vec<String> = s.split_whitespace().map(String::from).collect();
            if argv.is_empty() {
                f.error(path, Some(v.at), "command is empty");
                return None;
            }
            Some(Command::Argv(argv))
        }
        Kind::Array(_) if shell => {
            f.error(
                path,
                Some(v.at),
                "with \"shell\": true, give the command as one string",
            );
            None
        }
        Kind::Array(_) => {
            let argv = f.strings(v, path)?;
            if argv.is_empty() || argv[0].is_empty() {
                f.error(path, Some(v.at), "command is empty");
                return None;
            }
            Some(Command::Argv(argv))
        }
        _ => {
            f.error(path, Some(v.at), format!("a command is a string, an array of strings or an object with \"command\", not {}", v.type_name()));
            None
        }
    }
}

fn read_checks(f: &mut Fields, v: &Value, cluster: &Cluster) -> Option<Vec<Check>> {
    let items = f.array(v, "checks")?;
    let mut out: Vec<Check> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = index_path("checks", i);
        let Some(obj) = f.object(
            item,
            &path,
            &[
                "name", "command", "shell", "interval", "timeout", "rise", "fall", "groups",
            ],
        ) else {
            ok = false;
            continue;
        };
        let name = match obj.get("name") {
            None => {
                f.error(&obj.child("name"), Some(obj.at), "is required but missing");
                None
            }
            Some(nv) => f.string(nv, &obj.child("name")).and_then(|s| {
                let valid = !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !valid {
                    f.error(&obj.child("name"), Some(nv.at), format!("\"{s}\" is not a check name (1 to 32 of letters, digits, '-', '_', '.')"));
                    None
                } else if out.iter().any(|c| c.name == s) {
                    f.error(&obj.child("name"), Some(nv.at), format!("check \"{s}\" is defined twice"));
                    None
                } else {
                    Some(s.to_string())
                }
            }),
        };
        let shell = match obj.get("shell") {
            None => Some(false),
            Some(sv) => f.boolean(sv, &obj.child("shell")),
        };
        let command = match (obj.get("command"), shell) {
            (None, _) => {
                f.error(
                    &obj.child("command"),
                    Some(obj.at),
                    "is required but missing",
                );
                None
            }
            (Some(cv), Some(shell)) => read_command(f, cv, &obj.child("command"), shell),
            (Some(_), None) => None,
        };
        let interval = duration_or(f, &obj, "interval", 0.01, DAY, 2.0);
        let timeout = duration_or(f, &obj, "timeout", 0.01, 3600.0, 1.0);
        let rise = match obj.get("rise") {
            None => Some(2),
            Some(rv) => f.integer(rv, &obj.child("rise"), 1, 1000).map(|n| n as u32),
        };
        let fall = match obj.get("fall") {
            None => Some(2),
            Some(fv) => f.integer(fv, &obj.child("fall"), 1, 1000).map(|n| n as u32),
        };
        let groups = match obj.get("groups") {
            None => Some(Vec::new()),
            Some(gv) => read_check_groups(f, gv, &obj.child("groups"), cluster),
        };
        match (name, command, interval, timeout, rise, fall, groups) {
            (
                Some(name),
                Some(command),
                Some(interval),
                Some(timeout),
                Some(rise),
                Some(fall),
                Some(groups),
            ) => out.push(Check {
                name,
                command,
                interval,
                timeout,
                rise,
                fall,
                groups,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A check's `groups`: a non-empty array of group indices (`0`) or of a
/// group's first address (`"198.51.100.10"`), resolved to indices,
/// ascending and without repeats.
fn read_check_groups(
    f: &mut Fields,
    v: &Value,
    path: &str,
    cluster: &Cluster,
) -> Option<Vec<usize>> {
    let items = f.array(v, path)?;
    if items.is_empty() {
        f.error(
            path,
            Some(v.at),
            "is empty; leave \"groups\" out for a check that concerns the whole node",
        );
        return None;
    }
    let count = cluster.groups.len();
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let at = index_path(path, i);
        let group = match &item.kind {
            Kind::Number(..) => f.integer(item, &at, 0, u32::MAX as u64).and_then(|n| {
                let n = n as usize;
                if n >= count {
                    f.error(
                        &at,
                        Some(item.at),
                        format!(
                            "there is no group {n}: \"vips\" has {count} groups (0 to {})",
                            count.saturating_sub(1)
                        ),
                    );
                    return None;
                }
                Some(n)
            }),
            Kind::String(s) => match s.parse::<IpAddr>() {
                Err(_) => {
                    f.error(&at, Some(item.at), format!("\"{s}\" is not an IP address (a group is named by its index or its first address)"));
                    None
                }
                Ok(ip) => {
                    let found = cluster
                        .groups
                        .iter()
                        .position(|g| g.addresses().next() == Some(ip));
                    if found.is_none() {
                        let inside = cluster
                            .groups
                            .iter()
                            .position(|g| g.addresses().any(|a| a == ip));
                        let hint = match inside {
                            Some(g) => format!(
                                "; it is in group {g}, whose first address is {}",
                                cluster.groups[g].ips[0].addr()
                            ),
                            None => String::new(),
                        };
                        f.error(
                            &at,
                            Some(item.at),
                            format!("{ip} is not the first address of any group in \"vips\"{hint}"),
                        );
                    }
                    found
                }
            },
            _ => {
                f.error(
                    &at,
                    Some(item.at),
                    format!(
                        "a group is its index (a number) or its first address (a string), not {}",
                        item.type_name()
                    ),
                );
                None
            }
        };
        match group {
            Some(g) => out.push(g),
            None => ok = false,
        }
    }
    out.sort_unstable();
    out.dedup();
    ok.then_some(out)
}

fn read_hooks(f: &mut Fields, v: &Value) -> Option<Hooks> {
    let obj = f.object(v, "hooks", &["up", "down", "change", "timeout"])?;
    // Each entry, with whether it asks to be retried.
    let list = |f: &mut Fields, key: &str| -> Option<Vec<(Command, bool)>> {
        let Some(lv) = obj.get(key) else {
            return Some(Vec::new());
        };
        let path = obj.child(key);
        match &lv.kind {
            // One command on its own is fine too.
            Kind::String(_) | Kind::Object(_) => {
                read_hook_command(f, lv, &path, key).map(|c| vec![c])
            }
            _ => {
                let items = f.array(lv, &path)?;
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(read_hook_command(f, item, &index_path(&path, i), key)?);
                }
                Some(out)
            }
        }
    };
    let up = list(f, "up");
    let up_retry = up.as_ref().map(|up| {
        up.iter()
            .enumerate()
            .filter(|(_, (_, retry))| *retry)
            .map(|(i, _)| i)
            .collect()
    });
    let up = up.map(|up| up.into_iter().map(|(c, _)| c).collect());
    let plain =
        |l: Option<Vec<(Command, bool)>>| l.map(|l| l.into_iter().map(|(c, _)| c).collect());
    let down = plain(list(f, "down"));
    let change = plain(list(f, "change"));
    let timeout = duration_or(f, &obj, "timeout", 0.01, 3600.0, 10.0);
    Some(Hooks {
        up: up?,
        down: down?,
        change: change?,
        timeout: timeout?,
        up_retry: up_retry?,
    })
}

/// A hook entry: a command, or `{ "command": …, "shell": …, "retry": … }`;
/// only `up` hooks may retry (they run while the group is held here).
fn read_hook_command(f: &mut Fields, v: &Value, path: &str, list: &str) -> Option<(Command, bool)> {
    let Kind::Object(_) = &v.kind else {
        return read_command(f, v, path, false).map(|c| (c, false));
    };
    let obj = f.object(v, path, &["command", "shell", "retry"])?;
    let retry = match obj.get("retry") {
        None => false,
        Some(rv) => f.boolean(rv, &obj.child("retry"))?,
    };
    if retry && list != "up" {
        f.error(
            &obj.child("retry"),
            obj.get("retry").map(|rv| rv.at),
            "only up hooks can retry (they are re-run while the group is held here)",
        );
        return None;
    }
    command_object(f, &obj).map(|c| (c, retry))
}

/// `{ "command": …, "shell": … }`, its keys already checked.
fn command_object(f: &mut Fields, obj: &Object) -> Option<Command> {
    let shell = match obj.get("shell") {
        None => false,
        Some(sv) => f.boolean(sv, &obj.child("shell"))?,
    };
    let Some(cv) = obj.get("command") else {
        f.error(
            &obj.child("command"),
            Some(obj.at),
            "is required but missing",
        );
        return None;
    };
    read_command(f, cv, &obj.child("command"), shell)
}

fn read_quorum(f: &mut Fields, v: &Value, node_count: usize) -> Option<Quorum> {
    match &v.kind {
        Kind::String(s) if s == "majority" => Some(Quorum::Majority),
        Kind::String(s) if s == "off" => Some(Quorum::Off),
        Kind::Bool(false) => Some(Quorum::Off),
        Kind::Number(..) => {
            let n = f.integer(v, "quorum", 0, node_count as u64)? as usize;
            Some(if n == 0 {
                Quorum::Off
            } else {
                Quorum::Count(n)
            })
        }
        _ => {
            f.error(
                "quorum",
                Some(v.at),
                format!(
                    "must be \"majority\", \"off\" or a number of nodes from 1 to {node_count}"
                ),
            );
            None
        }
    }
}

/// `realtime`: `false`, or a SCHED_FIFO priority from 1 to 99 (a number or
/// a numeric string, like every number in the file).
fn read_realtime(f: &mut Fields, v: &Value) -> Option<Option<u8>> {
    match &v.kind {
        Kind::Bool(false) => Some(None),
        Kind::Number(..) => f.integer(v, "realtime", 1, 99).map(|p| Some(p as u8)),
        Kind::String(s) if s.trim().parse::<f64>().is_ok() => {
            f.integer(v, "realtime", 1, 99).map(|p| Some(p as u8))
        }
        _ => {
            let shown = match &v.kind {
                Kind::String(s) => format!("\"{s}\""),
                Kind::Bool(true) => "true".to_string(),
                _ => v.type_name().to_string(),
            };
            f.error(
                "realtime",
                Some(v.at),
                format!(
                    "must be false or a SCHED_FIFO priority from 1 to 99 (such as 10), not {shown}"
                ),
            );
            None
        }
    }
}

fn read_failback(f: &mut Fields, v: &Value) -> Option<Failback> {
    match &v.kind {
        Kind::String(s) if s == "immediate" => Some(Failback::Immediate),
        Kind::String(s) if s == "manual" => Some(Failback::Manual),
        Kind::Number(..) => f.duration(v, "failback", 0.0, DAY).map(Failback::after),
        Kind::String(s) if s.trim().parse::<f64>().is_ok() => {
            f.duration(v, "failback", 0.0, DAY).map(Failback::after)
        }
        _ => {
            let shown = match &v.kind {
                Kind::String(s) => format!("\"{s}\""),
                _ => v.type_name().to_string(),
            };
            f.error(
                "failback",
                Some(v.at),
                format!(
                    "must be \"immediate\", \"manual\" or a number of seconds from 0 to 86400, not {shown}"
                ),
            );
            None
        }
    }
}
