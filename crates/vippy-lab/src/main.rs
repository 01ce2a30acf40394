//! `vippy-lab`: the lab's command line. `demo` runs the namespace demo
//! cluster; `bench` measures failover, `bench attack` a hostile network;
//! `chaos` runs seeded overlapping faults against five daemons; `sweep`
//! removes what dead lab runs left behind.

use std::process::ExitCode;

use vippy_lab::{DEFAULT_FAMILY, is_root, sweep};

const USAGE: &str = "usage: vippy-lab demo | vippy-lab bench [ROUNDS [INTERVAL STALE]] | vippy-lab bench attack [PER_KIND [SVG]] | vippy-lab bench calm [--duration SECONDS] [--kills N] [--groups G] [--only realtime|normal|keepalived]... [--svg FILE] | vippy-lab bench scale NODES GROUPS [INTERVAL STALE [MATURE]] | vippy-lab bench-keepalived [ROUNDS [ADVERT_INT]] | vippy-lab chaos --duration D --seed S [--svg FILE] [--interval I --stale S --mature M] | vippy-lab sweep [FAMILY]   (must run as root)";

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
        (Some("bench"), [sub, rest @ ..]) if sub == "attack" && rest.len() <= 2 => {
            let per_kind = match rest.first().map(|n| n.parse::<usize>()) {
                None => 50_000,
                Some(Ok(n)) if n > 0 => n,
                Some(_) => {
                    eprintln!("PER_KIND is a count of datagrams, at least 1\n{USAGE}");
                    return ExitCode::from(2);
                }
            };
            let svg = rest.get(1).map_or("docs/bench-attack.svg", String::as_str);
            match vippy_lab::bench_attack::bench(per_kind, std::path::Path::new(svg)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench attack failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        (Some("bench"), [calm, rest @ ..]) if calm == "calm" => match calm_spec(rest) {
            Some((spec, svg)) => {
                match vippy_lab::bench_calm::bench_calm(&spec, std::path::Path::new(&svg)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("bench calm failed: {e:#}");
                        ExitCode::FAILURE
                    }
                }
            }
            None => {
                eprintln!(
                    "--duration is seconds (default 600), --kills a count (default 20), --groups 1 to 4096 (default 1024), --only one of realtime, normal, keepalived (repeatable; default all)\n{USAGE}"
                );
                ExitCode::from(2)
            }
        },
        (Some("bench"), [scale, rest @ ..]) if scale == "scale" => match scale_spec(rest) {
            Some(spec) => {
                let svg = std::env::var("VIPPY_BENCH_SVG")
                    .unwrap_or_else(|_| format!("bench-scale-{}x{}.svg", spec.nodes, spec.groups));
                match vippy_lab::bench_scale::bench_scale(&spec, std::path::Path::new(&svg)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("bench scale failed: {e:#}");
                        ExitCode::FAILURE
                    }
                }
            }
            None => {
                eprintln!(
                    "NODES (2..=100) and GROUPS are counts; INTERVAL, STALE and MATURE seconds\n{USAGE}"
                );
                ExitCode::from(2)
            }
        },
        (Some("bench"), rest) if matches!(rest.len(), 0 | 1 | 3) => {
            let rounds = rest.first().and_then(|r| r.parse().ok()).unwrap_or(10);
            let timing = match rest {
                [_, interval, stale] => match (interval.parse(), stale.parse()) {
                    (Ok(interval), Ok(stale)) => Some((interval, stale)),
                    _ => {
                        eprintln!("INTERVAL and STALE are seconds\n{USAGE}");
                        return ExitCode::from(2);
                    }
                },
                _ => None,
            };
            match vippy_lab::bench::bench(rounds, timing) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        (Some("bench-keepalived"), rest) if rest.len() <= 2 => {
            let rounds = rest.first().and_then(|r| r.parse().ok()).unwrap_or(10);
            let advert = match rest.get(1).map(|a| a.parse::<f64>()) {
                None => vippy_lab::keepalived::ADVERT_INT,
                Some(Ok(a)) => a,
                Some(Err(_)) => {
                    eprintln!("ADVERT_INT is seconds\n{USAGE}");
                    return ExitCode::from(2);
                }
            };
            match vippy_lab::keepalived::bench(rounds, advert) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench-keepalived failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        (Some("chaos"), rest) => match chaos_spec(rest) {
            Ok(spec) => match vippy_lab::chaos::run(spec) {
                Ok(report) => {
                    print!("{}", vippy_lab::chaos::report::text(&report));
                    if report.violations.is_empty() && report.crashes == 0 {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("chaos failed: {e:#}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("{e}\n{USAGE}");
                ExitCode::from(2)
            }
        },
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

/// `NODES GROUPS [INTERVAL STALE [MATURE]]`; defaults 0.1, 0.3, 0.5.
fn scale_spec(args: &[String]) -> Option<vippy_lab::bench_scale::ScaleSpec> {
    let num = |i: usize, default: f64| -> Option<f64> {
        args.get(i)
            .map_or(Some(default), |a| a.parse().ok().filter(|v: &f64| *v > 0.0))
    };
    let (nodes, groups): (usize, usize) = (args.first()?.parse().ok()?, args.get(1)?.parse().ok()?);
    if args.len() > 5
        || args.len() == 3
        || !(2..=vippy_lab::MAX_NODES).contains(&nodes)
        || groups == 0
    {
        return None;
    }
    Some(vippy_lab::bench_scale::ScaleSpec {
        nodes,
        groups,
        interval: num(2, 0.1)?,
        stale: num(3, 0.3)?,
        mature: num(4, 0.5)?,
        limit: std::time::Duration::from_secs(60),
    })
}

/// `--duration D --seed S [--svg FILE] [--interval I] [--stale S] [--mature M]`;
/// a duration is seconds, or minutes with `m` (`90`, `90s`, `10m`).
fn chaos_spec(args: &[String]) -> Result<vippy_lab::chaos::ChaosSpec, String> {
    let bins = vippy_lab::Binaries::beside_me().map_err(|e| format!("{e:#}"))?;
    let mut spec = vippy_lab::chaos::ChaosSpec {
        seed: 1,
        duration: 90.0,
        interval: 0.2,
        stale: 0.8,
        mature: 0.6,
        svg: Some("chaos-outage.svg".into()),
        bins,
    };
    let seconds = |flag: &str, value: &str| -> Result<f64, String> {
        let (number, scale) = match value.strip_suffix('m') {
            Some(n) => (n, 60.0),
            None => (value.strip_suffix('s').unwrap_or(value), 1.0),
        };
        number
            .parse::<f64>()
            .ok()
            .filter(|v| *v > 0.0)
            .map(|v| v * scale)
            .ok_or_else(|| format!("{flag} {value:?}: seconds (or minutes with m)"))
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--duration" => spec.duration = seconds(flag, value)?,
            "--seed" => {
                spec.seed = value
                    .parse()
                    .map_err(|_| format!("--seed {value:?}: a number"))?
            }
            "--svg" => spec.svg = Some(value.into()),
            "--interval" => spec.interval = seconds(flag, value)?,
            "--stale" => spec.stale = seconds(flag, value)?,
            "--mature" => spec.mature = seconds(flag, value)?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(spec)
}

/// `bench calm` options: the spec and the SVG path.
fn calm_spec(args: &[String]) -> Option<(vippy_lab::bench_calm::CalmSpec, String)> {
    let mut spec = vippy_lab::bench_calm::CalmSpec {
        duration: std::time::Duration::from_secs(600),
        kills: 20,
        groups: 1024,
        only: Vec::new(),
    };
    let mut svg = "bench-calm.svg".to_string();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next()?;
        match flag.as_str() {
            "--duration" => {
                let secs: f64 = value.parse().ok()?;
                if !(secs.is_finite() && secs > 0.0) {
                    return None;
                }
                spec.duration = std::time::Duration::from_secs_f64(secs);
            }
            "--kills" => spec.kills = value.parse().ok()?,
            "--groups" => {
                spec.groups = value.parse().ok().filter(|g| (1..=4096).contains(g))?;
            }
            "--svg" => svg = value.clone(),
            "--only" => spec
                .only
                .push(vippy_lab::bench_calm::Variant::parse(value)?),
            _ => return None,
        }
    }
    Some((spec, svg))
}
