//! Telling systemd how vippyd is doing (sd_notify(3)): ready, reloading,
//! stopping, a status line, and watchdog pings (docs/OPERATIONS.md,
//! "Running under systemd").
//!
//! Every function is a no-op returning `Ok` when `NOTIFY_SOCKET` is unset,
//! so vippyd runs the same outside systemd. Errors are for the caller to log;
//! none of them should stop the daemon.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `READY=1`: startup finished (config loaded, sockets bound), or a reload
/// finished after [`notify_reloading`].
pub fn notify_ready() -> io::Result<()> {
    sd_notify::notify(&[NotifyState::Ready])
}

/// `STATUS=…`: one line shown by `systemctl status`.
pub fn notify_status(text: &str) -> io::Result<()> {
    // The protocol is one assignment per line.
    let line = text.replace(['\n', '\r'], " ");
    sd_notify::notify(&[NotifyState::Status(&line)])
}

/// `RELOADING=1` with `MONOTONIC_USEC`, on SIGHUP: systemd shows the unit
/// as reloading until the next [`notify_ready`]. systemd 253 and newer
/// require the timestamp with it.
pub fn notify_reloading() -> io::Result<()> {
    let now = NotifyState::monotonic_usec_now()?;
    sd_notify::notify(&[NotifyState::Reloading, now])
}

/// `STOPPING=1`: shutdown began (VIPs are being released).
pub fn notify_stopping() -> io::Result<()> {
    sd_notify::notify(&[NotifyState::Stopping])
}

/// How often to ping the watchdog: half of `WATCHDOG_USEC`, as
/// sd_watchdog_enabled(3) advises. `None` when systemd set no watchdog, or
/// set it for another process (`WATCHDOG_PID`).
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// Proof of progress from one loop (the core loop, the data plane): it
/// beats on every pass, and the watchdog pings only while every loop has
/// beaten recently. A loop stuck awaiting something that never comes then
/// gets vippyd restarted, not just a runtime that stopped altogether.
#[derive(Debug, Clone)]
pub struct Beat {
    origin: Instant,
    /// Milliseconds after `origin` of the last beat.
    last: Arc<AtomicU64>,
}

impl Beat {
    pub fn new() -> Beat {
        Beat {
            origin: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn beat(&self) {
        let ms = self.origin.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }

    pub fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }
}

impl Default for Beat {
    fn default() -> Beat {
        Beat::new()
    }
}

/// Pings `WATCHDOG=1` every [`watchdog_interval`] until `cancel`, on the
/// current tokio runtime, while each of `beats` has beaten within
/// `max_silence`. `None` when there is no watchdog.
pub fn spawn_watchdog(
    cancel: CancellationToken,
    beats: Vec<(&'static str, Beat)>,
    max_silence: Duration,
) -> Option<JoinHandle<()>> {
    let period = watchdog_interval()?;
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        let mut withheld = false;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let stuck = beats
                .iter()
                .map(|(name, beat)| (name, beat.silent_for()))
                .find(|(_, silent)| *silent > max_silence);
            if let Some((name, silent)) = stuck {
                if !withheld {
                    withheld = true;
                    tracing::error!(
                        "the {name} has made no progress for {:.1}s; withholding the \
                         watchdog ping so that systemd restarts vippyd",
                        silent.as_secs_f64()
                    );
                }
                continue;
            }
            withheld = false;
            match sd_notify::notify(&[NotifyState::Watchdog]) {
                Ok(()) => failing = false,
                // Once per run of failures, not every tick.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "systemd watchdog ping failed");
                }
                Err(_) => {}
            }
        }
    }))
}
