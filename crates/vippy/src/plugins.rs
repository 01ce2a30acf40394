//! Plugins: long-running programs (any language) supervised by vippyd that
//! talk to it through the management API (docs/plugins.md).
//!
//! Each gets `VIPPY_SOCKET` (the API socket) and `VIPPY_NODE` in its
//! environment and inherits vippyd's stdout and stderr. One that exits is
//! started again after a back-off that doubles from 1 s to 30 s and goes
//! back to 1 s once a run lasted 60 s. On cancel each gets SIGTERM (its
//! whole process group), then SIGKILL 5 s later.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use vippy_core::config::Command;

use crate::process;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long counts as healthy and resets the back-off.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// Between SIGTERM and SIGKILL on stop, at a reload and at shutdown.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The supervised plugins.
#[derive(Debug)]
pub struct Plugins {
    socket_path: PathBuf,
    node: String,
    cancel: CancellationToken,
    /// Each running plugin's command and its own stop token.
    running: Vec<(Command, CancellationToken)>,
    tasks: JoinSet<()>,
}

impl Plugins {
    /// Starts one supervisor per command. Must be called inside a tokio
    /// runtime.
    pub fn spawn(
        commands: Vec<Command>,
        socket_path: PathBuf,
        node: String,
        cancel: CancellationToken,
    ) -> Plugins {
        let mut this = Plugins {
            socket_path,
            node,
            cancel,
            running: Vec::new(),
            tasks: JoinSet::new(),
        };
        for command in commands {
            this.start(command);
        }
        this
    }

    /// Applies a reloaded plugin list: plugins whose command is unchanged
    /// keep running; others are stopped (in the background, SIGTERM then
    /// SIGKILL) and new ones started. A changed socket path or node name
    /// restarts all of them, since their environment changed.
    pub fn reconfigure(&mut self, commands: Vec<Command>, socket_path: PathBuf, node: String) {
        while self.tasks.try_join_next().is_some() {}
        let mut old = std::mem::take(&mut self.running);
        if socket_path != self.socket_path || node != self.node {
            self.socket_path = socket_path;
            self.node = node;
            for (_, stop) in old.drain(..) {
                stop.cancel();
            }
        }
        for command in commands {
            match old.iter().position(|(c, _)| *c == command) {
                Some(i) => self.running.push(old.swap_remove(i)),
                None => self.start(command),
            }
        }
        for (command, stop) in old {
            tracing::info!(plugin = %command, "plugin removed from the config; stopping it");
            stop.cancel();
        }
    }

    /// Waits until every plugin has been stopped (after `cancel`).
    pub async fn stopped(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    fn start(&mut self, command: Command) {
        let stop = self.cancel.child_token();
        crate::realtime::spawn_in(
            &mut self.tasks,
            supervise(
                command.clone(),
                self.socket_path.clone(),
                self.node.clone(),
                stop.clone(),
            ),
        );
        self.running.push((command, stop));
    }
}

async fn supervise(command: Command, socket: PathBuf, node: String, cancel: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        match start(&command, &socket, &node) {
            Err(e) => tracing::error!(plugin = %command, "plugin could not start: {e}"),
            Ok(mut child) => {
                tracing::info!(plugin = %command, pid = child.id(), "plugin started");
                tokio::select! {
                    status = child.wait() => {
                        let how = match status {
                            Ok(status) => process::describe(status),
                            Err(e) => format!("wait failed: {e}"),
                        };
                        tracing::warn!(
                            plugin = %command,
                            ran = started.elapsed().as_secs_f64(),
                            "plugin exited ({how}); restarting"
                        );
                    }
                    _ = cancel.cancelled() => {
                        stop(&command, &mut child).await;
                        return;
                    }
                }
            }
        }
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn start(command: &Command, socket: &PathBuf, node: &str) -> std::io::Result<Child> {
    let argv = command.argv();
    let mut cmd = process::command(&argv)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"))?;
    cmd.env("VIPPY_SOCKET", socket).env("VIPPY_NODE", node);
    cmd.spawn()
}

/// SIGTERM to the plugin's process group; SIGKILL after [`STOP_GRACE`].
async fn stop(command: &Command, child: &mut Child) {
    process::signal_group(child, Signal::SIGTERM);
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(_) => tracing::info!(plugin = %command, "plugin stopped"),
        Err(_) => {
            tracing::warn!(plugin = %command, "plugin ignored SIGTERM for {STOP_GRACE:?}; killing it");
            process::signal_group(child, Signal::SIGKILL);
            let _ = child.wait().await;
        }
    }
}
