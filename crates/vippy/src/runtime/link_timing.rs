//! When an interface's trouble counts (docs/OPERATIONS.md, "Link
//! tracking"): a link must be in trouble (missing, down, without carrier)
//! for `link_down_grace` before its groups go elsewhere, so a carrier blip
//! moves nothing, and healthy again for `mature` before they may come back,
//! so a flapping link does not pull them to and fro. An interface the
//! config names that has never existed here counts at once: there is
//! nothing to wait for.
//!
//! Pure: time is an argument, so the tests need no clock.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

/// What is wrong with an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// Not on this host (never seen, or removed).
    Missing,
    /// Administratively down (`IFF_UP` off).
    Down,
    /// Up but without carrier (`IFF_RUNNING` off).
    NoCarrier,
}

impl fmt::Display for Trouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trouble::Missing => "does not exist",
            Trouble::Down => "is down",
            Trouble::NoCarrier => "has no carrier",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In trouble; counts from `counts_at` on.
    Troubled {
        trouble: Trouble,
        counts_at: Instant,
    },
    /// Counted, and healthy again since `since`: counts until `since + mature`.
    Recovering { since: Instant },
}

/// Interfaces in trouble, by name, and whether each counts yet. An
/// interface not listed is healthy and does not count.
#[derive(Debug, Clone)]
pub struct LinkTiming {
    grace: Duration,
    mature: Duration,
    links: BTreeMap<String, State>,
}

impl LinkTiming {
    pub fn new(grace: Duration, mature: Duration) -> LinkTiming {
        LinkTiming {
            grace,
            mature,
            links: BTreeMap::new(),
        }
    }

    /// New timers (a reload); each interface keeps its state.
    pub fn set_timers(&mut self, grace: Duration, mature: Duration) {
        self.grace = grace;
        self.mature = mature;
    }

    /// What the kernel says of `name` now: `None` healthy. `at_once`: the
    /// trouble counts without the grace (an interface never seen here).
    pub fn observe(&mut self, now: Instant, name: &str, trouble: Option<Trouble>, at_once: bool) {
        let state = self.links.get(name).copied();
        let next = match (state, trouble) {
            (None, None) => None,
            (None, Some(trouble)) => Some(State::Troubled {
                trouble,
                counts_at: if at_once { now } else { now + self.grace },
            }),
            (Some(State::Troubled { counts_at, .. }), None) => {
                if counts_at <= now {
                    // It counted: eligible again only once up for `mature`.
                    Some(State::Recovering { since: now })
                } else {
                    // A blip inside the grace: forgotten.
                    None
                }
            }
            (Some(State::Troubled { counts_at, .. }), Some(trouble)) => {
                let counts_at = if at_once {
                    counts_at.min(now)
                } else {
                    counts_at
                };
                Some(State::Troubled { trouble, counts_at })
            }
            (Some(State::Recovering { since }), None) => Some(State::Recovering { since }),
            // Down again while recovering: it still counts, and the climb
            // back starts over when it is next up.
            (Some(State::Recovering { .. }), Some(trouble)) => Some(State::Troubled {
                trouble,
                counts_at: now,
            }),
        };
        match next {
            Some(state) => self.links.insert(name.to_string(), state),
            None => self.links.remove(name),
        };
    }

    /// Forgets interfaces no VIP uses any more.
    pub fn retain(&mut self, used: &BTreeSet<String>) {
        self.links.retain(|name, _| used.contains(name));
    }

    /// The interfaces that count as down at `now`, with their trouble
    /// (`None`: healthy again, still within `mature`). Ends recoveries that
    /// are over.
    pub fn counted(&mut self, now: Instant) -> BTreeMap<String, Option<Trouble>> {
        let mature = self.mature;
        self.links.retain(|_, state| match state {
            State::Recovering { since } => *since + mature > now,
            State::Troubled { .. } => true,
        });
        self.links
            .iter()
            .filter_map(|(name, state)| match state {
                State::Troubled { trouble, counts_at } => {
                    (*counts_at <= now).then(|| (name.clone(), Some(*trouble)))
                }
                State::Recovering { .. } => Some((name.clone(), None)),
            })
            .collect()
    }

    /// When [`counted`](Self::counted) next changes by itself: a grace or a
    /// recovery running out.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        self.links
            .values()
            .filter_map(|state| match state {
                State::Troubled { counts_at, .. } => (*counts_at > now).then_some(*counts_at),
                State::Recovering { since } => Some(*since + self.mature),
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(1);
    const MATURE: Duration = Duration::from_secs(5);

    fn at(base: Instant, secs: f64) -> Instant {
        base + Duration::from_secs_f64(secs)
    }

    fn names(t: &mut LinkTiming, now: Instant) -> Vec<String> {
        t.counted(now).into_keys().collect()
    }

    #[test]
    fn a_blip_shorter_than_the_grace_counts_for_nothing() {
        let base = Instant::now();
        let mut t = LinkTiming::new(GRACE, MATURE);
        t.observe(base, "eth1", Some(Trouble::NoCarrier), false);
        assert!(names(&mut t, at(base, 0.5)).is_empty());
        assert_eq!(t.next_change(at(base, 0.5)), Some(at(base, 1.0)));
        t.observe(at(base, 0.9), "eth1", None, false);
        assert!(names(&mut t, at(base, 2.0)).is_empty());
        assert_eq!(t.next_change(at(base, 2.0)), None);
    }

    #[test]
    fn down_past_the_grace_counts_until_up_for_mature() {
        let base = Instant::now();
        let mut t = LinkTiming::new(GRACE, MATURE);
        t.observe(base, "eth1", Some(Trouble::NoCarrier), false);
        assert_eq!(
            t.counted(at(base, 1.0)),
            BTreeMap::from([("eth1".to_string(), Some(Trouble::NoCarrier))])
        );
        t.observe(at(base, 3.0), "eth1", None, false);
        assert_eq!(
            t.counted(at(base, 7.9)),
            BTreeMap::from([("eth1".to_string(), None)]),
            "still counted while recovering"
        );
        assert_eq!(t.next_change(at(base, 7.9)), Some(at(base, 8.0)));
        assert!(names(&mut t, at(base, 8.0)).is_empty());
    }

    #[test]
    fn down_again_while_recovering_starts_the_climb_over() {
        let base = Instant::now();
        let mut t = LinkTiming::new(GRACE, MATURE);
        t.observe(base, "eth1", Some(Trouble::Down), false);
        t.observe(at(base, 2.0), "eth1", None, false);
        t.observe(at(base, 4.0), "eth1", Some(Trouble::Down), false);
        assert_eq!(
            names(&mut t, at(base, 4.0)),
            ["eth1"],
            "counts without a new grace"
        );
        t.observe(at(base, 6.0), "eth1", None, false);
        assert_eq!(names(&mut t, at(base, 10.9)), ["eth1"]);
        assert!(names(&mut t, at(base, 11.0)).is_empty());
    }

    #[test]
    fn never_seen_counts_at_once() {
        let base = Instant::now();
        let mut t = LinkTiming::new(GRACE, MATURE);
        t.observe(base, "eth9", Some(Trouble::Missing), true);
        assert_eq!(names(&mut t, base), ["eth9"]);
        // Still missing on the next look: still counted.
        t.observe(at(base, 0.5), "eth9", Some(Trouble::Missing), true);
        assert_eq!(names(&mut t, at(base, 0.5)), ["eth9"]);
    }

    #[test]
    fn each_interface_on_its_own_and_unused_ones_forgotten() {
        let base = Instant::now();
        let mut t = LinkTiming::new(GRACE, MATURE);
        t.observe(base, "eth1", Some(Trouble::NoCarrier), false);
        t.observe(at(base, 0.5), "eth2", Some(Trouble::Missing), false);
        assert_eq!(names(&mut t, at(base, 1.0)), ["eth1"]);
        assert_eq!(names(&mut t, at(base, 1.5)), ["eth1", "eth2"]);
        t.retain(&BTreeSet::from(["eth2".to_string()]));
        assert_eq!(names(&mut t, at(base, 1.5)), ["eth2"]);
    }

    #[test]
    fn a_zero_grace_counts_at_the_first_look() {
        let base = Instant::now();
        let mut t = LinkTiming::new(Duration::ZERO, Duration::ZERO);
        t.observe(base, "eth1", Some(Trouble::NoCarrier), false);
        assert_eq!(names(&mut t, base), ["eth1"]);
        t.observe(at(base, 1.0), "eth1", None, false);
        assert!(names(&mut t, at(base, 1.0)).is_empty());
    }
}
