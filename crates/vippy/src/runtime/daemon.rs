//! The running daemon as one value. [`Daemon::start`] (in `start.rs`)
//! builds it, [`Daemon::serve`] waits for the next input and hands it to
//! one `on_*` step, and [`Daemon::stop`] (in `stopping.rs`) releases
//! everything and says goodbye. The loop itself holds no logic: what
//! happens on a datagram, a timer, a data-plane report, a check result, an
//! admin request or a signal is in the step of that name.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::Signal;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};
use vippy_core::node::{LocalEvent, Node};

use super::dataplane::Report;
use super::lag::LagWatch;
use super::links::{CannotServe, LinkHandle};
use super::narrator::Narrator;
use super::{LoopState, Options, PUBLISH_EVERY, PUBLISH_SHARE, moves, publish_status, sleep_until};
use crate::api::{AdminKind, AdminRequest};
use crate::checks::{CheckResult, HealthChecks};
use crate::metrics::Metrics;
use crate::net::Received;
use crate::plugins::Plugins;
use crate::status::Status;

pub(super) struct Daemon {
    pub(super) options: Options,
    pub(super) node: Node,
    /// What the loop drives: the config in force, the chat, the API, the
    /// data plane's command channel and the transmits held behind releases.
    pub(super) out: LoopState,
    pub(super) narrator: Narrator,
    pub(super) metrics: Arc<Metrics>,
    pub(super) checks: HealthChecks,
    pub(super) plugins: Plugins,
    pub(super) links: LinkHandle,
    pub(super) inputs: Inputs,
    pub(super) status_tx: watch::Sender<Status>,
    pub(super) last_publish: Instant,
    /// How long the last snapshot took to build.
    pub(super) publish_cost: Duration,
    pub(super) lag: LagWatch,
    /// Beaten once per pass; the watchdog task reads it.
    pub(super) loop_alive: crate::systemd::Beat,
    pub(super) watchdog: Option<tokio::task::JoinHandle<()>>,
    /// Ended by closing its command channel at stop, not joined.
    pub(super) dp_thread: std::thread::JoinHandle<()>,
    /// One datagram, read in place.
    pub(super) buf: Vec<u8>,
    /// The datagrams of one pass, decided on together.
    pub(super) inbox: super::inbox::Inbox,
}

/// Everything the loop waits on besides the chat socket and the timers.
pub(super) struct Inputs {
    pub(super) reports: mpsc::UnboundedReceiver<Report>,
    pub(super) cannot_serve: mpsc::UnboundedReceiver<CannotServe>,
    pub(super) checks: mpsc::Receiver<CheckResult>,
    pub(super) admin: mpsc::Receiver<AdminRequest>,
    pub(super) sighup: Signal,
    pub(super) sigterm: Signal,
    pub(super) sigint: Signal,
    /// The API asks for a fresh snapshot when it serves one.
    pub(super) status_wanted: Arc<tokio::sync::Notify>,
    pub(super) publish: tokio::time::Interval,
}

/// What woke the loop.
enum Wake {
    /// The caller's shutdown future resolved.
    Shutdown,
    Signal(SignalKind),
    Datagram(Received),
    ChatError(crate::net::NetError),
    /// The core's deadline (if it had one) passed.
    Timer(Option<tokio::time::Instant>),
    /// The data plane's reports, as many as had queued.
    Reports(Vec<Report>),
    /// A release was applied (or given up): what it held goes out in the
    /// next drain.
    ReleaseSettled,
    StatusWanted,
    CannotServe(CannotServe),
    Check(CheckResult),
    Admin(AdminRequest),
    PublishTick,
}

#[derive(Clone, Copy)]
enum SignalKind {
    Hangup,
    Terminate,
    Interrupt,
}

impl Daemon {
    /// Runs until `shutdown` resolves or SIGTERM/SIGINT arrives.
    pub(super) async fn serve(&mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            self.loop_alive.beat();
            self.out.drain(&mut self.node, &mut self.narrator).await;
            self.links.follow(&self.out.config, self.node.cluster());
            // Timers first, whatever arrives: a flood of datagrams must not
            // stop heartbeats and stale detection.
            if let Some(due) = self.node.poll_timeout().filter(|t| *t <= Instant::now()) {
                self.on_timer(Some(due));
                continue;
            }
            let wake = self.wait(shutdown.as_mut()).await;
            if !self.dispatch(wake).await {
                return;
            }
            // At once when the last snapshot is old enough, else at the
            // next tick.
            if self.publish_due() {
                self.publish();
            }
        }
    }

    /// Sleeps until the core's next deadline or the next input.
    async fn wait(&mut self, shutdown: Pin<&mut impl Future<Output = ()>>) -> Wake {
        let deadline = self.node.poll_timeout().map(tokio::time::Instant::from_std);
        let inputs = &mut self.inputs;
        tokio::select! {
            _ = shutdown => Wake::Shutdown,
            _ = inputs.sigterm.recv() => Wake::Signal(SignalKind::Terminate),
            _ = inputs.sigint.recv() => Wake::Signal(SignalKind::Interrupt),
            _ = inputs.sighup.recv() => Wake::Signal(SignalKind::Hangup),
            received = self.out.chat.recv_from(&mut self.buf) => match received {
                Ok(got) => Wake::Datagram(got),
                Err(e) => Wake::ChatError(e),
            },
            _ = sleep_until(deadline) => Wake::Timer(deadline),
            Some(report) = inputs.reports.recv() => {
                // Whatever else queued is told together: one decision's
                // thousands of plumbs make one summary line.
                let mut batch = vec![report];
                while let Ok(report) = inputs.reports.try_recv() {
                    batch.push(report);
                }
                Wake::Reports(batch)
            }
            _ = self.out.held.settled() => Wake::ReleaseSettled,
            _ = inputs.status_wanted.notified() => Wake::StatusWanted,
            Some(found) = inputs.cannot_serve.recv() => Wake::CannotServe(found),
            Some(result) = inputs.checks.recv() => Wake::Check(result),
            Some(request) = inputs.admin.recv() => Wake::Admin(request),
            _ = inputs.publish.tick() => Wake::PublishTick,
        }
    }

    /// One input to its step; false when the loop is to end.
    async fn dispatch(&mut self, wake: Wake) -> bool {
        match wake {
            Wake::Shutdown => return false,
            Wake::Signal(kind) => return self.on_signal(kind).await,
            Wake::Datagram(got) => self.on_datagram(got),
            Wake::ChatError(e) => warn!(node = %self.options.node, "chat receive: {e}"),
            Wake::Timer(deadline) => self.on_timer(deadline.map(|d| d.into_std())),
            Wake::Reports(batch) => self.on_reports(batch),
            Wake::ReleaseSettled => {}
            Wake::StatusWanted => self.publish(),
            Wake::CannotServe(found) => self.on_cannot_serve(found),
            Wake::Check(result) => self.on_check(result),
            Wake::Admin(request) => self.on_admin(request).await,
            Wake::PublishTick => {
                if self.publish_due() {
                    self.publish();
                }
            }
        }
        true
    }

    /// SIGHUP reloads; SIGTERM and SIGINT end the loop (false).
    async fn on_signal(&mut self, kind: SignalKind) -> bool {
        let node = &self.options.node;
        match kind {
            SignalKind::Terminate => info!(node = %node, "SIGTERM: shutting down"),
            SignalKind::Interrupt => info!(node = %node, "SIGINT: shutting down"),
            SignalKind::Hangup => {
                info!(node = %node, "SIGHUP: reloading {}", self.options.config_path.display());
                let _ = crate::systemd::notify_reloading();
                if let Err(e) = self.reload().await {
                    error!(node = %self.options.node, "reload failed, keeping the running configuration: {e:#}");
                }
                // Done either way: systemd shows the unit reloading until then.
                let _ = crate::systemd::notify_ready();
                return true;
            }
        }
        false
    }

    /// `got`, and whatever else already queued (up to a bound), go to the
    /// core together: one decision for the lot. The core judges each one's
    /// wait in the socket queue (its self-doubt rule).
    fn on_datagram(&mut self, got: Received) {
        self.inbox.clear();
        self.inbox.push(&got, &self.buf);
        while self.inbox.len() < vippy_core::node::DATAGRAM_BATCH {
            match self.out.chat.try_recv_from(&mut self.buf) {
                Some(Ok(more)) => self.inbox.push(&more, &self.buf),
                Some(Err(e)) => {
                    warn!(node = %self.options.node, "chat receive: {e}");
                    break;
                }
                None => break,
            }
        }
        let now = Instant::now();
        for (arrived, from, bytes) in self.inbox.datagrams() {
            tracing::trace!(node = %self.options.node, "datagram of {} bytes from {from}", bytes.len());
            self.metrics
                .chat_queue_wait(now.saturating_duration_since(arrived));
        }
        self.node.handle_datagrams_at(now, self.inbox.datagrams());
    }

    /// `due` is when the timer should have fired, to measure the lag.
    fn on_timer(&mut self, due: Option<Instant>) {
        let now = Instant::now();
        if let Some(due) = due {
            let stale = self.out.config.stale;
            self.lag
                .timer_fired(due, now, stale, &self.metrics, &self.options.node);
        }
        self.node.handle_timeout(now);
    }

    fn on_reports(&mut self, batch: Vec<Report>) {
        self.narrator.data_plane_batch(&batch);
        for report in batch {
            self.links.report(&report);
            match report {
                Report::Neighbours(list) => self
                    .node
                    .handle_local(Instant::now(), LocalEvent::Neighbours(list)),
                Report::Links(links) => self.out.follow_links(&links),
                Report::Conflict {
                    ip,
                    interface,
                    mac,
                    how,
                } => {
                    self.out
                        .note_conflict(&self.node, ip, &interface, mac, how, &self.metrics);
                    self.out.status_dirty = true;
                }
                _ => {}
            }
        }
    }

    fn on_cannot_serve(&mut self, found: CannotServe) {
        if let Some(event) = found.event(self.node.cluster()) {
            self.node.handle_local(Instant::now(), event);
            self.out.status_dirty = true;
        }
    }

    fn on_check(&mut self, result: CheckResult) {
        let config = &self.out.config;
        // Queued before a reload removed its check: the check is gone, and
        // its reason with it; this must not bring it back.
        let Some(check) = config.checks.iter().find(|c| c.name == result.name) else {
            return;
        };
        info!(node = %self.options.node, check = %result.name, "check {}: {} ({})", result.name, if result.ok { "passing" } else { "FAILING" }, result.detail);
        self.metrics.set_check_up(&result.name, result.ok);
        self.narrator.check(&result);
        let cluster = self.node.cluster().clone();
        let event = self
            .out
            .check_scopes
            .result(check, result.ok, &config.cluster, &cluster);
        self.node.handle_local(Instant::now(), event);
    }

    async fn on_admin(&mut self, request: AdminRequest) {
        let answer = match request.kind {
            AdminKind::SetActive {
                source,
                active,
                reason,
            } => super::admin::set_active(
                &mut self.node,
                &self.out.config,
                Some(source),
                active,
                reason,
            ),
            AdminKind::UndrainAll => {
                super::admin::set_active(&mut self.node, &self.out.config, None, true, None)
            }
            AdminKind::Reload => self
                .reload()
                .await
                .map(|()| {
                    format!(
                        "reloaded {}: version {} in force",
                        self.options.config_path.display(),
                        self.node.cluster().version
                    )
                })
                .map_err(|e| format!("{e:#}")),
            AdminKind::Move { group, node: to } => moves::move_group(&mut self.node, group, to),
        };
        let _ = request.reply.send(answer);
        self.out.status_dirty = true;
    }

    /// SIGHUP or `POST /reload`.
    async fn reload(&mut self) -> anyhow::Result<()> {
        self.out
            .reload(
                &self.options,
                &mut self.node,
                &mut self.narrator,
                &mut self.checks,
                &mut self.plugins,
            )
            .await
    }

    /// A change not published yet, and the last snapshot old enough.
    fn publish_due(&self) -> bool {
        let wait = PUBLISH_EVERY.max(self.publish_cost * PUBLISH_SHARE);
        self.out.status_dirty && self.last_publish.elapsed() >= wait
    }

    fn publish(&mut self) {
        self.last_publish = publish_status(
            &self.node,
            &mut self.out,
            &self.metrics,
            &self.narrator.hooks,
            &self.status_tx,
        );
        self.publish_cost = self.last_publish.elapsed();
    }
}
