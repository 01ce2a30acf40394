//! What the lab test files share: the binaries under test, the root check,
//! and a node's status as JSON.

use vippy_lab::{Binaries, Cluster};

pub fn bins() -> Binaries {
    Binaries {
        vippyd: env!("CARGO_BIN_EXE_vippyd").into(),
        vippyctl: env!("CARGO_BIN_EXE_vippyctl").into(),
    }
}

/// Whether the lab can run here; says so when it cannot.
pub fn root() -> bool {
    let ok = vippy_lab::is_root();
    if !ok {
        eprintln!("skipped: the namespace lab needs root");
    }
    ok
}

/// `vippyctl status --json` of node `i`.
pub fn status(cluster: &Cluster, i: usize) -> serde_json::Value {
    let out = cluster
        .vippyctl(i, &["status", "--json"])
        .expect("vippyctl runs");
    assert!(
        out.status.success(),
        "vippyctl status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status is JSON")
}
