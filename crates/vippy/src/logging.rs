//! Logging setup (placeholder until the drivers land): console only.

use vippy_core::config::Logging;

pub fn init_for_daemon(_logging: &Logging, _node: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIPPY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
