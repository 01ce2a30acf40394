//! What the integration tests share, one module per kind of test: `lab`
//! (real daemons in namespaces), `net` (the data plane in a lab host),
//! `api` (a real API server fed by hand-built state) and `logging`.
//! Tests that need root are `#[ignore = "needs root: …"]` and begin with
//! `vippy_lab::need_root()`; scripts/test.sh runs them as root.
#![allow(dead_code)] // each test file uses its own part of it

pub mod api;
pub mod lab;
pub mod logging;
pub mod net;
