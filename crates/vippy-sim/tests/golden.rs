//! Golden scenario tests for the node state machine, the second of the four
//! test rings in docs/TESTING.md.
//!
//! Each `tests/golden/NAME.jsonl` holds a scenario's inputs and
//! `NAME.out` the expected transcript: every event and action of every
//! node, with its time. `every_scenario_matches_its_transcript` runs them
//! all; `VIPPY_GOLDEN=regen` rewrites the `.out` files instead, to be
//! reviewed as a diff. The other tests assert each scenario's key property
//! in code, so the transcripts are not the only guard. docs/TESTING.md
//! says what each scenario shows.

mod golden_support;

use golden_support::{REGEN_HINT, Run, compare, golden_dir};

#[test]
fn every_scenario_matches_its_transcript() {
    let mut names: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".jsonl"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no scenarios in tests/golden");
    let failures: Vec<String> = names
        .iter()
        .filter_map(|name| compare(name, &Run::scenario(name).transcript).err())
        .collect();
    assert!(
        failures.is_empty(),
        "\n{}\nIf the change is intended, regenerate with\n    {REGEN_HINT}\nand review the diff of the .out files.\n",
        failures.join("\n")
    );
}

// ---- Each scenario's key property, asserted in code. ----

use std::time::Duration;

use vippy_core::node::{Action, Cause, Event, InactiveReason, Rejection};
use vippy_sim::world::Output;

/// Runs a scenario and checks what every scenario must show: never two
/// holders of an address at once, and every group held exactly once at the end.
fn scenario(name: &str) -> Run {
    let run = Run::scenario(name);
    assert!(
        run.violation.is_none(),
        "{name}: {}\n{}",
        run.violation.as_deref().unwrap_or_default(),
        run.transcript
    );
    assert_one_holder_each(&run.holders(), &format!("{name} at the end"));
    run
}

fn assert_one_holder_each(holders: &[Vec<String>], when: &str) {
    for (g, names) in holders.iter().enumerate() {
        assert_eq!(names.len(), 1, "{when}: group {g} held by {names:?}");
    }
}

/// (seconds, group, cause, failover) of each group `node` acquired.
fn acquired<'a>(run: &'a Run, node: &str) -> Vec<(f64, usize, &'a Cause, Option<Duration>)> {
    run.events(node)
        .into_iter()
        .filter_map(|(t, e)| match e {
            Event::Acquired {
                group,
                cause,
                failover,
                ..
            } => Some((t, *group, cause, *failover)),
            _ => None,
        })
        .collect()
}

/// (seconds, group, cause) of each group `node` released.
fn released<'a>(run: &'a Run, node: &str) -> Vec<(f64, Option<usize>, &'a Cause)> {
    run.events(node)
        .into_iter()
        .filter_map(|(t, e)| match e {
            Event::Released { group, cause, .. } => Some((t, *group, cause)),
            _ => None,
        })
        .collect()
}

fn held_by<'a>(holders: &'a [Vec<String>], node: &str) -> impl Iterator<Item = usize> + 'a {
    let node = node.to_string();
    holders
        .iter()
        .enumerate()
        .filter(move |(_, h)| h.contains(&node))
        .map(|(g, _)| g)
}

fn loads(holders: &[Vec<String>], nodes: &[&str]) -> Vec<usize> {
    nodes.iter().map(|n| held_by(holders, n).count()).collect()
}

#[test]
fn cold_start_places_every_group_once_and_balanced() {
    let run = scenario("cold_start");
    let holders = run.holders();
    assert_eq!(holders[0], ["n1"], "group 0 prefers n1");
    let loads = loads(&holders, &["n1", "n2", "n3"]);
    let (min, max) = (loads.iter().min(), loads.iter().max());
    assert!(
        max.zip(min).is_some_and(|(a, b)| a - b <= 1),
        "loads {loads:?}"
    );
    for name in ["n1", "n2", "n3"] {
        assert!(run.node(name).is_active(), "{name} active");
        for (t, g, cause, _) in acquired(&run, name) {
            assert!(
                matches!(cause, Cause::Unowned | Cause::PeerReleased(_)),
                "{name} took group {g} at {t} s by {cause}: nothing failed at a cold start"
            );
        }
    }
}

#[test]
fn crash_moves_only_the_crashed_nodes_groups_after_stale() {
    let run = scenario("crash_failover");
    let (before, after) = (run.snapshot(6.0), run.snapshot(10.0));
    assert_one_holder_each(after, "after the crash");
    let stale = run.script.start_configs[0].stale.as_secs_f64();
    for (g, (b, a)) in before.iter().zip(after).enumerate() {
        if b[0] == "n2" {
            assert_ne!(a[0], "n2");
            let (t, _, cause, failover) = acquired(&run, &a[0])
                .into_iter()
                .find(|(_, group, _, _)| *group == g)
                .expect("the new holder acquired it");
            assert_eq!(*cause, Cause::PeerStale("n2".into()));
            assert!(t > 6.0 && t <= 6.0 + stale + 0.01, "taken over at {t} s");
            assert!(failover.is_some_and(|f| f.as_secs_f64() <= stale + 0.01));
        } else {
            assert_eq!(b, a, "group {g} was not n2's and must not move");
        }
    }
}

#[test]
fn goodbye_hands_over_at_once() {
    let run = scenario("goodbye");
    let (before, after) = (run.snapshot(6.0), run.snapshot(6.1));
    assert_one_holder_each(after, "0.1 s after the goodbye, well before stale");
    let leaving: Vec<usize> = held_by(before, "n3").collect();
    assert!(!leaving.is_empty(), "n3 held something");
    for (_, g, cause) in released(&run, "n3") {
        assert!(g.is_some_and(|g| leaving.contains(&g)));
        assert_eq!(*cause, Cause::Inactive(vec![InactiveReason::Shutdown]));
    }
    for (g, (b, a)) in before.iter().zip(after).enumerate() {
        if leaving.contains(&g) {
            let (t, _, cause, _) = acquired(&run, &a[0])
                .into_iter()
                .find(|(t, group, _, _)| *group == g && *t >= 6.0)
                .expect("taken over");
            assert!(t < 6.01, "group {g} taken at {t} s");
            assert!(matches!(cause, Cause::PeerReleased(n) | Cause::PeerLeft(n) if n == "n3"));
        } else {
            assert_eq!(b, a, "group {g} was not n3's and must not move");
        }
    }
    for name in ["n1", "n2"] {
        assert!(
            run.events(name)
                .iter()
                .any(|(_, e)| matches!(e, Event::PeerLeft { node } if node == "n3")),
            "{name} heard the goodbye"
        );
    }
}

#[test]
fn failback_delay_waits_out_the_flaps() {
    let run = scenario("failback_delay");
    let (before, interim) = (run.snapshot(6.0), run.snapshot(8.0));
    assert_eq!(before[0], ["n1"]);
    let holder = interim[0][0].clone();
    assert_ne!(holder, "n1", "group 0 failed over while n1's check failed");
    assert_eq!(
        run.snapshot(19.9)[0],
        [holder.as_str()],
        "kept through the flaps"
    );
    assert_eq!(run.snapshot(21.0)[0], ["n1"], "back 5 s after n1 stayed up");
    // n1 took nothing while flapping, and group 0 once it had been up 5 s
    // (it came up at 15; its heartbeat reached the holder a delay later).
    let taken: Vec<(f64, usize)> = acquired(&run, "n1")
        .into_iter()
        .filter(|(t, ..)| *t > 6.0)
        .map(|(t, g, ..)| (t, g))
        .collect();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].1, 0);
    assert!(
        (20.0..20.01).contains(&taken[0].0),
        "taken at {}",
        taken[0].0
    );
    let release = released(&run, &holder)
        .into_iter()
        .find(|(t, g, _)| *t > 6.0 && *g == Some(0))
        .expect("the holder released group 0");
    assert!(release.0 >= 20.0, "released at {}", release.0);
    assert_eq!(*release.2, Cause::Reassigned(Some("n1".into())));
    // Nothing else moved.
    for (g, (b, a)) in before.iter().zip(run.snapshot(21.0)).enumerate().skip(1) {
        assert_eq!(b, a, "group {g} moved");
    }
}

#[test]
fn preferred_node_takes_its_group_back_release_first() {
    let run = scenario("preferred_returns");
    let interim = run.snapshot(11.0)[0][0].clone();
    assert_ne!(interim, "n1", "group 0 failed over while n1 was down");
    assert_eq!(run.snapshot(18.0)[0], ["n1"], "n1 took group 0 back");
    // The data plane's order: the interim holder unplumbs group 0 before
    // n1 plumbs it, and strictly earlier in time.
    let (n1, holder) = (run.index("n1"), run.index(&interim));
    let position = |node: usize, pred: &dyn Fn(&Action) -> bool| {
        run.outputs
            .iter()
            .position(|r| {
                r.node == node
                    && r.at >= Duration::from_secs(12)
                    && matches!(&r.output, Output::Action(a) if pred(a))
            })
            .expect("the action happened")
    };
    let unplumb = position(holder, &|a| {
        matches!(a, Action::Unplumb { group: Some(0), .. })
    });
    let plumb = position(n1, &|a| matches!(a, Action::Plumb { group: 0, .. }));
    assert!(unplumb < plumb, "release recorded before the acquire");
    assert!(run.outputs[unplumb].at < run.outputs[plumb].at);
    let release = released(&run, &interim)
        .into_iter()
        .find(|(t, g, _)| *t >= 12.0 && *g == Some(0))
        .expect("the interim holder released group 0");
    assert_eq!(*release.2, Cause::Reassigned(Some("n1".into())));
    let take = acquired(&run, "n1")
        .into_iter()
        .find(|(t, g, _, _)| *t >= 12.0 && *g == 0)
        .expect("n1 acquired group 0 after its restart");
    assert_eq!(*take.2, Cause::PeerReleased(interim.clone()));
    // Nothing but group 0 moved when n1 came back.
    let (before, after) = (run.snapshot(11.0), run.snapshot(18.0));
    for g in 1..before.len() {
        assert_eq!(before[g], after[g], "group {g} must not move");
    }
}

#[test]
fn config_bump_spreads_and_moves_nothing_else() {
    let run = scenario("config_spread");
    for name in ["n1", "n2", "n3"] {
        assert_eq!(run.node(name).cluster().version, 6, "{name} runs v6");
    }
    assert_eq!(run.node("n1").adopted_from(), None, "n1's v6 is its file's");
    assert_eq!(run.node("n2").adopted_from(), Some("n1"));
    assert_eq!(run.node("n3").adopted_from(), Some("n1"));
    let (before, after) = (run.snapshot(6.0), run.snapshot(12.0));
    assert_eq!(before.len(), 4);
    assert_eq!(after.len(), 5, "group 4 was added");
    assert_eq!(before, &after[..4], "the old groups stay where they were");
    assert_one_holder_each(after, "after the bump");
    for name in ["n1", "n2", "n3"] {
        assert!(released(&run, name).is_empty(), "{name} released nothing");
        assert!(
            acquired(&run, name)
                .iter()
                .all(|(t, g, _, _)| *t < 6.0 || *g == 4),
            "after the bump, only group 4 is acquired"
        );
    }
}

#[test]
fn conflicting_configs_make_the_losing_side_stand_down() {
    let run = scenario("config_conflict");
    let mut losers = Vec::new();
    for name in ["n1", "n2", "n3"] {
        let conflicts: Vec<bool> = run
            .events(name)
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ConfigConflict { standing_down, .. } => Some(*standing_down),
                _ => None,
            })
            .collect();
        assert!(!conflicts.is_empty(), "{name} reported the conflict");
        if conflicts.iter().any(|s| *s) {
            losers.push(name);
        }
    }
    assert!(!losers.is_empty() && losers.len() < 3, "losers {losers:?}");
    for name in ["n1", "n2", "n3"] {
        let node = run.node(name);
        let held = held_by(&run.holders(), name).count();
        if losers.contains(&name) {
            assert!(node.reasons().contains(&InactiveReason::ConfigConflict));
            assert_eq!(held, 0, "{name} stood down and holds nothing");
        } else {
            assert!(node.is_active(), "{name} keeps serving");
        }
    }
}

#[test]
fn replayed_heartbeat_is_rejected_and_changes_nothing() {
    let run = scenario("replay");
    let n2 = run.node("n2");
    assert_eq!(n2.counters().rejected(Rejection::Replay), 1);
    for r in Rejection::ALL
        .into_iter()
        .filter(|r| *r != Rejection::Replay)
    {
        assert_eq!(n2.counters().rejected(r), 0, "{}", r.as_str());
    }
    let at_replay: Vec<_> = run
        .all_events()
        .into_iter()
        .filter(|(t, _, _)| (*t - 6.5).abs() < 1e-9)
        .collect();
    assert_eq!(at_replay.len(), 1, "only the rejection: {at_replay:?}");
    assert!(matches!(
        at_replay[0],
        (_, "n2", Event::Rejected { reason: Rejection::Replay, sender: Some(s), .. }) if s == "n1"
    ));
    assert_eq!(run.snapshot(6.0), run.snapshot(7.0));
    assert_eq!(run.snapshot(6.0), run.holders().as_slice());
}

#[test]
fn failing_check_drains_and_recovery_returns() {
    let run = scenario("check_failure");
    let web = InactiveReason::Check("web".into());
    let (before, during, after) = (run.snapshot(6.0), run.snapshot(8.0), run.snapshot(14.0));
    assert_one_holder_each(during, "while web fails");
    assert_eq!(
        held_by(during, "n1").count(),
        0,
        "n1 holds nothing while failing"
    );
    let mine: Vec<usize> = held_by(before, "n1").collect();
    for (_, g, cause) in released(&run, "n1") {
        assert!(g.is_some_and(|g| mine.contains(&g)));
        assert_eq!(*cause, Cause::Inactive(vec![web.clone()]));
    }
    for (g, (b, d)) in before.iter().zip(during).enumerate() {
        if !mine.contains(&g) {
            assert_eq!(b, d, "group {g} was not n1's and must not move");
        }
    }
    assert!(run.events("n1").iter().any(|(t, e)| *t == 6.0
        && matches!(e, Event::ActiveChanged { active: false, reasons, .. } if *reasons == [web.clone()])));
    assert!(run.node("n1").is_active(), "n1 recovered");
    assert_eq!(after[0], ["n1"], "n1 has its preferred group back");
    assert_eq!(before, after, "recovery restores the placement");
}

#[test]
fn admin_drain_moves_groups_away_and_undrain_brings_them_back() {
    let run = scenario("admin_drain");
    let (before, during, after) = (run.snapshot(6.0), run.snapshot(8.0), run.snapshot(14.0));
    assert_one_holder_each(during, "while drained");
    assert_eq!(held_by(during, "n2").count(), 0, "drained n2 holds nothing");
    for (_, _, cause) in released(&run, "n2") {
        assert_eq!(
            *cause,
            Cause::Inactive(vec![InactiveReason::Administrative])
        );
    }
    let mine: Vec<usize> = held_by(before, "n2").collect();
    for (g, (b, d)) in before.iter().zip(during).enumerate() {
        if !mine.contains(&g) {
            assert_eq!(b, d, "group {g} was not n2's and must not move");
        }
    }
    assert!(run.node("n2").is_active(), "n2 undrained");
    assert_eq!(
        run.node("n2").status().drains,
        Default::default(),
        "the drain reason is cleared"
    );
    let loads = loads(after, &["n1", "n2", "n3"]);
    assert!(loads.iter().all(|l| *l >= 1), "n2 serves again: {loads:?}");
}

/// The longest time a group held at `from` seconds then went without any
/// holder, and which group, from the plumb and unplumb actions. Only for
/// scenarios where no node crashes after `from` (a crash removes addresses
/// without actions).
fn longest_unowned(run: &Run, from: f64) -> (f64, usize) {
    let groups = run
        .world
        .nodes
        .iter()
        .filter_map(|n| n.node.as_ref())
        .map(|n| n.cluster().clone())
        .max_by_key(|c| c.version)
        .expect("a node runs");
    let firsts: Vec<_> = groups.groups.iter().map(|g| g.ips[0].addr()).collect();
    let mut count = vec![0i32; firsts.len()];
    let mut since: Vec<Option<f64>> = vec![None; firsts.len()];
    let mut held_at_from = vec![false; firsts.len()];
    let mut started = false;
    let mut worst = (0.0, 0);
    let end = run.world.elapsed();
    for r in &run.outputs {
        let t = r.at.as_secs_f64();
        if !started && t >= from {
            started = true;
            for g in 0..firsts.len() {
                held_at_from[g] = count[g] > 0;
            }
        }
        let (ips, delta) = match &r.output {
            Output::Action(Action::Plumb { ips, .. }) => (ips, 1),
            Output::Action(Action::Unplumb { ips, .. }) => (ips, -1),
            _ => continue,
        };
        for (g, first) in firsts.iter().enumerate() {
            if !ips.iter().any(|ip| ip.addr() == *first) {
                continue;
            }
            count[g] += delta;
            if !started || !held_at_from[g] {
                continue;
            }
            if count[g] == 0 {
                since[g] = Some(t);
            } else if let Some(s) = since[g].take()
                && t - s > worst.0
            {
                worst = (t - s, g);
            }
        }
    }
    for (g, s) in since.iter().enumerate() {
        if let Some(s) = s
            && end - s > worst.0
        {
            worst = (end - s, g);
        }
    }
    worst
}

/// A planned move (release first, then acquire on seeing the release)
/// leaves a group without a holder for about one network delay.
const PLANNED_MOVE_GAP: f64 = 0.01;

#[test]
fn planned_moves_leave_no_group_unowned_for_long() {
    for (name, from) in [
        ("cold_start", 3.0),
        ("goodbye", 6.0),
        ("preferred_returns", 12.0),
        ("config_spread", 6.0),
        ("replay", 6.0),
        ("check_failure", 6.0),
        ("admin_drain", 6.0),
        ("failback_delay", 6.0),
    ] {
        let run = scenario(name);
        let (gap, g) = longest_unowned(&run, from);
        assert!(
            gap <= PLANNED_MOVE_GAP,
            "{name}: group {g} had no holder for {gap:.3} s"
        );
    }
}

// Both found by reading transcripts (once bugs, now fixed; docs/TESTING.md).

/// A preference change moves the preferred group without a gap, and only
/// what balance then requires.
#[test]
fn preference_change_moves_the_group_without_a_gap() {
    let run = scenario("preference_change");
    let (gap, g) = longest_unowned(&run, 6.0);
    assert!(
        gap <= PLANNED_MOVE_GAP,
        "group {g} had no holder for {gap:.3} s\n{}",
        run.transcript
    );
    let (before, after) = (run.snapshot(6.0), run.holders());
    assert_eq!(before[0], after[0], "group 0 stays with its preferred node");
    assert_eq!(after[3], ["n3"], "group 3 now prefers n3");
    let moved = (0..4).filter(|&g| before[g] != after[g]).count();
    assert!(
        moved <= 2,
        "only group 3 and one group for balance may move: {before:?} -> {after:?}"
    );
    let mut loads = std::collections::BTreeMap::new();
    for holders in &after {
        assert_eq!(holders.len(), 1);
        *loads.entry(holders[0].clone()).or_insert(0) += 1;
    }
    assert_eq!(loads.len(), 3, "every node holds something: {after:?}");
}

/// A takeover from a holder that crashed and came back names the restart.
#[test]
fn quick_restart_names_the_restart_as_cause() {
    let run = scenario("quick_restart");
    for name in ["n1", "n3"] {
        for (t, g, cause, _) in acquired(&run, name) {
            assert!(
                t < 6.0 || *cause != Cause::PeerReleased("n2".into()),
                "{name} took group {g} at {t} s with cause '{cause}', but n2 crashed and restarted; it released nothing"
            );
        }
    }
}
