//! Property tests for per-group eligibility (`assign_excluding`): an
//! eligible node that cannot serve some groups (an interface down, a plumb
//! that failed, a check scoped to groups) never owns them, every group some
//! eligible node can serve has an owner, preferences hold over what
//! remains, and an exclusion appearing in a settled cluster moves exactly
//! the groups whose owner can no longer serve them.

mod support;

use proptest::prelude::*;
use support::Rng;
use vippy_core::placement::{
    Assignment, NodeIndex, PlacementGroup, PlacementNode, assign, assign_excluding,
};

const ROUNDS: usize = 24;

struct Case {
    groups: Vec<PlacementGroup>,
    eligible: Vec<PlacementNode>,
    excluded: Vec<Vec<NodeIndex>>,
}

impl Case {
    fn random(nodes: usize, groups: usize, seed: u64) -> Case {
        let mut rng = Rng(seed);
        let eligible: Vec<PlacementNode> = (0..nodes)
            .map(|index| PlacementNode {
                index: index as NodeIndex,
                key: rng.next(),
            })
            .collect();
        let groups: Vec<PlacementGroup> = (0..groups)
            .map(|_| PlacementGroup {
                key: rng.next(),
                preferred: (nodes > 0 && rng.chance(4)).then(|| rng.below(nodes) as NodeIndex),
            })
            .collect();
        // Exclusions as they come: a node whose second interface is down
        // (every group "on" it), scattered plumb failures, and now and then
        // a group nobody can serve.
        let mut excluded = vec![Vec::new(); groups.len()];
        if nodes > 0 && !groups.is_empty() {
            let interfaces = 1 + rng.below(3);
            let dead = rng.below(nodes) as NodeIndex;
            let dead_if = rng.below(interfaces);
            for (g, list) in excluded.iter_mut().enumerate() {
                if g % interfaces == dead_if && rng.chance(2) {
                    list.push(dead);
                }
                if rng.chance(10) {
                    list.push(rng.below(nodes) as NodeIndex);
                }
                if rng.chance(40) {
                    list.extend((0..nodes).map(|n| n as NodeIndex));
                }
            }
        }
        Case {
            groups,
            eligible,
            excluded,
        }
    }

    fn cannot(&self, node: NodeIndex, group: usize) -> bool {
        self.excluded[group].contains(&node)
    }

    fn assign(&self, holders: &[Vec<NodeIndex>]) -> Assignment {
        assign_excluding(&self.groups, &self.eligible, holders, &self.excluded)
    }
}

fn check(nodes: usize, groups: usize, seed: u64) -> Result<(), TestCaseError> {
    let case = Case::random(nodes, groups, seed);
    let none: Vec<Vec<NodeIndex>> = vec![Vec::new(); groups];

    // Without exclusions it is exactly `assign`.
    prop_assert_eq!(
        assign_excluding(&case.groups, &case.eligible, &none, &[]),
        assign(&case.groups, &case.eligible, &none)
    );

    // A settled cluster (assign's fixpoint), then the exclusions appear.
    let settled = assign(&case.groups, &case.eligible, &none);
    let settled = assign(&case.groups, &case.eligible, &settled.as_holders());
    let next = case.assign(&settled.as_holders());
    for g in 0..groups {
        let owner = next.owner(g);
        let servable = case.eligible.iter().any(|n| !case.cannot(n.index, g));
        prop_assert_eq!(owner.is_some(), servable, "group {} owner {:?}", g, owner);
        if let Some(o) = owner {
            prop_assert!(
                !case.cannot(o, g),
                "group {g} owned by {o}, which cannot serve it"
            );
        }
        if let Some(p) = case.groups[g].preferred
            && !case.cannot(p, g)
        {
            prop_assert_eq!(owner, Some(p), "group {} not with its preferred node", g);
        }
        // Zero collateral: a group whose owner can still serve it stays.
        if let Some(before) = settled.owner(g)
            && !case.cannot(before, g)
        {
            prop_assert_eq!(owner, Some(before), "group {} moved for nothing", g);
        }
    }

    // Acting on it converges, and the result is a fixpoint that keeps the
    // same properties.
    let mut holders = next.as_holders();
    let mut last = next;
    // Rebalancing around a node that can serve few groups may take a few
    // planned moves in a row (capacities do not know exclusions).
    for _ in 0..ROUNDS {
        let again = case.assign(&holders);
        if again == last {
            break;
        }
        holders = again.as_holders();
        last = again;
    }
    prop_assert_eq!(
        &case.assign(&holders),
        &last,
        "no fixpoint in {} rounds",
        ROUNDS
    );
    for g in 0..groups {
        if let Some(o) = last.owner(g) {
            prop_assert!(!case.cannot(o, g));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]
    #[test]
    fn small_clusters(nodes in 0usize..=8, groups in 0usize..=40, seed in any::<u64>()) {
        check(nodes, groups, seed)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn large_clusters(nodes in 4usize..=16, groups in 256usize..=4096, seed in any::<u64>()) {
        check(nodes, groups, seed)?;
    }
}

/// A node whose interface for half the groups is down keeps the other
/// half, and the dead half goes to the others.
#[test]
fn a_dead_interface_moves_only_its_groups() {
    let eligible: Vec<PlacementNode> = (0..3)
        .map(|i| PlacementNode {
            index: i,
            key: 1000 + u64::from(i) * 7919,
        })
        .collect();
    let groups: Vec<PlacementGroup> = (0..12)
        .map(|g| PlacementGroup {
            key: 77 + g * 104_729,
            preferred: None,
        })
        .collect();
    let settled = assign(&groups, &eligible, &[]);
    let mut excluded = vec![Vec::new(); groups.len()];
    for list in excluded.iter_mut().step_by(2) {
        list.push(0);
    }
    let next = assign_excluding(&groups, &eligible, &settled.as_holders(), &excluded);
    for g in 0..groups.len() {
        if g % 2 == 0 {
            assert_ne!(next.owner(g), Some(0), "group {g}");
        } else if settled.owner(g) == Some(0) {
            assert_eq!(next.owner(g), Some(0), "group {g} should stay on node 0");
        }
    }
}

/// Found by the property test: a chain of rebalancing around a node that
/// can serve only two groups, and a group nobody can serve.
#[test]
fn rebalancing_around_a_nearly_dead_node_settles() {
    check(8, 14, 15_236_329_383_625_588_723).unwrap();
    check(15, 2378, 14_541_245_552_314_683_264).unwrap();
}

/// Found by the property test: a group bounced between two nodes for ever
/// when a node's excluded preferred group still took up its room.
#[test]
fn an_excluded_preferred_group_leaves_its_room_free() {
    check(6, 19, 10_297_939_777_578_976_424).unwrap();
}
