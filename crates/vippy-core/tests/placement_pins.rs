//! Property tests for operator pins (`placement::assign_pinned`,
//! docs/ARCHITECTURE.md, "Planned moves"). The rule under test: a pin whose
//! node is eligible places the group exactly as a config preference for
//! that node would, and failback never holds it back; a pin whose node is
//! not eligible changes nothing. From a settled cluster whose config
//! prefers nothing, a pin moves the pinned group and at most one other:
//! with at least as many groups as nodes, a group the pin node held, shed
//! to make room when the pin node was full.

mod support;

use proptest::prelude::*;
use support::Rng;
use vippy_core::placement::{
    NodeIndex, Pin, PlacementGroup, PlacementNode, assign, assign_pinned, assign_settling,
};

struct Cluster {
    groups: Vec<PlacementGroup>,
    configured: Vec<PlacementNode>,
    eligible: Vec<PlacementNode>,
    holders: Vec<Vec<NodeIndex>>,
    settling: Vec<NodeIndex>,
}

impl Cluster {
    /// `eligible` nodes of up to two more configured, `groups` groups with
    /// preferences when `prefer` (one in four), random holders, and a random
    /// subset of the eligible nodes settling (failback).
    fn random(eligible: usize, groups: usize, prefer: bool, seed: u64) -> Cluster {
        let mut rng = Rng(seed);
        let configured: Vec<PlacementNode> = (0..eligible + 1 + rng.below(2))
            .map(|index| PlacementNode {
                index: index as NodeIndex,
                key: rng.next(),
            })
            .collect();
        let mut shuffled = configured.clone();
        rng.shuffle(&mut shuffled);
        let chosen = shuffled[..eligible].to_vec();
        let groups: Vec<PlacementGroup> = (0..groups)
            .map(|_| PlacementGroup {
                key: rng.next(),
                preferred: (prefer && rng.chance(4))
                    .then(|| rng.below(configured.len()) as NodeIndex),
            })
            .collect();
        let holders = (0..groups.len())
            .map(|_| {
                (0..rng.below(3))
                    .map(|_| rng.below(configured.len()) as NodeIndex)
                    .collect()
            })
            .collect();
        let settling = chosen
            .iter()
            .filter(|_| rng.chance(3))
            .map(|n| n.index)
            .collect();
        Cluster {
            groups,
            configured,
            eligible: chosen,
            holders,
            settling,
        }
    }

    fn is_eligible(&self, node: NodeIndex) -> bool {
        self.eligible.iter().any(|n| n.index == node)
    }

    /// The groups with each pin in force turned into a preference.
    fn preferring(&self, pins: &[Pin]) -> Vec<PlacementGroup> {
        let mut groups = self.groups.clone();
        for pin in pins.iter().filter(|p| self.is_eligible(p.node)) {
            groups[pin.group].preferred = Some(pin.node);
        }
        groups
    }

    /// Up to `count` pins of distinct groups to any configured node.
    fn random_pins(&self, count: usize, rng: &mut Rng) -> Vec<Pin> {
        let mut pins: Vec<Pin> = Vec::new();
        for _ in 0..count {
            let group = rng.below(self.groups.len());
            if pins.iter().all(|p| p.group != group) {
                pins.push(Pin {
                    group,
                    node: self.configured[rng.below(self.configured.len())].index,
                });
            }
        }
        pins
    }
}

/// The rule: in-force pins are preferences, failback defers none of them,
/// dormant pins change nothing, and the order of the pins does not matter.
fn check_rule(cluster: &Cluster, pins: &[Pin], seed: u64) -> Result<(), TestCaseError> {
    let c = cluster;
    let (got, deferred) = assign_pinned(&c.groups, &c.eligible, &c.holders, &[], &c.settling, pins);
    for pin in pins {
        if c.is_eligible(pin.node) {
            prop_assert_eq!(
                got.owner(pin.group),
                Some(pin.node),
                "pin {:?} in force",
                pin
            );
            prop_assert!(deferred.iter().all(|d| d.group != pin.group));
        }
    }
    // Everything else is failback's answer with the pins as preferences.
    let (expected, expected_deferred) =
        assign_settling(&c.preferring(pins), &c.eligible, &c.holders, &c.settling);
    let pinned = |g: usize| pins.iter().any(|p| p.group == g && c.is_eligible(p.node));
    for g in 0..c.groups.len() {
        if !pinned(g) {
            prop_assert_eq!(got.owner(g), expected.owner(g), "group {}", g);
        }
    }
    let unpinned: Vec<_> = expected_deferred
        .into_iter()
        .filter(|d| !pinned(d.group))
        .collect();
    prop_assert_eq!(&deferred, &unpinned);
    // Dormant pins are as no pins.
    let in_force: Vec<Pin> = pins
        .iter()
        .copied()
        .filter(|p| c.is_eligible(p.node))
        .collect();
    let (without_dormant, _) = assign_pinned(
        &c.groups,
        &c.eligible,
        &c.holders,
        &[],
        &c.settling,
        &in_force,
    );
    prop_assert_eq!(&without_dormant, &got);
    // Order does not matter (rule 1).
    let mut shuffled = pins.to_vec();
    Rng(seed).shuffle(&mut shuffled);
    let (again, _) = assign_pinned(
        &c.groups,
        &c.eligible,
        &c.holders,
        &[],
        &c.settling,
        &shuffled,
    );
    prop_assert_eq!(&again, &got);
    // Acting on it changes nothing (the fixpoint): no moving target.
    let (settled, _) = assign_pinned(
        &c.groups,
        &c.eligible,
        &got.as_holders(),
        &[],
        &c.settling,
        pins,
    );
    prop_assert_eq!(&settled, &got);
    Ok(())
}

/// From a settled cluster whose config prefers nothing, one pin moves its
/// group and at most one other, which (with groups ≥ nodes) leaves the pin
/// node.
fn check_disturbance(cluster: &Cluster, seed: u64) -> Result<(), TestCaseError> {
    let c = cluster;
    if c.eligible.is_empty() || c.groups.is_empty() {
        return Ok(());
    }
    let before = assign(&c.groups, &c.eligible, &c.holders);
    let settled = before.as_holders();
    let mut rng = Rng(seed);
    let group = rng.below(c.groups.len());
    let node = c.eligible[rng.below(c.eligible.len())].index;
    let pin = Pin { group, node };
    let (after, _) = assign_pinned(&c.groups, &c.eligible, &settled, &[], &[], &[pin]);
    prop_assert_eq!(after.owner(group), Some(node));
    let others: Vec<usize> = after.moved_since(&before).filter(|&g| g != group).collect();
    prop_assert!(
        others.len() <= 1,
        "pin {:?} moved {:?} besides its group",
        pin,
        others
    );
    if before.owner(group) == Some(node) {
        prop_assert!(
            others.is_empty(),
            "pinning a group where it is moved {:?}",
            others
        );
    }
    // With a share of at least one group each, capacities stay, so only
    // the full pin node makes room; with fewer groups than nodes the pin
    // takes a slot of the capacity ranking, whose last holder gives way.
    for g in others
        .into_iter()
        .filter(|_| c.groups.len() >= c.eligible.len())
    {
        prop_assert_eq!(before.owner(g), Some(node), "collateral group {}", g);
        prop_assert_eq!(
            after.owner(g),
            before.owner(group),
            "collateral group {}",
            g
        );
    }
    Ok(())
}

fn check_all(eligible: usize, groups: usize, seed: u64) -> Result<(), TestCaseError> {
    for prefer in [false, true] {
        let cluster = Cluster::random(eligible, groups, prefer, seed);
        if groups > 0 && !cluster.configured.is_empty() {
            let mut rng = Rng(seed ^ 0x5eed);
            let pins = cluster.random_pins(1 + rng.below(4), &mut rng);
            check_rule(&cluster, &pins, seed)?;
        }
    }
    check_disturbance(&Cluster::random(eligible, groups, false, seed), seed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn small_clusters(eligible in 0usize..=8, groups in 0usize..=40, seed in any::<u64>()) {
        check_all(eligible, groups, seed)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn medium_clusters(eligible in 1usize..=64, groups in 0usize..=512, seed in any::<u64>()) {
        check_all(eligible, groups, seed)?;
    }
}

fn nodes(n: u16) -> Vec<PlacementNode> {
    (0..n)
        .map(|index| PlacementNode {
            index,
            key: 0x9e37_79b9 * u64::from(index + 1),
        })
        .collect()
}

fn plain_groups(n: u64) -> Vec<PlacementGroup> {
    (0..n)
        .map(|i| PlacementGroup {
            key: i * 0x1234_5678_9abc,
            preferred: None,
        })
        .collect()
}

#[test]
fn a_pin_beats_the_config_preference() {
    let mut groups = plain_groups(3);
    groups[0].preferred = Some(0);
    let eligible = nodes(3);
    let pin = Pin { group: 0, node: 2 };
    let (got, _) = assign_pinned(&groups, &eligible, &[], &[], &[], &[pin]);
    assert_eq!(got.owner(0), Some(2));
    // Its node not eligible: the preference is back in force.
    let (got, _) = assign_pinned(&groups, &eligible[..2], &[], &[], &[], &[pin]);
    assert_eq!(got.owner(0), Some(0));
}

#[test]
fn manual_failback_does_not_hold_a_pin_back() {
    let groups = plain_groups(4);
    let eligible = nodes(2);
    let before = assign(&groups, &eligible, &[]);
    let group = before.groups_of(0).next().expect("node 0 owns a group");
    let all: Vec<NodeIndex> = vec![0, 1];
    let pin = Pin { group, node: 1 };
    let (got, deferred) =
        assign_pinned(&groups, &eligible, &before.as_holders(), &[], &all, &[pin]);
    assert_eq!(got.owner(group), Some(1));
    assert!(deferred.iter().all(|d| d.group != group));
}

#[test]
fn no_pins_is_failback_placement_to_the_bit() {
    let mut rng = Rng(7);
    for _ in 0..200 {
        let c = Cluster::random(1 + rng.below(6), rng.below(30), true, rng.next());
        let with = assign_pinned(&c.groups, &c.eligible, &c.holders, &[], &c.settling, &[]);
        let without = assign_settling(&c.groups, &c.eligible, &c.holders, &c.settling);
        assert_eq!(with, without);
    }
}
