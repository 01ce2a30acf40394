//! The fault schedule: a pure function of the seed and the run's shape.
//! A run is a row of *episodes*; each episode starts one to three
//! overlapping faults on disjoint nodes, ends them all, then leaves the
//! cluster alone for the settle bound and a quiet period, in which the
//! invariants are checked. The same seed gives the same schedule, so a
//! violation's seed and time offset replay it.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// The base groups every config has; optional groups come after them.
pub const BASE_GROUPS: usize = 32;
/// Groups a reload may add after the base ones (and remove again).
pub const OPTIONAL_GROUPS: usize = 4;
/// The loss a `Loss` fault draws on the chat link.
pub const LOSS_PERCENT: u8 = 20;

/// What one fault does (to whom); it starts at [`Fault::start`] and is
/// undone at [`Fault::end`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// SIGKILL, restarted at the end.
    Kill { node: usize },
    /// SIGTERM (a clean stop), restarted at the end.
    Term { node: usize },
    /// SIGSTOP, SIGCONT at the end; `long` when it lasts more than `stale`.
    Stop { node: usize, long: bool },
    /// The chat link's bridge port down (carrier lost on eth0).
    ChatDown { node: usize },
    /// The VIP LAN's bridge port down (carrier lost on eth1).
    VipCarrierDown { node: usize },
    /// [`LOSS_PERCENT`] of the frames arriving on the chat link dropped.
    Loss { node: usize },
    /// `side` and the other nodes cannot hear each other on the chat link.
    Partition { side: Vec<usize> },
    /// One direction only: `deaf` drops what the other nodes send it;
    /// otherwise the other nodes drop what it sends (it is mute).
    OneWay { node: usize, deaf: bool },
    /// A new config file on every node (version bumped, one group added
    /// or removed), SIGHUP to `node`; the others adopt it from the chat.
    Reload {
        node: usize,
        version: u64,
        /// Optional groups configured after the reload (the first `n`).
        optional: usize,
    },
    /// `vippyctl drain` on `node`, `vippyctl undrain` at the end.
    Drain { node: usize },
}

impl FaultKind {
    /// The kind's name in tables.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Kill { .. } => "sigkill + restart",
            FaultKind::Term { .. } => "sigterm + restart",
            FaultKind::Stop { long: true, .. } => "sigstop > stale",
            FaultKind::Stop { long: false, .. } => "sigstop < stale",
            FaultKind::ChatDown { .. } => "chat link down",
            FaultKind::VipCarrierDown { .. } => "vip carrier down",
            FaultKind::Loss { .. } => "chat loss 20%",
            FaultKind::Partition { .. } => "partition",
            FaultKind::OneWay { .. } => "one-way partition",
            FaultKind::Reload { .. } => "sighup reload",
            FaultKind::Drain { .. } => "drain",
        }
    }

    /// The nodes it acts on (no other fault of its episode touches them).
    pub fn nodes(&self) -> Vec<usize> {
        match self {
            FaultKind::Kill { node }
            | FaultKind::Term { node }
            | FaultKind::Stop { node, .. }
            | FaultKind::ChatDown { node }
            | FaultKind::VipCarrierDown { node }
            | FaultKind::Loss { node }
            | FaultKind::OneWay { node, .. }
            | FaultKind::Reload { node, .. }
            | FaultKind::Drain { node } => vec![*node],
            FaultKind::Partition { side } => side.clone(),
        }
    }

    /// Every kind name, in table order.
    pub fn all_names() -> [&'static str; 11] {
        [
            "sigkill + restart",
            "sigterm + restart",
            "sigstop > stale",
            "sigstop < stale",
            "chat link down",
            "vip carrier down",
            "chat loss 20%",
            "partition",
            "one-way partition",
            "sighup reload",
            "drain",
        ]
    }
}

/// One fault, seconds from the start of the chaos phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Its number in the run (0 first).
    pub id: usize,
    pub kind: FaultKind,
    pub start: f64,
    /// When it is undone (equal to `start` for a reload).
    pub end: f64,
}

/// Faults that overlap, then the time the cluster is left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub start: f64,
    pub faults: Vec<Fault>,
    /// The last fault's end: the settle bound is counted from here.
    pub end: f64,
    /// When the next episode may start: `end` + bound + a quiet period.
    pub until: f64,
}

/// The shape the schedule is drawn for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub seed: u64,
    /// Seconds of chaos.
    pub duration: f64,
    pub nodes: usize,
    /// The daemons' `stale`, seconds (long stops outlast it, short ones not).
    pub stale: f64,
    /// How long after the last fault ends the invariants must hold.
    pub bound: f64,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub shape: Shape,
    pub episodes: Vec<Episode>,
}

/// How long after an episode's end (beyond the bound) nothing happens.
const QUIET: (f64, f64) = (2.0, 4.0);
/// How far into an episode its faults start.
const SPREAD: f64 = 1.5;

impl Schedule {
    /// Draws the schedule for `shape`: episodes until the next would not
    /// fit in `duration`.
    pub fn generate(shape: Shape) -> Schedule {
        assert!(shape.nodes >= 3, "chaos needs at least 3 nodes");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(shape.seed);
        let mut episodes = Vec::new();
        let mut at = 1.0;
        let mut next_id = 0;
        let mut version = 1;
        let mut optional = 0;
        loop {
            let count = match rng.random_range(0..100) {
                0..50 => 1,
                50..85 => 2,
                _ => 3,
            };
            let mut free: Vec<usize> = (0..shape.nodes).collect();
            let mut faults = Vec::new();
            for _ in 0..count {
                let Some(kind) = draw_kind(
                    &mut rng,
                    &mut free,
                    shape.nodes,
                    &mut version,
                    &mut optional,
                ) else {
                    break;
                };
                let start = at + rng.random_range(0.0..SPREAD);
                let length = match &kind {
                    FaultKind::Reload { .. } => 0.0,
                    FaultKind::Kill { .. } | FaultKind::Term { .. } => rng.random_range(0.5..3.0),
                    FaultKind::Stop { long: true, .. } => {
                        rng.random_range(1.5 * shape.stale..4.0 * shape.stale)
                    }
                    FaultKind::Stop { long: false, .. } => {
                        rng.random_range(0.1 * shape.stale..0.5 * shape.stale)
                    }
                    _ => rng.random_range(1.0..5.0),
                };
                faults.push(Fault {
                    id: next_id,
                    kind,
                    start,
                    end: start + length,
                });
                next_id += 1;
            }
            let end = faults.iter().map(|f| f.end).fold(at, f64::max);
            let until = end + shape.bound + rng.random_range(QUIET.0..QUIET.1);
            if until > shape.duration {
                break;
            }
            episodes.push(Episode {
                start: at,
                faults,
                end,
                until,
            });
            at = until;
        }
        Schedule { shape, episodes }
    }

    /// Every fault, in start order within each episode.
    pub fn faults(&self) -> impl Iterator<Item = &Fault> {
        self.episodes.iter().flat_map(|e| e.faults.iter())
    }
}

/// One fault on nodes still free in this episode, or `None` if it needs
/// more than are left.
fn draw_kind(
    rng: &mut Xoshiro256PlusPlus,
    free: &mut Vec<usize>,
    nodes: usize,
    version: &mut u64,
    optional: &mut usize,
) -> Option<FaultKind> {
    if free.is_empty() {
        return None;
    }
    let take = |rng: &mut Xoshiro256PlusPlus, free: &mut Vec<usize>| {
        let i = rng.random_range(0..free.len());
        free.remove(i)
    };
    let kind = match rng.random_range(0..10) {
        0 => FaultKind::Kill {
            node: take(rng, free),
        },
        1 => FaultKind::Term {
            node: take(rng, free),
        },
        2 => FaultKind::Stop {
            node: take(rng, free),
            long: rng.random_range(0..10) < 6,
        },
        3 => FaultKind::ChatDown {
            node: take(rng, free),
        },
        4 => FaultKind::VipCarrierDown {
            node: take(rng, free),
        },
        5 => FaultKind::Loss {
            node: take(rng, free),
        },
        6 => {
            // A side of one or two nodes (never more than half).
            let size = if free.len() >= 2 && nodes >= 4 && rng.random_range(0..2) == 0 {
                2
            } else {
                1
            };
            let mut side: Vec<usize> = (0..size).map(|_| take(rng, free)).collect();
            side.sort_unstable();
            FaultKind::Partition { side }
        }
        7 => FaultKind::OneWay {
            node: take(rng, free),
            deaf: rng.random_range(0..2) == 0,
        },
        8 => {
            *version += 1;
            *optional = match *optional {
                0 => 1,
                n if n == OPTIONAL_GROUPS => n - 1,
                n if rng.random_range(0..2) == 0 => n + 1,
                n => n - 1,
            };
            FaultKind::Reload {
                node: take(rng, free),
                version: *version,
                optional: *optional,
            }
        }
        _ => FaultKind::Drain {
            node: take(rng, free),
        },
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(seed: u64, duration: f64) -> Shape {
        Shape {
            seed,
            duration,
            nodes: 5,
            stale: 0.8,
            bound: 2.4,
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_schedule() {
        let a = Schedule::generate(shape(7, 300.0));
        let b = Schedule::generate(shape(7, 300.0));
        assert_eq!(a, b);
        let c = Schedule::generate(shape(8, 300.0));
        assert_ne!(a.episodes, c.episodes);
        // A shorter run is a prefix of a longer one's draws only up to
        // where it stops; its episodes all fit.
        let short = Schedule::generate(shape(7, 90.0));
        assert!(!short.episodes.is_empty());
        assert_eq!(short.episodes[0], a.episodes[0]);
    }

    #[test]
    fn episodes_fit_and_leave_the_bound_and_a_quiet_period() {
        for seed in 0..50 {
            let s = Schedule::generate(shape(seed, 600.0));
            let mut last = 0.0;
            for e in &s.episodes {
                assert!(e.start >= last, "seed {seed}: episodes overlap");
                assert!(e.end >= e.start);
                for f in &e.faults {
                    assert!(f.start >= e.start && f.start < e.start + SPREAD);
                    assert!(f.end >= f.start && f.end <= e.end);
                }
                assert!(e.until - e.end >= s.shape.bound + QUIET.0 - 1e-9);
                assert!(e.until <= s.shape.duration);
                last = e.until;
            }
        }
    }

    #[test]
    fn faults_of_an_episode_touch_disjoint_nodes() {
        for seed in 0..50 {
            let s = Schedule::generate(shape(seed, 600.0));
            for e in &s.episodes {
                assert!((1..=3).contains(&e.faults.len()));
                let mut seen = Vec::new();
                for f in &e.faults {
                    for n in f.kind.nodes() {
                        assert!(n < 5);
                        assert!(!seen.contains(&n), "seed {seed}: node {n} twice in {e:?}");
                        seen.push(n);
                    }
                }
            }
        }
    }

    #[test]
    fn stops_are_long_or_short_against_stale() {
        let s = Schedule::generate(shape(3, 3600.0));
        let mut long = 0;
        let mut short = 0;
        for f in s.faults() {
            if let FaultKind::Stop { long: l, .. } = f.kind {
                let length = f.end - f.start;
                if l {
                    assert!(length > s.shape.stale);
                    long += 1;
                } else {
                    assert!(length < s.shape.stale);
                    short += 1;
                }
            }
        }
        assert!(long > 0 && short > 0);
    }

    #[test]
    fn reloads_bump_the_version_and_add_or_remove_one_group() {
        let s = Schedule::generate(shape(11, 3600.0));
        let (mut version, mut optional) = (1, 0usize);
        let mut reloads = 0;
        for f in s.faults() {
            if let FaultKind::Reload {
                version: v,
                optional: o,
                ..
            } = f.kind
            {
                assert_eq!(v, version + 1);
                assert_eq!(o.abs_diff(optional), 1);
                assert!(o <= OPTIONAL_GROUPS);
                assert_eq!(f.start, f.end);
                (version, optional) = (v, o);
                reloads += 1;
            }
        }
        assert!(reloads > 5);
    }

    #[test]
    fn a_long_run_draws_every_kind() {
        let s = Schedule::generate(shape(1, 600.0));
        for name in FaultKind::all_names() {
            assert!(
                s.faults().any(|f| f.kind.name() == name),
                "no {name} in 600 s"
            );
        }
        // Faults overlap: some episodes have more than one.
        assert!(s.episodes.iter().any(|e| e.faults.len() > 1));
    }
}
