//! The Linux daemon around [`vippy_core`]: data plane, chat sockets, the
//! runtime loop and the management API.
//!
//! # Layout
//! - [`check_config`]: `vippyd --check-config`, and reading config files.

pub mod check_config;
