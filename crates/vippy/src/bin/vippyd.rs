//! vippyd: keeps virtual IP addresses alive over a cluster of Linux nodes.
//! Parses arguments, sets up logging and runs [`vippy::runtime`].

use std::process::ExitCode;

use clap::Parser;
use vippy::check_config::{NodeName, check, node_in_config, read_config};
use vippy::cli::VippydArgs;

fn main() -> ExitCode {
    // A usage error exits with status 2 (clap's), before anything else.
    let args = VippydArgs::parse();
    if args.check_config {
        return check_config(&args);
    }
    let node = match args.node_name() {
        Ok(node) => node,
        Err(e) => {
            eprintln!("vippyd: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Logging comes from the file; a file that does not load is reported on
    // stderr and the daemon does not start.
    let config = match read_config(&args.config).and_then(|c| node_in_config(&c, &node).map(|()| c))
    {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    let log = match vippy::logging::init(&config.logging, &node) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("vippyd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(warning) = &log.warning {
        tracing::warn!("{warning}");
    }
    // `realtime`: everything but the loop and the data plane on a runtime
    // of normal priority, started first; then this thread, which runs the
    // loop, at SCHED_FIFO with the memory locked.
    let background = match config.realtime {
        Some(priority) => match start_realtime(priority) {
            Ok(background) => Some(background),
            Err(e) => {
                tracing::error!("vippyd: {e}");
                eprintln!("vippyd: {e}");
                log.handle.flush(LAST_LINES_WAIT);
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vippyd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = vippy::runtime::Options {
        config_path: args.config,
        node,
        plugins: args.plugins,
        log: Some(log.handle.clone()),
    };
    let code = match runtime.block_on(vippy::runtime::run(options, std::future::pending())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("vippyd: {e:#}");
            eprintln!("vippyd: {e:#}");
            ExitCode::FAILURE
        }
    };
    drop(runtime);
    if let Some(background) = background {
        background.stop(LAST_LINES_WAIT);
    }
    // The last lines ("stopped: …") are still queued for the log writer;
    // a sink that does not take them in time loses them, not the exit.
    log.handle.flush(LAST_LINES_WAIT);
    code
}

/// Starts the runtime of normal priority, then puts this thread at
/// SCHED_FIFO `priority` with the process's memory locked.
fn start_realtime(priority: u8) -> Result<vippy::realtime::Background, String> {
    let background = vippy::realtime::Background::start()
        .map_err(|e| format!("cannot start the runtime of normal priority: {e}"))?;
    vippy::realtime::enter(priority).map_err(|e| e.to_string())?;
    tracing::info!(
        "realtime: core loop at SCHED_FIFO priority {priority}, data plane at {}, memory locked; API, metrics, checks, hooks and plugins at normal priority",
        vippy::realtime::data_plane_priority(priority)
    );
    Ok(background)
}

/// How long vippyd waits at exit for its last log lines to be written.
const LAST_LINES_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// `vippyd -t [--json]`: exit status 0 when the file is valid (warnings
/// allowed), 1 when it has errors.
fn check_config(args: &VippydArgs) -> ExitCode {
    // The node the daemon would run as: -n, or else the hostname.
    let node = match &args.node {
        Some(node) => NodeName::Given(node.clone()),
        None => NodeName::Hostname(args.node_name()),
    };
    let report = check(&args.config, &node, &args.plugins);
    if args.json {
        println!("{}", report.to_json());
    } else {
        if let Some(summary) = &report.summary {
            print!("{summary}");
        }
        if !report.errors.is_empty() {
            eprintln!("{}", report.errors_text());
        }
        if !report.warnings.is_empty() {
            eprintln!("{}", report.warnings_text());
        }
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
