//! Removing what earlier lab runs left behind (a test killed by a signal, a
//! panic with `panic = "abort"`, a `kill -9`).
//!
//! Every lab name is `{family}{pid}-{seq}-{role}` (and the lab's directory
//! `{tmp}/{family}{pid}-{seq}`), where `pid` is the process that built it. A
//! sweep removes only namespaces and directories of the family whose process
//! is gone, so labs of other test processes running at the same time are
//! left alone. A reused pid only delays a sweep; it never removes a live lab.

use std::path::Path;

use crate::netns::{netns_delete, netns_list};

/// The family of names the lab uses unless told otherwise.
pub const DEFAULT_FAMILY: &str = "vl-";

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub namespaces: Vec<String>,
    pub dirs: Vec<String>,
}

/// Removes leftover namespaces (killing any process still inside) and
/// directories of the `family` whose owning process has exited.
pub fn sweep(family: &str) -> Swept {
    let mut swept = Swept::default();
    // Hosts before switches: deleting a host namespace removes its veth end
    // and with it the peer on the bridge.
    let mut stale: Vec<String> = netns_list()
        .into_iter()
        .filter(|name| is_stale(name, family))
        .collect();
    stale.sort_by_key(|name| name.ends_with("-sw"));
    for name in stale {
        if netns_delete(&name).is_ok() {
            swept.namespaces.push(name);
        }
    }
    if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in dir.filter_map(|e| e.ok()) {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if is_stale(&name, family) && std::fs::remove_dir_all(entry.path()).is_ok() {
                swept.dirs.push(name);
            }
        }
    }
    swept
}

/// The pid that built a lab, from one of its names.
pub fn owner_pid(name: &str, family: &str) -> Option<u32> {
    let rest = name.strip_prefix(family)?;
    let digits = rest.split('-').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn is_stale(name: &str, family: &str) -> bool {
    match owner_pid(name, family) {
        Some(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_reads_the_number_after_the_family() {
        assert_eq!(owner_pid("vl-1234-0-n1", "vl-"), Some(1234));
        assert_eq!(owner_pid("vl-1234-7", "vl-"), Some(1234));
        assert_eq!(owner_pid("vlt-1234-0-sw", "vl-"), None);
        assert_eq!(owner_pid("vl-abc-0-sw", "vl-"), None);
        assert_eq!(owner_pid("vl--0-sw", "vl-"), None);
        assert_eq!(owner_pid("other", "vl-"), None);
    }

    #[test]
    fn a_live_owner_is_not_stale() {
        let me = std::process::id();
        assert!(!is_stale(&format!("vl-{me}-0-n1"), "vl-"));
    }
}
