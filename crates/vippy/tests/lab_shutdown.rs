//! What a real vippyd does at SIGTERM after releasing its VIPs: its `down`
//! hooks run (within 5 s in all; one that would take longer is killed), a
//! plugin that ignores SIGTERM is SIGKILLed after its grace, and then it
//! exits; nothing it started outlives it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vippy_lab::{Cluster, ClusterSpec, process_ended};

mod support;
use support::lab::bins;

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn pid_in(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no pid in {}", path.display()))
}

fn wait_until(what: &str, timeout: Duration, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs root: network namespaces"]
fn shutdown_runs_down_hooks_within_the_bound_and_kills_a_stubborn_plugin() {
    vippy_lab::need_root();
    let mut cluster = Cluster::build(ClusterSpec::ipv4(1, 1), bins()).expect("lab");
    let dir = cluster.dir().to_path_buf();
    let down_done = dir.join("down-done");
    let stuck_pid = dir.join("stuck.pid");
    let plugin_pid = dir.join("plugin.pid");
    let quick = script(
        &dir,
        "down-quick",
        &format!(
            "sleep 0.5\necho \"$VIPPY_EVENT $VIPPY_IPS\" > {}\n",
            down_done.display()
        ),
    );
    let stuck = script(
        &dir,
        "down-stuck",
        &format!("echo $$ > {}\nexec sleep 60\n", stuck_pid.display()),
    );
    let plugin = script(
        &dir,
        "stubborn-plugin",
        &format!(
            "trap '' TERM\necho $$ > {0}.tmp && mv {0}.tmp {0}\nwhile :; do sleep 0.1; done\n",
            plugin_pid.display()
        ),
    );
    // Each hook may take 60 s: only the shutdown's bound ends the second.
    cluster.spec.extra = format!(
        "  hooks: {{ down: [['{}'], ['{}']], timeout: 60 }},\n",
        quick.display(),
        stuck.display()
    );
    let groups = cluster.spec.groups.clone();
    cluster.write_config(0, 1, &groups).unwrap();
    cluster
        .start_with(0, &["-p", plugin.to_str().unwrap()])
        .unwrap();
    cluster
        .wait_converged(&[0], Duration::from_secs(10))
        .expect("the node takes its group");
    wait_until("the plugin to start", Duration::from_secs(10), || {
        plugin_pid.exists()
    });
    let plugin = pid_in(&plugin_pid);

    let started = Instant::now();
    let (status, in_time) = cluster
        .daemon(0)
        .unwrap()
        .terminate(Duration::from_secs(15))
        .unwrap();
    let took = started.elapsed();
    let logs = cluster.logs_tail();
    assert!(
        in_time && status.success(),
        "vippyd did not stop cleanly: {status:?}\n{logs}"
    );

    // The release's down hooks ran: the first to its end, the second was
    // cut at the bound.
    let done = std::fs::read_to_string(&down_done).unwrap_or_default();
    assert_eq!(
        done.trim(),
        format!("down {}", cluster.spec.groups[0].0[0]),
        "the down hook ran before vippyd exited\n{logs}"
    );
    let stuck = pid_in(&stuck_pid);
    assert!(
        process_ended(stuck),
        "the down hook over the bound was killed\n{logs}"
    );
    // The plugin ignored SIGTERM: SIGKILLed after its 5 s grace, before
    // vippyd exited.
    assert!(process_ended(plugin), "the plugin outlived vippyd\n{logs}");
    // Hooks (5 s) and the plugin's grace (5 s) run side by side.
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(9),
        "vippyd took {took:?} to stop\n{logs}"
    );
    assert!(logs.contains("were killed"), "the cut is logged\n{logs}");
}
