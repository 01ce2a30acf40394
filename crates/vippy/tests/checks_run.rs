//! Health checks running real commands.

mod support;

use std::time::Duration;

use support::api::{TempDir, ended, eventually};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vippy::checks::{CheckResult, HealthChecks};
use vippy_core::config::{Check, Command};

fn check(name: &str, command: Command, rise: u32, fall: u32) -> Check {
    Check {
        name: name.into(),
        command,
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
        rise,
        fall,
        groups: Vec::new(),
    }
}

fn argv(words: &[&str]) -> Command {
    Command::Argv(words.iter().map(|w| w.to_string()).collect())
}

async fn next(rx: &mut mpsc::Receiver<CheckResult>) -> CheckResult {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a check result in time")
        .expect("checks still running")
}

#[tokio::test]
async fn passing_and_failing_commands_report_once() {
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let checks = HealthChecks::spawn(
        vec![
            check("good", argv(&["true"]), 1, 1),
            check(
                "bad",
                Command::Shell("echo broken >&2; exit 3".into()),
                1,
                1,
            ),
            check("missing", argv(&["/nonexistent/check"]), 1, 1),
        ],
        tx,
        cancel.clone(),
    );
    let mut results = [
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ];
    results.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        results[0],
        CheckResult {
            name: "bad".into(),
            ok: false,
            detail: "exit status 3: broken".into()
        }
    );
    assert_eq!(
        results[1],
        CheckResult {
            name: "good".into(),
            ok: true,
            detail: "exit status 0".into()
        }
    );
    assert!(!results[2].ok);
    assert!(
        results[2]
            .detail
            .starts_with("could not start /nonexistent/check: "),
        "{}",
        results[2].detail
    );
    // Only changes are reported: many more runs, no more results.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err());
    cancel.cancel();
    checks.stopped().await;
}

#[tokio::test]
async fn rise_and_fall_count_consecutive_runs() {
    let dir = TempDir::new("checks");
    // Run n (from 1) passes or fails by the nth letter of the schedule,
    // then passes for ever; it prints its run number.
    let script = dir.script(
        "flappy",
        &format!(
            "#!/bin/sh\n\
             n=$(( $(cat {count} 2>/dev/null || echo 0) + 1 ))\n\
             echo $n > {count}\n\
             echo run $n\n\
             case $(echo PPFPFFFPFPP | cut -c$n) in F) exit 1;; esac\n\
             exit 0\n",
            count = dir.join("count").display()
        ),
    );
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let checks = HealthChecks::spawn(
        vec![check("flappy", argv(&[script.to_str().unwrap()]), 2, 3)],
        tx,
        cancel.clone(),
    );
    // P P → passing at run 2; F P F F F → failing at run 7 (the lone F at
    // run 3 is not enough); P F P P → passing at run 11.
    let want = [
        (true, "exit status 0: run 2"),
        (false, "exit status 1: run 7"),
        (true, "exit status 0: run 11"),
    ];
    for (ok, detail) in want {
        let result = next(&mut rx).await;
        assert_eq!((result.ok, result.detail.as_str()), (ok, detail));
    }
    cancel.cancel();
    checks.stopped().await;
}

#[tokio::test]
async fn a_check_past_its_timeout_is_killed_with_its_children() {
    let dir = TempDir::new("checks");
    let pids = dir.join("pids");
    let script = format!(
        "sleep 300 & echo $! > {p}.child; echo $$ > {p}.main; echo started; wait",
        p = pids.display()
    );
    let mut slow = check("slow", Command::Shell(script), 1, 1);
    slow.timeout = Duration::from_millis(300);
    slow.interval = Duration::from_secs(3600);
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let checks = HealthChecks::spawn(vec![slow], tx, cancel.clone());
    let result = next(&mut rx).await;
    assert!(!result.ok);
    assert_eq!(result.detail, "timed out after 0.3s: started");
    let child = std::fs::read_to_string(pids.with_extension("child")).unwrap();
    let main = std::fs::read_to_string(pids.with_extension("main")).unwrap();
    eventually(10, "the check and its child to be killed", || {
        ended(child.trim()) && ended(main.trim())
    })
    .await;
    cancel.cancel();
    checks.stopped().await;
}

#[tokio::test]
async fn cancel_kills_a_check_in_progress() {
    let dir = TempDir::new("checks");
    let pid = dir.join("pid");
    let script = format!("echo $$ > {}; exec sleep 300", pid.display());
    let (tx, _rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let mut long = check("long", Command::Shell(script), 1, 1);
    long.timeout = Duration::from_secs(3600);
    let checks = HealthChecks::spawn(vec![long], tx, cancel.clone());
    eventually(10, "the check to start", || {
        std::fs::read_to_string(&pid).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), checks.stopped())
        .await
        .expect("checks stop on cancel");
    let pid = std::fs::read_to_string(&pid).unwrap();
    eventually(10, "the check to be killed", || ended(pid.trim())).await;
}

#[tokio::test]
async fn argv_commands_get_no_shell() {
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let checks = HealthChecks::spawn(
        vec![
            check("literal", argv(&["echo", "$HOME", "a;b", "*"]), 1, 1),
            check("shell", Command::Shell("echo $HOME".into()), 1, 1),
        ],
        tx,
        cancel.clone(),
    );
    let mut results = [next(&mut rx).await, next(&mut rx).await];
    results.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(results[0].detail, "exit status 0: $HOME a;b *");
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(
        results[1].detail.trim_end(),
        format!("exit status 0: {home}").trim_end()
    );
    cancel.cancel();
    checks.stopped().await;
}

#[tokio::test]
async fn reconfigure_keeps_state_across_a_reload() {
    let dir = TempDir::new("checks");
    let pid = dir.join("pid");
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let long = {
        let mut c = check(
            "long",
            Command::Shell(format!("echo $$ > {}; exec sleep 300", pid.display())),
            1,
            1,
        );
        c.timeout = Duration::from_secs(3600);
        c
    };
    let mut checks = HealthChecks::spawn(
        vec![
            check("same", argv(&["true"]), 1, 1),
            check("changed", argv(&["true"]), 1, 1),
            long,
        ],
        tx,
        cancel.clone(),
    );
    let mut first = [next(&mut rx).await, next(&mut rx).await];
    first.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!((first[0].name.as_str(), first[0].ok), ("changed", true));
    assert_eq!((first[1].name.as_str(), first[1].ok), ("same", true));
    eventually(10, "the long check to start", || {
        std::fs::read_to_string(&pid).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;

    // "changed" gets new settings but still passes; "long" goes; "new" comes.
    let mut changed = check("changed", argv(&["true", "again"]), 2, 2);
    changed.interval = Duration::from_millis(30);
    checks.reconfigure(vec![
        check("same", argv(&["true"]), 1, 1),
        changed,
        check("new", argv(&["false"]), 1, 1),
    ]);
    // Halted in a task of its own: reconfigure did not wait for it.
    let pid = std::fs::read_to_string(&pid).unwrap();
    eventually(5, "a removed check's run is killed", || ended(pid.trim())).await;
    // Only the new check reports: the others kept their state.
    let result = next(&mut rx).await;
    assert_eq!((result.name.as_str(), result.ok), ("new", false));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "no flap from the reload");

    // A real change after a reload is still reported.
    checks.reconfigure(vec![check("changed", argv(&["false"]), 1, 1)]);
    let result = next(&mut rx).await;
    assert_eq!((result.name.as_str(), result.ok), ("changed", false));
    cancel.cancel();
    checks.stopped().await;
}
