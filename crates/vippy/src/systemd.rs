//! Telling systemd how vippyd is doing (sd_notify(3)): ready, reloading,
//! stopping, a status line, and watchdog pings (DESIGN §6).
//!
//! Every function is a no-op returning `Ok` when `NOTIFY_SOCKET` is unset,
//! so vippyd runs the same outside systemd. Errors are for the caller to log;
//! none of them should stop the daemon.

use std::io;
use std::time::Duration;

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

/// Pings `WATCHDOG=1` every [`watchdog_interval`] until `cancel`, on the
/// current tokio runtime. `None` when there is no watchdog.
///
/// The pings come from their own task: they prove the runtime still runs
/// tasks, not that the main loop is not stuck in one.
pub fn spawn_watchdog(cancel: CancellationToken) -> Option<JoinHandle<()>> {
    let period = watchdog_interval()?;
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticks.tick() => {}
            }
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
