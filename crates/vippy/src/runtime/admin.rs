//! Administrative drains (`POST /active`, `vippyctl drain`/`undrain`) fed
//! into the core, and the one-line answer the operator sees.

use std::time::Instant;

use tracing::info;
use vippy_core::config::Config;
use vippy_core::node::{LocalEvent, Node};

use super::persisted;
use super::snapshot::admin_reason;
use crate::api::MAX_DRAINS;

/// Applies the drains kept by the last run (see [`persisted::load_drains`]).
pub fn restore(node: &mut Node, config: &Config, now: Instant) {
    let name = node.name().to_owned();
    for (source, reason) in persisted::load_drains(config) {
        info!(node = %name, source = %source, "still drained, as before the restart: {reason}");
        let reason = Some(reason);
        let active = false;
        node.handle_local(
            now,
            LocalEvent::Admin {
                source,
                active,
                reason,
            },
        );
    }
}

/// Drains or undrains for `source`, or lifts every drain (`source: None`),
/// and keeps the drains in the state directory.
/// `Err` (HTTP 409) when a new source would pass [`MAX_DRAINS`].
pub fn set_active(
    node: &mut Node,
    config: &Config,
    source: Option<String>,
    active: bool,
    reason: Option<String>,
) -> Result<String, String> {
    let name = node.name().to_owned();
    let event = match source {
        None => {
            info!(node = %name, "administrative undrain of every source");
            LocalEvent::UndrainAll
        }
        Some(source) => {
            let drains = node.drains();
            if !active && !drains.contains_key(&source) && drains.len() >= MAX_DRAINS {
                return Err(format!(
                    "{MAX_DRAINS} sources drain this node already; undrain one first"
                ));
            }
            let text = reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let what = if active { "undrain" } else { "drain" };
            info!(node = %name, source = %source, "administrative {what}{text}");
            LocalEvent::Admin {
                source,
                active,
                reason,
            }
        }
    };
    node.handle_local(Instant::now(), event);
    persisted::save_drains(config, node.drains());
    if let Some(why) = admin_reason(node.drains()) {
        return Ok(format!("inactive (administrative: {why})"));
    }
    if node.reasons().is_empty() {
        return Ok("active".to_string());
    }
    let others: Vec<String> = node.reasons().iter().map(|r| r.to_string()).collect();
    Ok(format!("undrained; still inactive: {}", others.join(", ")))
}
