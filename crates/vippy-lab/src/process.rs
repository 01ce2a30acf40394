//! A program running inside a lab host: signals for fault injection
//! (SIGSTOP/SIGCONT/SIGKILL) and an orderly stop.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
pub use nix::sys::signal::Signal;
use nix::sys::signal::{kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// A child process started by [`crate::Lab::spawn`]. Dropping it kills it
/// (SIGKILL) and reaps it.
#[derive(Debug)]
pub struct LabProcess {
    child: Child,
    host: String,
    log: PathBuf,
    status: Option<ExitStatus>,
}

impl LabProcess {
    pub(crate) fn new(child: Child, host: String, log: PathBuf) -> Self {
        LabProcess {
            child,
            host,
            log,
            status: None,
        }
    }

    /// The process id (the program's own: `ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lab host it runs on.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where its stdout and stderr go.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The log's text so far (lossy UTF-8; empty if unreadable).
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Sends a signal. Fails if the process has already been reaped.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        anyhow::ensure!(self.status.is_none(), "{} has exited", self.describe());
        kill(Pid::from_raw(self.child.id() as i32), signal)
            .with_context(|| format!("sending {signal} to {}", self.describe()))
    }

    /// Sends a signal to its whole process group: it and every child it
    /// forked, at once. Only for processes started by
    /// [`crate::Lab::spawn_group`] (leaders of their own group).
    pub fn signal_group(&self, signal: Signal) -> Result<()> {
        anyhow::ensure!(self.status.is_none(), "{} has exited", self.describe());
        killpg(Pid::from_raw(self.child.id() as i32), signal)
            .with_context(|| format!("sending {signal} to the group of {}", self.describe()))
    }

    /// SIGKILLs its whole process group at once (like a crash of a daemon
    /// and its workers) and reaps it. Orphaned group members are reaped
    /// too when this process is a child subreaper (see
    /// [`become_subreaper`]); otherwise they are left to init.
    pub fn kill_group(&mut self) -> Result<()> {
        if self.status.is_none() {
            let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        }
        self.kill()?;
        let group = Pid::from_raw(-(self.child.id() as i32));
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            match waitpid(group, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(5)),
                Ok(_) => {}
                Err(_) => break, // ECHILD: none of the group is our child any more
            }
        }
        Ok(())
    }

    /// Freezes it (SIGSTOP): alive but silent, like a hung node.
    pub fn stop(&self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// Resumes it after [`LabProcess::stop`].
    pub fn cont(&self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    /// Its exit status if it has exited, without waiting.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait().context("polling child")?;
        }
        Ok(self.status)
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills it hard (SIGKILL, like a crashed node) and reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        let _ = self.child.kill();
        let status = self.child.wait().context("reaping child")?;
        self.status = Some(status);
        Ok(status)
    }

    /// Asks it to stop (SIGCONT then SIGTERM), waits up to `timeout`, then
    /// kills it. Returns the exit status and whether it stopped by itself.
    pub fn terminate(&mut self, timeout: Duration) -> Result<(ExitStatus, bool)> {
        if let Some(status) = self.try_wait()? {
            return Ok((status, true));
        }
        // A stopped process would not act on SIGTERM until continued.
        let _ = self.signal(Signal::SIGCONT);
        let _ = self.signal(Signal::SIGTERM);
        match self.wait_timeout(timeout)? {
            Some(status) => Ok((status, true)),
            None => Ok((self.kill()?, false)),
        }
    }

    fn describe(&self) -> String {
        format!("process {} on {}", self.child.id(), self.host)
    }
}

/// Whether process `pid` has ended: gone, or a zombie nobody reaped yet
/// (an orphan's exit status goes to a subreaper or init, maybe later).
pub fn process_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name, which may itself hold ") ".
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// Makes this process a child subreaper: children orphaned by processes it
/// started (a daemon's workers whose parent was killed) become its children,
/// so [`LabProcess::kill_group`] can reap them instead of leaving zombies
/// to an init that may not reap.
pub fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
