//! A log daemon that stops reading never stops whoever logs: lines wait in
//! a bounded queue for the writer thread, and beyond it they are dropped
//! and counted.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::logging::*;
use tracing::info;
use vippy::logging::{self, QUEUE_LINES};
use vippy_core::config::{Facility, LevelMask, LogDriver};

/// How many datagrams a unix socket queues before a sender blocks.
fn max_dgram_qlen() -> u64 {
    std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(512)
}

#[test]
fn a_syslog_socket_nobody_reads_drops_lines_instead_of_blocking() {
    let dir = TempDir::new("queue");
    let daemon = listen(&dir, "log");
    let out = Captured::default();
    let config = logging(
        LogDriver::Syslog,
        Facility::Daemon,
        LevelMask::default_mask(),
    );
    let (dispatch, init) = logging::dispatch(&config, "node1", sinks(&out, &dir));
    assert_eq!(init.driver, LogDriver::Syslog);
    let extra = 1000;
    let lines = QUEUE_LINES + extra;

    // Logged from another thread, so a logger that blocked fails the test
    // instead of hanging it.
    let (done_tx, done) = mpsc::channel();
    let logger = dispatch.clone();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&logger, || {
            for i in 0..lines {
                info!(target: T, line = i, "busy");
            }
        });
        let _ = done_tx.send(());
    });
    done.recv_timeout(Duration::from_secs(60))
        .expect("logging returned although nobody reads the syslog socket");

    // At most the queue, the socket's own queue (the kernel takes one more
    // than max_dgram_qlen) and the one datagram the writer is blocked on got
    // through; the rest were dropped and counted.
    let absorbed = QUEUE_LINES as u64 + max_dgram_qlen() + 2;
    let dropped = init.handle.dropped();
    assert!(
        dropped >= lines as u64 - absorbed,
        "{dropped} of {lines} lines dropped"
    );
    assert!(dropped < lines as u64, "every line was dropped");
    assert!(logging::dropped_total() >= dropped);
    assert!(out.text().is_empty(), "nothing went to the console");

    // The daemon reads again: the writer catches up, and a new line arrives
    // after the queued ones.
    daemon
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let mut received = 0u64;
    let mut last = String::new();
    // Read what was queued (the writer drains into the socket as we read)
    // until it is quiet, then log one more line and read until it arrives.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match daemon.recv(&mut buf) {
            Ok(n) => {
                received += 1;
                last = String::from_utf8_lossy(&buf[..n]).into_owned();
            }
            // Quiet, and the writer has nothing left: all is read.
            Err(_) if init.handle.flush(Duration::from_millis(10)) => break,
            Err(_) => assert!(
                std::time::Instant::now() < deadline,
                "the writer never caught up"
            ),
        }
    }
    tracing::dispatcher::with_default(&dispatch, || info!(target: T, "caught up"));
    while !last.ends_with("caught up node=node1") && std::time::Instant::now() < deadline {
        if let Ok(n) = daemon.recv(&mut buf) {
            received += 1;
            last = String::from_utf8_lossy(&buf[..n]).into_owned();
        }
    }
    assert!(init.handle.flush(Duration::from_secs(10)));
    // A line the writer failed to send is counted when it fails: read the
    // count again now that it is done.
    let dropped = init.handle.dropped();
    assert_eq!(
        received + dropped,
        lines as u64 + 1,
        "each line written or counted"
    );
    assert!(last.ends_with("caught up node=node1"), "{last}");
}

#[test]
fn a_full_queue_still_takes_a_new_driver_in_order() {
    let dir = TempDir::new("queue");
    let out = Captured::default();
    let console = logging(
        LogDriver::Console,
        Facility::Daemon,
        LevelMask::default_mask(),
    );
    let (dispatch, init) = logging::dispatch(&console, "node1", sinks(&out, &dir));
    let journal = listen(&dir, "journal");
    tracing::dispatcher::with_default(&dispatch, || {
        info!(target: T, "to the console");
        let (driver, _) = init.handle.reconfigure(&logging(
            LogDriver::Journald,
            Facility::Daemon,
            LevelMask::default_mask(),
        ));
        assert_eq!(driver, LogDriver::Journald);
        info!(target: T, "to the journal");
    });
    written(&init);
    assert_eq!(out.lines().len(), 1, "{:?}", out.lines());
    assert!(out.text().contains("to the console"));
    let got = String::from_utf8(recv(&journal)).unwrap();
    assert!(got.contains("MESSAGE=to the journal\n"), "{got}");
}
