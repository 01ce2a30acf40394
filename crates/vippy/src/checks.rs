//! Health checks: commands run every `interval`, killed at `timeout`,
//! debounced with `rise`/`fall` (docs/plugins.md). A failing check makes the node
//! inactive with reason `check:NAME`; that decision is the runtime's, this
//! module only reports state changes.
//!
//! # States
//! A check starts **unknown** and reports nothing until it has a definite
//! state: `rise` consecutive passes make it passing, `fall` consecutive
//! failures make it failing, whichever comes first. After that it reports
//! only changes: from passing, `fall` consecutive failures; from failing,
//! `rise` consecutive passes. The first run starts at once, so with
//! `rise = 1` a good check reports within one run. The runtime should count
//! a check that has not reported yet as failing, so a node never takes
//! addresses before its service is known to be good.
//!
//! A run passes when the command exits 0 within `timeout`. A run that times
//! out is killed with its whole process group and counts as a failure. The
//! command is executed directly, with no shell, unless the config says
//! `Command::Shell`.
//!
//! # Reload
//! [`HealthChecks::reconfigure`] applies a new list without making the node
//! flap: a reload must not move addresses because checks restarted from
//! unknown. It returns at once: stopped checks end side by side in tasks of
//! their own (each may take [`HALT_WAIT`]), never on the core loop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use vippy_core::config::Check;

use crate::process::{self, Finished};

/// Bytes of a check's output kept for [`CheckResult::detail`].
const OUTPUT_LIMIT: usize = 512;
/// How long a reload waits for a stopped check to end. One stuck in the
/// kernel (uninterruptible I/O on a hard mount) may never end even after
/// SIGKILL; it is left to end by itself, and the reload goes on.
const HALT_WAIT: Duration = Duration::from_secs(1);

/// A check changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    /// Passing (`true`) or failing.
    pub ok: bool,
    /// What the deciding run did: `exit status 1: <output>`,
    /// `timed out after 2s`, `could not start: …`.
    pub detail: String,
}

/// The running checks. Dropping this does not stop them; cancel the token.
#[derive(Debug)]
pub struct HealthChecks {
    tx: mpsc::Sender<CheckResult>,
    cancel: CancellationToken,
    running: BTreeMap<String, Running>,
    /// Checks a reload removed, being halted.
    halting: JoinSet<()>,
}

#[derive(Debug)]
struct Running {
    check: Check,
    stop: CancellationToken,
    task: JoinHandle<()>,
    /// The state last handed to the runtime: 0 none, 1 passing, 2 failing.
    reported: Arc<AtomicU8>,
}

impl HealthChecks {
    /// Starts one task per check. Results go to `tx`; a check stops when
    /// `cancel` fires (killing a run in progress) or `tx` is closed. Must
    /// be called inside a tokio runtime.
    pub fn spawn(
        checks: Vec<Check>,
        tx: mpsc::Sender<CheckResult>,
        cancel: CancellationToken,
    ) -> HealthChecks {
        let mut this = HealthChecks {
            tx,
            cancel,
            running: BTreeMap::new(),
            halting: JoinSet::new(),
        };
        for check in checks {
            let running = this.start(check.clone(), None);
            this.running.insert(check.name, running);
        }
        this
    }

    /// Applies a reloaded check list without a flap: an unchanged check
    /// keeps running untouched; a changed one (same name) restarts from the
    /// state it last reported, so it reports again only on a real change;
    /// new ones start unknown; removed ones stop (the runtime drops their
    /// `check:NAME` reason itself). Returns without waiting: every old
    /// check halts at the same time, each in its own task.
    pub fn reconfigure(&mut self, checks: Vec<Check>) {
        while self.halting.try_join_next().is_some() {}
        let mut old = std::mem::take(&mut self.running);
        for check in checks {
            let running = match old.remove(&check.name) {
                Some(running) if running.check == check => running,
                Some(running) => self.restart(check.clone(), running),
                None => self.start(check.clone(), None),
            };
            self.running.insert(check.name, running);
        }
        for (_, running) in old {
            crate::realtime::spawn_in(&mut self.halting, async move {
                running.halt().await;
            });
        }
    }

    /// Waits until every check task has ended (after `cancel`), halting
    /// ones included.
    pub async fn stopped(mut self) {
        for (_, running) in self.running {
            let _ = running.task.await;
        }
        while self.halting.join_next().await.is_some() {}
    }

    fn start(&self, check: Check, initial: Option<bool>) -> Running {
        let stop = self.cancel.child_token();
        let reported = Arc::new(AtomicU8::new(encode(initial)));
        let task = crate::realtime::spawn(run_check(
            check.clone(),
            initial,
            self.tx.clone(),
            stop.clone(),
            reported.clone(),
        ));
        Running {
            check,
            stop,
            task,
            reported,
        }
    }

    /// The changed `check` in place of `old`, starting from the state `old`
    /// last reported: known only once `old` has halted, so the new run
    /// waits for that in its own task, not the caller.
    fn restart(&self, check: Check, old: Running) -> Running {
        let stop = self.cancel.child_token();
        // Until the old one has halted, what it reported so far.
        let reported = Arc::new(AtomicU8::new(old.reported.load(Ordering::SeqCst)));
        let task = crate::realtime::spawn({
            let (check, tx, stop, reported) = (
                check.clone(),
                self.tx.clone(),
                stop.clone(),
                reported.clone(),
            );
            async move {
                let last = old.halt().await;
                reported.store(encode(last), Ordering::SeqCst);
                run_check(check, last, tx, stop, reported).await;
            }
        });
        Running {
            check,
            stop,
            task,
            reported,
        }
    }
}

impl Running {
    /// Stops the check and returns the state it last reported; waits for
    /// its task at most [`HALT_WAIT`] (a cancelled run sends nothing more).
    async fn halt(mut self) -> Option<bool> {
        self.stop.cancel();
        if tokio::time::timeout(HALT_WAIT, &mut self.task)
            .await
            .is_err()
        {
            tracing::warn!(
                check = %self.check.name,
                "check did not end within {HALT_WAIT:?} of SIGKILL (stuck in the kernel?); not waiting for it"
            );
        }
        decode(self.reported.load(Ordering::SeqCst))
    }
}

fn encode(state: Option<bool>) -> u8 {
    match state {
        None => 0,
        Some(true) => 1,
        Some(false) => 2,
    }
}

fn decode(code: u8) -> Option<bool> {
    match code {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    }
}

/// Debounce state of one check.
#[derive(Debug, Default)]
struct Debounce {
    state: Option<bool>,
    passes: u32,
    failures: u32,
}

impl Debounce {
    /// Records one run; returns `(old, new)` when the state changed.
    fn record(&mut self, ok: bool, rise: u32, fall: u32) -> Option<(Option<bool>, bool)> {
        if ok {
            self.passes = self.passes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.passes = 0;
        }
        let next = match self.state {
            Some(true) | None if self.failures >= fall.max(1) => false,
            Some(false) | None if self.passes >= rise.max(1) => true,
            _ => return None,
        };
        if self.state == Some(next) {
            return None;
        }
        let old = self.state.replace(next);
        Some((old, next))
    }
}

async fn run_check(
    check: Check,
    initial: Option<bool>,
    tx: mpsc::Sender<CheckResult>,
    cancel: CancellationToken,
    reported: Arc<AtomicU8>,
) {
    let argv = check.command.argv();
    let mut ticker = tokio::time::interval(check.interval.max(Duration::from_millis(10)));
    // A run that overruns the interval delays the next one rather than
    // starting a burst to catch up.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut debounce = Debounce {
        state: initial,
        ..Debounce::default()
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tx.closed() => return,
            _ = ticker.tick() => {}
        }
        let (ok, detail) = match process::command(&argv) {
            None => (false, "empty command".to_string()),
            Some(cmd) => match process::run(cmd, check.timeout, OUTPUT_LIMIT, &cancel).await {
                Finished::Cancelled => return,
                Finished::Exited { status, output } => {
                    let mut detail = process::describe(status);
                    if !output.is_empty() {
                        detail.push_str(": ");
                        detail.push_str(&output);
                    }
                    (status.success(), detail)
                }
                Finished::TimedOut { output } => {
                    let mut detail = format!("timed out after {}s", check.timeout.as_secs_f64());
                    if !output.is_empty() {
                        detail.push_str(": ");
                        detail.push_str(&output);
                    }
                    (false, detail)
                }
                Finished::SpawnFailed(e) => (false, format!("could not start {}: {e}", argv[0])),
            },
        };
        tracing::debug!(check = %check.name, ok, %detail, "check ran");
        if let Some((old, now_ok)) = debounce.record(ok, check.rise, check.fall) {
            tracing::info!(
                check = %check.name,
                old = state_name(old),
                new = state_name(Some(now_ok)),
                %detail,
                "health check changed state"
            );
            let result = CheckResult {
                name: check.name.clone(),
                ok: now_ok,
                detail,
            };
            // Cancellable, so a reconfigure never waits on a full channel;
            // `reported` moves only once the runtime has the result.
            tokio::select! {
                _ = cancel.cancelled() => return,
                sent = tx.send(result) => match sent {
                    Ok(()) => reported.store(encode(Some(now_ok)), Ordering::SeqCst),
                    Err(_) => return,
                },
            }
        }
    }
}

fn state_name(state: Option<bool>) -> &'static str {
    match state {
        None => "unknown",
        Some(true) => "passing",
        Some(false) => "failing",
    }
}

#[cfg(test)]
mod tests {
    use super::Debounce;

    #[test]
    fn starts_unknown_and_reports_first_definite_state() {
        let mut d = Debounce::default();
        assert_eq!(d.record(true, 2, 3), None);
        assert_eq!(d.record(true, 2, 3), Some((None, true)));
        assert_eq!(d.record(true, 2, 3), None);

        let mut d = Debounce::default();
        assert_eq!(d.record(false, 2, 3), None);
        assert_eq!(d.record(false, 2, 3), None);
        assert_eq!(d.record(false, 2, 3), Some((None, false)));
    }

    #[test]
    fn flaps_shorter_than_rise_or_fall_are_ignored() {
        let mut d = Debounce::default();
        assert_eq!(d.record(true, 2, 2), None);
        assert_eq!(d.record(true, 2, 2), Some((None, true)));
        assert_eq!(d.record(false, 2, 2), None);
        assert_eq!(d.record(true, 2, 2), None);
        assert_eq!(d.record(false, 2, 2), None);
        assert_eq!(d.record(false, 2, 2), Some((Some(true), false)));
        assert_eq!(d.record(true, 2, 2), None);
        assert_eq!(d.record(false, 2, 2), None);
        assert_eq!(d.record(true, 2, 2), None);
        assert_eq!(d.record(true, 2, 2), Some((Some(false), true)));
    }
}
