//! Property tests for `placement::Memo`: over sequences of inputs in which
//! holders catch up with the last assignment (the failover case), change at
//! random, or the eligible nodes, failback, pins and exclusions change, the
//! memo's answer is always the one a fresh `assign_pinned` gives.

mod support;

use proptest::prelude::*;
use support::Rng;
use vippy_core::placement::{Memo, NodeIndex, Pin, PlacementGroup, PlacementNode, assign_pinned};

struct Inputs {
    groups: Vec<PlacementGroup>,
    configured: Vec<PlacementNode>,
    eligible: Vec<PlacementNode>,
    holders: Vec<Vec<NodeIndex>>,
    excluded: Vec<Vec<NodeIndex>>,
    settling: Vec<NodeIndex>,
    pins: Vec<Pin>,
}

impl Inputs {
    fn random(rng: &mut Rng, nodes: usize, groups: usize) -> Inputs {
        let configured: Vec<PlacementNode> = (0..nodes)
            .map(|index| PlacementNode {
                index: index as NodeIndex,
                key: rng.next(),
            })
            .collect();
        let groups: Vec<PlacementGroup> = (0..groups)
            .map(|_| PlacementGroup {
                key: rng.next(),
                preferred: rng.chance(5).then(|| rng.below(nodes) as NodeIndex),
            })
            .collect();
        let mut inputs = Inputs {
            holders: vec![Vec::new(); groups.len()],
            excluded: vec![Vec::new(); groups.len()],
            groups,
            eligible: Vec::new(),
            configured,
            settling: Vec::new(),
            pins: Vec::new(),
        };
        inputs.redraw_electorate(rng);
        for g in 0..inputs.groups.len() {
            inputs.holders[g] = (0..rng.below(3))
                .map(|_| rng.below(nodes) as NodeIndex)
                .collect();
        }
        inputs
    }

    fn redraw_electorate(&mut self, rng: &mut Rng) {
        let mut shuffled = self.configured.clone();
        rng.shuffle(&mut shuffled);
        let count = 1 + rng.below(shuffled.len());
        self.eligible = shuffled[..count].to_vec();
        self.settling = self
            .eligible
            .iter()
            .filter(|_| rng.chance(4))
            .map(|n| n.index)
            .collect();
    }

    fn fresh(
        &self,
    ) -> (
        vippy_core::placement::Assignment,
        Vec<vippy_core::placement::Deferred>,
    ) {
        assign_pinned(
            &self.groups,
            &self.eligible,
            &self.holders,
            &self.excluded,
            &self.settling,
            &self.pins,
        )
    }

    fn memo(
        &self,
        memo: &mut Memo,
    ) -> (
        vippy_core::placement::Assignment,
        Vec<vippy_core::placement::Deferred>,
    ) {
        memo.assign(
            &self.groups,
            &self.eligible,
            &self.holders,
            &self.excluded,
            &self.settling,
            &self.pins,
        )
    }

    fn eligible_holder(&self, g: usize) -> bool {
        self.holders[g]
            .iter()
            .any(|h| self.eligible.iter().any(|n| n.index == *h))
    }
}

/// One sequence of `steps` decisions from `seed`; returns how many the
/// memo answered without placing.
fn sequence(seed: u64, nodes: usize, groups: usize, steps: usize) -> u64 {
    let mut rng = Rng(seed);
    let mut inputs = Inputs::random(&mut rng, nodes, groups);
    let mut memo = Memo::default();
    for step in 0..steps {
        let (owners, _) = inputs.fresh();
        match rng.below(10) {
            // Holders catch up: some unheld groups now held by their owner
            // (sometimes with a holder placement ignores beside it).
            0..=5 => {
                for g in 0..groups {
                    if !inputs.eligible_holder(g)
                        && rng.chance(2)
                        && let Some(owner) = owners.owner(g)
                    {
                        inputs.holders[g] = vec![owner];
                        if rng.chance(4) {
                            inputs.holders[g].push(rng.below(nodes) as NodeIndex);
                        }
                    }
                }
            }
            // Holders change at random: a release, a duplicate, a crash.
            6 => {
                for _ in 0..1 + rng.below(3) {
                    let g = rng.below(groups);
                    inputs.holders[g] = (0..rng.below(3))
                        .map(|_| rng.below(nodes) as NodeIndex)
                        .collect();
                }
            }
            7 => inputs.redraw_electorate(&mut rng),
            8 => {
                let g = rng.below(groups);
                inputs.excluded[g] = if inputs.excluded[g].is_empty() {
                    vec![rng.below(nodes) as NodeIndex]
                } else {
                    Vec::new()
                };
            }
            _ => {
                inputs.pins = (0..rng.below(2))
                    .map(|_| Pin {
                        group: rng.below(groups),
                        node: rng.below(nodes) as NodeIndex,
                    })
                    .collect();
            }
        }
        assert_eq!(
            inputs.memo(&mut memo),
            inputs.fresh(),
            "seed {seed}, step {step}: the memo's answer differs from a fresh placement"
        );
    }
    memo.reused
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_memo_answers_as_a_fresh_placement(
        seed in any::<u64>(),
        nodes in 1usize..7,
        groups in 1usize..40,
    ) {
        sequence(seed, nodes, groups, 40);
    }
}

/// The case the memo is for: it is used, not only never wrong.
#[test]
fn holders_catching_up_reuse_the_placement() {
    let reused: u64 = (0..50).map(|seed| sequence(seed, 5, 64, 40)).sum();
    assert!(reused > 100, "the memo answered only {reused} times");
}

/// A survivor's view after a node dies: its groups are placed on the
/// others, and each peer's heartbeat then shows it holding its share.
/// Every one of those decisions is answered from the memo, and each
/// answer is the fresh one.
#[test]
fn a_failover_places_once() {
    let mut rng = Rng(7);
    let nodes = 6;
    let mut inputs = Inputs::random(&mut rng, nodes, 512);
    inputs.eligible = inputs.configured.clone();
    inputs.settling.clear();
    // Settled: every group held by its owner.
    let (settled, _) = inputs.fresh();
    for g in 0..512 {
        inputs.holders[g] = settled.owner(g).into_iter().collect();
    }
    // Node 0 dies: no longer eligible, its holdings ignored.
    inputs.eligible.retain(|n| n.index != 0);
    let mut memo = Memo::default();
    let (after, _) = inputs.memo(&mut memo);
    assert_eq!(memo.computed, 1);
    for peer in 1..nodes as NodeIndex {
        for g in after.groups_of(peer).collect::<Vec<_>>() {
            inputs.holders[g] = vec![peer];
        }
        assert_eq!(inputs.memo(&mut memo), inputs.fresh());
    }
    assert_eq!(
        memo.computed, 1,
        "a heartbeat that only catches up placed again"
    );
    assert_eq!(memo.reused, nodes as u64 - 1);
}
