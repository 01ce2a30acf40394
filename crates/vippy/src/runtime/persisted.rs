//! What survives a restart when `state_dir` is set: an adopted cluster
//! config, kept as its canonical text and loaded again at start
//! when it is newer than the file's; the last incarnation; and the
//! administrative drains.
//!
//! Reads happen at start, before the loop runs. Writes while running go
//! through [`persisted_writer`] (a thread of its own, in order, atomically), so
//! the loop never waits on the disk.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tracing::{error, warn};
use vippy_core::config::{Cluster, Config, load_cluster};

use super::persisted_writer::{self, write_atomically};

const FILE: &str = "adopted-cluster.json";
const INCARNATION: &str = "incarnation";
const DRAINS: &str = "drains.json";

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
    persisted_writer::queue(path, Some(text), "the adopted config");
}

/// This start's incarnation: the wall clock, but never at or below the one
/// kept in the state directory, so peers accept us even after the clock was
/// stepped back. Without a state directory, the clock alone.
pub fn next_incarnation(config: &Config, clock: u64) -> u64 {
    let Some(dir) = &config.state_dir else {
        return clock;
    };
    let path = dir.join(INCARNATION);
    let kept = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    let next = match kept {
        Some(kept) if kept >= clock => kept.saturating_add(1),
        _ => clock,
    };
    // At start, before anything is sent: on disk before this run uses it.
    if let Err(e) = write_atomically(&path, &format!("{next}\n")) {
        warn!("cannot keep the incarnation in {}: {e}", path.display());
    }
    next
}

/// Keeps an incarnation taken while running (see
/// [`vippy_core::node::Event::IncarnationBumped`]), so the next start is
/// above it even with the clock behind.
pub fn keep_incarnation(config: &Config, incarnation: u64) {
    let Some(dir) = &config.state_dir else {
        return;
    };
    let path = dir.join(INCARNATION);
    persisted_writer::queue(path, Some(format!("{incarnation}\n")), "the incarnation");
}

/// The drains the last run kept (reason by source), so that a node drained
/// for maintenance stays drained across a restart (a package upgrade, a
/// crash) until someone undrains it. An unreadable file is logged and
/// ignored: the node starts undrained rather than not at all.
pub fn load_drains(config: &Config) -> BTreeMap<String, String> {
    let Some(dir) = &config.state_dir else {
        return BTreeMap::new();
    };
    let path = dir.join(DRAINS);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => {
            error!(
                "cannot read the kept drains {}: {e}; starting undrained",
                path.display()
            );
            return BTreeMap::new();
        }
    };
    match serde_json::from_str::<BTreeMap<String, String>>(&text) {
        Ok(drains) => drains.into_iter().take(crate::api::MAX_DRAINS).collect(),
        Err(e) => {
            error!(
                "{}: {e}; expected {{\"SOURCE\": \"REASON\", …}}; starting undrained",
                path.display()
            );
            BTreeMap::new()
        }
    }
}

/// Keeps `drains` for the next start (no file when there are none); a
/// failure is logged, not fatal.
pub fn save_drains(config: &Config, drains: &BTreeMap<String, String>) {
    let Some(dir) = &config.state_dir else {
        return;
    };
    let path = dir.join(DRAINS);
    let text = (!drains.is_empty())
        .then(|| serde_json::to_string_pretty(drains).unwrap_or_default() + "\n");
    persisted_writer::queue(path, text, "the drains");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(dir: &std::path::Path) -> Config {
        let text = format!(
            "{{ chat: '239.1.1.1:5007', secret: 's', vips: [[{{ip: '198.51.100.1/24'}}]], nodes: ['a'], state_dir: '{}' }}",
            dir.display()
        );
        vippy_core::config::load(&text, "t").unwrap()
    }

    #[test]
    fn incarnation_grows_even_when_the_clock_goes_back() {
        let dir = std::env::temp_dir().join(format!("vippy-inc-{}", std::process::id()));
        let config = config_with(&dir);
        assert_eq!(next_incarnation(&config, 1_000), 1_000);
        assert_eq!(next_incarnation(&config, 5_000), 5_000);
        // The clock was stepped back: still above what peers last saw.
        assert_eq!(next_incarnation(&config, 2_000), 5_001);
        assert_eq!(next_incarnation(&config, 2_000), 5_002);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn drains_are_kept_and_a_bad_file_is_ignored() {
        let dir = std::env::temp_dir().join(format!("vippy-drains-{}", std::process::id()));
        let config = config_with(&dir);
        assert!(load_drains(&config).is_empty(), "none kept yet");
        let drains: BTreeMap<String, String> = [
            ("admin".to_string(), "kernel upgrade".to_string()),
            ("disk-guard".to_string(), "disk \"full\"".to_string()),
        ]
        .into();
        save_drains(&config, &drains);
        persisted_writer::flushed().blocking_recv().unwrap();
        assert_eq!(load_drains(&config), drains);
        save_drains(&config, &BTreeMap::new());
        persisted_writer::flushed().blocking_recv().unwrap();
        assert!(!dir.join(DRAINS).exists(), "no drains, no file");
        std::fs::write(dir.join(DRAINS), "{ not json").unwrap();
        assert!(load_drains(&config).is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }
}
