//! `vippy-sim`: the soak command. Runs many seeds and prints seeds per
//! second and the distribution of convergence times.
//!
//! ```text
//! vippy-sim [--seeds N] [--first SEED]      # default 100000 seeds from 0
//! vippy-sim --seed SEED                     # one seed with its full trace
//! vippy-sim --groups 4096 --nodes 16 --seeds 3   # the scale run (docs/TESTING.md)
//! vippy-sim --groups 4096 --seeds 3 --batch 1     # …deciding on every datagram
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

/// Soak the vippy core in the deterministic simulator: each seed draws a
/// cluster and runs it through boot, crash, restart, chaos, heal and reload,
/// checking the invariants after every phase. Prints seeds per second and the
/// distribution of convergence times (in protocol time).
///
/// A failing seed prints itself (the soak stops after 5); replay one with its
/// full trace with `--seed SEED`.
#[derive(Parser, Debug)]
#[command(name = "vippy-sim", version)]
struct Args {
    /// Run this one seed with its full trace instead of a soak.
    #[arg(long, value_name = "SEED", conflicts_with_all = ["seeds", "first"])]
    seed: Option<u64>,
    /// How many seeds to soak.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    seeds: u64,
    /// The first seed of the soak: it runs seeds SEED to SEED+N-1.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    first: u64,
    /// Run the scale scenario with this many groups instead of drawn
    /// shapes: nodes start together, a loop pays for its work, one falls
    /// behind (at most 4096).
    #[arg(long, value_name = "G")]
    groups: Option<usize>,
    /// With --groups: how many nodes.
    #[arg(long, value_name = "N", default_value_t = 16, requires = "groups")]
    nodes: usize,
    /// With --groups: the most queued datagrams a loop reads before it
    /// decides (default: the daemon's; 1 decides on every datagram).
    #[arg(long, value_name = "N", requires = "groups")]
    batch: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = |seed: u64, trace: bool| match args.groups {
        Some(groups) => vippy_sim::run_scale_batched(seed, args.nodes, groups, args.batch, trace),
        None => vippy_sim::run(seed, trace),
    };
    if let Some(seed) = args.seed {
        return match run(seed, true) {
            Ok(outcome) => {
                println!("seed {seed}: ok {outcome:?}");
                ExitCode::SUCCESS
            }
            Err(failure) => {
                println!("{failure}");
                ExitCode::FAILURE
            }
        };
    }
    let count = args.seeds;
    let first = args.first;
    let started = Instant::now();
    let mut crash = Vec::new();
    let mut heal = Vec::new();
    let mut cold = Vec::new();
    let mut failures = 0u64;
    for seed in first..first + count {
        match run(seed, false) {
            Ok(o) => {
                crash.extend(o.crash_convergence);
                heal.extend(o.heal_convergence);
                cold.extend(o.cold_start_convergence);
                if args.groups.is_some() {
                    println!(
                        "seed {seed}: cold start converged in {:.3}s with {} duplicate group-rounds; {} after a lag; at most {} holders of a group; {} decisions in the quiet phase; {} decisions in the cold start's allowance, {} after the crash; {} duplicates resolved; longest queue wait {:.3}s",
                        o.cold_start_convergence.unwrap_or_default().as_secs_f64(),
                        o.cold_start_duplicates,
                        o.lag_duplicates,
                        o.max_holders,
                        o.quiet_decisions,
                        o.cold_start_decisions,
                        o.crash_decisions,
                        o.duplicates_resolved,
                        o.longest_wait.as_secs_f64()
                    );
                }
            }
            Err(failure) => {
                failures += 1;
                eprintln!("{failure}");
                if failures >= 5 {
                    break;
                }
            }
        }
        if (seed - first + 1) % 10_000 == 0 {
            eprintln!(
                "{} seeds, {:.1}s",
                seed - first + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{count} seeds in {:.1}s: {:.0} seeds/s, {failures} failed",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    println!(
        "convergence after a crash (protocol time): {}",
        distribution(&mut crash)
    );
    if args.groups.is_some() {
        println!(
            "convergence after a cold start (protocol time): {}",
            distribution(&mut cold)
        );
    } else {
        println!(
            "convergence after faults stop (protocol time): {}",
            distribution(&mut heal)
        );
    }
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn distribution(samples: &mut [Duration]) -> String {
    if samples.is_empty() {
        return "no samples".into();
    }
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64();
    format!(
        "n={} min {:.3}s p50 {:.3}s p90 {:.3}s p99 {:.3}s max {:.3}s",
        samples.len(),
        at(0.0),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    )
}
