//! `realtime`: the core loop at a SCHED_FIFO priority and the data plane
//! one below it ([`data_plane_priority`]), with the daemon's memory locked,
//! and everything else at normal priority.
//!
//! The core loop and the data plane run on the main thread (vippyd's
//! current-thread runtime). With `realtime` set, vippyd first starts a
//! second runtime, [`Background`], on threads of normal priority, then
//! locks its memory and moves the main thread to SCHED_FIFO. The work that
//! must not compete with the loop (the management API, the metrics
//! listener, checks, hooks, plugins) is spawned through [`spawn`] and
//! [`spawn_in`], which put it on the background runtime when there is one
//! and on the current runtime otherwise (so without `realtime` nothing
//! changes). Logging already has its own writer thread, started before.
//!
//! The policy is set with SCHED_RESET_ON_FORK: a thread or process the loop
//! creates (tokio's blocking pool, the state writer, any child) starts at
//! normal priority.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

static BACKGROUND: OnceLock<Handle> = OnceLock::new();

/// The name of the background runtime's threads (in `/proc/PID/task/*/comm`).
pub const BACKGROUND_THREAD: &str = "vippy-normal";

/// The runtime of normal priority that serves everything but the core
/// loop and the data plane while `realtime` is set.
pub struct Background {
    runtime: Option<Runtime>,
}

impl Background {
    /// Starts the background runtime and makes [`spawn`] use it.
    pub fn start() -> std::io::Result<Background> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(BACKGROUND_THREAD)
            .enable_all()
            .build()?;
        let _ = BACKGROUND.set(runtime.handle().clone());
        Ok(Background {
            runtime: Some(runtime),
        })
    }

    /// Stops it, waiting at most `bound` for its tasks.
    pub fn stop(mut self, bound: Duration) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(bound);
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Spawns `future` on the background runtime when `realtime` started one,
/// else on the current runtime (`tokio::spawn`).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match BACKGROUND.get() {
        Some(handle) => handle.spawn(future),
        None => tokio::spawn(future),
    }
}

/// [`spawn`] into a `JoinSet`.
pub fn spawn_in<T, F>(set: &mut JoinSet<T>, future: F) -> AbortHandle
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    match BACKGROUND.get() {
        Some(handle) => set.spawn_on(future, handle),
        None => set.spawn(future),
    }
}

/// Runs `f` with the background runtime as the current one, so that a
/// socket made into a tokio one inside is driven by it.
pub fn off_loop<R>(f: impl FnOnce() -> R) -> R {
    let _entered = BACKGROUND.get().map(Handle::enter);
    f()
}

/// Why the calling thread could not be made real-time.
#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error(
        "realtime: cannot lock the daemon's memory (mlockall): {0}; give it CAP_IPC_LOCK or raise its RLIMIT_MEMLOCK (LimitMEMLOCK=infinity in the systemd unit), or set \"realtime\": false"
    )]
    Lock(std::io::Error),
    #[error(
        "realtime: not permitted to run at SCHED_FIFO priority {priority} (sched_setscheduler: {source}); give vippyd CAP_SYS_NICE or an RLIMIT_RTPRIO of at least {priority} (LimitRTPRIO=99 in the systemd unit, and RestrictRealtime=no), or set \"realtime\": false"
    )]
    NotPermitted {
        priority: u8,
        source: std::io::Error,
    },
    #[error(
        "realtime: cannot run at SCHED_FIFO priority {priority} (sched_setscheduler: {source})"
    )]
    Scheduler {
        priority: u8,
        source: std::io::Error,
    },
}

/// Locks every page of the process, now and later (MCL_CURRENT |
/// MCL_FUTURE), and puts the calling thread at SCHED_FIFO `priority`,
/// reset on fork.
pub fn enter(priority: u8) -> Result<(), RealtimeError> {
    // SAFETY: mlockall takes flags only.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
        return Err(RealtimeError::Lock(std::io::Error::last_os_error()));
    }
    if let Err(e) = join(priority) {
        // SAFETY: no arguments; undoes the lock above.
        unsafe { libc::munlockall() };
        return Err(e);
    }
    Ok(())
}

/// Lowers the calling thread's share of a busy CPU by `steps` of nice
/// (Linux keeps nice per thread). Best effort: the thread keeps running
/// at the process's own nice if the kernel refuses.
pub fn yield_to_loop(steps: i32) {
    // SAFETY: `nice` changes only the calling thread's priority.
    let _ = unsafe { libc::nice(steps) };
}

/// Puts the calling thread at SCHED_FIFO `priority`, reset on fork. A
/// thread started by a real-time one does not inherit the policy (the
/// reset applies to every clone), so the data plane's thread calls this
/// itself.
pub use vippy_core::config::data_plane_priority;

pub fn join(priority: u8) -> Result<(), RealtimeError> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: pid 0 is the calling thread; `param` outlives the call.
    let set = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if set != 0 {
        let source = std::io::Error::last_os_error();
        return Err(match source.raw_os_error() {
            Some(libc::EPERM) => RealtimeError::NotPermitted { priority, source },
            _ => RealtimeError::Scheduler { priority, source },
        });
    }
    Ok(())
}
