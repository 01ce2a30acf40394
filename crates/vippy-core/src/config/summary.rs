//! The one-screen summary `vippyd --check-config` prints for a valid file.

use std::fmt::Write as _;

use super::model::*;

/// Groups listed one per line before the rest are counted.
const SHOWN_GROUPS: usize = 12;

pub fn summary(config: &Config, node: Option<&str>) -> String {
    let cluster = &config.cluster;
    let mut out = String::new();
    let vip_count: usize = cluster.groups.iter().map(|g| g.ips.len()).sum();
    let _ = writeln!(out, "{}: valid", config.source);
    let _ = writeln!(
        out,
        "  version {}, digest {}, {} groups ({} VIPs), {} nodes: {}",
        cluster.version,
        cluster.short_digest(),
        cluster.groups.len(),
        vip_count,
        cluster.nodes.len(),
        cluster.nodes.join(", ")
    );
    if let Some(node) = node {
        let preferred = cluster
            .groups
            .iter()
            .filter(|g| g.preferred.as_deref() == Some(node))
            .count();
        let _ = writeln!(
            out,
            "  this node: {node} (preferred for {preferred} groups)"
        );
    }
    let mode = if config.peers.is_empty() {
        "multicast".to_string()
    } else {
        format!("unicast to {} peers", config.peers.len())
    };
    let on = match &config.chat_interface {
        ChatInterface::All => "all interfaces".to_string(),
        ChatInterface::Named(name) => name.clone(),
    };
    let secret = config
        .secrets
        .iter()
        .map(|s| match s {
            Secret::Inline(_) => "inline".to_string(),
            Secret::File(path) => format!("from {}", path.display()),
        })
        .collect::<Vec<_>>()
        .join(", accepting ");
    let _ = writeln!(
        out,
        "  chat {} on {on} ({mode}), secret {secret}",
        config.chat
    );
    let _ = writeln!(
        out,
        "  timers: interval {}s, mature {}s, stale {}s, arp-cache {}s",
        config.interval.as_secs_f64(),
        config.mature.as_secs_f64(),
        config.stale.as_secs_f64(),
        config.arp_cache.as_secs_f64()
    );
    if !config.track_interfaces {
        let _ = writeln!(out, "  interfaces not tracked (track_interfaces: false)");
    } else if config.link_down_grace != config.interval {
        let _ = writeln!(
            out,
            "  link_down_grace: {}s",
            config.link_down_grace.as_secs_f64()
        );
    }
    if let Some(priority) = config.realtime {
        let _ = writeln!(
            out,
            "  realtime: core loop at SCHED_FIFO {priority}, data plane at {}, memory locked",
            super::data_plane_priority(priority)
        );
    }
    if config.failback != Failback::Immediate {
        let _ = writeln!(out, "  failback: {}", config.failback);
    }
    let _ = writeln!(out, "  groups:");
    for (i, group) in cluster.groups.iter().enumerate().take(SHOWN_GROUPS) {
        let ips: Vec<String> = group
            .ips
            .iter()
            .map(|ip| match config.interfaces.get(&ip.addr()) {
                Some(ifname) => format!("{ip} on {ifname}"),
                None => format!("{ip} (interface by subnet)"),
            })
            .collect();
        let preferred = group
            .preferred
            .as_ref()
            .map(|p| format!("  P({p})"))
            .unwrap_or_default();
        let _ = writeln!(out, "    [{i}] {}{preferred}", ips.join(", "));
    }
    if cluster.groups.len() > SHOWN_GROUPS {
        let _ = writeln!(
            out,
            "    ... and {} more",
            cluster.groups.len() - SHOWN_GROUPS
        );
    }
    let notify: Vec<String> = config
        .notify
        .iter()
        .map(|n| match n {
            NotifyTarget::ArpCache => "arp-cache".to_string(),
            NotifyTarget::Network { net, .. } => net.to_string(),
        })
        .collect();
    if !notify.is_empty() {
        let _ = writeln!(out, "  notify: {}", notify.join(", "));
    }
    let mask: Vec<&str> = Severity::ALL
        .iter()
        .filter(|s| config.logging.mask.contains(**s))
        .map(|s| s.name())
        .collect();
    let _ = writeln!(
        out,
        "  management {} (mode {:04o}); logging {}, facility {}, levels {}",
        config.management.display(),
        config.management_mode,
        config.logging.driver.name(),
        Facility::NAMES
            .iter()
            .find(|n| Facility::from_name(n) == Some(config.logging.facility))
            .unwrap_or(&"?"),
        mask.join(" ")
    );
    let quorum = match config.quorum {
        Quorum::Off => "off".to_string(),
        Quorum::Majority => format!("majority ({})", config.quorum.needed(cluster.nodes.len())),
        Quorum::Count(n) => n.to_string(),
    };
    let refresh = config
        .garp
        .refresh
        .map(|r| format!(", refresh {}s", r.as_secs_f64()))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  garp: {} x every {}s{refresh}, at most {}/s; quorum {quorum}",
        config.garp.count,
        config.garp.interval.as_secs_f64(),
        config.garp.rate
    );
    // A scoped check shows its groups: "db (groups 0, 2)".
    let names: Vec<String> = config
        .checks
        .iter()
        .map(|c| match c.groups.as_slice() {
            [] => c.name.clone(),
            [g] => format!("{} (group {g} only)", c.name),
            groups => {
                let list: Vec<String> = groups.iter().map(usize::to_string).collect();
                format!("{} (groups {} only)", c.name, list.join(", "))
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "  checks: {}; hooks: {} up, {} down, {} change; plugins: {}",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        },
        config.hooks.up.len(),
        config.hooks.down.len(),
        config.hooks.change.len(),
        config.plugins.len()
    );
    out
}
