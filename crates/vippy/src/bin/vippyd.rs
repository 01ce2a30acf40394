//! vippyd: keeps virtual IP addresses alive over a cluster of Linux nodes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vippy::check_config::{check_config, read_config};

#[derive(Parser, Debug)]
#[command(
    name = "vippyd",
    version,
    about = "Keeps virtual IP addresses alive over a cluster of Linux nodes"
)]
struct Args {
    /// Configuration file.
    #[arg(short = 'c', long = "config", default_value = "/etc/vippy.conf")]
    config: PathBuf,
    /// This node's name in `nodes` (default: the hostname).
    #[arg(short = 'n', long = "node")]
    node: Option<String>,
    /// A plugin program to start and supervise (repeatable, as in the original).
    #[arg(short = 'p', long = "plugin")]
    plugins: Vec<String>,
    /// Validate the configuration, print a summary and exit (0 valid, 1 not).
    #[arg(short = 't', long = "check-config")]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let node = args.node.clone().unwrap_or_else(hostname);
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
    // Logging comes from the file; a file that does not load is reported
    // on stderr and the daemon does not start.
    let config = match read_config(&args.config) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    vippy::logging::init_for_daemon(&config.logging, &node);
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

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}
