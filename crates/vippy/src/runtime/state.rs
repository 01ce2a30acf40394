//! An adopted cluster config survives a restart when `state_dir` is set
//! (DESIGN §3): it is kept as its canonical text, and loaded again at start
//! when it is newer than the file's.

use std::path::PathBuf;

use tracing::warn;
use vippy_core::config::{Cluster, Config, load_cluster};

const FILE: &str = "adopted-cluster.json";

fn path(config: &Config) -> Option<PathBuf> {
    config.state_dir.as_ref().map(|dir| dir.join(FILE))
}

/// The adopted config and the peer it came from, if one is kept and newer
/// than the file's.
pub fn load_adopted(config: &Config) -> Option<(Cluster, String)> {
    let path = path(config)?;
    let text = std::fs::read_to_string(&path).ok()?;
    let (from, body) = text.split_once('\n')?;
    let from = from.strip_prefix("# adopted from ")?.to_string();
    match load_cluster(body, &path.display().to_string()) {
        Ok(cluster) if cluster.version > config.cluster.version => Some((cluster, from)),
        Ok(_) => None,
        Err(e) => {
            warn!("ignoring the kept config: {e}");
            None
        }
    }
}

/// Keeps `cluster` (adopted from `from`); a failure is logged, not fatal.
pub fn save_adopted(config: &Config, cluster: &Cluster, from: &str) {
    let Some(path) = path(config) else {
        return;
    };
    let text = format!("# adopted from {from}\n{}", cluster.canonical_text());
    let tmp = path.with_extension("tmp");
    let written = std::fs::create_dir_all(path.parent().unwrap_or(&path))
        .and_then(|()| std::fs::write(&tmp, text))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        warn!("cannot keep the adopted config in {}: {e}", path.display());
    }
}
