//! vippyd: keeps virtual IP addresses alive over a cluster of Linux nodes.
//! Parses arguments, sets up logging and runs [`vippy::runtime`].

use std::process::ExitCode;

use clap::Parser;
use vippy::check_config::{check_config, node_in_config, read_config};
use vippy::cli::VippydArgs;

fn main() -> ExitCode {
    let args = VippydArgs::parse();
    if args.check_config {
        return match check_config(&args.config, args.node.as_deref()) {
            Ok(summary) => {
                print!("{summary}");
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::FAILURE
            }
        };
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
        log: Some(log.handle),
    };
    match runtime.block_on(vippy::runtime::run(options, std::future::pending())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("vippyd: {e:#}");
            eprintln!("vippyd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
