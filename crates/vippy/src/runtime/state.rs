//! An adopted cluster config survives a restart when `state_dir` is set
//! (DESIGN §3): it is kept as its canonical text, and loaded again at start
//! when it is newer than the file's.

use std::path::PathBuf;

use tracing::warn;
use vippy_core::config::{Cluster, Config, load_cluster};

const FILE: &str = "adopted-cluster.json";
const INCARNATION: &str = "incarnation";

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
    let written =
        std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, format!("{next}\n")));
    if let Err(e) = written {
        warn!("cannot keep the incarnation in {}: {e}", path.display());
    }
    next
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
}
