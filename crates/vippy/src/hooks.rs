//! Event hooks: commands run when this node takes a group (`up`), gives one
//! up (`down`), or changes state (`change`) (docs/plugins.md).
//!
//! [`Hooks::run`] only queues: failover never waits for a hook. Hooks of one
//! group run one at a time in the order they were queued (so a `down` hook
//! cannot overtake the `up` hook before it), hooks of different groups run
//! side by side, and `change` hooks have a queue of their own. Each command
//! is killed with its process group at `hooks.timeout`.
//!
//! At shutdown [`Hooks::finish`] lets every lane, those of replaced hooks
//! too, run what it queued (the `down` hooks of the release), each command
//! up to its timeout, all of them within one bound; what is still running
//! then is killed with its process group.
//!
//! Environment: `VIPPY_EVENT`, `VIPPY_NODE`, `VIPPY_GROUP` (index, empty for
//! `change`), `VIPPY_IPS` (space separated, with prefix length),
//! `VIPPY_INTERFACE` (empty when unknown).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vippy_core::config::{self, Command};

use crate::metrics::Metrics;
use crate::process::{self, Finished};

/// Bytes of a hook's output kept for the log.
const OUTPUT_LIMIT: usize = 1024;

/// Back-off of a retried `up` hook: the first wait, doubled after each
/// failure up to the last.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// A retried `up` hook that has not succeeded yet, for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrying {
    pub group: usize,
    pub command: String,
    /// Runs so far, all failed.
    pub attempts: u32,
    pub last_error: String,
}

/// Retried hooks by group, shared with status across reloads.
type RetryBoard = Arc<Mutex<std::collections::BTreeMap<usize, Retrying>>>;

/// Which hook list to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    Up,
    Down,
    Change,
}

impl HookKind {
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Up => "up",
            HookKind::Down => "down",
            HookKind::Change => "change",
        }
    }
}

/// What the hook is told, through its environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookEnv {
    /// `VIPPY_EVENT`; empty means the kind's name (`up`, `down`, `change`).
    /// For `change` the runtime may say more, e.g. `active` or `inactive`.
    pub event: String,
    /// `VIPPY_NODE`: this node.
    pub node: String,
    /// `VIPPY_GROUP`: the group index.
    pub group: Option<usize>,
    /// `VIPPY_IPS`: addresses with prefix length, e.g. `10.8.3.195/24`.
    pub ips: Vec<String>,
    /// `VIPPY_INTERFACE`.
    pub interface: Option<String>,
}

/// One queued run: the commands of one hook list and their environment.
struct Job {
    kind: HookKind,
    commands: Arc<[Command]>,
    /// Indices into `commands` re-run until they succeed (only `up`).
    retry: Arc<std::collections::BTreeSet<usize>>,
    env: HookEnv,
}

/// Queues are keyed by group; `change` hooks use `None`.
type Lane = Option<usize>;

/// The configured hooks. Build a new one on reload; queued hooks of the old
/// one still run.
pub struct Hooks {
    up: Arc<[Command]>,
    down: Arc<[Command]>,
    change: Arc<[Command]>,
    timeout: Duration,
    up_retry: Arc<std::collections::BTreeSet<usize>>,
    metrics: Arc<Metrics>,
    retrying: RetryBoard,
    lanes: Mutex<HashMap<Lane, mpsc::UnboundedSender<Job>>>,
    /// Every lane task, those of the hooks this one replaced too.
    tracker: TaskTracker,
    /// Cancelled only when [`Hooks::finish`]'s bound runs out: until then
    /// hooks run to completion or timeout.
    cut: CancellationToken,
}

impl Hooks {
    pub fn new(config: config::Hooks, metrics: Arc<Metrics>) -> Hooks {
        Hooks {
            up: config.up.into(),
            down: config.down.into(),
            change: config.change.into(),
            timeout: config.timeout,
            up_retry: Arc::new(config.up_retry),
            metrics,
            retrying: RetryBoard::default(),
            lanes: Mutex::new(HashMap::new()),
            tracker: TaskTracker::new(),
            cut: CancellationToken::new(),
        }
    }

    /// Hooks for a reloaded config that keep showing the retries of these
    /// (their lanes finish what they queued).
    pub fn replacing(mut self, old: &Hooks) -> Hooks {
        self.retrying = old.retrying.clone();
        self.tracker = old.tracker.clone();
        self.cut = old.cut.clone();
        self
    }

    /// At shutdown: waits until every lane has run what it queued, at most
    /// `bound` in all; then kills what still runs. True when all finished.
    pub async fn finish(&self, bound: Duration) -> bool {
        // A lane ends once its queue is empty and its sender gone.
        self.lanes.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.tracker.close();
        if tokio::time::timeout(bound, self.tracker.wait())
            .await
            .is_ok()
        {
            return true;
        }
        self.cut.cancel();
        // Killing a process group and reaping it takes a moment.
        let _ = tokio::time::timeout(Duration::from_millis(500), self.tracker.wait()).await;
        false
    }

    /// Retried `up` hooks that have not succeeded yet, by group.
    pub fn retrying(&self) -> Vec<Retrying> {
        let board = self.retrying.lock().unwrap_or_else(|e| e.into_inner());
        board.values().cloned().collect()
    }

    /// Queues the `kind` hooks with `env` and returns at once. Must be called
    /// inside a tokio runtime.
    pub fn run(&self, kind: HookKind, env: HookEnv) {
        let commands = match kind {
            HookKind::Up => &self.up,
            HookKind::Down => &self.down,
            HookKind::Change => &self.change,
        };
        if commands.is_empty() {
            return;
        }
        let lane = if kind == HookKind::Change {
            None
        } else {
            env.group
        };
        let retry = if kind == HookKind::Up {
            self.up_retry.clone()
        } else {
            Arc::default()
        };
        let job = Job {
            kind,
            commands: commands.clone(),
            retry,
            env,
        };
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        let tx = lanes.entry(lane).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            crate::realtime::spawn(self.tracker.track_future(run_lane(
                rx,
                self.timeout,
                self.metrics.clone(),
                self.retrying.clone(),
                self.cut.clone(),
            )));
            tx
        });
        // The lane task only ends when its sender is dropped, so this send
        // cannot fail while we hold the sender.
        let _ = tx.send(job);
    }
}

async fn run_lane(
    mut rx: mpsc::UnboundedReceiver<Job>,
    timeout: Duration,
    metrics: Arc<Metrics>,
    retrying: RetryBoard,
    cut: CancellationToken,
) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        for (i, command) in job.commands.iter().enumerate() {
            let mut failed = run_one(&job, command, timeout, &metrics, &cut).await;
            if !job.retry.contains(&i) {
                continue;
            }
            // Re-run while the group stays here: the next job of this lane
            // (its `down`) means it has gone, and ends the retries.
            let group = job.env.group.unwrap_or_default();
            let mut wait = RETRY_FIRST;
            let mut attempts = 1;
            while let Some(error) = failed {
                {
                    let mut board = retrying.lock().unwrap_or_else(|e| e.into_inner());
                    board.insert(
                        group,
                        Retrying {
                            group,
                            command: command.to_string(),
                            attempts,
                            last_error: error,
                        },
                    );
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    queued = rx.recv() => {
                        next = queued;
                        break;
                    }
                }
                wait = (wait * 2).min(RETRY_MAX);
                attempts += 1;
                failed = run_one(&job, command, timeout, &metrics, &cut).await;
                if failed.is_none() {
                    tracing::info!(hook = "up", %command, group, attempts, "hook succeeded after {attempts} runs");
                }
            }
            retrying
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&group);
            if next.is_some() {
                // The group left: the rest of this `up` list is moot.
                break;
            }
        }
    }
}

/// Runs one command of a job; `None` on success, else why it failed.
async fn run_one(
    job: &Job,
    command: &Command,
    timeout: Duration,
    metrics: &Metrics,
    cut: &CancellationToken,
) -> Option<String> {
    let env = &job.env;
    let event = if env.event.is_empty() {
        job.kind.name()
    } else {
        env.event.as_str()
    };
    let Some(mut cmd) = process::command(&command.argv()) else {
        metrics.hook_failure();
        tracing::warn!(hook = job.kind.name(), "empty hook command");
        return Some("empty command".into());
    };
    // The daemon's own VIPPY_* settings (VIPPY_LOG…) are not the hook's.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("VIPPY_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("VIPPY_EVENT", event)
        .env("VIPPY_NODE", &env.node)
        .env(
            "VIPPY_GROUP",
            env.group.map(|g| g.to_string()).unwrap_or_default(),
        )
        .env("VIPPY_IPS", env.ips.join(" "))
        .env("VIPPY_INTERFACE", env.interface.as_deref().unwrap_or(""));
    let started = Instant::now();
    let finished = process::run(cmd, timeout, OUTPUT_LIMIT, cut).await;
    let took = started.elapsed().as_secs_f64();
    let group = env.group.map(|g| g as i64).unwrap_or(-1);
    match finished {
        Finished::Exited { status, output } if status.success() => {
            if took > timeout.as_secs_f64() / 2.0 {
                tracing::warn!(
                    hook = job.kind.name(), %command, event, group, took,
                    timeout = timeout.as_secs_f64(),
                    "slow hook: took more than half its timeout"
                );
            } else {
                tracing::debug!(hook = job.kind.name(), %command, event, group, took, %output, "hook ran");
            }
            None
        }
        Finished::Exited { status, output } => {
            metrics.hook_failure();
            tracing::warn!(
                hook = job.kind.name(), %command, event, group, took, %output,
                "hook failed: {}", process::describe(status)
            );
            Some(process::describe(status).to_string())
        }
        Finished::TimedOut { output } => {
            metrics.hook_failure();
            tracing::warn!(
                hook = job.kind.name(), %command, event, group, %output,
                "hook killed after its timeout of {}s", timeout.as_secs_f64()
            );
            Some(format!(
                "killed after its timeout of {}s",
                timeout.as_secs_f64()
            ))
        }
        Finished::SpawnFailed(e) => {
            metrics.hook_failure();
            tracing::warn!(hook = job.kind.name(), %command, event, group, "hook could not start: {e}");
            Some(format!("could not start: {e}"))
        }
        Finished::Cancelled => {
            metrics.hook_failure();
            tracing::warn!(hook = job.kind.name(), %command, event, group, "hook killed: vippyd is stopping and the hooks' time is up");
            Some("killed at shutdown".into())
        }
    }
}
