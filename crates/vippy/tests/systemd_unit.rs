//! The packaged unit and example configuration stay valid: the example
//! passes `--check-config`, and the unit has what vippyd relies on and
//! passes `systemd-analyze verify` where systemd-analyze is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn packaging(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../packaging")
        .join(rel)
}

fn unit_text() -> String {
    std::fs::read_to_string(packaging("systemd/vippyd.service")).unwrap()
}

#[test]
fn the_example_configuration_is_valid() {
    let summary =
        vippy::check_config::check_config(&packaging("vippy.conf.example"), Some("node1"))
            .unwrap_or_else(|e| panic!("vippy.conf.example: {e}"));
    assert!(summary.contains("4 groups"), "{summary}");
    let text = std::fs::read_to_string(packaging("vippy.conf.example")).unwrap();
    // Documentation addresses only, not the original README's 10.8.x: an
    // example copied as it is must not collide with a real network.
    assert!(!text.contains("10.8."), "the example uses 10.x addresses");
}

#[test]
fn the_unit_has_what_vippyd_relies_on() {
    let unit = unit_text();
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for want in [
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=10s",
        "ExecStart=/usr/sbin/vippyd -c /etc/vippy.conf $VIPPYD_OPTS",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
        "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ReadWritePaths=/run",
        "RuntimeDirectory=vippy",
        "StateDirectory=vippy",
        "ProtectKernelTunables=yes",
        // "realtime": SCHED_FIFO and mlockall without extra capabilities.
        "LimitRTPRIO=99",
        "LimitMEMLOCK=infinity",
        "RestrictRealtime=no",
        // promote_secondaries, which vippyd cannot write under ProtectKernelTunables.
        "ExecStartPre=+-/usr/sbin/sysctl -q -w net.ipv4.conf.all.promote_secondaries=1",
    ] {
        assert!(lines.contains(&want), "vippyd.service lacks {want}");
    }
    // The check before the signal: a bad file fails `systemctl reload`.
    let reloads: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("ExecReload="))
        .collect();
    assert_eq!(reloads.len(), 2);
    assert!(reloads[0].contains("--check-config"));
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no systemd-analyze");
        return;
    }
    // The unit as installed, but with the vippyd just built.
    let dir = std::env::temp_dir().join(format!("vippy-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unit = unit_text().replace("/usr/sbin/vippyd", env!("CARGO_BIN_EXE_vippyd"));
    let path = dir.join("vippyd.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}
