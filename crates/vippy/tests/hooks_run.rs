//! Event hooks running real scripts.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use support::api::{TempDir, ended, eventually};
use vippy::hooks::{HookEnv, HookKind, Hooks};
use vippy::metrics::Metrics;
use vippy_core::config::{self, Command};

fn hooks(
    up: Vec<Command>,
    down: Vec<Command>,
    change: Vec<Command>,
    timeout: Duration,
) -> (Hooks, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let hooks = Hooks::new(
        config::Hooks {
            up,
            down,
            change,
            timeout,
            up_retry: Default::default(),
        },
        metrics.clone(),
    );
    (hooks, metrics)
}

fn run(path: &Path) -> Command {
    Command::Argv(vec![path.to_str().unwrap().to_string()])
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn env(group: Option<usize>) -> HookEnv {
    HookEnv {
        event: String::new(),
        node: "node1".into(),
        group,
        ips: vec!["198.51.100.195/24".into(), "2001:db8::5/64".into()],
        interface: Some("eth0".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_get_the_event_in_their_environment() {
    let dir = TempDir::new("hooks");
    let out = dir.join("env");
    let script = dir.script(
        "record",
        &format!(
            "#!/bin/sh\nenv | grep ^VIPPY_ | sort > {out}.tmp && mv {out}.tmp {out}\n",
            out = out.display()
        ),
    );
    let (hooks, metrics) = hooks(
        vec![run(&script)],
        vec![],
        vec![run(&script)],
        Duration::from_secs(10),
    );
    hooks.run(HookKind::Up, env(Some(2)));
    eventually(20, "the up hook", || out.exists()).await;
    assert_eq!(
        read(&out),
        "VIPPY_EVENT=up\n\
         VIPPY_GROUP=2\n\
         VIPPY_INTERFACE=eth0\n\
         VIPPY_IPS=198.51.100.195/24 2001:db8::5/64\n\
         VIPPY_NODE=node1\n"
    );
    std::fs::remove_file(&out).unwrap();

    hooks.run(
        HookKind::Change,
        HookEnv {
            event: "inactive".into(),
            node: "node1".into(),
            ..HookEnv::default()
        },
    );
    eventually(20, "the change hook", || out.exists()).await;
    assert_eq!(
        read(&out),
        "VIPPY_EVENT=inactive\n\
         VIPPY_GROUP=\n\
         VIPPY_INTERFACE=\n\
         VIPPY_IPS=\n\
         VIPPY_NODE=node1\n"
    );
    // No down hooks configured: nothing runs, nothing fails.
    hooks.run(HookKind::Down, env(Some(2)));
    assert_eq!(metrics.counters()["hook_failures"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_returns_before_the_hook_finishes() {
    let dir = TempDir::new("hooks");
    let go = dir.join("go");
    let done = dir.join("done");
    let script = dir.script(
        "waits",
        &format!(
            "#!/bin/sh\nwhile [ ! -e {go} ]; do sleep 0.02; done\necho ok > {done}\n",
            go = go.display(),
            done = done.display()
        ),
    );
    let (hooks, metrics) = hooks(vec![run(&script)], vec![], vec![], Duration::from_secs(60));
    let hooks = Arc::new(hooks);

    // If run() waited for the hook, it would wait for `go`, which is only
    // created once run() has returned: the thread would never report back.
    let (tx, rx) = std::sync::mpsc::channel();
    let runtime = tokio::runtime::Handle::current();
    let caller = hooks.clone();
    std::thread::spawn(move || {
        let _entered = runtime.enter();
        caller.run(HookKind::Up, env(Some(0)));
        let _ = tx.send(());
    });
    tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("run() returned while the hook is still waiting");
    assert!(!done.exists());
    std::fs::write(&go, "").unwrap();
    eventually(20, "the hook to finish", || done.exists()).await;
    assert_eq!(metrics.counters()["hook_failures"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_hook_is_killed_at_its_timeout_and_counted() {
    let dir = TempDir::new("hooks");
    let pid = dir.join("pid");
    let never = dir.join("never");
    let script = dir.script(
        "stuck",
        &format!(
            "#!/bin/sh\necho $$ > {pid}.tmp && mv {pid}.tmp {pid}\nwhile [ ! -e {never} ]; do sleep 0.02; done\n",
            pid = pid.display(),
            never = never.display()
        ),
    );
    let (hooks, metrics) = hooks(
        vec![],
        vec![run(&script)],
        vec![],
        Duration::from_millis(300),
    );
    hooks.run(HookKind::Down, env(Some(1)));
    eventually(20, "the hook to start", || pid.exists()).await;
    eventually(20, "the timeout to count as a failure", || {
        metrics.counters()["hook_failures"] == 1
    })
    .await;
    let pid = read(&pid);
    assert!(ended(&pid), "the hook was killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_hooks_are_counted() {
    let (hooks, metrics) = hooks(
        vec![
            Command::Shell("echo oops >&2; exit 2".into()),
            Command::Argv(vec!["/nonexistent/hook".into()]),
            Command::Argv(vec!["true".into()]),
        ],
        vec![],
        vec![],
        Duration::from_secs(10),
    );
    hooks.run(HookKind::Up, env(Some(0)));
    eventually(20, "two failures", || {
        metrics.counters()["hook_failures"] == 2
    })
    .await;
    assert!(
        metrics
            .render(&Default::default())
            .contains("vippy_hook_failures_total 2\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_groups_hooks_run_in_order_and_other_groups_do_not_wait() {
    let dir = TempDir::new("hooks");
    let log = dir.join("log");
    let go = dir.join("go");
    // The up hook of group 0 blocks until `go`; everything appends to `log`.
    let up = dir.script(
        "up",
        &format!(
            "#!/bin/sh\n[ \"$VIPPY_GROUP\" = 0 ] && while [ ! -e {go} ]; do sleep 0.02; done\n\
             echo up $VIPPY_GROUP >> {log}\n",
            go = go.display(),
            log = log.display()
        ),
    );
    let down = dir.script(
        "down",
        &format!("#!/bin/sh\necho down $VIPPY_GROUP >> {}\n", log.display()),
    );
    let (hooks, _) = hooks(
        vec![run(&up)],
        vec![run(&down)],
        vec![],
        Duration::from_secs(60),
    );
    hooks.run(HookKind::Up, env(Some(0)));
    hooks.run(HookKind::Down, env(Some(0)));
    hooks.run(HookKind::Up, env(Some(1)));
    // Group 1 is not held up by group 0's stuck hook.
    eventually(20, "group 1's hook", || read(&log) == "up 1\n").await;
    std::fs::write(&go, "").unwrap();
    // Group 0's down hook ran after its up hook, not beside it.
    eventually(20, "group 0's hooks", || read(&log).lines().count() == 3).await;
    assert_eq!(read(&log), "up 1\nup 0\ndown 0\n");
}

/// Hooks with one `up` command given `"retry": true`.
fn retried(up: Command, down: Vec<Command>) -> (Hooks, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let hooks = Hooks::new(
        config::Hooks {
            up: vec![up],
            down,
            change: vec![],
            timeout: Duration::from_secs(10),
            up_retry: [0].into(),
        },
        metrics.clone(),
    );
    (hooks, metrics)
}

/// A cloud API that fails twice before the address moves: the `up` hook is
/// run again with back-off until it exits 0, and shown as retrying meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_up_hook_runs_until_it_succeeds() {
    let dir = TempDir::new("hooks");
    let runs = dir.join("runs");
    let script = dir.script(
        "flaky",
        &format!(
            "#!/bin/sh\necho x >> {runs}\n[ $(wc -l < {runs}) -ge 3 ]\n",
            runs = runs.display()
        ),
    );
    let (hooks, metrics) = retried(run(&script), vec![]);
    hooks.run(HookKind::Up, env(Some(4)));
    eventually(40, "a retry shown", || {
        hooks
            .retrying()
            .first()
            .is_some_and(|r| r.group == 4 && r.attempts >= 1)
    })
    .await;
    eventually(100, "three runs", || read(&runs).lines().count() == 3).await;
    eventually(20, "no longer retrying", || hooks.retrying().is_empty()).await;
    assert_eq!(metrics.counters()["hook_failures"], 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(read(&runs).lines().count(), 3, "ran again after success");
}

/// The group leaves (its `down` is queued): retries stop, the `down` runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_up_hook_stops_when_the_group_goes() {
    let dir = TempDir::new("hooks");
    let runs = dir.join("runs");
    let downs = dir.join("downs");
    let fails = dir.script(
        "fails",
        &format!("#!/bin/sh\necho x >> {}\nexit 1\n", runs.display()),
    );
    let down = dir.script(
        "down",
        &format!("#!/bin/sh\necho x >> {}\n", downs.display()),
    );
    let (hooks, _) = retried(run(&fails), vec![run(&down)]);
    hooks.run(HookKind::Up, env(Some(1)));
    eventually(40, "retrying", || !hooks.retrying().is_empty()).await;
    hooks.run(HookKind::Down, env(Some(1)));
    eventually(40, "the down hook", || downs.exists()).await;
    eventually(20, "no longer retrying", || hooks.retrying().is_empty()).await;
    let after = read(&runs).lines().count();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        read(&runs).lines().count(),
        after,
        "retried after the group left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_runs_queued_down_hooks_and_kills_what_outlasts_the_bound() {
    let dir = TempDir::new("hooks");
    let done = dir.join("done");
    let pid = dir.join("pid");
    let quick = dir.script(
        "quick",
        &format!(
            "#!/bin/sh\nsleep 0.3\necho $VIPPY_GROUP > {}\n",
            done.display()
        ),
    );
    let stuck = dir.script(
        "stuck",
        &format!(
            "#!/bin/sh\necho $$ > {pid}.tmp && mv {pid}.tmp {pid}\nexec sleep 30\n",
            pid = pid.display()
        ),
    );
    // Each command may take 60 s; the bound is what ends the second.
    let (hooks, metrics) = hooks(
        vec![],
        vec![run(&quick), run(&stuck)],
        vec![],
        Duration::from_secs(60),
    );
    hooks.run(HookKind::Down, env(Some(4)));
    // A replaced set of hooks: its lane is waited for too.
    let (newer, _) = self::hooks(vec![], vec![], vec![], Duration::from_secs(1));
    let newer = newer.replacing(&hooks);
    drop(hooks);
    let finished = newer.finish(Duration::from_secs(2)).await;
    assert!(!finished, "the stuck hook outlasted the bound");
    assert_eq!(
        read(&done).trim(),
        "4",
        "the quick down hook ran to its end"
    );
    let pid = read(&pid);
    assert!(ended(&pid), "the stuck hook was killed");
    assert_eq!(metrics.counters()["hook_failures"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_returns_once_the_queued_hooks_are_done() {
    let dir = TempDir::new("hooks");
    let done = dir.join("done");
    let quick = dir.script(
        "quick",
        &format!("#!/bin/sh\nsleep 0.2\ntouch {}\n", done.display()),
    );
    let (hooks, _) = hooks(vec![], vec![run(&quick)], vec![], Duration::from_secs(5));
    hooks.run(HookKind::Down, env(Some(1)));
    assert!(hooks.finish(Duration::from_secs(20)).await);
    assert!(done.exists());
}
