//! `vippyd --check-config`: validate a file the way the daemon would load
//! it, like `keepalived -t`, without starting anything.

use std::path::Path;

use vippy_core::config::{self, Config, Secret};
use vippy_core::node::SecretBytes;

/// Reads and validates `path`; with `node`, also checks that the node is in
/// the file. Returns the summary to print, or every error found.
pub fn check_config(path: &Path, node: Option<&str>) -> Result<String, String> {
    let config = read_config(path)?;
    if let Some(node) = node {
        node_in_config(&config, node)?;
    }
    secrets_bytes(&config)?;
    Ok(config::summary(&config, node))
}

/// Largest config file accepted; a 4096-group file is well under 1 MiB.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Reads and validates a configuration file.
pub fn read_config(path: &Path) -> Result<Config, String> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "{shown}: {} bytes is too large for a configuration file",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    config::load(&text, &shown).map_err(|e| e.to_string())
}

/// A clear error naming the known nodes when `node` is not one of them.
pub fn node_in_config(config: &Config, node: &str) -> Result<(), String> {
    if config.cluster.node_index(node).is_none() {
        return Err(format!(
            "{}: node \"{node}\" is not in \"nodes\" ({}); pass the right name with -n NODE",
            config.source,
            config.cluster.nodes.join(", ")
        ));
    }
    peers_cover_nodes(config, node)
}

/// In unicast mode a node that is not in `peers` is never sent to: it
/// would hear nobody's heartbeats and take every group beside its peers.
pub fn peers_cover_nodes(config: &Config, node: &str) -> Result<(), String> {
    if config.peers.is_empty() {
        return Ok(());
    }
    let missing: Vec<&str> = config
        .cluster
        .nodes
        .iter()
        .filter(|n| n.as_str() != node && !config.peers.contains_key(n.as_str()))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: peers: no address for {} (unicast chat must name every node but this one)",
        config.source,
        missing.join(", ")
    ))
}

/// The secrets' bytes in order (the first signs), reading each file that
/// holds one. Errors never include a secret itself.
pub fn secrets_bytes(config: &Config) -> Result<Vec<SecretBytes>, String> {
    let mut out = Vec::with_capacity(config.secrets.len());
    for secret in &config.secrets {
        let bytes = secret_bytes(config, secret)?;
        if out.iter().any(|s: &SecretBytes| s.0 == bytes) {
            return Err(format!(
                "{}: secrets: two entries hold the same secret",
                config.source
            ));
        }
        out.push(SecretBytes(bytes));
    }
    Ok(out)
}

fn secret_bytes(config: &Config, secret: &Secret) -> Result<Vec<u8>, String> {
    match secret {
        Secret::Inline(s) => Ok(s.as_bytes().to_vec()),
        Secret::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                format!(
                    "{}: secret file {}: cannot read: {e}",
                    config.source,
                    path.display()
                )
            })?;
            // A trailing newline from an editor is not part of the secret.
            let trimmed = bytes.trim_ascii_end().to_vec();
            if trimmed.is_empty() {
                return Err(format!(
                    "{}: secret file {}: is empty",
                    config.source,
                    path.display()
                ));
            }
            Ok(trimmed)
        }
    }
}
