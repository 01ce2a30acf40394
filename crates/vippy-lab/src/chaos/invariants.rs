//! What must hold once the faults have ended, as pure functions of what
//! the observer saw: who holds each VIP (replayed from the netlink address
//! events), the client's neighbour entries and its ping replies.

use crate::monitor::AddressEvent;

/// The VIP pool: every group a config may have, base groups first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// For each group, the indices of its VIPs in the pool.
    pub groups: Vec<Vec<usize>>,
    /// How many VIPs the pool has.
    pub vips: usize,
}

impl Layout {
    /// The group a VIP belongs to.
    pub fn group_of(&self, vip: usize) -> Option<usize> {
        self.groups.iter().position(|g| g.contains(&vip))
    }
}

/// Who has each VIP in its kernel, node × VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holdings {
    pub held: Vec<Vec<bool>>,
}

impl Holdings {
    /// Replays `events` (time order) up to and including `until`.
    pub fn replay(events: &[AddressEvent], nodes: usize, vips: usize, until: f64) -> Holdings {
        let mut held = vec![vec![false; vips]; nodes];
        for e in events.iter().take_while(|e| e.at <= until) {
            held[e.node][e.vip] = e.added;
        }
        Holdings { held }
    }

    /// The nodes that have `vip`.
    pub fn holders(&self, vip: usize) -> Vec<usize> {
        (0..self.held.len())
            .filter(|&n| self.held[n][vip])
            .collect()
    }
}

/// One thing wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A configured group none of whose VIPs is on any node.
    NoHolder { group: usize },
    /// A configured group whose VIPs are on more than one node.
    Holders { group: usize, nodes: Vec<usize> },
    /// A group held by one node that lacks some of its VIPs.
    Partial { group: usize, node: usize },
    /// A group no longer configured, still on nodes.
    Removed { group: usize, nodes: Vec<usize> },
    /// The client's neighbour entry for a VIP names another MAC than its
    /// holder's (or there is none).
    Neighbour {
        vip: usize,
        holder: usize,
        saw: Option<[u8; 6]>,
    },
    /// The client has had no ping reply from a VIP for `silent` seconds.
    Unreachable { vip: usize, silent: f64 },
}

/// What the observer sees at one moment.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub holdings: &'a Holdings,
    /// The client's neighbour entry per VIP.
    pub neighbours: &'a [Option<[u8; 6]>],
    /// The client's last ping reply per VIP (seconds, the events' clock).
    pub last_reply: &'a [Option<f64>],
    pub now: f64,
}

/// A VIP counts as reachable when the client had a reply this recently.
pub const REPLY_FRESH: f64 = 0.5;

/// Everything wrong with `view` when the first `configured` groups of
/// `layout` are in the config; `macs[n]` is node n's MAC on the VIP LAN.
pub fn check(layout: &Layout, configured: usize, view: &View, macs: &[[u8; 6]]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (group, vips) in layout.groups.iter().enumerate() {
        let mut nodes: Vec<usize> = vips
            .iter()
            .flat_map(|&v| view.holdings.holders(v))
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        if group >= configured {
            if !nodes.is_empty() {
                problems.push(Problem::Removed { group, nodes });
            }
            continue;
        }
        match nodes[..] {
            [] => problems.push(Problem::NoHolder { group }),
            [node] => {
                if vips.iter().any(|&v| !view.holdings.held[node][v]) {
                    problems.push(Problem::Partial { group, node });
                    continue;
                }
                for &vip in vips {
                    let saw = view.neighbours[vip];
                    if saw != Some(macs[node]) {
                        problems.push(Problem::Neighbour {
                            vip,
                            holder: node,
                            saw,
                        });
                    }
                    let silent = view.last_reply[vip].map_or(f64::INFINITY, |t| view.now - t);
                    if silent > REPLY_FRESH {
                        problems.push(Problem::Unreachable { vip, silent });
                    }
                }
            }
            _ => problems.push(Problem::Holders { group, nodes }),
        }
    }
    problems
}

/// Address events after `from` up to `to`: in a quiet period, each is a
/// group moving without a reason.
pub fn moves_between(events: &[AddressEvent], from: f64, to: f64) -> Vec<AddressEvent> {
    events
        .iter()
        .filter(|e| e.at > from && e.at <= to)
        .copied()
        .collect()
}

/// The longest time without a ping reply that overlaps `[from, to]`, less
/// one ping interval (the wait any probe has); a gap of at most two
/// intervals (one lost echo) is none. `replies` are in time order; `last`
/// is when the data ends (an open gap runs until then).
pub fn outage(replies: &[f64], from: f64, to: f64, interval: f64, last: f64) -> f64 {
    let mut worst: f64 = 0.0;
    let mut previous: Option<f64> = None;
    let mut consider = |a: f64, b: f64| {
        if b >= from && a <= to {
            let gap = b - a;
            if gap > 2.0 * interval {
                worst = worst.max(gap - interval);
            }
        }
    };
    for &r in replies {
        if let Some(p) = previous {
            consider(p, r);
        }
        previous = Some(r);
        if r > to {
            break;
        }
    }
    match previous {
        Some(p) if p <= to => consider(p, last),
        None => consider(from, last),
        _ => {}
    }
    worst
}

/// When optional group `k` (0 for the first) is configured around `at`:
/// since the last reload at or before `at` that configured it (`None` if
/// it was configured from the start or is not now), until the first reload
/// after `at` that removes it (`None` if none does). `reloads` are each
/// reload's time and the optional groups configured after it, in time order.
/// A VIP whose group is not configured gets no reply, and that silence is
/// no fault's outage.
pub fn configured_around(
    reloads: &[(f64, usize)],
    k: usize,
    at: f64,
) -> (Option<f64>, Option<f64>) {
    let mut since = None;
    let mut configured = false;
    for &(t, optional) in reloads.iter().filter(|(t, _)| *t <= at) {
        let now_configured = optional > k;
        if now_configured && !configured {
            since = Some(t);
        }
        configured = now_configured;
    }
    let until = reloads
        .iter()
        .find(|(t, optional)| *t > at && *optional <= k)
        .map(|(t, _)| *t);
    (since, until)
}

/// The `q`-quantile (0..=1) of `values` by nearest rank; 0 when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: f64, node: usize, vip: usize, added: bool) -> AddressEvent {
        AddressEvent {
            at,
            node,
            vip,
            added,
        }
    }

    const MACS: [[u8; 6]; 2] = [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]];

    fn layout() -> Layout {
        // Group 0: VIPs 0 and 1; group 1: VIP 2; group 2 (optional): VIP 3.
        Layout {
            groups: vec![vec![0, 1], vec![2], vec![3]],
            vips: 4,
        }
    }

    #[test]
    fn replay_follows_adds_and_removes_up_to_a_time() {
        let events = [
            ev(1.0, 0, 0, true),
            ev(2.0, 0, 0, false),
            ev(2.5, 1, 0, true),
        ];
        assert_eq!(Holdings::replay(&events, 2, 1, 1.5).holders(0), [0]);
        assert_eq!(
            Holdings::replay(&events, 2, 1, 2.2).holders(0),
            [] as [usize; 0]
        );
        assert_eq!(Holdings::replay(&events, 2, 1, 3.0).holders(0), [1]);
    }

    #[test]
    fn a_settled_view_has_no_problem_and_each_fault_is_named() {
        let events = [
            ev(0.1, 0, 0, true),
            ev(0.1, 0, 1, true),
            ev(0.2, 1, 2, true),
        ];
        let h = Holdings::replay(&events, 2, 4, 1.0);
        let neigh = [Some(MACS[0]), Some(MACS[0]), Some(MACS[1]), None];
        let replies = [Some(0.9), Some(0.9), Some(0.95), None];
        let view = View {
            holdings: &h,
            neighbours: &neigh,
            last_reply: &replies,
            now: 1.0,
        };
        assert_eq!(check(&layout(), 2, &view, &MACS), []);
        // With the optional group configured, nobody holds it.
        assert_eq!(
            check(&layout(), 3, &view, &MACS),
            [Problem::NoHolder { group: 2 }]
        );
        // A stale neighbour entry and a silent VIP.
        let neigh = [Some(MACS[1]), Some(MACS[0]), Some(MACS[1]), None];
        let replies = [Some(0.9), Some(0.2), Some(0.95), None];
        let view = View {
            neighbours: &neigh,
            last_reply: &replies,
            ..view
        };
        let p = check(&layout(), 2, &view, &MACS);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            matches!(p[0], Problem::Neighbour { vip: 0, holder: 0, saw: Some(m) } if m == MACS[1])
        );
        assert!(matches!(p[1], Problem::Unreachable { vip: 1, silent } if silent > 0.7));
    }

    #[test]
    fn two_holders_a_split_group_and_a_removed_group_held() {
        let events = [
            ev(0.1, 0, 0, true),
            ev(0.1, 1, 1, true),
            ev(0.2, 1, 2, true),
            ev(0.2, 0, 3, true),
        ];
        let h = Holdings::replay(&events, 2, 4, 1.0);
        let neigh = [None; 4];
        let replies = [None; 4];
        let view = View {
            holdings: &h,
            neighbours: &neigh,
            last_reply: &replies,
            now: 1.0,
        };
        let p = check(&layout(), 2, &view, &MACS);
        assert_eq!(
            p[0],
            Problem::Holders {
                group: 0,
                nodes: vec![0, 1]
            }
        );
        assert_eq!(
            p.last(),
            Some(&Problem::Removed {
                group: 2,
                nodes: vec![0]
            })
        );
        let events = [ev(0.1, 0, 0, true)];
        let h = Holdings::replay(&events, 2, 4, 1.0);
        let view = View {
            holdings: &h,
            ..view
        };
        assert_eq!(
            check(&layout(), 1, &view, &MACS)[0],
            Problem::Partial { group: 0, node: 0 }
        );
    }

    #[test]
    fn quiet_moves_are_the_events_inside_the_window() {
        let events = [
            ev(1.0, 0, 0, true),
            ev(2.0, 0, 0, false),
            ev(3.0, 1, 0, true),
        ];
        assert_eq!(moves_between(&events, 1.0, 2.5), [events[1]]);
        assert_eq!(moves_between(&events, 3.0, 9.0), []);
    }

    #[test]
    fn an_optional_group_is_configured_between_the_reloads_that_add_and_remove_it() {
        // Optional groups configured: 2 at 10 s, 1 at 20 s, 3 at 30 s.
        let reloads = [(10.0, 2), (20.0, 1), (30.0, 3)];
        assert_eq!(
            configured_around(&reloads, 1, 15.0),
            (Some(10.0), Some(20.0))
        );
        // Removed at 20 s and back at 30 s: the silence between is no outage.
        assert_eq!(configured_around(&reloads, 1, 30.0), (Some(30.0), None));
        // Group 0 stays from 10 s on; group 2 only from 30 s.
        assert_eq!(configured_around(&reloads, 0, 25.0), (Some(10.0), None));
        assert_eq!(configured_around(&reloads, 2, 5.0), (None, Some(10.0)));
        // Two reloads in one episode: the second removes what the first kept.
        let reloads = [(1484.9, 2), (1485.4, 1)];
        assert_eq!(configured_around(&reloads, 1, 1484.9).1, Some(1485.4));
    }

    #[test]
    fn outage_is_the_longest_gap_less_an_interval() {
        let replies: Vec<f64> = (0..10).map(|i| f64::from(i) * 0.1).collect();
        assert_eq!(outage(&replies, 0.2, 0.5, 0.1, 1.0), 0.0);
        // A gap from 0.9 to 2.4 overlapping the window.
        let mut with_gap = replies.clone();
        with_gap.extend([2.4, 2.5]);
        let o = outage(&with_gap, 1.0, 1.2, 0.1, 3.0);
        assert!((o - 1.4).abs() < 1e-9, "{o}");
        // Not overlapping the window: none.
        assert_eq!(outage(&with_gap, 2.45, 3.0, 0.1, 2.55), 0.0);
        // Silent since 0.9 until the data ends at 3.0.
        let o = outage(&replies, 1.0, 1.5, 0.1, 3.0);
        assert!((o - 2.0).abs() < 1e-9, "{o}");
        // Never answered.
        assert!((outage(&[], 1.0, 2.0, 0.1, 4.0) - 2.9).abs() < 1e-9);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v = [3.0, 1.0, 2.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.9), 4.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
