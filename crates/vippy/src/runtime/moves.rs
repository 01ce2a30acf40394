//! Planned moves (`POST /move`, `vippyctl move`) fed into the core, and the
//! one-line answer the operator sees. Pins are cluster state, gossiped by
//! the core, and kept in memory only: they survive any restart while one
//! node stays up, and not a restart of the whole cluster.

use std::time::Instant;

use tracing::info;
use vippy_core::node::Node;

/// Pins `group` to `to`, or clears its pin (`to: None`). `Err` (HTTP 409)
/// with the core's reason when it is refused.
pub fn move_group(node: &mut Node, group: usize, to: Option<String>) -> Result<String, String> {
    let name = node.name().to_owned();
    let now = Instant::now();
    let Some(to) = to else {
        return match node.unpin(now, group) {
            Ok(Some(was)) => {
                info!(node = %name, group, "operator cleared the pin of group {group} (to {was}): normal placement");
                Ok(format!(
                    "group {group}: pin to {was} cleared; normal placement"
                ))
            }
            Ok(None) => Ok(format!("group {group} was not pinned; nothing to clear")),
            Err(e) => Err(e.to_string()),
        };
    };
    match node.pin(now, group, &to) {
        Ok(pinned) => {
            let replaced = pinned
                .replaced
                .map(|r| format!(" (instead of {r})"))
                .unwrap_or_default();
            info!(node = %name, group, "operator pinned group {group} to {to}{replaced}");
            Ok(if pinned.already_there {
                format!("group {group} is on {to} already; pinned there{replaced}")
            } else {
                format!("group {group}: moving to {to}, released first; pinned there{replaced}")
            })
        }
        Err(e) => Err(e.to_string()),
    }
}
