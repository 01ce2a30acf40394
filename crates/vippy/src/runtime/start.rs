//! The start of a run: read and check the config, open netlink and the
//! chat, take an incarnation, start the data plane (which removes
//! leftovers before anything is announced), the API, checks and plugins,
//! and tell systemd the daemon is ready.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::info;
use vippy_core::node::{Counters, Node};

use super::daemon::{Daemon, Inputs};
use super::dataplane::{self, Order, Report};
use super::narrator::Narrator;
use super::{
    ApiTask, LoopState, MetricsTcp, Options, PUBLISH_EVERY, admin, chat_config, check_scope, links,
    persisted, plugin_commands, release_barrier,
};
use crate::api::{AdminRequest, ApiSocket, ApiState};
use crate::check_config::{node_in_config, read_config, secrets_bytes};
use crate::checks::{CheckResult, HealthChecks};
use crate::hooks::Hooks;
use crate::metrics::Metrics;
use crate::net::{Chat, Netlink};
use crate::plugins::Plugins;
use crate::status::{Event, Status};

impl Daemon {
    pub(super) async fn start(options: Options) -> anyhow::Result<Daemon> {
        let config = Arc::new(read_config(&options.config_path).map_err(anyhow::Error::msg)?);
        node_in_config(&config, &options.node).map_err(anyhow::Error::msg)?;
        let secrets = secrets_bytes(&config).map_err(anyhow::Error::msg)?;

        let netlink = Netlink::new().context("opening rtnetlink")?;
        let links = netlink.links().await.context("listing interfaces")?;
        let chat = Chat::bind(chat_config(&config, &options.node), &links)
            .context("binding the chat socket")?;
        info!(node = %options.node, "chat on {} via {:?}", config.chat, chat.interfaces().iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>());

        // Grows across restarts without state on disk, so peers' replay
        // windows accept the new run; with a state directory it also
        // survives the clock being stepped back.
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let incarnation = persisted::next_incarnation(&config, clock);
        let started = Instant::now();
        let mut node = Node::new(
            config.clone(),
            &options.node,
            &secrets,
            incarnation,
            started,
        );
        if let Some((cluster, from)) = persisted::load_adopted(&config) {
            info!(node = %options.node, "resuming config version {} adopted from {from} (kept in {})", cluster.version, config.state_dir.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
            node.resume_adopted(Arc::new(cluster), from, started);
        }
        admin::restore(&mut node, &config, started);

        // Data plane: remove leftovers before anything is announced.
        // Unbounded both ways: the loop and the data plane never wait on
        // each other, whatever one decision plumbs (4096 groups is 8192
        // commands).
        let (report_tx, reports) = mpsc::unbounded_channel::<Report>();
        let (dp_tx, dp_rx) = mpsc::unbounded_channel::<Order>();
        let dp_alive = crate::systemd::Beat::new();
        let dp_thread = dataplane::start(
            config.clone(),
            node.cluster().clone(),
            report_tx,
            dp_rx,
            dp_alive.clone(),
        )
        .await?;
        let (links, cannot_serve) =
            links::LinkHandle::spawn(config.clone(), node.cluster().clone());

        // Management API, checks, plugins.
        let metrics = Arc::new(Metrics::new());
        let (events_tx, _) = broadcast::channel::<Event>(1024);
        let (status_tx, status_rx) = watch::channel(Status::default());
        let (admin_tx, admin_rx) = mpsc::channel::<AdminRequest>(16);
        let api_socket = ApiSocket::bind(&config.management, config.management_mode)
            .with_context(|| format!("management socket {}", config.management.display()))?;
        let stop = CancellationToken::new();
        // The API asks for a fresh snapshot when it serves one: status is
        // built on request or on change, never per datagram or timer.
        let status_wanted = Arc::new(tokio::sync::Notify::new());
        let api_state = ApiState::new(status_rx, metrics.clone(), admin_tx, events_tx.clone())
            .with_refresh(status_wanted.clone());
        let metrics_tcp = match config.metrics {
            Some(addr) => Some(
                MetricsTcp::start(addr, api_state.clone(), &stop)
                    .await
                    .with_context(|| format!("metrics listener {addr}"))?,
            ),
            None => None,
        };
        let api = ApiTask::spawn(api_socket, api_state.clone(), &stop);
        let (check_tx, check_rx) = mpsc::channel::<CheckResult>(64);
        let checks = HealthChecks::spawn(config.checks.clone(), check_tx, stop.clone());
        // A check that has not passed yet counts as failing: no VIP is
        // taken before the service is known good.
        let mut check_scopes = check_scope::CheckScopes::default();
        for event in check_scopes.start(&config.checks, &config.cluster, &node.cluster().clone()) {
            node.handle_local(started, event);
        }
        let plugins = Plugins::spawn(
            plugin_commands(&config, &options),
            config.management.clone(),
            options.node.clone(),
            stop.clone(),
        );

        let narrator = Narrator::new(
            options.node.clone(),
            metrics.clone(),
            events_tx,
            Hooks::new(config.hooks.clone(), metrics.clone()),
        );
        let inputs = Inputs {
            reports,
            cannot_serve,
            checks: check_rx,
            admin: admin_rx,
            sighup: signal(SignalKind::hangup()).context("SIGHUP handler")?,
            sigterm: signal(SignalKind::terminate()).context("SIGTERM handler")?,
            sigint: signal(SignalKind::interrupt()).context("SIGINT handler")?,
            status_wanted,
            publish: tokio::time::interval(PUBLISH_EVERY),
        };

        // Both loops wake at least every `interval` (heartbeats) or second
        // (reconcile); three times that without a pass means one is stuck.
        let max_silence = (config.interval * 3).max(Duration::from_secs(3));
        let out = LoopState {
            config,
            chat,
            netlink,
            api,
            dp: dp_tx,
            last_counters: Counters::default(),
            status_dirty: true,
            systemd_status: String::new(),
            api_state,
            metrics_tcp,
            stop: stop.clone(),
            conflicts: super::conflicts::Conflicts::default(),
            check_scopes,
            held: release_barrier::HeldTransmits::default(),
        };
        info!(node = %options.node, "started: version {}, {} groups, {} nodes, incarnation {incarnation}", node.cluster().version, node.cluster().groups.len(), node.cluster().nodes.len());
        let _ = crate::systemd::notify_ready();
        let loop_alive = crate::systemd::Beat::new();
        let watchdog = crate::systemd::spawn_watchdog(
            stop,
            vec![("core loop", loop_alive.clone()), ("data plane", dp_alive)],
            max_silence,
        );
        Ok(Daemon {
            options,
            node,
            out,
            narrator,
            metrics,
            checks,
            plugins,
            links,
            inputs,
            status_tx,
            last_publish: Instant::now(),
            publish_cost: Duration::ZERO,
            lag: super::lag::LagWatch::default(),
            loop_alive,
            watchdog,
            dp_thread,
            buf: vec![0u8; 65536],
            inbox: Default::default(),
        })
    }
}
