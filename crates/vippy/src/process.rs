//! Running external programs for checks, hooks and plugins: each in a
//! process group of its own, so a timeout or a stop reaches its children too,
//! and each told to stop (SIGTERM) when vippyd dies, even by SIGKILL.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::prctl;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// How long output is still read after the program exited, for a background
/// grandchild that keeps the pipe open.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// A command ready to spawn in a new process group, stdin from /dev/null,
/// with SIGTERM as its parent-death signal. `None` for an empty argv.
///
/// The parent-death signal follows the thread that spawned the child;
/// vippyd spawns from its single runtime thread, which lives as long as the
/// process.
pub(crate) fn command(argv: &[String]) -> Option<Command> {
    let (program, args) = argv.split_first()?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let parent = std::process::id();
    // SAFETY: the hook runs in the forked child before exec and only makes
    // the async-signal-safe calls prctl(2) and getppid(2); it allocates
    // nothing (a raw OS error needs no allocation).
    unsafe {
        cmd.pre_exec(move || {
            prctl::set_pdeathsig(Signal::SIGTERM)?;
            // vippyd died between fork and prctl: the signal would never
            // come, so do not start at all.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    Some(cmd)
}

/// Sends `signal` to the process group led by `child` (spawned by
/// [`command`]). Only call before the child is reaped, so its id cannot
/// have been reused.
pub(crate) fn signal_group(child: &Child, signal: Signal) {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        // ESRCH: the group is already gone, which is what we want.
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// How a run of a program ended.
#[derive(Debug)]
pub(crate) enum Finished {
    Exited {
        status: ExitStatus,
        output: String,
    },
    /// Killed (with its process group) at the timeout.
    TimedOut {
        output: String,
    },
    /// Killed (with its process group) because the caller stopped.
    Cancelled,
    SpawnFailed(io::Error),
}

/// Runs `cmd` to completion or `timeout`, capturing up to `limit` bytes of
/// stdout and stderr together. On timeout or `cancel` the whole process
/// group gets SIGKILL.
pub(crate) async fn run(
    mut cmd: Command,
    timeout: Duration,
    limit: usize,
    cancel: &CancellationToken,
) -> Finished {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Finished::SpawnFailed(e),
    };
    let captured = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(capture(out, captured.clone(), limit)));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(capture(err, captured.clone(), limit)));
    }

    let ended = tokio::select! {
        status = child.wait() => Some(status),
        _ = tokio::time::sleep(timeout) => None,
        _ = cancel.cancelled() => {
            signal_group(&child, Signal::SIGKILL);
            let _ = child.wait().await;
            abort_all(readers);
            return Finished::Cancelled;
        }
    };
    let status = match ended {
        Some(Ok(status)) => Some(status),
        Some(Err(e)) => {
            abort_all(readers);
            return Finished::SpawnFailed(e);
        }
        None => {
            signal_group(&child, Signal::SIGKILL);
            let _ = child.wait().await;
            None
        }
    };
    for reader in readers {
        let abort = reader.abort_handle();
        if tokio::time::timeout(OUTPUT_GRACE, reader).await.is_err() {
            abort.abort();
        }
    }
    let output = {
        let bytes = captured.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from_utf8_lossy(&bytes).trim_end().to_string();
        if bytes.len() >= limit {
            text.push_str(" …");
        }
        text
    };
    match status {
        Some(status) => Finished::Exited { status, output },
        None => Finished::TimedOut { output },
    }
}

fn abort_all(readers: Vec<tokio::task::JoinHandle<()>>) {
    for reader in readers {
        reader.abort();
    }
}

/// Keeps the first `limit` bytes and drains the rest, so the program never
/// blocks on a full pipe.
async fn capture(mut from: impl AsyncRead + Unpin, into: Arc<Mutex<Vec<u8>>>, limit: usize) {
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut into = into.lock().unwrap_or_else(|e| e.into_inner());
                let room = limit.saturating_sub(into.len());
                into.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// `exit status 3`, `killed by signal 9`.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => status.to_string(),
    }
}
