//! The Linux daemon around [`vippy_core`]: data plane, chat sockets, the
//! runtime loop and the management API.
//!
//! # Layout
//! - [`check_config`]: `vippyd --check-config`, and reading config files.
//! - [`net`]: rtnetlink addresses and neighbours, ARP/NA announcements, chat sockets.
//! - [`logging`], [`systemd`], [`cli`]: log drivers, sd_notify, command lines.

pub mod check_config;
pub mod cli;
pub mod logging;
pub mod net;
pub mod systemd;
