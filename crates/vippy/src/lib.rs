//! The Linux daemon around [`vippy_core`]: data plane, chat sockets, the
//! runtime loop and the management API.
//!
//! # Layout
//! - [`check_config`]: `vippyd --check-config`, and reading config files.
//! - [`net`]: rtnetlink addresses and neighbours, ARP/NA announcements, chat sockets.
//! - [`runtime`]: the loop that drives the core, and the data plane task.
//! - [`status`]: what the API shows: the status snapshot and events.
//! - [`metrics`]: counters and gauges, Prometheus text format.
//! - [`api`]: the management API server on the unix socket.
//! - [`client`]: `vippyctl`'s client for that API, and its rendering.
//! - [`checks`], [`hooks`], [`plugins`]: external programs: health checks,
//!   event hooks, supervised plugins (run through `process`).
//! - [`logging`], [`systemd`], [`cli`]: log drivers, sd_notify, command lines.
//! - [`realtime`]: the loop at SCHED_FIFO, the rest on a runtime of normal priority.

pub mod api;
pub mod check_config;
pub mod checks;
pub mod cli;
pub mod client;
pub mod hooks;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod plugins;
mod process;
pub mod realtime;
pub mod runtime;
pub mod status;
pub mod systemd;
