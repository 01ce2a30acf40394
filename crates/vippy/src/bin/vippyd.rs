//! vippyd: keeps virtual IP addresses alive over a cluster of Linux nodes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

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
    /// Validate the configuration, print a summary and exit (0 valid, 1 not).
    #[arg(short = 't', long = "check-config")]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.check_config {
        return match vippy::check_config::check_config(&args.config, args.node.as_deref()) {
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
    eprintln!("vippyd: the daemon is not built yet; only --check-config works");
    ExitCode::from(2)
}
