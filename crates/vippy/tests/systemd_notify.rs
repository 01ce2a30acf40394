//! sd_notify messages, read from a socket standing in for systemd's.
//!
//! `NOTIFY_SOCKET` and `WATCHDOG_USEC` are process environment, which a test
//! must not change while other tests run. So each test here runs one of the
//! `#[ignore]`d `child_*` tests below in a fresh process of this binary with
//! the environment it needs, and reads what arrives.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vippy::systemd;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("vippy-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the child test `name` with `env`, returning the datagrams that
/// reached the notify socket.
fn run_child(name: &str, env: &[(&str, &str)], with_socket: bool) -> Vec<String> {
    let dir = TempDir::new(name);
    let path = dir.0.join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--ignored", "--test-threads=1"])
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env("VIPPY_SYSTEMD_CHILD", "1");
    if with_socket {
        cmd.env("NOTIFY_SOCKET", &path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "child {name} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The child really ran (a filter matching nothing also succeeds).
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 passed"), "{stdout}");
    socket.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    got
}

#[test]
fn ready_status_reloading_stopping_and_watchdog_pings_arrive() {
    // A 200 ms watchdog: pings every 100 ms.
    let got = run_child("child_notifies", &[("WATCHDOG_USEC", "200000")], true);
    assert_eq!(got[0], "READY=1\n");
    assert_eq!(got[1], "STATUS=holding 2 of 4 groups (node1)\n");
    let (reloading, stamp) = got[2].split_once('\n').unwrap();
    assert_eq!(reloading, "RELOADING=1");
    let usec = stamp
        .strip_prefix("MONOTONIC_USEC=")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap();
    assert!(usec.parse::<u64>().unwrap() > 0);
    assert_eq!(got[3], "READY=1\n");
    assert_eq!(got[4], "STOPPING=1\n");
    let pings = &got[5..];
    // 350 ms of pings at 100 ms, the first at once: 4, give or take a
    // slow machine.
    assert!(pings.len() >= 2, "{got:?}");
    assert!(pings.iter().all(|p| p == "WATCHDOG=1\n"), "{got:?}");
}

#[test]
fn no_watchdog_ping_while_a_loop_makes_no_progress() {
    let got = run_child("child_stalled", &[("WATCHDOG_USEC", "200000")], true);
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn nothing_is_sent_and_nothing_fails_without_notify_socket() {
    let got = run_child("child_without_systemd", &[], false);
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn a_watchdog_meant_for_another_process_is_not_ours() {
    let got = run_child(
        "child_foreign_watchdog",
        &[("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")],
        true,
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
#[ignore = "run by no_watchdog_ping_while_a_loop_makes_no_progress"]
fn child_stalled() {
    if !in_child() {
        return;
    }
    // A loop that never beats, allowed no silence at all.
    run_watchdog(Duration::ZERO);
}

/// Runs the watchdog for 350 ms over one loop that beat once, at the start.
fn run_watchdog(max_silence: Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        let beats = vec![("test loop", systemd::Beat::new())];
        let task =
            systemd::spawn_watchdog(cancel.clone(), beats, max_silence).expect("a watchdog task");
        tokio::time::sleep(Duration::from_millis(350)).await;
        cancel.cancel();
        task.await.unwrap();
    });
}

fn in_child() -> bool {
    std::env::var_os("VIPPY_SYSTEMD_CHILD").is_some()
}

#[test]
#[ignore = "run by ready_status_reloading_stopping_and_watchdog_pings_arrive"]
fn child_notifies() {
    if !in_child() {
        return; // only meaningful in the environment its parent sets
    }
    assert_eq!(
        systemd::watchdog_interval(),
        Some(Duration::from_millis(100))
    );
    systemd::notify_ready().unwrap();
    systemd::notify_status("holding 2 of 4 groups\n(node1)").unwrap();
    systemd::notify_reloading().unwrap();
    systemd::notify_ready().unwrap();
    systemd::notify_stopping().unwrap();
    run_watchdog(Duration::from_secs(3600));
}

#[test]
#[ignore = "run by nothing_is_sent_and_nothing_fails_without_notify_socket"]
fn child_without_systemd() {
    if !in_child() {
        return; // only meaningful in the environment its parent sets
    }
    systemd::notify_ready().unwrap();
    systemd::notify_status("x").unwrap();
    systemd::notify_reloading().unwrap();
    systemd::notify_stopping().unwrap();
    assert_eq!(systemd::watchdog_interval(), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert!(
            systemd::spawn_watchdog(CancellationToken::new(), vec![], Duration::ZERO).is_none()
        );
    });
}

#[test]
#[ignore = "run by a_watchdog_meant_for_another_process_is_not_ours"]
fn child_foreign_watchdog() {
    if !in_child() {
        return; // only meaningful in the environment its parent sets
    }
    assert_eq!(systemd::watchdog_interval(), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert!(
            systemd::spawn_watchdog(CancellationToken::new(), vec![], Duration::ZERO).is_none()
        );
    });
}
