//! The real vippyctl binary against the real API server.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::api::{Harness, TempDir, sample_status};
use tokio::io::AsyncBufReadExt;
use vippy::api::AdminKind;
use vippy::status::{Event, EventKind, Status};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn vippyctl(socket: &Path, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vippyctl"))
        .arg("-s")
        .arg(socket)
        .args(args)
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_the_original_layout() {
    let mut h = Harness::start().await;
    let run = vippyctl(&h.socket, &["status"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let want = [
        "State:  inactive",
        "Reason: administrative (kernel upgrade), check:http",
        "(*) node1: 198.51.100.195/24 (failback to node3 in 2.5s)",
        "    node2: 203.0.113.147/24 P(node2) (pinned to node2 by operator)",
        "    (unowned): 203.0.113.149/24 198.51.100.196/24 (pinned to node3 by operator; not in force: node3 never heard)",
        "Peers:",
        "  node2  eligible                   heard 0.4s ago  config 5, signs with secret 2",
        "  node3  not eligible: never heard  never heard     config ?",
        "Config: version 5 from file, digest 3f2a9c0d1e4b5a69",
    ];
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        want,
        "\n{}",
        run.stdout
    );

    h.status.send_modify(|s| {
        s.active = true;
        s.reasons.clear();
        s.admin_reason = None;
        s.config_origin = "adopted from node2".into();
        s.version = 6;
        s.peers.clear();
    });
    let run = vippyctl(&h.socket, &["status"]).await;
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "State:  active");
    assert_eq!(
        lines[1],
        "(*) node1: 198.51.100.195/24 (failback to node3 in 2.5s)"
    );
    assert_eq!(lines[4], "Peers:  none");
    assert_eq!(
        lines[5],
        "Config: version 6 adopted from node2, digest 3f2a9c0d1e4b5a69"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_is_the_daemons_status() {
    let mut h = Harness::start().await;
    let run = vippyctl(&h.socket, &["status", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status: Status = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status, sample_status());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_undrain_and_reload_reach_the_runtime() {
    let mut h = Harness::start().await;
    let run = vippyctl(&h.socket, &["drain", "--reason", "kernel upgrade"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "inactive (administrative: kernel upgrade)\n");
    let run = vippyctl(&h.socket, &["undrain"]).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, "active\n"));
    let run = vippyctl(&h.socket, &["drain"]).await;
    assert_eq!(run.code, 0);
    let run = vippyctl(&h.socket, &["reload"]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "reloaded: version 6\n")
    );

    h.reload_fails
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let run = vippyctl(&h.socket, &["reload"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "vippyctl: vippyd: /etc/vippy.conf:3:5: vips[0]: not an address\n"
    );

    assert_eq!(
        h.admin_requests(),
        vec![
            AdminKind::SetActive {
                source: "admin".into(),
                active: false,
                reason: Some("kernel upgrade".into())
            },
            AdminKind::SetActive {
                source: "admin".into(),
                active: true,
                reason: None
            },
            AdminKind::SetActive {
                source: "admin".into(),
                active: false,
                reason: None
            },
            AdminKind::Reload,
            AdminKind::Reload,
        ]
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_pins_by_index_or_address_and_clears() {
    let mut h = Harness::start().await;
    let run = vippyctl(&h.socket, &["move", "1", "node1"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "group 1: moving to node1, released first; pinned there\n"
    );
    let run = vippyctl(&h.socket, &["move", "198.51.100.196", "node2"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("group 2: moving to node2"),
        "{}",
        run.stdout
    );
    let run = vippyctl(&h.socket, &["move", "1", "--clear"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "group 1: pin to node2 cleared; normal placement\n"
    );

    // Refusals exit 1 with the daemon's reason.
    let run = vippyctl(&h.socket, &["move", "0", "node3"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "vippyctl: vippyd: node node3 is not eligible: never heard\n"
    );
    let run = vippyctl(&h.socket, &["move", "7", "node2"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no group 7"), "{}", run.stderr);
    let run = vippyctl(&h.socket, &["move", "0", "node9"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no node \"node9\""), "{}", run.stderr);
    // Usage errors never reach the daemon.
    for args in [
        &["move", "0"][..],
        &["move", "0", "node2", "--clear"],
        &["move"],
    ] {
        let run = vippyctl(&h.socket, args).await;
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
    }

    assert_eq!(
        h.admin_requests(),
        vec![
            AdminKind::Move {
                group: 1,
                node: Some("node1".into())
            },
            AdminKind::Move {
                group: 2,
                node: Some("node2".into())
            },
            AdminKind::Move {
                group: 1,
                node: None
            },
            AdminKind::Move {
                group: 0,
                node: Some("node3".into())
            },
        ]
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_daemon_is_explained() {
    let dir = TempDir::new("ctl");
    let socket = dir.join("vippy.socket");
    for command in [&["status"][..], &["drain"], &["reload"], &["watch"]] {
        let run = vippyctl(&socket, command).await;
        assert_eq!(run.code, 1, "{command:?}");
        assert_eq!(run.stdout, "");
        assert_eq!(
            run.stderr,
            format!(
                "vippyctl: cannot reach vippyd at {}: no such file (is vippyd running?)\n",
                socket.display()
            )
        );
    }
    // A socket nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let run = vippyctl(&socket, &["status"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .ends_with("connection refused (is vippyd running?)\n"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_1_and_help_exits_0() {
    let dir = TempDir::new("ctl");
    let socket = dir.join("vippy.socket");
    let run = vippyctl(&socket, &["frobnicate"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("frobnicate"), "{}", run.stderr);
    let run = vippyctl(&socket, &["--help"]).await;
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("drain"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_events_as_they_come() {
    let mut h = Harness::start().await;
    for json in [false, true] {
        let mut args = vec!["watch"];
        if json {
            args.push("--json");
        }
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vippyctl"))
            .arg("-s")
            .arg(&h.socket)
            .args(&args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        h.wait_for_subscribers(1).await;
        let mut event = Event::new(EventKind::NetworkDown, "node1")
            .group(1)
            .ips(["203.0.113.147/24"])
            .interface("eth0")
            .reason("released to preferred node2");
        event.time = 1_777_636_800.25;
        h.events.send(event.clone()).unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .unwrap();
        if json {
            assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), event);
        } else {
            assert_eq!(
                line,
                "2026-05-01T12:00:00.250Z network.down node1 group=1 ips=203.0.113.147/24 \
                 interface=eth0 reason=\"released to preferred node2\""
            );
        }
        child.kill().await.unwrap();
        support::api::eventually(10, "the watcher to go", || h.events.receiver_count() == 0).await;
    }

    // When the daemon stops, watch says so and exits 1.
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vippyctl"))
        .arg("-s")
        .arg(&h.socket)
        .arg("watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    h.wait_for_subscribers(1).await;
    h.stop().await;
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("watch ends")
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("closed the event stream"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
