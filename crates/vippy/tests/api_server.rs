//! The management API on a real unix socket, spoken to with real `curl
//! --unix-socket` and with vippy's own client.

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use std::sync::Arc;
use support::api::{Harness, TempDir, curl, curl_as, sample_status};

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use vippy::api::{AdminKind, AdminRequest, ApiError, ApiSocket, ApiState, MAX_CONNECTIONS};
use vippy::client::{Client, ClientError};
use vippy::metrics::Metrics;
use vippy::status::{Event, EventKind, Status};
use vippy_core::node::Rejection;

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_metrics_over_curl() {
    let mut h = Harness::start().await;
    let (code, body) = curl(&h.socket, &["http://localhost/status"]).await;
    assert_eq!(code, 200);
    let status: Status = serde_json::from_str(&body).unwrap();
    assert_eq!(status, sample_status());

    // A new snapshot is what the next request sees.
    h.status.send_modify(|s| s.active = true);
    let (_, body) = curl(&h.socket, &["http://localhost/status"]).await;
    assert_eq!(json(&body)["active"], true);

    h.metrics.heartbeat_sent();
    h.metrics.datagram_rejected(Rejection::Replay);
    let (code, body) = curl(&h.socket, &["-D", "-", "http://localhost/metrics"]).await;
    assert_eq!(code, 200);
    assert!(
        body.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{body}"
    );
    assert!(body.contains("# TYPE vippy_heartbeats_sent counter"));
    // Read from the status snapshot at the scrape: one series per VIP.
    assert!(body.contains("vippy_group_held{group=\"0\""), "{body}");
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
    assert!(body.contains("vippy_heartbeats_sent_total 1\n"));
    assert!(body.contains("vippy_datagrams_rejected_total{reason=\"replay\"} 1\n"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_reach_the_runtime() {
    let mut h = Harness::start().await;
    let (code, body) = curl(
        &h.socket,
        &[
            "-X",
            "POST",
            "-d",
            r#"{"active": false, "reason": "kernel upgrade"}"#,
            "http://localhost/active",
        ],
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let answer = json(&body);
    assert_eq!(answer["ok"], true);
    assert_eq!(
        answer["message"],
        "inactive (administrative: kernel upgrade)"
    );

    let (code, _) = curl(
        &h.socket,
        &["-d", r#"{"active": true}"#, "http://localhost/active"],
    )
    .await;
    assert_eq!(code, 200);
    for body in [
        r#"{"active": false, "source": "disk-guard", "reason": "disk full"}"#,
        r#"{"active": true, "all": true}"#,
    ] {
        let (code, answer) = curl(&h.socket, &["-d", body, "http://localhost/active"]).await;
        assert_eq!(code, 200, "{answer}");
    }
    let (code, body) = curl(&h.socket, &["-X", "POST", "http://localhost/reload"]).await;
    assert_eq!(code, 200);
    assert_eq!(json(&body)["message"], "reloaded: version 6");

    // The runtime refusing is a 409 with its message.
    h.reload_fails
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (code, body) = curl(&h.socket, &["-X", "POST", "http://localhost/reload"]).await;
    assert_eq!(code, 409);
    assert_eq!(
        json(&body)["error"],
        "/etc/vippy.conf:3:5: vips[0]: not an address"
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
                source: "disk-guard".into(),
                active: false,
                reason: Some("disk full".into())
            },
            AdminKind::UndrainAll,
            AdminKind::Reload,
            AdminKind::Reload,
        ]
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_names_groups_by_index_or_address() {
    let mut h = Harness::start().await;
    let ok = [
        (
            r#"{"group": 1, "node": "node2"}"#,
            "group 1: moving to node2",
        ),
        (
            r#"{"group": "203.0.113.149", "node": "node1"}"#,
            "group 2: moving to node1",
        ),
        (
            r#"{"group": "198.51.100.196/24", "clear": true}"#,
            "group 2: pin to node2 cleared",
        ),
    ];
    for (body, message) in ok {
        let (code, answer) = curl(&h.socket, &["-d", body, "http://localhost/move"]).await;
        assert_eq!(code, 200, "{body}: {answer}");
        let answer = json(&answer);
        assert_eq!(answer["ok"], true);
        assert!(
            answer["message"].as_str().unwrap().starts_with(message),
            "{answer}"
        );
    }
    let refused: &[(&str, u16, &str)] = &[
        (
            r#"{"group": 7, "node": "node2"}"#,
            404,
            "no group 7: the config has 3 groups",
        ),
        (
            r#"{"group": "203.0.113.99", "node": "node2"}"#,
            404,
            "no group has the address 203.0.113.99",
        ),
        (
            r#"{"group": 0, "node": "node9"}"#,
            404,
            "no node \"node9\" in the config's nodes (node1, node2, node3)",
        ),
        (
            r#"{"group": "web", "node": "node2"}"#,
            400,
            "bad \"group\" \"web\"",
        ),
        (r#"{"group": 0}"#, 400, "no \"node\" to move group 0 to"),
        (
            r#"{"group": 0, "node": "node2", "clear": true}"#,
            400,
            "not both",
        ),
        (
            r#"{"group": 0, "nodes": "node2"}"#,
            400,
            "unknown field `nodes`",
        ),
        (r#"{"node": "node2"}"#, 400, "missing field `group`"),
        (r#"{"group": -1, "node": "node2"}"#, 400, "bad JSON body"),
        // The runtime's refusal: a 409 with the core's reason.
        (
            r#"{"group": 0, "node": "node3"}"#,
            409,
            "node node3 is not eligible: never heard",
        ),
    ];
    for (body, code, message) in refused {
        let (got, answer) = curl(&h.socket, &["-d", body, "http://localhost/move"]).await;
        assert_eq!(got, *code, "{body}: {answer}");
        let error = json(&answer)["error"].as_str().unwrap().to_string();
        assert!(error.contains(message), "{body}: {error}");
    }
    assert_eq!(
        h.admin_requests(),
        vec![
            AdminKind::Move {
                group: 1,
                node: Some("node2".into())
            },
            AdminKind::Move {
                group: 2,
                node: Some("node1".into())
            },
            AdminKind::Move {
                group: 2,
                node: None
            },
            AdminKind::Move {
                group: 0,
                node: Some("node3".into())
            },
        ]
    );
    // Status shows the pins.
    let (_, body) = curl(&h.socket, &["http://localhost/status"]).await;
    let status = json(&body);
    assert_eq!(status["groups"][1]["pinned_to"], "node2");
    assert_eq!(status["groups"][2]["pin_dormant"], "never heard");
    assert_eq!(status["nodes"][2], "node3");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json() {
    let mut h = Harness::start().await;
    let cases: &[(&[&str], u16, &str)] = &[
        (&["http://localhost/nope"], 404, "no such endpoint: /nope"),
        (&["http://localhost/"], 404, "no such endpoint: /"),
        (
            &["-X", "POST", "http://localhost/status"],
            405,
            "POST is not allowed on /status",
        ),
        (
            &["-X", "DELETE", "http://localhost/metrics"],
            405,
            "DELETE is not allowed",
        ),
        (
            &["http://localhost/active"],
            405,
            "GET is not allowed on /active",
        ),
        (
            &["-d", "{not json", "http://localhost/active"],
            400,
            "bad JSON body",
        ),
        (
            &["-X", "POST", "http://localhost/active"],
            400,
            "bad JSON body",
        ),
        (
            &["-d", r#"{"activ": false}"#, "http://localhost/active"],
            400,
            "unknown field `activ`",
        ),
        (
            &["-d", r#"{"active": "no"}"#, "http://localhost/active"],
            400,
            "bad JSON body",
        ),
        (
            &[
                "-d",
                r#"{"active": false, "source": "a b"}"#,
                "http://localhost/active",
            ],
            400,
            "bad \"source\" \"a b\"",
        ),
        (
            &[
                "-d",
                r#"{"active": false, "source": ""}"#,
                "http://localhost/active",
            ],
            400,
            "bad \"source\"",
        ),
        (
            &[
                "-d",
                r#"{"active": false, "all": true}"#,
                "http://localhost/active",
            ],
            400,
            "\"all\" lifts every drain",
        ),
        (
            &[
                "-d",
                r#"{"active": true, "all": true, "source": "x"}"#,
                "http://localhost/active",
            ],
            400,
            "\"all\" lifts every drain",
        ),
    ];
    for (args, want_code, want_text) in cases {
        let (code, body) = curl(&h.socket, args).await;
        assert_eq!(code, *want_code, "{args:?}: {body}");
        let error = json(&body)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            error.contains(want_text),
            "{args:?}: {error:?} lacks {want_text:?}"
        );
    }
    assert!(
        h.admin_requests().is_empty(),
        "a bad request reached the runtime"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_over_curl() {
    let mut h = Harness::start().await;
    let mut child = tokio::process::Command::new("curl")
        .args(["-sN", "--unix-socket"])
        .arg(&h.socket)
        .arg("http://localhost/events")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    h.wait_for_subscribers(1).await;
    let sent = vec![
        Event::new(EventKind::IntentUp, "node1")
            .group(0)
            .ips(["198.51.100.195/24"])
            .reason("peer node2 stale"),
        Event::new(EventKind::NetworkUp, "node1")
            .group(0)
            .ips(["198.51.100.195/24"])
            .interface("eth0"),
        Event::new(EventKind::State, "node1").detail("active"),
    ];
    for event in &sent {
        h.events.send(event.clone()).unwrap();
    }
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    for want in &sent {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("event line in time")
            .unwrap()
            .expect("stream open");
        assert_eq!(&serde_json::from_str::<Event>(&line).unwrap(), want);
        assert!(!line.contains("null"), "absent fields are skipped: {line}");
    }
    // Shutdown ends the stream, so curl exits by itself.
    h.stop().await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("curl ends when the server stops")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_never_holds_up_events() {
    // A small buffer so the stuck client falls behind quickly.
    let mut h = Harness::start_with(0o600, 16).await;
    let mut stuck = UnixStream::connect(&h.socket).unwrap();
    stuck
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    h.wait_for_subscribers(1).await;
    let client = Client::new(&h.socket);
    let mut live = client.events().await.unwrap();
    h.wait_for_subscribers(2).await;

    // Far more than the socket buffers hold: the stuck client's writer
    // blocks, the publisher never does, and a live client keeps up (it
    // reads each batch, smaller than the buffer, before the next is sent).
    let big = "x".repeat(1000);
    for round in 0..1250u64 {
        for i in 0..8u64 {
            let n = round * 8 + i;
            h.events
                .send(Event::new(EventKind::Peer, "node2").detail(format!("{n} {big}")))
                .unwrap();
        }
        for i in 0..8u64 {
            let n = round * 8 + i;
            let event = tokio::time::timeout(Duration::from_secs(10), live.next_event())
                .await
                .expect("live client keeps receiving")
                .unwrap()
                .unwrap();
            assert_eq!(event.detail.unwrap(), format!("{n} {big}"));
        }
    }
    let (code, _) = curl(&h.socket, &["http://localhost/status"]).await;
    assert_eq!(code, 200);

    // The stuck client, once it reads, is told what it missed.
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let found = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 65536];
        while !String::from_utf8_lossy(&seen).contains("\"kind\":\"lagged\"") {
            let n = stuck.read(&mut buf).expect("stuck client reads");
            assert!(n > 0, "stream ended before a lagged line");
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    })
    .await
    .unwrap();
    let lagged = found
        .lines()
        .find(|l| l.contains("\"kind\":\"lagged\""))
        .unwrap();
    let event: Event = serde_json::from_str(lagged).unwrap();
    assert_eq!(event.kind, EventKind::Lagged);
    assert!(event.missed.unwrap() > 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_client_speaks_every_endpoint() {
    let mut h = Harness::start().await;
    let client = Client::new(&h.socket);
    assert_eq!(client.status().await.unwrap(), sample_status());
    assert!(
        client
            .metrics()
            .await
            .unwrap()
            .contains("vippy_node_active 0")
    );
    assert_eq!(
        client
            .set_active(false, Some("maintenance"), None)
            .await
            .unwrap(),
        "inactive (administrative: maintenance)"
    );
    assert_eq!(client.reload().await.unwrap(), "reloaded: version 6");
    let mut events = client.events().await.unwrap();
    h.wait_for_subscribers(1).await;
    let event = Event::new(EventKind::Check, "node1")
        .reason("check:http")
        .detail("failing");
    h.events.send(event.clone()).unwrap();
    assert_eq!(events.next_event().await.unwrap().unwrap(), event);
    h.stop().await;
    assert!(
        events.next_event().await.unwrap().is_none(),
        "stream ends at shutdown"
    );
}

fn mode_of(path: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_is_0600_by_default_and_configurable() {
    let mut h = Harness::start().await;
    assert_eq!(mode_of(&h.socket), 0o600);
    h.stop().await;
    assert!(!h.socket.exists(), "socket removed on shutdown");

    let mut h = Harness::start_with(0o660, 16).await;
    assert_eq!(mode_of(&h.socket), 0o660);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mode_change_applies_to_our_socket_only() {
    let dir = TempDir::new("chmod");
    let path = dir.join("vippy.socket");
    let socket = ApiSocket::bind(&path, 0o600).unwrap();
    let file = socket.file();
    file.set_mode(0o660).unwrap();
    assert_eq!(mode_of(&path), 0o660);
    file.set_mode(0o600).unwrap();
    assert_eq!(mode_of(&path), 0o600);

    // Another socket in its place is left alone (made while ours exists,
    // so that it cannot reuse our inode).
    let elsewhere = dir.join("other.socket");
    let other = UnixListener::bind(&elsewhere).unwrap();
    drop(socket);
    std::fs::rename(&elsewhere, &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = file.set_mode(0o666).unwrap_err().to_string();
    assert!(
        err.contains("no longer the socket this vippyd created"),
        "{err}"
    );
    assert_eq!(mode_of(&path), 0o640);
    drop(other);
}

/// What a reload that moves the management socket does (runtime/mod.rs,
/// `LoopState::reload`): bind the new socket, serve it with the same state,
/// stop the old one, and only then answer the `POST /reload` that came over
/// the old one. The answer still arrives; then only the new path answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_moves_the_socket_is_answered_over_the_old_one() {
    let dir = TempDir::new("move");
    let old_path = dir.join("old.socket");
    let new_path = dir.join("new.socket");
    let (_status, status_rx) = watch::channel(sample_status());
    let (events, _) = broadcast::channel(16);
    let (admin_tx, mut admin_rx) = mpsc::channel::<AdminRequest>(8);
    let state = ApiState::new(status_rx, Arc::new(Metrics::new()), admin_tx, events);
    let old_stop = CancellationToken::new();
    let serving = old_stop.clone();
    let old_task = tokio::spawn(
        ApiSocket::bind(&old_path, 0o600)
            .unwrap()
            .serve(state.clone(), async move { serving.cancelled().await }),
    );
    let new_stop = CancellationToken::new();
    let runtime = {
        let (state, new_path, new_stop) = (state.clone(), new_path.clone(), new_stop.clone());
        tokio::spawn(async move {
            let request = admin_rx.recv().await.unwrap();
            assert!(matches!(request.kind, AdminKind::Reload));
            let socket = ApiSocket::bind(&new_path, 0o600).unwrap();
            let serving = new_stop.clone();
            tokio::spawn(socket.serve(state, async move { serving.cancelled().await }));
            old_stop.cancel();
            // The old listener is closing by now: the answer must still go.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = request.reply.send(Ok("reloaded: socket moved".to_string()));
            admin_rx
        })
    };
    let (code, body) = curl(&old_path, &["-X", "POST", "http://localhost/reload"]).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["message"], "reloaded: socket moved", "{body}");
    let _admin_rx = runtime.await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), old_task)
        .await
        .expect("the old server ends")
        .unwrap();
    assert!(!old_path.exists(), "the old socket is removed");
    let (code, _) = curl(&new_path, &["http://localhost/status"]).await;
    assert_eq!(code, 200);
    new_stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_socket_is_replaced() {
    let dir = TempDir::new("stale");
    let path = dir.join("vippy.socket");
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "a dead daemon's socket stays behind");
    let socket = ApiSocket::bind(&path, 0o600).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    drop(socket);
    assert!(!path.exists(), "dropping the socket removes the file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_not_a_socket_is_left_alone() {
    let dir = TempDir::new("notsock");
    let path = dir.join("vippy.socket");
    std::fs::write(&path, "precious\n").unwrap();
    let err = ApiSocket::bind(&path, 0o600).unwrap_err();
    assert!(matches!(err, ApiError::NotASocket { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("a regular file, not a socket"), "{text}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");

    let sub = dir.join("a-dir");
    std::fs::create_dir(&sub).unwrap();
    let err = ApiSocket::bind(&sub, 0o600).unwrap_err();
    assert!(
        err.to_string().contains("a directory, not a socket"),
        "{err}"
    );
    assert!(sub.is_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_socket_is_not_stolen() {
    let h = Harness::start().await;
    let inode = std::fs::symlink_metadata(&h.socket).unwrap().ino();
    let err = ApiSocket::bind(&h.socket, 0o600).unwrap_err();
    assert!(matches!(err, ApiError::AlreadyListening { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("another vippyd is listening on "),
        "{err}"
    );
    assert_eq!(std::fs::symlink_metadata(&h.socket).unwrap().ino(), inode);
    let (code, _) = curl(&h.socket, &["http://localhost/status"]).await;
    assert_eq!(code, 200, "the first server still answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: runs curl as another user"]
async fn another_user_is_refused_even_on_a_world_writable_socket() {
    vippy_lab::need_root();
    let mut h = Harness::start().await;
    std::fs::set_permissions(&h.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let nobody = Some(65534);
    let (code, body) = curl_as(
        nobody,
        &h.socket,
        &["-d", r#"{"active": false}"#, "http://localhost/active"],
    )
    .await;
    assert_eq!(code, 403, "{body}");
    let error = json(&body)["error"].as_str().unwrap().to_string();
    assert!(error.starts_with("permission denied: uid 65534"), "{error}");
    let (code, body) = curl_as(nobody, &h.socket, &["http://localhost/status"]).await;
    assert_eq!(code, 403);
    assert!(!body.contains("node1"), "nothing leaks: {body}");
    assert!(
        h.admin_requests().is_empty(),
        "the refused request reached the runtime"
    );

    // Root still gets in.
    let (code, _) = curl(&h.socket, &["http://localhost/status"]).await;
    assert_eq!(code, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: runs curl as another user"]
async fn the_sockets_group_gets_in_when_the_mode_allows_it() {
    vippy_lab::need_root();
    let mut h = Harness::start().await;
    // management_mode "0660" and the socket's group is nobody's (65534).
    std::os::unix::fs::chown(&h.socket, None, Some(65534)).unwrap();
    std::fs::set_permissions(&h.socket, std::fs::Permissions::from_mode(0o660)).unwrap();
    if let Some(dir) = h.socket.parent() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (code, body) = curl_as(Some(65534), &h.socket, &["http://localhost/status"]).await;
    assert_eq!(code, 200, "{body}");
    // Group read and write taken away: the kernel already refuses the
    // connection (curl reports no HTTP status), and so would the daemon.
    std::fs::set_permissions(&h.socket, std::fs::Permissions::from_mode(0o606)).unwrap();
    let (code, _) = curl_as(Some(65534), &h.socket, &["http://localhost/status"]).await;
    assert_ne!(code, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_says_so_to_clients() {
    let mut h = Harness::start().await;
    h.stop().await;
    let err = Client::new(&h.socket).status().await.unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("no such file (is vippyd running?)"),
        "{err}"
    );
}

/// Local clients cannot use up vippyd's file descriptors: beyond
/// `MAX_CONNECTIONS` open connections a new one is closed at once, and
/// service resumes as soon as some close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let mut h = Harness::start().await;
    let idle: Vec<UnixStream> = (0..MAX_CONNECTIONS)
        .map(|_| UnixStream::connect(&h.socket).unwrap())
        .collect();
    // Accepted in order: the idle ones hold every slot when curl comes.
    let (code, _) = curl(&h.socket, &["http://localhost/status"]).await;
    assert_eq!(code, 0, "closed without an answer");
    drop(idle);
    let mut code = 0;
    for _ in 0..100 {
        (code, _) = curl(&h.socket, &["http://localhost/status"]).await;
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(code, 200, "served again once the idle connections closed");
    h.stop().await;
}
