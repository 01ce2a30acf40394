//! A deterministic multi-node simulator for the vippy core (docs/TESTING.md):
//! real [`vippy_core::node::Node`]s on a fake clock and a seeded network with
//! delay, loss, duplication, reordering, partitions, crashes, restarts, pauses,
//! health flaps and config bumps. A failing seed prints itself and a readable
//! trace; `VIPPY_SIM_SEED` replays one seed with the full trace.
//!
//! # Layout
//! - `rng.rs`: the seeded generator.
//! - `world.rs`: nodes, network, clock, what each node has plumbed, and
//!   (for the golden tests) a recording of every node's outputs.
//! - `scenario.rs`: one seeded run through its phases, with the invariants.

pub mod rng;
pub mod scenario;
pub mod world;

pub use scenario::{Failure, Outcome, run, run_scale, run_scale_batched};

/// Runs `count` seeds from `first`, returning outcomes or the first failure.
pub fn run_many(first: u64, count: u64) -> Result<Vec<Outcome>, Box<Failure>> {
    (first..first + count)
        .map(|seed| run(seed, false).map_err(Box::new))
        .collect()
}
