//! Operations end to end: the management API through
//! `curl --unix-socket`, vippyctl, drain and undrain, health checks, hooks,
//! socket permissions and plugins, all against real vippyd daemons in the
//! namespace lab. Every test builds its own cluster and tears it down on
//! drop, failure included. They need root: they are ignored unless run with --include-ignored (scripts/test.sh does, as root).
//!
//! Nothing here asserts how fast something happens: conditions are awaited
//! with a generous [`EVENTUALLY`].

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use vippy_lab::{Cluster, ClusterSpec, LabProcess, become_subreaper, process_ended};

mod support;
use support::lab::{bins, status};

/// How long anything may take to happen before a test gives up.
const EVENTUALLY: Duration = Duration::from_secs(10);

/// Builds the lab; `configure` may add config naming paths in the lab
/// directory (known only once the lab exists); the configs are rewritten.
fn build(spec: ClusterSpec, configure: impl FnOnce(&Path, &mut ClusterSpec)) -> Cluster {
    let mut cluster = Cluster::build(spec, bins()).expect("lab");
    let dir = cluster.dir().to_path_buf();
    configure(&dir, &mut cluster.spec);
    let groups = cluster.spec.groups.clone();
    for i in 0..cluster.spec.nodes {
        cluster
            .write_config(i, cluster.spec.version, &groups)
            .expect("config");
    }
    cluster
}

/// Starts every daemon and waits until each VIP has one holder among
/// `eligible` and nothing moves any more.
fn start(mut cluster: Cluster, eligible: &[usize]) -> Cluster {
    cluster.start_all().expect("daemons start");
    cluster
        .wait_converged(eligible, EVENTUALLY)
        .expect("cluster converges");
    settle(&cluster);
    cluster
}

fn started(spec: ClusterSpec) -> Cluster {
    let all: Vec<usize> = (0..spec.nodes).collect();
    start(build(spec, |_, _| {}), &all)
}

/// Waits until nothing has moved for a second: late starters have taken
/// their share, so what a test sees next is its own doing.
fn settle(cluster: &Cluster) {
    let vips = cluster.vips();
    let mut last = cluster.holders(&vips).unwrap();
    let mut since = Instant::now();
    let start = Instant::now();
    while since.elapsed() < Duration::from_secs(1) {
        assert!(
            start.elapsed() < EVENTUALLY,
            "the cluster keeps moving groups\n{}",
            cluster.logs_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
        let now = cluster.holders(&vips).unwrap();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
}

/// `vippyctl ARGS` on node `i`, which must succeed; its stdout.
fn vippyctl_ok(cluster: &Cluster, i: usize, args: &[&str]) -> String {
    let out = cluster.vippyctl(i, args).expect("vippyctl runs");
    assert!(
        out.status.success(),
        "vippyctl {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        cluster.logs_tail()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One request to node `i`'s API with curl: (HTTP status, body).
fn api(cluster: &Cluster, i: usize, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let url = format!("http://localhost{path}");
    let mut args = vec!["-X", method, "-w", "\n%{http_code}"];
    if let Some(body) = body {
        args.extend(["-d", body]);
    }
    args.push(&url);
    code_and_body(&cluster.curl(i, &args).expect("curl runs"))
}

/// Splits curl's output made with `-w '\n%{http_code}'`.
fn code_and_body(out: &Output) -> (u16, String) {
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let code = code.trim().parse().unwrap_or_else(|_| {
        panic!(
            "no HTTP status from curl ({}): {text:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, body.to_string())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// The value of an unlabelled metric in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// How many of the cluster's VIPs node `i` has on its interface.
fn held_by(cluster: &Cluster, i: usize) -> usize {
    let holders = cluster.holders(&cluster.vips()).unwrap();
    holders.iter().filter(|h| h.contains(&i)).count()
}

/// Per node, how many VIPs it holds, if every VIP has exactly one holder.
fn loads(cluster: &Cluster) -> anyhow::Result<Option<Vec<usize>>> {
    let holders = cluster.holders(&cluster.vips())?;
    let mut loads = vec![0; cluster.spec.nodes];
    for h in &holders {
        if h.len() != 1 {
            return Ok(None);
        }
        loads[h[0]] += 1;
    }
    Ok(Some(loads))
}

fn wait_loads(cluster: &Cluster, want: &[usize]) {
    cluster
        .wait_for(EVENTUALLY, |c| Ok(loads(c)?.as_deref() == Some(want)))
        .unwrap_or_else(|e| panic!("loads never became {want:?}: {e}"));
}

fn has_reason(status: &Value, reason: &str) -> bool {
    status["reasons"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x == reason))
}

/// Waits until `path` exists and returns its text.
fn wait_file(cluster: &Cluster, path: &Path) -> String {
    cluster
        .wait_for(EVENTUALLY, |_| Ok(path.exists()))
        .unwrap_or_else(|e| panic!("{} never appeared: {e}", path.display()));
    std::fs::read_to_string(path).unwrap()
}

/// `KEY=value` lines as a map.
fn env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A program left running in node `i`'s namespace, its output in `log`.
fn background(
    cluster: &Cluster,
    i: usize,
    program: &Path,
    args: &[&str],
    log: &Path,
) -> LabProcess {
    cluster
        .lab
        .spawn(cluster.node(i), program, args, &[], log)
        .expect("background program starts")
}

/// The JSON lines of a `GET /events` stream as curl wrote them (with `-v`).
fn event_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// (1) Every endpoint of the API, with curl, against a running daemon.
#[test]
#[ignore = "needs root: network namespaces"]
fn api_endpoints_answer_with_curl() {
    vippy_lab::need_root();
    let cluster = started(ClusterSpec::ipv4(3, 3));
    wait_loads(&cluster, &[1, 1, 1]);
    let holders = cluster.holders(&cluster.vips()).unwrap();

    // GET /status: this node, its config, every group with its holder (as
    // the kernels have it), every peer eligible.
    let mut last = String::new();
    cluster
        .wait_for(EVENTUALLY, |c| {
            let (code, body) = api(c, 0, "GET", "/status", None);
            assert_eq!(code, 200, "{body}");
            let s = json(&body);
            last = body;
            assert_eq!(s["node"], "node1", "{s}");
            assert_eq!(s["version"], 1, "{s}");
            assert!(!s["digest"].as_str().unwrap_or("").is_empty(), "{s}");
            let groups = s["groups"].as_array().cloned().unwrap_or_default();
            let peers = s["peers"].as_array().cloned().unwrap_or_default();
            let groups_agree = groups.len() == 3
                && groups.iter().enumerate().all(|(g, group)| {
                    let holder = format!("node{}", holders[g][0] + 1);
                    group["holders"] == serde_json::json!([holder])
                        && group["held_here"] == (holders[g][0] == 0)
                });
            let peers_eligible = peers.len() == 2
                && peers.iter().all(|p| p["eligible"] == true)
                && peers.iter().any(|p| p["name"] == "node2")
                && peers.iter().any(|p| p["name"] == "node3");
            Ok(s["active"] == true && groups_agree && peers_eligible)
        })
        .unwrap_or_else(|e| {
            panic!("status shows the groups' holders ({holders:?}) and eligible peers: {e}\nlast status: {last}")
        });

    // GET /metrics: Prometheus text with live counters.
    cluster
        .wait_for(EVENTUALLY, |c| {
            let (code, text) = api(c, 0, "GET", "/metrics", None);
            assert_eq!(code, 200, "{text}");
            assert!(
                text.contains("# TYPE vippy_heartbeats_sent counter"),
                "{text}"
            );
            let sent = metric(&text, "vippy_heartbeats_sent_total").unwrap_or(0.0);
            let held = metric(&text, "vippy_groups_held");
            Ok(sent > 0.0 && held == Some(1.0) && metric(&text, "vippy_node_active") == Some(1.0))
        })
        .expect("metrics: heartbeats sent, one group held, active");

    // Errors are JSON with an `error` field.
    for (method, path, body, want) in [
        ("GET", "/nope", None, 404),
        ("POST", "/status", None, 405),
        ("GET", "/active", None, 405),
        ("POST", "/active", Some(r#"{"activ": false}"#), 400),
        ("POST", "/active", Some("not json"), 400),
    ] {
        let (code, answer) = api(&cluster, 0, method, path, body);
        assert_eq!(code, want, "{method} {path} {body:?}: {answer}");
        let error = json(&answer);
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: {answer}"
        );
    }
    assert!(
        status(&cluster, 0)["active"] == true,
        "a rejected body changed nothing"
    );

    // GET /events, read by curl. With `-v` it tells on stderr (unbuffered)
    // when the head has come; the daemon subscribes before answering, so
    // nothing after that is missed. `-N` leaves the lines unbuffered.
    let events = cluster.dir().join("events.out");
    let socket = cluster.socket(0).display().to_string();
    let _reader = background(
        &cluster,
        0,
        Path::new("curl"),
        &[
            "-sS",
            "-N",
            "-v",
            "--unix-socket",
            &socket,
            "http://localhost/events",
        ],
        &events,
    );
    cluster
        .wait_for(EVENTUALLY, |_| {
            let text = std::fs::read_to_string(&events).unwrap_or_default();
            Ok(text.contains("< HTTP/1.1 200 OK"))
        })
        .expect("the event stream answers");
    let head = std::fs::read_to_string(&events).unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("< content-type: application/x-ndjson"),
        "{head}"
    );

    // POST /active false: drained, and the stream tells intent, network and state.
    let (code, body) = api(
        &cluster,
        0,
        "POST",
        "/active",
        Some(r#"{"active": false, "reason": "api test"}"#),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["ok"], true, "{body}");
    assert_eq!(
        json(&body)["message"],
        "inactive (administrative: api test)",
        "{body}"
    );
    let g = holders
        .iter()
        .position(|h| h[0] == 0)
        .expect("node1 held a group");
    let vip = cluster.spec.groups[g].0[0].clone();
    cluster
        .wait_for(EVENTUALLY, |_| {
            let lines = event_lines(&events);
            let at = |kind: &str| {
                lines
                    .iter()
                    .position(|e| e["kind"] == kind && e["group"] == g && e["node"] == "node1")
            };
            let state = lines
                .iter()
                .any(|e| e["kind"] == "state" && e["detail"] == "inactive");
            let network_down = lines.iter().any(|e| {
                e["kind"] == "network.down"
                    && e["group"] == g
                    && e["ips"] == serde_json::json!([vip.clone()])
                    && e["interface"] == "eth0"
            });
            Ok(state
                && network_down
                && matches!((at("intent.down"), at("network.down")), (Some(i), Some(n)) if i < n))
        })
        .unwrap_or_else(|e| {
            panic!(
                "events: state inactive, intent.down then network.down for group {g}: {e}\n{}",
                std::fs::read_to_string(&events).unwrap_or_default()
            )
        });
    cluster
        .wait_converged(&[1, 2], EVENTUALLY)
        .expect("the groups moved to node2 and node3");
    // Status is published within 50 ms of a change, maybe after the kernels moved.
    cluster
        .wait_for(EVENTUALLY, |c| {
            let s = status(c, 0);
            Ok(s["active"] == false
                && has_reason(&s, "administrative")
                && s["admin_reason"] == "api test")
        })
        .expect("status: inactive, administrative, with the reason");

    // POST /active true: active again, and the stream says so.
    let (code, body) = api(&cluster, 0, "POST", "/active", Some(r#"{"active": true}"#));
    assert_eq!(
        (code, json(&body)["message"].clone()),
        (200, "active".into()),
        "{body}"
    );
    cluster
        .wait_for(EVENTUALLY, |c| {
            let lines = event_lines(&events);
            Ok(status(c, 0)["active"] == true
                && lines
                    .iter()
                    .any(|e| e["kind"] == "state" && e["detail"] == "active"))
        })
        .expect("active again, and a state event says so");

    // POST /reload: a broken file is refused with 409 and the running
    // config stays; a good one is reread.
    let good = std::fs::read_to_string(cluster.config_path(0)).unwrap();
    std::fs::write(cluster.config_path(0), "{ this is not a config").unwrap();
    let (code, body) = api(&cluster, 0, "POST", "/reload", None);
    assert_eq!(code, 409, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("node1.conf")),
        "the error names the file: {body}"
    );
    assert_eq!(status(&cluster, 0)["version"], 1);
    std::fs::write(cluster.config_path(0), good).unwrap();
    let (code, body) = api(&cluster, 0, "POST", "/reload", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["ok"], true, "{body}");
}

/// (2) vippyctl against a running daemon, and against none.
#[test]
#[ignore = "needs root: network namespaces"]
fn vippyctl_against_real_daemons() {
    vippy_lab::need_root();
    let mut cluster = started(ClusterSpec::ipv4(3, 3));
    wait_loads(&cluster, &[1, 1, 1]);
    let holders = cluster.holders(&cluster.vips()).unwrap();

    // status: the original's layout, `(*)` on the group held here, each
    // group under its owner (the holder, once settled).
    let lines: Vec<String> = holders
        .iter()
        .enumerate()
        .map(|(g, h)| {
            let vip = &cluster.spec.groups[g].0[0];
            if h[0] == 0 {
                format!("(*) node1: {vip}\n")
            } else {
                format!("    node{}: {vip}\n", h[0] + 1)
            }
        })
        .collect();
    let mut text = String::new();
    cluster
        .wait_for(EVENTUALLY, |c| {
            text = vippyctl_ok(c, 0, &["status"]);
            Ok(lines.iter().all(|l| text.contains(l)))
        })
        .unwrap_or_else(|e| panic!("status lists {lines:?}: {e}\n{text}"));
    assert!(text.starts_with("State:  active\n"), "{text}");
    assert!(!text.contains("Reason:"), "{text}");
    assert_eq!(text.matches("(*) ").count(), 1, "{text}");
    assert!(text.contains("Peers:\n"), "{text}");
    assert!(text.contains("Config: version 1 from file"), "{text}");

    // watch: it subscribes at some moment after it starts, with no sign of
    // it, so drain and undrain until it has printed a state change.
    let watched = cluster.dir().join("watch.out");
    let _watch = background(
        &cluster,
        0,
        &cluster.bins.vippyctl.clone(),
        &["-s", cluster.socket(0).to_str().unwrap(), "watch"],
        &watched,
    );
    let mut drained = false;
    cluster
        .wait_for(EVENTUALLY, |c| {
            if std::fs::read_to_string(&watched)
                .unwrap_or_default()
                .contains(" state node1 ")
            {
                return Ok(true);
            }
            drained = !drained;
            vippyctl_ok(c, 0, &[if drained { "drain" } else { "undrain" }]);
            std::thread::sleep(Duration::from_millis(300));
            Ok(false)
        })
        .expect("vippyctl watch prints state changes");
    if drained {
        vippyctl_ok(&cluster, 0, &["undrain"]);
    }
    wait_loads(&cluster, &[1, 1, 1]);
    let g = cluster
        .holders(&cluster.vips())
        .unwrap()
        .iter()
        .position(|h| h[0] == 0)
        .unwrap();
    let seen_before = std::fs::read_to_string(&watched).unwrap_or_default().len();

    // drain --reason: inactive for `administrative`, with the text.
    let said = vippyctl_ok(&cluster, 0, &["drain", "--reason", "maintenance"]);
    assert_eq!(said, "inactive (administrative: maintenance)\n");
    cluster
        .wait_converged(&[1, 2], EVENTUALLY)
        .expect("the drained node's group moves");
    // Status is republished within 50 ms; wait for this drain's snapshot.
    cluster
        .wait_for(EVENTUALLY, |c| {
            let text = vippyctl_ok(c, 0, &["status"]);
            Ok(!text.contains("(*) ") && text.contains("(maintenance)"))
        })
        .expect("status shows the drain and nothing held here");
    let text = vippyctl_ok(&cluster, 0, &["status"]);
    assert!(text.starts_with("State:  inactive\n"), "{text}");
    assert!(
        text.contains("Reason: administrative (maintenance)\n"),
        "{text}"
    );
    let s = status(&cluster, 0);
    assert_eq!(s["reasons"], serde_json::json!(["administrative"]), "{s}");
    assert_eq!(s["admin_reason"], "maintenance", "{s}");
    let vip = &cluster.spec.groups[g].0[0];
    cluster
        .wait_for(EVENTUALLY, |_| {
            let text = std::fs::read_to_string(&watched).unwrap_or_default();
            let new = &text[seen_before..];
            Ok(new.contains(" state node1 ")
                && new.contains("detail=inactive")
                && new.contains(&format!(" intent.down node1 group={g}"))
                && new.contains(&format!(
                    " network.down node1 group={g} ips={vip} interface=eth0"
                )))
        })
        .unwrap_or_else(|e| {
            panic!(
                "watch printed the drain: {e}\n{}",
                std::fs::read_to_string(&watched).unwrap_or_default()
            )
        });
    let first = std::fs::read_to_string(&watched).unwrap();
    let first = first.lines().next().unwrap_or("");
    assert!(
        first.len() > 24 && first.as_bytes()[4] == b'-' && first.contains("Z "),
        "watch lines start with a UTC time: {first:?}"
    );

    // A second source (a plugin) drains too: the operator's undrain lifts
    // only the operator's drain.
    let said = vippyctl_ok(
        &cluster,
        0,
        &["drain", "--source", "disk-guard", "--reason", "disk full"],
    );
    assert_eq!(
        said,
        "inactive (administrative: maintenance; disk-guard: disk full)\n"
    );
    let said = vippyctl_ok(&cluster, 0, &["undrain"]);
    assert_eq!(said, "inactive (administrative: disk-guard: disk full)\n");
    // Status is republished within 50 ms; wait for this undrain's snapshot.
    cluster
        .wait_for(EVENTUALLY, |c| {
            let s = status(c, 0);
            Ok(
                s["drains"] == serde_json::json!({"disk-guard": "disk full"})
                    && s["active"] == false,
            )
        })
        .expect("status shows the drain left");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(held_by(&cluster, 0), 0, "still drained: takes nothing");
    let said = vippyctl_ok(&cluster, 0, &["drain", "--source", "backup"]);
    assert_eq!(
        said,
        "inactive (administrative: backup: drained; disk-guard: disk full)\n"
    );

    // undrain --all: active again, and it gets a group back.
    assert_eq!(vippyctl_ok(&cluster, 0, &["undrain", "--all"]), "active\n");
    wait_loads(&cluster, &[1, 1, 1]);
    // Status is published within 50 ms of a change.
    cluster
        .wait_for(EVENTUALLY, |c| {
            Ok(vippyctl_ok(c, 0, &["status"]).starts_with("State:  active\n"))
        })
        .expect("status says active");

    // reload: rereads the file (a version bump here, which spreads).
    let groups = cluster.spec.groups.clone();
    cluster.write_config(0, 2, &groups).unwrap();
    let said = vippyctl_ok(&cluster, 0, &["reload"]);
    assert!(said.starts_with("reloaded"), "{said}");
    cluster
        .wait_for(EVENTUALLY, |c| {
            Ok((0..3).all(|i| status(c, i)["version"] == 2))
        })
        .expect("the reloaded version 2 is in force everywhere");

    // No daemon: a clear message and exit status 1, whether the socket
    // file is gone (a stopped daemon removes it) or stale.
    assert!(cluster.terminate(2).unwrap(), "node3 stops cleanly");
    let gone = cluster.socket(2);
    assert!(!gone.exists(), "a stopped daemon removes its socket");
    let stale = cluster.dir().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    for (socket, why) in [
        (&gone, "no such file (is vippyd running?)"),
        (&stale, "connection refused (is vippyd running?)"),
    ] {
        let out = cluster
            .lab
            .exec(
                cluster.node(2),
                &[
                    cluster.bins.vippyctl.to_str().unwrap(),
                    "-s",
                    socket.to_str().unwrap(),
                    "status",
                ],
            )
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "vippyctl: cannot reach vippyd at {}: {why}\n",
                socket.display()
            )
        );
    }
}

/// Watches the kernels' holders for two holders of a VIP at once.
///
/// `holders` reads the nodes one after the other, so a pass can find a VIP
/// on its old holder and, a moment later, on its new one although no
/// instant had both. A pair counts only when the holder read first still
/// has the VIP in the next pass, read after the other: then both had it at
/// the other's reading.
#[derive(Default)]
struct OverlapWatch {
    last: Option<Vec<Vec<usize>>>,
    passes: usize,
}

impl OverlapWatch {
    fn poll(&mut self, cluster: &Cluster) -> Vec<Vec<usize>> {
        let now = cluster.holders(&cluster.vips()).unwrap();
        if let Some(last) = &self.last {
            for (v, (before, after)) in last.iter().zip(&now).enumerate() {
                // In node order: every holder but the last was read first.
                let read_first = &before[..before.len().saturating_sub(1)];
                assert!(
                    !read_first.iter().any(|n| after.contains(n)),
                    "VIP {v} on nodes {before:?} at once (next pass: {after:?})\n{}",
                    cluster.logs_tail()
                );
            }
        }
        self.last = Some(now.clone());
        self.passes += 1;
        now
    }

    /// Polls until `done` holds for the holders, failing after [`EVENTUALLY`].
    fn until(&mut self, cluster: &Cluster, what: &str, done: impl Fn(&[Vec<usize>]) -> bool) {
        let start = Instant::now();
        while !done(&self.poll(cluster)) {
            assert!(
                start.elapsed() < EVENTUALLY,
                "{what}: not within {EVENTUALLY:?}\n{}",
                cluster.logs_tail()
            );
        }
    }

    /// Keeps polling for `time`, every pass passing `hold`.
    fn keep(
        &mut self,
        cluster: &Cluster,
        time: Duration,
        what: &str,
        hold: impl Fn(&[Vec<usize>]) -> bool,
    ) {
        let start = Instant::now();
        while start.elapsed() < time {
            let now = self.poll(cluster);
            assert!(hold(&now), "{what}: {now:?}\n{}", cluster.logs_tail());
        }
    }
}

/// (3) A drain moves the node's groups away with never two holders of a VIP;
/// after undrain it gets its share back.
#[test]
#[ignore = "needs root: network namespaces"]
fn drain_moves_groups_without_overlap_and_undrain_rebalances() {
    vippy_lab::need_root();
    let cluster = started(ClusterSpec::ipv4(3, 6));
    wait_loads(&cluster, &[2, 2, 2]);
    let mut watch = OverlapWatch::default();
    let elsewhere = |h: &[Vec<usize>]| h.iter().all(|n| n.len() == 1 && n[0] != 0);
    std::thread::scope(|s| {
        // The drain runs beside the watch, so the move is watched from its start.
        let drain = s.spawn(|| cluster.vippyctl(0, &["drain", "--reason", "move test"]));
        watch.until(&cluster, "node1's groups move to node2 and node3", |h| {
            elsewhere(h) && drain.is_finished()
        });
        let out = drain.join().unwrap().unwrap();
        assert!(out.status.success(), "{out:?}");
    });
    watch.keep(
        &cluster,
        Duration::from_secs(1),
        "node1 stays empty",
        elsewhere,
    );
    assert_eq!(loads(&cluster).unwrap(), Some(vec![0, 3, 3]));
    let s = status(&cluster, 0);
    assert!(has_reason(&s, "administrative"), "{s}");
    assert!(
        s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["held_here"] == false),
        "{s}"
    );

    std::thread::scope(|s| {
        let undrain = s.spawn(|| cluster.vippyctl(0, &["undrain"]));
        watch.until(&cluster, "node1 gets two groups back", |h| {
            let mut loads = [0; 3];
            for n in h {
                if n.len() != 1 {
                    return false;
                }
                loads[n[0]] += 1;
            }
            loads == [2, 2, 2] && undrain.is_finished()
        });
        let out = undrain.join().unwrap().unwrap();
        assert!(out.status.success(), "{out:?}");
    });
    eprintln!("watched drain and undrain over {} passes", watch.passes);
}

/// A node stopped gracefully (goodbye) after running a while and started
/// again is heard at once: it takes its share back with never two holders
/// of a VIP. (Peers once compared its new sequence numbers with its old
/// goodbye's and ignored it; it then took every group beside their holders.)
#[test]
#[ignore = "needs root: network namespaces"]
fn a_graceful_restart_after_a_long_run_takes_its_share_back_cleanly() {
    vippy_lab::need_root();
    let mut cluster = started(ClusterSpec::ipv4(3, 6));
    wait_loads(&cluster, &[2, 2, 2]);
    // At interval 0.2 s, 3 s is some 15 heartbeats ahead of a new start.
    std::thread::sleep(Duration::from_secs(3));
    assert!(cluster.terminate(0).unwrap(), "node1 stops cleanly");
    wait_loads(&cluster, &[0, 3, 3]);
    let mut watch = OverlapWatch::default();
    cluster.start(0).unwrap();
    watch.until(&cluster, "node1 takes its two groups back", |h| {
        h.iter().all(|n| n.len() == 1) && h.iter().filter(|n| n[0] == 0).count() == 2
    });
    watch.keep(
        &cluster,
        Duration::from_secs(1),
        "nothing moves after",
        |h| h.iter().all(|n| n.len() == 1) && h.iter().filter(|n| n[0] == 0).count() == 2,
    );
}

/// A drain is kept in `state_dir`: a node restarted during maintenance (a
/// package upgrade) comes back drained and takes nothing until undrained.
#[test]
#[ignore = "needs root: network namespaces"]
fn a_drain_survives_a_restart() {
    vippy_lab::need_root();
    let cluster = build(ClusterSpec::ipv4(2, 2), |dir, spec| {
        let state = dir.join("state1");
        spec.node_extra = vec![format!("  state_dir: '{}',\n", state.display())];
    });
    let kept = cluster.dir().join("state1/drains.json");
    let mut cluster = start(cluster, &[0, 1]);
    wait_loads(&cluster, &[1, 1]);
    let said = vippyctl_ok(
        &cluster,
        0,
        &["drain", "--source", "upgrade", "--reason", "vippy 1.1"],
    );
    assert_eq!(said, "inactive (administrative: upgrade: vippy 1.1)\n");
    wait_loads(&cluster, &[0, 2]);
    let text = std::fs::read_to_string(&kept).expect("the drain is kept");
    assert_eq!(json(&text), serde_json::json!({"upgrade": "vippy 1.1"}));

    assert!(cluster.terminate(0).unwrap(), "node1 stops cleanly");
    cluster.start(0).unwrap();
    // Through its boot and well past `mature` it takes nothing.
    let mut watch = OverlapWatch::default();
    watch.keep(
        &cluster,
        Duration::from_secs(2),
        "restarted node1 stays empty",
        |h| h.iter().all(|n| n == &[1]),
    );
    cluster
        .wait_for(EVENTUALLY, |c| {
            let s = status(c, 0);
            Ok(s["mature"] == true
                && s["drains"] == serde_json::json!({"upgrade": "vippy 1.1"})
                && has_reason(&s, "administrative"))
        })
        .expect("status shows the kept drain");

    let said = vippyctl_ok(&cluster, 0, &["undrain", "--source", "upgrade"]);
    assert_eq!(said, "active\n");
    wait_loads(&cluster, &[1, 1]);
    assert!(!kept.exists(), "no drains left, no file");
}

/// (4) A failing check makes its node inactive (`check:web`) and its groups
/// move; passing again brings it back.
#[test]
#[ignore = "needs root: network namespaces"]
fn failing_check_drains_and_recovery_returns() {
    vippy_lab::need_root();
    let mut ok_file = PathBuf::new();
    let cluster = build(ClusterSpec::ipv4(3, 3), |dir, spec| {
        ok_file = dir.join("node1-ok");
        spec.node_extra = vec![format!(
            "  checks: [{{ name: 'web', command: ['test', '-e', '{}'], interval: 0.2, timeout: 1, rise: 1, fall: 1 }}],\n",
            ok_file.display()
        )];
    });
    // A check counts as failing until it has passed: node1 takes nothing.
    let cluster = start(cluster, &[1, 2]);
    let s = status(&cluster, 0);
    assert!(has_reason(&s, "check:web"), "{s}");
    assert_eq!(held_by(&cluster, 0), 0);

    std::fs::write(&ok_file, "").unwrap();
    wait_loads(&cluster, &[1, 1, 1]);
    cluster
        .wait_for(EVENTUALLY, |c| Ok(status(c, 0)["active"] == true))
        .expect("status says active");

    std::fs::remove_file(&ok_file).unwrap();
    cluster
        .wait_for(EVENTUALLY, |c| {
            let s = status(c, 0);
            Ok(s["active"] == false && has_reason(&s, "check:web"))
        })
        .expect("node1 inactive for check:web");
    cluster
        .wait_for(EVENTUALLY, |c| {
            Ok(c.converged(&[1, 2])? && held_by(c, 0) == 0)
        })
        .expect("node1's group moves away");
    cluster
        .wait_for(EVENTUALLY, |c| {
            let peers = status(c, 1)["peers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            Ok(peers.iter().any(|p| {
                p["name"] == "node1"
                    && p["eligible"] == false
                    && p["why_not"]
                        .as_str()
                        .is_some_and(|w| w.contains("check:web"))
            }))
        })
        .expect("node2 sees node1 not eligible for check:web");
    let (_, metrics) = api(&cluster, 0, "GET", "/metrics", None);
    assert!(
        metrics.contains("vippy_check_up{check=\"web\"} 0"),
        "{metrics}"
    );

    std::fs::write(&ok_file, "").unwrap();
    cluster
        .wait_for(EVENTUALLY, |c| Ok(status(c, 0)["active"] == true))
        .expect("node1 active again");
    wait_loads(&cluster, &[1, 1, 1]);
}

/// The command of a hook that writes its `VIPPY_*` environment to
/// `DIR/KIND-NODE-KEY.env` (atomically, so a reader never sees half).
fn recording_hook(dir: &Path, kind: &str, key: &str) -> String {
    let file = format!("{}/{kind}-$VIPPY_NODE-{key}.env", dir.display());
    format!(
        "{{ command: \"env | grep ^VIPPY_ | sort > {file}.tmp && mv {file}.tmp {file}\", shell: true }}"
    )
}

/// (5) Hooks see the event, node, group, addresses and interface.
#[test]
#[ignore = "needs root: network namespaces"]
fn hooks_get_their_environment() {
    vippy_lab::need_root();
    let mut dir = PathBuf::new();
    let cluster = build(ClusterSpec::ipv4(3, 3), |d, spec| {
        dir = d.to_path_buf();
        spec.extra = format!(
            "  hooks: {{\n    up: {},\n    down: {},\n    change: {},\n  }},\n",
            recording_hook(d, "up", "$VIPPY_GROUP"),
            recording_hook(d, "down", "$VIPPY_GROUP"),
            recording_hook(d, "change", "$VIPPY_EVENT"),
        );
    });
    let cluster = start(cluster, &[0, 1, 2]);
    wait_loads(&cluster, &[1, 1, 1]);
    let holders = cluster.holders(&cluster.vips()).unwrap();
    for (g, h) in holders.iter().enumerate() {
        let node = format!("node{}", h[0] + 1);
        let env = env_file(&wait_file(
            &cluster,
            &dir.join(format!("up-{node}-{g}.env")),
        ));
        assert_eq!(env["VIPPY_EVENT"], "up", "{env:?}");
        assert_eq!(env["VIPPY_NODE"], node, "{env:?}");
        assert_eq!(env["VIPPY_GROUP"], g.to_string(), "{env:?}");
        assert_eq!(env["VIPPY_IPS"], cluster.spec.groups[g].0[0], "{env:?}");
        assert_eq!(env["VIPPY_INTERFACE"], "eth0", "{env:?}");
        assert_eq!(env["VIPPY_INTERFACE"], cluster.node(h[0]).ifname);
    }

    // Drain the holder of group 0: a down hook for the group, a change hook
    // for the node, an up hook where the group lands.
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".env") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let old = holders[0][0];
    let node = format!("node{}", old + 1);
    vippyctl_ok(&cluster, old, &["drain"]);
    let down = env_file(&wait_file(
        &cluster,
        &dir.join(format!("down-{node}-0.env")),
    ));
    assert_eq!(down["VIPPY_EVENT"], "down", "{down:?}");
    assert_eq!(down["VIPPY_NODE"], node, "{down:?}");
    assert_eq!(down["VIPPY_GROUP"], "0", "{down:?}");
    assert_eq!(down["VIPPY_IPS"], cluster.spec.groups[0].0[0], "{down:?}");
    assert_eq!(down["VIPPY_INTERFACE"], "eth0", "{down:?}");
    let change = env_file(&wait_file(
        &cluster,
        &dir.join(format!("change-{node}-inactive.env")),
    ));
    assert_eq!(change["VIPPY_EVENT"], "inactive", "{change:?}");
    assert_eq!(change["VIPPY_NODE"], node, "{change:?}");
    assert_eq!(change["VIPPY_GROUP"], "", "{change:?}");
    let eligible: Vec<usize> = (0..3).filter(|n| *n != old).collect();
    cluster.wait_converged(&eligible, EVENTUALLY).unwrap();
    let new = cluster.holders(&cluster.vips()[..1]).unwrap()[0][0];
    let up = env_file(&wait_file(
        &cluster,
        &dir.join(format!("up-node{}-0.env", new + 1)),
    ));
    assert_eq!(up["VIPPY_EVENT"], "up", "{up:?}");
    assert_eq!(up["VIPPY_IPS"], cluster.spec.groups[0].0[0], "{up:?}");
    let log = std::fs::read_to_string(cluster.log_path(old)).unwrap();
    assert!(!log.contains("hook failed"), "{log}");
}

fn socket_mode(path: &Path) -> u32 {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(
        meta.file_type().is_socket(),
        "{} is a socket",
        path.display()
    );
    meta.permissions().mode() & 0o7777
}

/// (6) The socket is 0600 unless `management_mode` says otherwise.
#[test]
#[ignore = "needs root: network namespaces"]
fn socket_mode_default_and_configured() {
    vippy_lab::need_root();
    let mut spec = ClusterSpec::ipv4(2, 2);
    spec.node_extra = vec![String::new(), "  management_mode: '0660',\n".into()];
    let cluster = started(spec);
    assert_eq!(socket_mode(&cluster.socket(0)), 0o600, "the default");
    assert_eq!(socket_mode(&cluster.socket(1)), 0o660, "management_mode");
    for i in 0..2 {
        assert_eq!(api(&cluster, i, "GET", "/status", None).0, 200);
    }
}

/// `curl` as user nobody in node `i`'s namespace: (curl's exit code, HTTP
/// status or 0, body).
fn curl_as_nobody(cluster: &Cluster, i: usize, args: &[&str]) -> (i32, u16, String) {
    let socket = cluster.socket(i).display().to_string();
    let mut cmd = vec![
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "curl",
        "-sS",
        "-w",
        "\n%{http_code}",
        "--unix-socket",
        &socket,
    ];
    cmd.extend_from_slice(args);
    let out = cluster.lab.exec(cluster.node(i), &cmd).unwrap();
    let (code, body) = code_and_body(&out);
    (out.status.code().unwrap_or(-1), code, body)
}

/// (7) A user other than root is refused: by the mode, and by the peer
/// credentials once the mode lets anyone connect.
#[test]
#[ignore = "needs root: network namespaces"]
fn non_root_is_refused() {
    vippy_lab::need_root();
    let cluster = started(ClusterSpec::ipv4(2, 2));
    // The lab directory must let nobody reach the socket at all.
    std::fs::set_permissions(cluster.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();

    // Mode 0600: connect(2) itself fails.
    let (exit, code, _) = curl_as_nobody(&cluster, 0, &["http://localhost/status"]);
    assert_eq!((exit, code), (7, 0), "curl cannot connect");
    let out = cluster
        .lab
        .exec(
            cluster.node(0),
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                cluster.bins.vippyctl.to_str().unwrap(),
                "-s",
                cluster.socket(0).to_str().unwrap(),
                "status",
            ],
        )
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("permission denied (run as root?)"),
        "{out:?}"
    );

    // Mode 0666: connected, and refused by the credential check.
    std::fs::set_permissions(cluster.socket(0), std::fs::Permissions::from_mode(0o666)).unwrap();
    let (exit, code, body) = curl_as_nobody(&cluster, 0, &["http://localhost/status"]);
    assert_eq!((exit, code), (0, 403), "{body}");
    let error = json(&body)["error"].as_str().unwrap_or("").to_string();
    assert!(
        error.contains("permission denied: uid 65534 may not use the management API"),
        "{body}"
    );
    let (_, code, body) = curl_as_nobody(
        &cluster,
        0,
        &["-d", r#"{"active": false}"#, "http://localhost/active"],
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        status(&cluster, 0)["active"],
        true,
        "nobody could not drain"
    );
    assert_eq!(
        api(&cluster, 0, "GET", "/status", None).0,
        200,
        "root is served"
    );
    let log = std::fs::read_to_string(cluster.log_path(0)).unwrap();
    assert!(
        log.contains(
            "management API refused a connection: not root, vippyd's uid or an allowed group"
        ),
        "{log}"
    );
}

/// (8) `vippyd -p PROGRAM`: the plugin learns the socket and node from its
/// environment and drains the node through the API.
#[test]
#[ignore = "needs root: network namespaces"]
fn plugin_drains_through_the_api() {
    vippy_lab::need_root();
    let mut cluster = build(ClusterSpec::ipv4(2, 2), |_, _| {});
    let dir = cluster.dir().to_path_buf();
    let script = dir.join("plugin.sh");
    let d = dir.display();
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
# Records what vippyd told it, waits for the test's go, drains its node.
printf 'VIPPY_SOCKET=%s\nVIPPY_NODE=%s\n' "$VIPPY_SOCKET" "$VIPPY_NODE" > {d}/plugin.env.tmp
mv {d}/plugin.env.tmp {d}/plugin.env
while [ ! -e {d}/plugin-go ]; do sleep 0.1; done
curl -sS --unix-socket "$VIPPY_SOCKET" -d '{{"active": false, "reason": "plugin: disk full"}}' http://localhost/active > {d}/plugin.answer.tmp
mv {d}/plugin.answer.tmp {d}/plugin.answer
echo $$ > {d}/plugin.pid.tmp
mv {d}/plugin.pid.tmp {d}/plugin.pid
exec sleep 600
"#
        ),
    )
    .unwrap();
    // PROGRAM is split at spaces (no shell), as `vippyd --help` says.
    let program = format!("/bin/sh {}", script.display());
    cluster.start_with(0, &["-p", &program]).unwrap();
    cluster.start(1).unwrap();
    cluster.wait_converged(&[0, 1], EVENTUALLY).unwrap();
    wait_loads(&cluster, &[1, 1]);

    let env = env_file(&wait_file(&cluster, &dir.join("plugin.env")));
    assert_eq!(env["VIPPY_SOCKET"], cluster.socket(0).display().to_string());
    assert_eq!(env["VIPPY_NODE"], "node1");

    std::fs::write(dir.join("plugin-go"), "").unwrap();
    cluster
        .wait_for(EVENTUALLY, |c| {
            let s = status(c, 0);
            Ok(s["active"] == false
                && has_reason(&s, "administrative")
                && s["admin_reason"] == "plugin: disk full")
        })
        .expect("the plugin drained node1");
    wait_loads(&cluster, &[0, 2]);
    let answer = wait_file(&cluster, &dir.join("plugin.answer"));
    assert_eq!(json(&answer)["ok"], true, "{answer}");

    // vippyd killed with SIGKILL cannot stop its plugins; the kernel's
    // parent-death signal does. As subreaper, this test (not an init that
    // might kill orphans itself) adopts the plugin when vippyd dies.
    become_subreaper().unwrap();
    let pid: u32 = wait_file(&cluster, &dir.join("plugin.pid"))
        .trim()
        .parse()
        .unwrap();
    assert!(!process_ended(pid));
    cluster.kill(0).unwrap();
    let ended = cluster
        .wait_for(EVENTUALLY, |_| Ok(process_ended(pid)))
        .is_ok();
    if !ended {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    assert!(ended, "the plugin ends with vippyd");
}

/// A VIP whose interface does not exist yet: the node does not take its
/// group (`link:vx9`, with link tracking on) until the interface comes, and
/// the plumb then is its `up` (the hook runs), not a quiet restore.
#[test]
#[ignore = "needs root: network namespaces"]
fn a_vip_plumbed_late_still_runs_its_up_hook() {
    vippy_lab::need_root();
    let mut dir = PathBuf::new();
    let mut cluster = build(ClusterSpec::ipv4(1, 1), |d, spec| {
        dir = d.to_path_buf();
        spec.extra = format!(
            "  hooks: {{ up: {} }},\n",
            recording_hook(d, "up", "$VIPPY_GROUP")
        );
    });
    let path = cluster.config_path(0);
    let text = std::fs::read_to_string(&path).unwrap();
    let late = text.replace(
        "{ ip: '198.51.100.100/24' }",
        "{ ip: '198.51.100.100/24', interface: 'vx9' }",
    );
    assert_ne!(late, text);
    std::fs::write(&path, late).unwrap();
    cluster.start_all().unwrap();
    cluster
        .wait_for(EVENTUALLY, |c| {
            let log = std::fs::read_to_string(c.log_path(0)).unwrap_or_default();
            Ok(log.contains("interface vx9 does not exist"))
        })
        .expect("the plumb fails first");
    let host = cluster.node(0).clone();
    cluster.lab.add_veth(&host, "vx9", &host, "vx9p").unwrap();
    let env = env_file(&wait_file(&cluster, &dir.join("up-node1-0.env")));
    assert_eq!(env["VIPPY_INTERFACE"], "vx9", "{env:?}");
    assert_eq!(env["VIPPY_IPS"], "198.51.100.100/24", "{env:?}");
}
