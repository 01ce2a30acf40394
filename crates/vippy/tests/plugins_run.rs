//! Supervised plugins running real scripts.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::api::{TempDir, ended, eventually};
use tokio_util::sync::CancellationToken;
use vippy::plugins::Plugins;
use vippy_core::config::Command;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn spawn(dir: &TempDir, script: &Path, cancel: &CancellationToken) -> (Plugins, PathBuf) {
    let socket = dir.join("vippy.socket");
    let plugins = Plugins::spawn(
        vec![Command::Argv(vec![script.to_str().unwrap().to_string()])],
        socket.clone(),
        "node1".into(),
        cancel.clone(),
    );
    (plugins, socket)
}

#[tokio::test]
async fn a_plugin_that_exits_is_restarted_with_its_environment() {
    let dir = TempDir::new("plugins");
    let starts = dir.join("starts");
    let script = dir.script(
        "quitter",
        &format!(
            "#!/bin/sh\necho \"$VIPPY_SOCKET $VIPPY_NODE\" >> {}\nexit 3\n",
            starts.display()
        ),
    );
    let cancel = CancellationToken::new();
    let (plugins, socket) = spawn(&dir, &script, &cancel);
    // Back-off 1 s then 2 s: the third start comes about 3 s in.
    eventually(30, "three starts", || read(&starts).lines().count() >= 3).await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), plugins.stopped())
        .await
        .expect("supervisor stops");
    let want = format!("{} node1", socket.display());
    for line in read(&starts).lines() {
        assert_eq!(line, want);
    }
}

#[tokio::test]
async fn cancel_stops_a_plugin_and_its_children() {
    let dir = TempDir::new("plugins");
    let pids = dir.join("pids");
    let log = dir.join("log");
    let script = dir.script(
        "daemon",
        &format!(
            "#!/bin/sh\n\
             trap 'echo term >> {log}; exit 0' TERM\n\
             sleep 300 &\n\
             echo \"$$ $!\" > {pids}.tmp && mv {pids}.tmp {pids}\n\
             while :; do sleep 0.05; done\n",
            log = log.display(),
            pids = pids.display()
        ),
    );
    let cancel = CancellationToken::new();
    let (plugins, _) = spawn(&dir, &script, &cancel);
    eventually(20, "the plugin to start", || pids.exists()).await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(20), plugins.stopped())
        .await
        .expect("plugins stop");
    assert_eq!(read(&log), "term\n", "it got SIGTERM and exited by itself");
    let pids = read(&pids);
    for pid in pids.split_whitespace() {
        eventually(10, "plugin processes to end", || ended(pid)).await;
    }
}

#[tokio::test]
async fn a_plugin_that_ignores_sigterm_is_killed() {
    let dir = TempDir::new("plugins");
    let pid = dir.join("pid");
    let script = dir.script(
        "stubborn",
        &format!(
            "#!/bin/sh\ntrap '' TERM\necho $$ > {pid}.tmp && mv {pid}.tmp {pid}\nwhile :; do sleep 0.05; done\n",
            pid = pid.display()
        ),
    );
    let cancel = CancellationToken::new();
    let (plugins, _) = spawn(&dir, &script, &cancel);
    eventually(20, "the plugin to start", || pid.exists()).await;
    cancel.cancel();
    // SIGKILL follows 5 s after SIGTERM.
    tokio::time::timeout(Duration::from_secs(30), plugins.stopped())
        .await
        .expect("plugins stop");
    let pid = read(&pid);
    assert!(ended(&pid), "the plugin was killed");
}

/// examples/plugins/vippy-maintenance.sh, run as vippyd would run it,
/// against a real API server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_plugin_follows_events_and_drains() {
    use support::api::Harness;
    use vippy::api::AdminKind;
    use vippy::status::{Event, EventKind};

    let mut h = Harness::start().await;
    let flag = h.dir.join("maintenance");
    let log = h.dir.join("events.log");
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/plugins/vippy-maintenance.sh"
    );
    let cancel = CancellationToken::new();
    let plugins = Plugins::spawn(
        vec![Command::Argv(vec![
            example.into(),
            flag.to_str().unwrap().into(),
            log.to_str().unwrap().into(),
        ])],
        h.socket.clone(),
        "node1".into(),
        cancel.clone(),
    );
    h.wait_for_subscribers(1).await;
    h.events
        .send(
            Event::new(EventKind::NetworkUp, "node1")
                .group(2)
                .ips(["203.0.113.149/24", "198.51.100.196/24"])
                .interface("eth0"),
        )
        .unwrap();
    h.events
        .send(Event::new(EventKind::IntentUp, "node1").group(3))
        .unwrap();
    eventually(20, "the plugin to log the event", || !read(&log).is_empty()).await;
    let logged = read(&log);
    assert!(
        logged.ends_with(" node1 network.up group 2: 203.0.113.149/24 198.51.100.196/24\n"),
        "{logged}"
    );

    std::fs::write(&flag, "disk \"swap\"\n").unwrap();
    eventually(20, "a drain", || !h.admin_requests().is_empty()).await;
    std::fs::remove_file(&flag).unwrap();
    eventually(20, "an undrain", || h.admin_requests().len() == 2).await;
    assert_eq!(
        h.admin_requests(),
        vec![
            AdminKind::SetActive {
                source: "maintenance-file".into(),
                active: false,
                reason: Some("disk swap".into())
            },
            AdminKind::SetActive {
                source: "maintenance-file".into(),
                active: true,
                reason: None
            },
        ]
    );
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(20), plugins.stopped())
        .await
        .expect("the plugin stops");
    assert_eq!(
        read(&log).lines().count(),
        1,
        "intent events are not logged"
    );
    h.stop().await;
}

#[tokio::test]
async fn reconfigure_keeps_unchanged_plugins_running() {
    let dir = TempDir::new("plugins");
    let script = |name: &str| {
        dir.script(
            name,
            &format!(
                "#!/bin/sh\necho $$ >> {}\nwhile :; do sleep 0.05; done\n",
                dir.join(&format!("{name}.pids")).display()
            ),
        )
    };
    let (keep, drop, add) = (script("keep"), script("drop"), script("add"));
    let command = |p: &Path| Command::Argv(vec![p.to_str().unwrap().to_string()]);
    let pids = |name: &str| read(&dir.join(&format!("{name}.pids")));
    let cancel = CancellationToken::new();
    let socket = dir.join("vippy.socket");
    let mut plugins = Plugins::spawn(
        vec![command(&keep), command(&drop)],
        socket.clone(),
        "node1".into(),
        cancel.clone(),
    );
    eventually(20, "both plugins to start", || {
        !pids("keep").is_empty() && !pids("drop").is_empty()
    })
    .await;
    plugins.reconfigure(vec![command(&keep), command(&add)], socket, "node1".into());
    eventually(20, "the added plugin to start", || !pids("add").is_empty()).await;
    let dropped = pids("drop");
    eventually(20, "the removed plugin to stop", || ended(dropped.trim())).await;
    assert_eq!(
        pids("keep").lines().count(),
        1,
        "the unchanged plugin was not restarted"
    );
    assert!(!ended(pids("keep").trim()));
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(20), plugins.stopped())
        .await
        .expect("plugins stop");
    assert!(ended(pids("keep").trim()));
    assert!(ended(pids("add").trim()));
}
