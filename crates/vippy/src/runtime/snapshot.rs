//! The core's view turned into the API's [`Status`].

use std::collections::BTreeMap;
use std::time::Instant;

use vippy_core::config::{Config, Failback, hex};
use vippy_core::node::Node;

use crate::api::DEFAULT_SOURCE;
use crate::metrics::Metrics;
use crate::status::{GroupStatus, PeerStatus, Status};

pub fn status(node: &Node, config: &Config, metrics: &Metrics, now: Instant) -> Status {
    let view = node.status();
    let groups = view
        .groups
        .into_iter()
        .map(|g| GroupStatus {
            index: g.index,
            interfaces: g
                .ips
                .iter()
                .map(|ip| config.interfaces.get(&ip.addr()).cloned())
                .collect(),
            ips: g.ips.iter().map(|ip| ip.to_string()).collect(),
            preferred: g.preferred,
            owner: g.owner,
            holders: g.holders,
            held_here: g.held_here,
            since_seconds: g
                .held_since
                .map(|t| now.saturating_duration_since(t).as_secs_f64()),
            failback_in_seconds: g
                .failback
                .as_ref()
                .and_then(|f| f.at)
                .map(|at| at.saturating_duration_since(now).as_secs_f64()),
            failback_to: g.failback.map(|f| f.to),
            cannot_serve_here: g.cannot_here,
            cannot_serve_elsewhere: g.cannot_elsewhere,
            pin_dormant: g.pin.as_ref().and_then(|p| p.dormant.clone()),
            pinned_to: g.pin.map(|p| p.node),
        })
        .collect();
    let peers = view
        .peers
        .into_iter()
        .map(|p| PeerStatus {
            name: p.name,
            address: Some(p.addr.to_string()),
            last_heard_seconds: Some(now.saturating_duration_since(p.last_heard).as_secs_f64()),
            incarnation: Some(p.incarnation),
            config_version: p.config_version,
            eligible: p.eligible,
            why_not: p.why_not,
            secret_index: p.secret_index,
            present: p.present,
        })
        .collect();
    Status {
        node: view.name,
        version: view.version,
        digest: hex(&view.digest),
        config_origin: match view.adopted_from {
            Some(peer) => format!("adopted from {peer}"),
            None => "file".to_string(),
        },
        mature: view.mature,
        active: view.active,
        reasons: view.reasons.iter().map(|r| r.to_string()).collect(),
        admin_reason: admin_reason(&view.drains),
        drains: view.drains,
        groups,
        peers,
        counters: metrics.counters(),
        waiting: view.waiting,
        strangers: view.strangers,
        // Filled in by the runtime, which holds the hooks.
        hooks_retrying: Vec::new(),
        conflicts: Vec::new(),
        nodes: node.cluster().nodes.clone(),
        protocols: view
            .other_protocols
            .iter()
            .map(|(addr, version)| format!("{addr} speaks protocol {version}"))
            .collect(),
        failback: match view.failback {
            Failback::Immediate => "immediate".into(),
            Failback::Manual => "manual".into(),
            Failback::After(d) => format!("{}s", d.as_secs_f64()),
        },
    }
}

/// `kernel upgrade; disk-guard: disk full`: the operator's drain (source
/// [`DEFAULT_SOURCE`]) as its reason alone, others prefixed with their source.
pub fn admin_reason(drains: &BTreeMap<String, String>) -> Option<String> {
    let parts: Vec<String> = drains
        .iter()
        .map(|(source, reason)| {
            if source == DEFAULT_SOURCE {
                reason.clone()
            } else {
                format!("{source}: {reason}")
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}
