//! The runtime: one tokio loop that drives the sans-IO core. Its tasks and
//! channels are drawn in docs/ARCHITECTURE.md, "The daemon: tasks and
//! channels".
//! It sleeps until the core's next deadline or the next input, feeds the
//! input in, then drains every output: datagrams to the chat sockets,
//! desired state to the data plane task, events to logs, metrics, the API
//! stream and hooks.
//!
//! - `admin.rs`: administrative drains from the API.
//! - `check_scope.rs`: a check's result as a whole-node or per-group event.
//! - `conflicts.rs`: foreign hosts seen answering for VIPs held here.
//! - `daemon.rs`: the loop, which only waits and dispatches each input to
//!   its step (`on_datagram`, `on_timer`, `on_reports`, `on_check`,
//!   `on_admin`, `on_signal`).
//! - `dataplane/`: netlink, announcements and reconciliation, on a thread
//!   of its own.
//! - `lag.rs`: how late the loop's timers fire, as a metric and a log line.
//! - `links.rs`: groups this node cannot serve for its links or failed
//!   plumbs, as a task (timing in `link_timing.rs`, `plumb_failures.rs`).
//! - `release_barrier.rs`: transmits held back until the data plane has
//!   applied the release before them.
//! - `narrator.rs`: events and reports into logs, metrics, API events, hooks.
//! - `snapshot.rs`: the core's view as the API's `Status`.
//! - `start.rs`: the start of a run, up to the ready notification.
//! - `persisted.rs`: what is kept in `state_dir` across restarts (an
//!   adopted cluster config, drains, the incarnation); not to be confused
//!   with the API's status (`crate::status`, built by `snapshot.rs`).
//! - `persisted_writer.rs`: those files written off the loop, in order.
//! - `stopping.rs`: the goodbye, then hooks, plugins, checks and state
//!   files at exit.

mod admin;
mod check_scope;
mod conflicts;
mod daemon;
mod dataplane;
mod inbox;
mod lag;
mod link_timing;
mod links;
mod moves;
mod narrator;
mod persisted;
mod persisted_writer;
mod plumb_failures;
mod release_barrier;
mod snapshot;
mod start;
mod stopping;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use vippy_core::config::{Config, NotifyTarget};
use vippy_core::node::{Action, Counters, Destination, LocalEvent, Node};

use crate::api::{ApiSocket, ApiState, MetricsListener, SocketFile};
use crate::check_config::{read_config, secrets_bytes};
use crate::checks::HealthChecks;
use crate::hooks::Hooks;
use crate::metrics::Metrics;
use crate::net::{Chat, ChatConfig, ChatInterfaces, Netlink};
use crate::plugins::Plugins;
use crate::status::Status;
use daemon::Daemon;
use dataplane::Order;
use narrator::Narrator;

/// What `vippyd` was started with.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_path: PathBuf,
    pub node: String,
    /// `-p PROGRAM`, started and supervised like the config's `plugins`.
    pub plugins: Vec<String>,
    /// To apply a reloaded file's logging settings.
    pub log: Option<crate::logging::LogHandle>,
}

/// Status snapshots are published at most this often when the core reports
/// a change (and at once when the API asks for one).
const PUBLISH_EVERY: Duration = Duration::from_millis(50);
/// ... and no sooner than this many times what the last one took: at
/// thousands of groups a snapshot costs milliseconds, and while placement
/// churns the core reports a change on nearly every pass, so building
/// status unasked takes at most a twentieth of the loop.
const PUBLISH_SHARE: u32 = 20;
/// How long shutdown waits for the data plane to remove the VIPs.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);
/// Status keeps an address conflict at least this long after it was last
/// seen (or four arp-cache intervals, if longer).
const CONFLICT_FORGET: Duration = Duration::from_secs(600);

/// Runs the daemon until `shutdown` resolves or SIGTERM/SIGINT arrives.
/// Returns once every VIP is released and the goodbye is sent.
pub async fn run(options: Options, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut daemon = Daemon::start(options).await?;
    daemon.serve(shutdown).await;
    daemon.stop().await;
    Ok(())
}

/// Publishes a fresh status snapshot for the API; returns when.
fn publish_status(
    node: &Node,
    loop_state: &mut LoopState,
    metrics: &Metrics,
    hooks: &Hooks,
    status_tx: &watch::Sender<Status>,
) -> Instant {
    loop_state.status_dirty = false;
    let now = Instant::now();
    let mut status = snapshot::status(node, &loop_state.config, metrics, now);
    status.hooks_retrying = hooks
        .retrying()
        .into_iter()
        .map(|r| crate::status::HookRetry {
            group: r.group,
            command: r.command,
            attempts: r.attempts,
            last_error: r.last_error,
        })
        .collect();
    // Not seen for a few probe rounds: over, or the VIP is held elsewhere now.
    let forget = (loop_state.config.arp_cache * 4).max(CONFLICT_FORGET);
    loop_state.conflicts.forget_older_than(forget, now);
    status.conflicts = loop_state.conflicts.list(|ip| {
        node.cluster()
            .groups
            .iter()
            .position(|g| g.addresses().any(|a| a == ip))
    });
    let held = status.groups.iter().filter(|g| g.held_here).count();
    metrics.set_groups_held(held as u64);
    metrics.set_peers(status.peers.iter().filter(|p| p.eligible).count() as u64);
    let mut line = format!(
        "holding {held} of {} groups ({})",
        status.groups.len(),
        status.node
    );
    if !status.active {
        line.push_str(&format!(", inactive: {}", status.reasons.join(", ")));
    }
    if line != loop_state.systemd_status {
        let _ = crate::systemd::notify_status(&line);
        loop_state.systemd_status = line;
    }
    let _ = status_tx.send(status);
    now
}

/// The config's `plugins` and `vippyd -p PROGRAM` (as in the original).
fn plugin_commands(config: &Config, options: &Options) -> Vec<vippy_core::config::Command> {
    let mut commands = config.plugins.clone();
    commands.extend(options.plugins.iter().filter_map(|p| cli_plugin(p)));
    commands
}

/// `-p PROGRAM`: split at spaces into a program and its arguments, no shell
/// (as `vippyd --help` says, and like a command string in the config).
fn cli_plugin(program: &str) -> Option<vippy_core::config::Command> {
    let argv: Vec<String> = program.split_whitespace().map(String::from).collect();
    (!argv.is_empty()).then_some(vippy_core::config::Command::Argv(argv))
}

/// How long after the last heartbeat that left the transmits behind a
/// release may wait for the data plane before they go anyway: `stale` less
/// one `interval` (at least half of `stale`), so peers still count this
/// node fresh, with an interval to spare, when the held ones arrive.
fn release_limit(config: &Config) -> Duration {
    config
        .stale
        .saturating_sub(config.interval)
        .max(config.stale / 2)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a reload changes in the chat settings, one phrase each (`peers:
/// node3 198.51.100.13:5007 added`); empty when nothing.
fn chat_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut changes = Vec::new();
    if old.chat != new.chat {
        changes.push(format!("chat {} -> {}", old.chat, new.chat));
    }
    if old.chat_interface != new.chat_interface {
        let name = |c: &vippy_core::config::ChatInterface| match c {
            vippy_core::config::ChatInterface::All => "all".to_string(),
            vippy_core::config::ChatInterface::Named(name) => name.clone(),
        };
        changes.push(format!(
            "chat_interface {} -> {}",
            name(&old.chat_interface),
            name(&new.chat_interface)
        ));
    }
    let mut peers = Vec::new();
    for (name, addr) in &new.peers {
        match old.peers.get(name) {
            None => peers.push(format!("{name} {addr} added")),
            Some(was) if was != addr => peers.push(format!("{name} {was} -> {addr}")),
            Some(_) => {}
        }
    }
    for (name, addr) in &old.peers {
        if !new.peers.contains_key(name) {
            peers.push(format!("{name} {addr} removed"));
        }
    }
    if !peers.is_empty() {
        changes.push(format!("peers: {}", peers.join(", ")));
    }
    changes
}

/// The chat sockets' shape from the config: a multicast group, or unicast
/// to every configured peer but this node.
fn chat_config(config: &Config, me: &str) -> ChatConfig {
    let (group_v4, group_v6) = match config.chat.ip() {
        IpAddr::V4(v4) if v4.is_multicast() => (Some(v4), None),
        IpAddr::V6(v6) if v6.is_multicast() => (None, Some(v6)),
        _ => (None, None),
    };
    ChatConfig {
        port: config.chat.port(),
        group_v4,
        group_v6,
        interfaces: match &config.chat_interface {
            vippy_core::config::ChatInterface::All => ChatInterfaces::All,
            vippy_core::config::ChatInterface::Named(name) => ChatInterfaces::Named(name.clone()),
        },
        peers: config
            .peers
            .iter()
            .filter(|(name, _)| name.as_str() != me)
            .map(|(_, addr)| *addr)
            .collect(),
    }
}

struct LoopState {
    config: Arc<Config>,
    chat: Chat,
    /// To list the interfaces when a reload changes the chat.
    netlink: Netlink,
    /// The management API being served; a reload that moves the socket
    /// replaces it.
    api: ApiTask,
    dp: mpsc::UnboundedSender<Order>,
    last_counters: Counters,
    status_dirty: bool,
    /// The last `STATUS=` line told to systemd, so it is sent on change only.
    systemd_status: String,
    /// What the metrics listener serves, for one started by a reload.
    api_state: ApiState,
    metrics_tcp: Option<MetricsTcp>,
    /// Cancelled at shutdown; every listener's token is a child of it.
    stop: CancellationToken,
    /// Foreign hosts seen answering for VIPs held here.
    conflicts: conflicts::Conflicts,
    /// What each check last said, to restate it when a reload rescopes it.
    check_scopes: check_scope::CheckScopes,
    /// Transmits held until the data plane has applied the releases
    /// before them.
    held: release_barrier::HeldTransmits,
}

/// The task serving the management socket, and the token that stops it (a
/// child of the loop's `stop`).
struct ApiTask {
    file: SocketFile,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl ApiTask {
    fn spawn(socket: ApiSocket, api: ApiState, parent: &CancellationToken) -> ApiTask {
        let stop = parent.child_token();
        let file = socket.file();
        let serving = stop.clone();
        let task =
            crate::realtime::spawn(socket.serve(api, async move { serving.cancelled().await }));
        ApiTask { file, stop, task }
    }
}

/// A running metrics listener and the token that stops it.
struct MetricsTcp {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for MetricsTcp {
    /// One started by a reload that then failed goes again.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl MetricsTcp {
    async fn start(
        addr: SocketAddr,
        api: ApiState,
        parent: &CancellationToken,
    ) -> std::io::Result<MetricsTcp> {
        let listener = MetricsListener::bind(addr).await?;
        info!(
            "metrics for Prometheus on http://{}/metrics",
            listener.addr()
        );
        let stop = parent.child_token();
        crate::realtime::spawn(listener.serve(api, stop.clone()));
        Ok(MetricsTcp { addr, stop })
    }
}

impl LoopState {
    /// A probe found a MAC that is not this host's claiming `ip`. A MAC of
    /// another vippy node (see `Node::peer_macs`) is the cluster's
    /// business: two nodes holding a VIP at once is a duplicate that the
    /// heartbeats resolve, and it is counted there. Any other MAC is a host
    /// outside the cluster: logged, counted and shown in status, and
    /// nothing else; in particular the VIP is not announced again, so two
    /// hosts never fight over the neighbours' caches (the usual
    /// announcements keep their pace).
    fn note_conflict(
        &mut self,
        node: &Node,
        ip: IpAddr,
        interface: &str,
        mac: crate::net::Mac,
        how: crate::net::frames::ClaimKind,
        metrics: &Metrics,
    ) {
        let text = conflicts::format_mac(&mac);
        if node.peer_macs().contains(&mac) {
            tracing::debug!(node = %node.name(), ip = %ip, mac = %text, "{ip} on {interface} is also answered by {text}, another vippy node's MAC: a duplicate the cluster resolves");
            return;
        }
        metrics.address_conflict(ip);
        self.status_dirty = true;
        let noted = self.conflicts.note(ip, mac, interface, how, Instant::now());
        let how = how.as_str();
        match noted {
            conflicts::Noted::New => {
                error!(node = %node.name(), ip = %ip, interface = %interface, mac = %text, "ADDRESS CONFLICT: {ip} on {interface} is also answered by {text}, a host that is not a vippy node ({how}); traffic for {ip} may go there. Remove the address from that host");
            }
            conflicts::Noted::Again => {
                error!(node = %node.name(), ip = %ip, interface = %interface, mac = %text, "ADDRESS CONFLICT still: {ip} on {interface} is still answered by {text} ({how})");
            }
            conflicts::Noted::Quiet => {
                tracing::debug!(node = %node.name(), ip = %ip, mac = %text, "address conflict {ip} with {text} seen again");
            }
        }
    }

    /// Joins the chat on interfaces that appeared, leaves those gone.
    fn follow_links(&mut self, links: &[crate::net::Link]) {
        let (joined, failed, left) = self.chat.refresh(links);
        let chat = &self.config.chat;
        for name in joined {
            info!("chat on {chat}: now also via {name}");
        }
        for name in left {
            warn!("chat on {chat}: no longer via {name} (gone or down)");
        }
        for e in failed {
            warn!("chat on {chat}: {e} (retried when the interfaces change)");
        }
    }

    /// Drains every output of the core after an input. Actions go first, and
    /// a release is applied before it is announced: a peer that hears it
    /// takes the VIP at once, so it must already be gone from here. That
    /// wait is state, not an await (`release_barrier.rs`): the transmits
    /// after a release are held until the data plane answers its flush,
    /// while the loop goes on reading datagrams and timers.
    async fn drain(&mut self, node: &mut Node, narrator: &mut Narrator) {
        let now = Instant::now();
        // A release answered since the last pass lets its transmits go
        // first, before anything newer.
        self.send_held(now, narrator).await;
        let mut adopted = false;
        let mut released: Vec<usize> = Vec::new();
        let mut releasing = false;
        // Asked once per drain, not once per announced group.
        let mut cluster_neighbours: Option<Vec<vippy_core::wire::Neighbour>> = None;
        while let Some(action) = node.poll_action() {
            let command = match action {
                Action::Plumb { group, ips } => Order::Plumb { group, ips },
                Action::Unplumb { group, ips } => {
                    releasing = true;
                    released.extend(group);
                    Order::Unplumb { group, ips }
                }
                Action::Announce { group, ips } => {
                    let wants_cache = self.config.notify.contains(&NotifyTarget::ArpCache);
                    let cluster_neighbours = cluster_neighbours
                        .get_or_insert_with(|| {
                            if wants_cache {
                                node.cluster_neighbours(now)
                            } else {
                                Vec::new()
                            }
                        })
                        .clone();
                    Order::Announce {
                        group,
                        ips,
                        cluster_neighbours,
                    }
                }
            };
            if self.dp.send(command).is_err() {
                error!(node = %narrator.node, "the data plane task has stopped");
            }
        }
        if releasing {
            let (done, applied) = oneshot::channel();
            let _ = self.dp.send(Order::Flush(done));
            self.held
                .release(applied, released, now, release_limit(&self.config));
        }
        while let Some(transmit) = node.poll_transmit() {
            if let Some(transmit) = self.held.hold(transmit, now) {
                self.transmit(transmit, narrator).await;
            }
        }
        let mut events = Vec::new();
        while let Some(event) = node.poll_event() {
            if let vippy_core::node::Event::ConfigAdopted {
                from: Some(peer), ..
            } = &event
            {
                persisted::save_adopted(&self.config, node.cluster(), peer);
                let missing: Vec<&str> = node
                    .cluster()
                    .nodes
                    .iter()
                    .filter(|n| {
                        !self.chat.config().peers.is_empty()
                            && n.as_str() != node.name()
                            && !self.config.peers.contains_key(n.as_str())
                    })
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    error!(node = %narrator.node, "config adopted from {peer} names {} without an address in this node's peers: they are never sent to; add them to peers and reload", missing.join(", "));
                }
            }
            if let vippy_core::node::Event::IncarnationBumped { incarnation, .. } = &event {
                // A restart must start above it, clock or no clock.
                persisted::keep_incarnation(&self.config, *incarnation);
            }
            adopted |= matches!(event, vippy_core::node::Event::ConfigAdopted { .. });
            events.push(event);
            self.status_dirty = true;
        }
        narrator.core_batch(events, now);
        if adopted {
            let _ = self.dp.send(Order::Configure {
                config: self.config.clone(),
                cluster: node.cluster().clone(),
            });
        }
        self.count(node.counters().clone(), narrator);
    }

    /// Sends what the pending releases no longer hold back at `now`, and
    /// reports the releases given up (see [`LoopState::report_stuck`]).
    async fn send_held(&mut self, now: Instant, narrator: &Narrator) {
        if !self.held.pending() {
            return;
        }
        let passed = self.held.pass(now);
        self.send_passed(passed, now, narrator).await;
    }

    async fn send_passed(
        &mut self,
        passed: release_barrier::Passed,
        now: Instant,
        narrator: &Narrator,
    ) {
        for stuck in &passed.stuck {
            self.report_stuck(stuck, passed.transmits.len(), now, narrator);
        }
        for transmit in passed.transmits {
            self.transmit(transmit, narrator).await;
        }
    }

    /// A release the data plane did not apply within `release_limit`: the
    /// transmits it held go out anyway, so peers keep hearing this node
    /// (and may take the groups while their addresses are still here).
    fn report_stuck(
        &mut self,
        stuck: &release_barrier::StuckRelease,
        held: usize,
        now: Instant,
        narrator: &Narrator,
    ) {
        narrator.metrics.release_stuck();
        self.status_dirty = true;
        let waited = now.saturating_duration_since(stuck.since);
        let groups = if stuck.groups.is_empty() {
            "leftover addresses".to_string()
        } else {
            format!(
                "{} group(s) ({})",
                stuck.groups.len(),
                narrator::ranges(&stuck.groups)
            )
        };
        warn!(node = %narrator.node, "release stuck: the data plane has not removed the addresses of {groups} after {} ms; sending the {held} transmit(s) held behind it anyway, before peers would judge this node stale", waited.as_millis());
    }

    /// One datagram of the core, to the cluster or a peer.
    async fn transmit(&mut self, transmit: vippy_core::node::Transmit, narrator: &Narrator) {
        let result = match transmit.destination {
            Destination::Peer(addr) => self.chat.send_to(&transmit.bytes, addr).await,
            Destination::Cluster if self.chat.config().peers.is_empty() => {
                self.chat.multicast(&transmit.bytes).await.map(|_| ())
            }
            Destination::Cluster => {
                let (_, failures) = self.chat.send_to_peers(&transmit.bytes).await;
                failures.into_iter().next().map_or(Ok(()), Err)
            }
        };
        if let Err(e) = result {
            tracing::debug!(node = %narrator.node, "chat send: {e}");
        }
    }

    /// At shutdown: waits at most `within` for the pending releases, then
    /// sends everything held (the goodbye among it) whatever is pending.
    async fn finish_held(&mut self, within: Duration, narrator: &Narrator) {
        let until = tokio::time::Instant::now() + within;
        while self.held.pending() {
            self.send_held(Instant::now(), narrator).await;
            if !self.held.pending() {
                return;
            }
            tokio::select! {
                _ = self.held.settled() => {}
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        let now = Instant::now();
        let passed = self.held.pass_all(now);
        self.send_passed(passed, now, narrator).await;
    }

    /// Carries the core's counters into the metrics.
    fn count(&mut self, now: Counters, narrator: &Narrator) {
        for _ in self.last_counters.heartbeats_sent..now.heartbeats_sent {
            narrator.metrics.heartbeat_sent();
        }
        for _ in self.last_counters.heartbeats_received..now.heartbeats_received {
            narrator.metrics.heartbeat_received();
        }
        narrator.metrics.set_core_counters(&now);
        self.last_counters = now;
    }

    /// SIGHUP or `POST /reload`: a file that fails to read or validate is
    /// rejected and the running configuration stays.
    async fn reload(
        &mut self,
        options: &Options,
        node: &mut Node,
        narrator: &mut Narrator,
        checks: &mut HealthChecks,
        plugins: &mut Plugins,
    ) -> anyhow::Result<()> {
        let config = Arc::new(read_config(&options.config_path).map_err(anyhow::Error::msg)?);
        let secrets = secrets_bytes(&config).map_err(anyhow::Error::msg)?;
        crate::check_config::peers_cover_nodes(&config, &options.node)
            .map_err(anyhow::Error::msg)?;
        if config.cluster.node_index(&options.node).is_none() {
            bail!(
                "node \"{}\" is not in the new file's \"nodes\" ({})",
                options.node,
                config.cluster.nodes.join(", ")
            );
        }

        // What binds comes first, each new socket beside the old one: a
        // wrong path, a busy address or a missing interface fails the
        // reload with every old socket still serving and nothing changed.
        let api_moved = config.management != self.config.management;
        let api_socket = if api_moved {
            Some(
                ApiSocket::bind(&config.management, config.management_mode).with_context(|| {
                    format!("management socket {}", config.management.display())
                })?,
            )
        } else {
            None
        };
        let metrics_moved = config.metrics != self.metrics_tcp.as_ref().map(|m| m.addr);
        let metrics_tcp = match config.metrics {
            // Dropped on a later error, which stops it.
            Some(addr) if metrics_moved => Some(
                MetricsTcp::start(addr, self.api_state.clone(), &self.stop)
                    .await
                    .with_context(|| format!("metrics listener {addr}"))?,
            ),
            _ => None,
        };
        let old_mode = self.config.management_mode & 0o777;
        let new_mode = config.management_mode & 0o777;
        let chmod = !api_moved && new_mode != old_mode;
        if chmod {
            self.api
                .file
                .set_mode(new_mode)
                .with_context(|| format!("management socket {}", config.management.display()))?;
        }
        let chat_changes = chat_changes(&self.config, &config);
        if !chat_changes.is_empty() {
            let rebound = async {
                let links = self.netlink.links().await.context("listing interfaces")?;
                self.chat
                    .reconfigure(chat_config(&config, &options.node), &links)
                    .context("binding the chat socket")
            };
            if let Err(e) = rebound.await {
                if chmod {
                    let _ = self.api.file.set_mode(old_mode);
                }
                return Err(e);
            }
        }

        // Nothing fails from here on.
        if !chat_changes.is_empty() {
            let via: Vec<&str> = self
                .chat
                .interfaces()
                .iter()
                .map(|(_, n)| n.as_str())
                .collect();
            let via = if via.is_empty() {
                String::new()
            } else {
                format!(" (multicast via {})", via.join(", "))
            };
            info!(node = %options.node, "chat settings applied: {}{via}", chat_changes.join(", "));
        }
        if metrics_moved {
            let old = std::mem::replace(&mut self.metrics_tcp, metrics_tcp);
            if let Some(old) = old {
                old.stop.cancel();
                info!(node = %options.node, "metrics listener on {} closed", old.addr);
            }
        }
        if chmod {
            info!(node = %options.node, "management socket {}: mode {old_mode:04o} -> {new_mode:04o}", config.management.display());
        }
        // The new socket serves at once; the old one is stopped last.
        let old_api = api_socket.map(|socket| {
            std::mem::replace(
                &mut self.api,
                ApiTask::spawn(socket, self.api_state.clone(), &self.stop),
            )
        });
        let checks_changed = config.checks != self.config.checks;
        if checks_changed {
            // Unchanged checks keep running and keep their state; a new one
            // counts as failing until it passes, as at start.
            checks.reconfigure(config.checks.clone());
            narrator
                .metrics
                .retain_checks(config.checks.iter().map(|c| c.name.as_str()));
        }
        plugins.reconfigure(
            plugin_commands(&config, options),
            config.management.clone(),
            options.node.clone(),
        );
        narrator.hooks =
            Hooks::new(config.hooks.clone(), narrator.metrics.clone()).replacing(&narrator.hooks);
        if let Some(log) = &options.log {
            let (_, warning) = log.reconfigure(&config.logging);
            if let Some(warning) = warning {
                warn!(node = %options.node, "{warning}");
            }
        }
        node.handle_local(
            Instant::now(),
            LocalEvent::Reload {
                config: config.clone(),
                secrets,
            },
        );
        if checks_changed {
            // After the reload: a scoped check names its groups in the new
            // file, which the core knows from now on.
            let in_force = node.cluster().clone();
            let events = self.check_scopes.reload(
                (&self.config.checks, &self.config.cluster),
                (&config.checks, &config.cluster),
                &in_force,
            );
            for event in events {
                node.handle_local(Instant::now(), event);
            }
        }
        if let Some(old) = old_api {
            // Cancelled without an await before the caller answers: the old
            // task sees it when the loop next yields, after the reply to a
            // `POST /reload` that came over the old socket is on its way.
            // It then stops accepting, removes its file, and gives open
            // connections (that reply among them) DRAIN to finish.
            old.stop.cancel();
            info!(node = %options.node, "management socket moved: {} -> {}", self.config.management.display(), config.management.display());
        }
        if config.realtime != self.config.realtime {
            warn!(node = %options.node, "realtime: changed in the file; scheduling is set at start, restart vippyd to apply it");
        }
        self.config = config.clone();
        let _ = self.dp.send(Order::Configure {
            config,
            cluster: node.cluster().clone(),
        });
        info!(node = %options.node, "reloaded {}: version {} in force", options.config_path.display(), node.cluster().version);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use vippy_core::config::Command;

    use super::{chat_changes, cli_plugin};

    fn config(chat: &str, extra: &str) -> vippy_core::config::Config {
        let text = format!(
            "{{ chat: '{chat}', secret: 's', vips: [[{{ip: '198.51.100.1/24'}}]], nodes: ['a', 'b', 'c'], {extra} }}"
        );
        vippy_core::config::load(&text, "t").unwrap()
    }

    #[test]
    fn chat_changes_name_what_a_reload_changes() {
        let two = "peers: { a: '198.51.100.11:5007', b: '198.51.100.12:5007' }";
        let old = config("0.0.0.0:5007", two);
        assert!(chat_changes(&old, &old).is_empty());
        let three =
            "peers: { a: '198.51.100.11:5007', b: '198.51.100.22:5007', c: '198.51.100.13:5007' }";
        assert_eq!(
            chat_changes(&old, &config("0.0.0.0:5007", three)),
            ["peers: b 198.51.100.12:5007 -> 198.51.100.22:5007, c 198.51.100.13:5007 added"]
        );
        assert_eq!(
            chat_changes(&config("0.0.0.0:5007", three), &old),
            ["peers: b 198.51.100.22:5007 -> 198.51.100.12:5007, c 198.51.100.13:5007 removed"]
        );
        let multicast = config("239.1.1.1:5007", "chat_interface: 'eth1'");
        assert_eq!(
            chat_changes(&config("239.1.1.1:5008", ""), &multicast),
            [
                "chat 239.1.1.1:5008 -> 239.1.1.1:5007",
                "chat_interface all -> eth1"
            ]
        );
    }

    #[test]
    fn a_cli_plugin_is_split_at_spaces() {
        let argv = |a: &[&str]| Some(Command::Argv(a.iter().map(|s| s.to_string()).collect()));
        assert_eq!(
            cli_plugin("/usr/lib/vippy/notify"),
            argv(&["/usr/lib/vippy/notify"])
        );
        assert_eq!(
            cli_plugin("/bin/sh  /etc/vippy/plugin.sh --verbose"),
            argv(&["/bin/sh", "/etc/vippy/plugin.sh", "--verbose"])
        );
        assert_eq!(cli_plugin("   "), None);
    }
}
