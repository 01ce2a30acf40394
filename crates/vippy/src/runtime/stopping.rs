//! The end of a run, once the VIPs are released and the goodbye is sent:
//! the `down` hooks of the release, the plugins, the checks and the state
//! files finish side by side, each within a bound, so vippyd exits in
//! about [`HOOKS_AT_EXIT`] (or [`STOP_GRACE`], the longer) at most.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::time::timeout;
use tracing::{info, warn};
use vippy_core::node::LocalEvent;

use super::daemon::Daemon;
use super::dataplane::Order;
use super::{LoopState, SHUTDOWN_GRACE, persisted_writer};
use crate::checks::HealthChecks;
use crate::hooks::Hooks;
use crate::plugins::{Plugins, STOP_GRACE};

/// The queued hooks (the `down` hooks of the release) get this long in
/// all; each command still has its own `hooks.timeout` within it.
pub const HOOKS_AT_EXIT: Duration = Duration::from_secs(5);
/// A check run is killed at once; this is for its task to notice.
const CHECKS_AT_EXIT: Duration = Duration::from_secs(1);
/// The last state files (drains) to reach the disk.
const STATE_AT_EXIT: Duration = Duration::from_secs(2);
/// After [`STOP_GRACE`], the SIGKILL and the reaping.
const PLUGINS_AT_EXIT: Duration = STOP_GRACE.saturating_add(Duration::from_secs(1));

/// Waits for hooks, plugins (SIGTERM was sent when the loop's token was
/// cancelled; SIGKILL follows after their grace), checks and state files.
pub async fn wind_down(node: &str, hooks: &Hooks, checks: HealthChecks, plugins: Plugins) {
    let (hooks_done, plugins_done, checks_done, state_done) = tokio::join!(
        hooks.finish(HOOKS_AT_EXIT),
        timeout(PLUGINS_AT_EXIT, plugins.stopped()),
        timeout(CHECKS_AT_EXIT, checks.stopped()),
        timeout(STATE_AT_EXIT, persisted_writer::flushed()),
    );
    if !hooks_done {
        warn!(node = %node, "hooks still running {HOOKS_AT_EXIT:?} into the shutdown were killed");
    }
    if plugins_done.is_err() {
        warn!(node = %node, "a plugin did not end within {PLUGINS_AT_EXIT:?} of SIGTERM, even after SIGKILL; exiting anyway");
    }
    if checks_done.is_err() {
        warn!(node = %node, "a check did not end within {CHECKS_AT_EXIT:?} of SIGKILL (stuck in the kernel?); exiting anyway");
    }
    let state_done = matches!(state_done, Ok(Ok(())));
    if !state_done {
        warn!(node = %node, "the state files were not all written within {STATE_AT_EXIT:?}");
    }
    if hooks_done && plugins_done.is_ok() && checks_done.is_ok() && state_done {
        info!(node = %node, "hooks, plugins and checks ended, state files written");
    }
}

impl Daemon {
    /// Goodbye: release everything, tell the peers, wait for the kernel,
    /// then wind down hooks, plugins, checks and state files.
    pub(super) async fn stop(self) {
        let Daemon {
            options,
            mut node,
            mut out,
            mut narrator,
            checks,
            plugins,
            mut inputs,
            watchdog,
            dp_thread,
            ..
        } = self;
        let _ = crate::systemd::notify_stopping();
        // Dropping a JoinHandle would leave the task running (until `stop`
        // is cancelled below, after the goodbye). systemd disarms the
        // watchdog once the unit leaves the running state, as STOPPING=1
        // makes it do, so the pings end here.
        if let Some(watchdog) = watchdog {
            watchdog.abort();
        }
        node.handle_local(Instant::now(), LocalEvent::Shutdown);
        out.drain(&mut node, &mut narrator).await;
        // The goodbye is held behind the releases like any transmit; it
        // goes out once they are applied, or at the end of the grace anyway.
        out.finish_held(SHUTDOWN_GRACE, &narrator).await;
        let (done_tx, done_rx) = oneshot::channel();
        let _ = out.dp.send(Order::Flush(done_tx));
        if tokio::time::timeout(SHUTDOWN_GRACE, done_rx).await.is_err() {
            warn!(node = %options.node, "the data plane did not finish removing VIPs in time");
        }
        while let Ok(report) = inputs.reports.try_recv() {
            narrator.data_plane(&report);
        }
        out.stop.cancel();
        let LoopState {
            api,
            chat,
            dp,
            metrics_tcp,
            ..
        } = out;
        let _ = tokio::time::timeout(Duration::from_millis(300), api.task).await;
        // Closing the command channel ends the data plane's thread; it is
        // not waited for (the final flush above was).
        drop((chat, dp, metrics_tcp, dp_thread));
        wind_down(&options.node, &narrator.hooks, checks, plugins).await;
        info!(node = %options.node, "stopped: VIPs released, goodbye sent");
    }
}
