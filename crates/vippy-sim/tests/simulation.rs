//! The simulator in CI: many seeds, every invariant, and a replay hook.

/// 1000 seeds by default, as CI runs them; `VIPPY_SIM_SEEDS` sets another count.
#[test]
fn seeds() {
    let count = std::env::var("VIPPY_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    if let Err(failure) = vippy_sim::run_many(0, count) {
        panic!("{failure}");
    }
}

/// `VIPPY_SIM_SEED=N cargo test -p vippy-sim --release -- --nocapture replay`
/// prints the whole trace of one seed.
#[test]
fn replay() {
    let Some(seed) = std::env::var("VIPPY_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    else {
        return;
    };
    match vippy_sim::run(seed, true) {
        Ok(outcome) => println!("seed {seed}: ok {outcome:?}"),
        Err(failure) => panic!("{failure}"),
    }
}
