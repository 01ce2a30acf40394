//! Turning configuration text into a validated [`Config`]: [`load`] and
//! [`load_cluster`] read the whole file, then each section has its own
//! reader in this directory. A reader reports every problem it finds to
//! [`Fields`] (file, key path, position) and returns `None` if any, so one
//! run names every mistake in the file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::cluster::Cluster;
use super::error::ConfigErrors;
use super::fields::{Fields, Object, index_path};
use super::json5::{self, Position, Value};
use super::model::*;

mod address;
mod checks;
mod cluster;
mod command;
mod garp;
mod hooks;
mod logging;
mod notify;
mod peers;
mod secrets;
mod settings;

use address::socket_addr;
use checks::read_checks;
use cluster::{CLUSTER_KEYS, read_cluster};
use command::read_command;
use garp::read_garp;
use hooks::read_hooks;
use logging::read_logging;
use notify::read_notify;
use peers::read_peers;
use secrets::read_secrets;
use settings::{read_failback, read_mode, read_quorum, read_realtime};

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

pub(super) const DAY: f64 = 86_400.0;

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

    let interval = duration_or(f, &top, "interval", 0.001, 3600.0, Config::DEFAULT_INTERVAL);
    let mature = duration_or(f, &top, "mature", 0.0, DAY, Config::DEFAULT_MATURE);
    let stale = duration_or(f, &top, "stale", 0.001, DAY, Config::DEFAULT_STALE);
    let arp_cache = duration_or(f, &top, "arp-cache", 0.1, DAY, Config::DEFAULT_ARP_CACHE);
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
        None => Some(PathBuf::from(Config::DEFAULT_MANAGEMENT)),
        Some(v) => f.string(v, "management").map(PathBuf::from),
    };
    let management_mode = match top.get("management_mode") {
        None => Some(Config::DEFAULT_MANAGEMENT_MODE),
        Some(v) => read_mode(f, v),
    };
    let logging = match top.get("logging") {
        None => Some(Logging::default()),
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
        None => Some(Hooks::default()),
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
        None => Some(Failback::default()),
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

pub(super) fn required<'v>(f: &mut Fields, top: &Object<'v>, key: &str) -> Option<&'v Value> {
    let v = top.get(key);
    if v.is_none() {
        f.error(&top.child(key), Some(top.at), "is required but missing");
    }
    v
}

pub(super) fn duration_or(
    f: &mut Fields,
    obj: &Object,
    key: &str,
    min: f64,
    max: f64,
    default: Duration,
) -> Option<Duration> {
    match obj.get(key) {
        None => Some(default),
        Some(v) => f.duration(v, &obj.child(key), min, max),
    }
}
