//! What a real vippyd tells systemd, read from a socket standing in for
//! systemd's notify socket: ready, a status line that follows what the node
//! holds, and a reload that ends with `READY=1` again (systemd otherwise
//! shows the unit "reloading" until its timeout and fails `systemctl reload`).

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use vippy_lab::{Cluster, ClusterSpec, Signal};

mod support;
use support::lab::bins;

/// Datagrams that reach `socket` within `wait`, until `enough` says so.
fn read_until(
    socket: &UnixDatagram,
    wait: Duration,
    enough: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !enough(&got) {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    got
}

#[test]
#[ignore = "needs root: network namespaces"]
fn reload_ends_with_ready_and_status_follows_holdings() {
    vippy_lab::need_root();
    let mut cluster = Cluster::build(ClusterSpec::ipv4(2, 2), bins()).expect("lab");
    let path = cluster.dir().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    cluster
        .start_env(0, &[], &[("NOTIFY_SOCKET", path.to_str().unwrap())])
        .unwrap();
    let got = read_until(&socket, Duration::from_secs(10), |g| {
        g.iter()
            .any(|m| m == "STATUS=holding 2 of 2 groups (node1)\n")
    });
    assert_eq!(
        got.first().map(String::as_str),
        Some("READY=1\n"),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|m| m == "STATUS=holding 2 of 2 groups (node1)\n"),
        "{got:?}\n{}",
        cluster.logs_tail()
    );

    cluster.signal(0, Signal::SIGHUP).unwrap();
    let got = read_until(&socket, Duration::from_secs(5), |g| {
        g.iter().any(|m| m == "READY=1\n")
    });
    let reloading = got.iter().position(|m| m.starts_with("RELOADING=1\n"));
    let ready = got.iter().position(|m| m == "READY=1\n");
    assert!(
        matches!((reloading, ready), (Some(r), Some(d)) if r < d),
        "RELOADING=1 then READY=1 expected: {got:?}"
    );

    // A second node takes its share: the status line follows.
    cluster.start(1).unwrap();
    let got = read_until(&socket, Duration::from_secs(10), |g| {
        g.iter()
            .any(|m| m == "STATUS=holding 1 of 2 groups (node1)\n")
    });
    assert!(
        got.iter()
            .any(|m| m == "STATUS=holding 1 of 2 groups (node1)\n"),
        "{got:?}\n{}",
        cluster.logs_tail()
    );
}
