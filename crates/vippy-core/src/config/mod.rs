//! Configuration (docs/CONFIGURATION.md): the original vippy's file format, loaded
//! verbatim (it is JSON5, not JSON), plus vippy's extensions, validated
//! with errors that name the file, key path and position.
//!
//! - [`json5`]: the reader that keeps positions.
//! - [`load`](load()): text → [`Config`], every problem reported at once.
//! - [`Cluster`]: the part every node must agree on, its canonical text
//!   and digest.
//! - [`summary`]: the one-screen view `vippyd --check-config` prints.

mod cluster;
mod error;
mod fields;
pub mod json5;
mod load;
mod model;
mod summary;

pub use cluster::{Cluster, Digest, Group, hex};
pub use error::{ConfigError, ConfigErrors};
pub use load::{TOP_KEYS, load, load_cluster};
pub use model::*;
pub use summary::summary;
