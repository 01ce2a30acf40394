//! `vippy-lab`: the lab's command line. `demo` runs the namespace demo
//! cluster; `sweep` removes what dead lab runs left behind.

use std::process::ExitCode;

use vippy_lab::{DEFAULT_FAMILY, is_root, sweep};

const USAGE: &str = "usage: vippy-lab demo | vippy-lab bench [ROUNDS] | vippy-lab bench-keepalived [ROUNDS] | vippy-lab sweep [FAMILY]   (must run as root)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str);
    if matches!(command, None | Some("-h" | "--help" | "help")) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if !is_root() {
        eprintln!("vippy-lab must run as root: it creates network namespaces");
        return ExitCode::FAILURE;
    }
    match (command, &args[1..]) {
        (Some("demo"), []) => match vippy_lab::demo::demo() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e:#}");
                ExitCode::FAILURE
            }
        },
        (Some("bench"), rest) if rest.len() <= 1 => {
            let rounds = rest.first().and_then(|r| r.parse().ok()).unwrap_or(10);
            match vippy_lab::bench::bench(rounds) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        (Some("bench-keepalived"), rest) if rest.len() <= 1 => {
            let rounds = rest.first().and_then(|r| r.parse().ok()).unwrap_or(10);
            match vippy_lab::keepalived::bench(rounds) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench-keepalived failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        (Some("sweep"), rest) if rest.len() <= 1 => {
            let family = rest.first().map(String::as_str).unwrap_or(DEFAULT_FAMILY);
            let swept = sweep(family);
            for name in &swept.namespaces {
                println!("removed namespace {name}");
            }
            for name in &swept.dirs {
                println!("removed directory {name}");
            }
            println!(
                "swept {} namespaces and {} directories of family {family:?}",
                swept.namespaces.len(),
                swept.dirs.len()
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
