//! A log daemon that stops reading does not stop vippyd: a real vippyd
//! logs to a syslog socket (or a journald stand-in) that is read until the
//! cluster settles and then never again, so its buffer fills and the log
//! writer blocks. Seen from the peer, for ten times `stale`: the node never
//! goes stale and its group never moves (the peer's own addresses, watched
//! with `ip monitor address`, and its status); and systemd's watchdog,
//! a socket standing in for `NOTIFY_SOCKET`, keeps getting pings.

use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vippy_lab::{Cluster, ClusterSpec};

mod support;
use support::lab::{address_monitor, bins, status};

/// A datagram socket that is read (and counted) until `stop`, then kept
/// open and never read again.
struct Reader {
    reading: Arc<AtomicBool>,
    thread: JoinHandle<(UnixDatagram, u64)>,
}

impl Reader {
    fn spawn(socket: UnixDatagram) -> Reader {
        let reading = Arc::new(AtomicBool::new(true));
        let flag = reading.clone();
        let thread = std::thread::spawn(move || {
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let mut buf = vec![0u8; 65536];
            let mut count = 0;
            while flag.load(Ordering::SeqCst) {
                if socket.recv(&mut buf).is_ok() {
                    count += 1;
                }
            }
            (socket, count)
        });
        Reader { reading, thread }
    }

    /// Stops reading; the socket stays bound, its buffer fills.
    fn stop(self) -> (UnixDatagram, u64) {
        self.reading.store(false, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// When each `WATCHDOG=1` arrived.
fn watch_pings(socket: UnixDatagram) -> Arc<Mutex<Vec<Instant>>> {
    let pings = Arc::new(Mutex::new(Vec::new()));
    let seen = pings.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with the test process.
        while let Ok(n) = socket.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "WATCHDOG=1")
            {
                seen.lock().unwrap().push(Instant::now());
            }
        }
    });
    pings
}

fn max_dgram_qlen() -> usize {
    std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(10)
}

#[ignore = "needs root: network namespaces"]
fn a_log_sink_that_stops_reading_stops_nothing(driver: &str, socket_env: &str) {
    vippy_lab::need_root();
    let mut spec = ClusterSpec::ipv4(2, 2);
    // node1 prefers group 0, node2 group 1: a stale node1 would lose group 0.
    spec.groups[0].1 = Some(0);
    spec.groups[1].1 = Some(1);
    spec.node_extra = vec![format!("  logging: {{ driver: '{driver}' }},\n")];
    let stale = Duration::from_secs_f64(spec.stale);
    let mut cluster = Cluster::build(spec, bins()).expect("lab");
    let log_path = cluster.dir().join("log.sock");
    let notify_path = cluster.dir().join("notify.sock");
    let reader = Reader::spawn(UnixDatagram::bind(&log_path).unwrap());
    let pings = watch_pings(UnixDatagram::bind(&notify_path).unwrap());
    cluster
        .start_env(
            0,
            &[],
            &[
                // Every heartbeat in and out is a line: the buffer fills fast.
                ("VIPPY_LOG", "vippy=trace"),
                (socket_env, log_path.to_str().unwrap()),
                ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
                // A ping every 0.5 s.
                ("WATCHDOG_USEC", "1000000"),
            ],
        )
        .unwrap();
    cluster.start(1).unwrap();
    cluster
        .wait_converged(&[0, 1], Duration::from_secs(10))
        .expect("cluster converges");
    cluster
        .wait_settled(Duration::from_secs(1), Duration::from_secs(10))
        .expect("cluster settles");
    let vip0 = cluster.vips()[0];
    assert_eq!(
        cluster.holders(&[vip0]).unwrap()[0],
        [0],
        "node1 holds group 0"
    );

    let (monitor_log, mut monitor) = address_monitor(&cluster, 1);
    let (socket, read) = reader.stop();
    assert!(read > 0, "node1 logged to the {driver} socket");
    let from = Instant::now();
    let window = stale * 10;
    let mut stale_seen = Vec::new();
    while from.elapsed() < window {
        let s = status(&cluster, 1);
        let node1 = s["peers"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "node1"))
            .cloned()
            .unwrap_or_default();
        if node1["present"] != true || node1["eligible"] != true {
            stale_seen.push(format!("{:.1}s: {node1}", from.elapsed().as_secs_f64()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let until = Instant::now();
    monitor.kill().ok();
    monitor.wait().ok();
    let logs = cluster.logs_tail();

    assert!(
        stale_seen.is_empty(),
        "node2 saw node1 go away while its {driver} was stuck: {stale_seen:?}\n{logs}"
    );
    let changes = std::fs::read_to_string(&monitor_log).unwrap();
    let vip0_addr = vip0.addr().to_string();
    assert!(
        !changes.contains(&format!("{vip0_addr}/")),
        "node2 took group 0 ({vip0}):\n{changes}\n{logs}"
    );
    assert_eq!(
        cluster.holders(&[vip0]).unwrap()[0],
        [0],
        "node1 still holds group 0"
    );

    let pings: Vec<Instant> = pings
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|t| *t >= from && *t <= until)
        .collect();
    let mut gaps = vec![pings.first().map_or(window, |t| *t - from)];
    gaps.extend(pings.windows(2).map(|w| w[1] - w[0]));
    let longest = gaps.into_iter().max().unwrap_or(window);
    assert!(
        pings.len() >= 8 && longest <= Duration::from_secs(2),
        "{} watchdog pings in {window:?}, longest gap {longest:?}\n{logs}",
        pings.len()
    );

    // The scenario held: the socket's buffer is full, nobody read it.
    socket.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 65536];
    let mut queued = 0;
    while socket.recv(&mut buf).is_ok() {
        queued += 1;
    }
    assert!(
        queued >= max_dgram_qlen(),
        "only {queued} datagrams waited in the {driver} socket: it never filled"
    );
    let counters = status(&cluster, 0)["counters"].clone();
    eprintln!(
        "{driver}: {} watchdog pings, longest gap {longest:?}, {queued} datagrams queued, log_dropped {}",
        pings.len(),
        counters["log_dropped"]
    );
}

#[test]
fn a_syslog_socket_nobody_reads_stops_nothing() {
    a_log_sink_that_stops_reading_stops_nothing("syslog", "VIPPY_SYSLOG_SOCKET");
}

#[test]
fn a_journald_that_never_reads_stops_nothing() {
    a_log_sink_that_stops_reading_stops_nothing("journald", "VIPPY_JOURNAL_SOCKET");
}
