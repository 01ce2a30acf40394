//! The last placement and what it was computed from, so that a decision
//! whose only new input is holders catching up with it does not run
//! placement over every group again.
//!
//! After a failure every survivor places the dead node's groups, then hears
//! each peer take its share: every such heartbeat changes the holders, and
//! each used to cost a placement over all groups for the same answer. The
//! rule that makes reuse exact: if, compared with the inputs of assignment
//! `A`, the only change is that some groups no eligible node held are now
//! held by exactly their owner in `A` (and nothing is excluded anywhere),
//! then placement gives `A` again. Preferences and capacities do not read
//! holders; a node that got such a group from the fill step had room for
//! it, so keeping it sheds nothing; and with those groups taken out of the
//! fill, every other group's choice among the nodes with room is the same.
//! The property tests in `tests/placement_memo.rs` check it against fresh
//! placements.

use super::{Assignment, Deferred, NodeIndex, Pin, PlacementGroup, PlacementNode, assign_pinned};

/// The inputs of the last [`assign_pinned`] call that ran, and its answer.
#[derive(Debug, Default)]
pub struct Memo {
    groups: Vec<PlacementGroup>,
    eligible: Vec<PlacementNode>,
    settling: Vec<NodeIndex>,
    pins: Vec<Pin>,
    /// Each group's eligible holders, sorted, one after another:
    /// group `g`'s are `holders[starts[g]..starts[g + 1]]`.
    holders: Vec<NodeIndex>,
    starts: Vec<u32>,
    answer: Option<(Assignment, Vec<Deferred>)>,
    /// Placements served from the memo (`Counters::placements_reused`)
    /// and run.
    pub reused: u64,
    pub computed: u64,
}

impl Memo {
    /// [`assign_pinned`]'s answer for these inputs: the last one when the
    /// rule above says it still holds, a fresh placement otherwise.
    pub fn assign(
        &mut self,
        groups: &[PlacementGroup],
        eligible: &[PlacementNode],
        holders: &[Vec<NodeIndex>],
        excluded: &[Vec<NodeIndex>],
        settling: &[NodeIndex],
        pins: &[Pin],
    ) -> (Assignment, Vec<Deferred>) {
        let nodes = super::canonical(eligible);
        let mut settling = settling.to_vec();
        settling.sort_unstable();
        settling.dedup();
        let mut pins = pins.to_vec();
        pins.sort_unstable();
        pins.dedup();
        let (flat, starts) = eligible_holders(holders, groups.len(), &nodes);
        let nothing_excluded = excluded.iter().all(Vec::is_empty);
        let same_rest = self.groups == groups
            && self.eligible == nodes
            && self.settling == settling
            && self.pins == pins;
        if nothing_excluded
            && same_rest
            && let Some(answer) = &self.answer
            && self.caught_up(&flat, &starts, &answer.0)
        {
            let answer = answer.clone();
            self.holders = flat;
            self.starts = starts;
            self.reused += 1;
            return answer;
        }
        let answer = assign_pinned(groups, eligible, holders, excluded, &settling, &pins);
        self.computed += 1;
        // An answer with exclusions is not reused (their fallback can put a
        // group over capacity), so it is not kept either.
        self.answer = nothing_excluded.then(|| answer.clone());
        self.groups = groups.to_vec();
        self.eligible = nodes;
        self.settling = settling;
        self.pins = pins;
        self.holders = flat;
        self.starts = starts;
        answer
    }

    /// Every group's eligible holders are as before, or none were and now
    /// exactly its owner in `owners` holds it.
    fn caught_up(&self, flat: &[NodeIndex], starts: &[u32], owners: &Assignment) -> bool {
        if starts.len() != self.starts.len() {
            return false;
        }
        (0..starts.len() - 1).all(|g| {
            let now = &flat[starts[g] as usize..starts[g + 1] as usize];
            let before = &self.holders[self.starts[g] as usize..self.starts[g + 1] as usize];
            now == before || (before.is_empty() && owners.owner(g).is_some_and(|o| now == [o]))
        })
    }
}

/// Each group's holders that are eligible (placement ignores the others),
/// sorted and without repeats, flattened; with the start of each group's
/// and one past the last.
fn eligible_holders(
    holders: &[Vec<NodeIndex>],
    groups: usize,
    nodes: &[PlacementNode],
) -> (Vec<NodeIndex>, Vec<u32>) {
    let mut flat = Vec::new();
    let mut starts = Vec::with_capacity(groups + 1);
    let mut one: Vec<NodeIndex> = Vec::new();
    for g in 0..groups {
        starts.push(flat.len() as u32);
        one.clear();
        one.extend(
            holders
                .get(g)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter(|h| nodes.binary_search_by_key(*h, |n| n.index).is_ok()),
        );
        one.sort_unstable();
        one.dedup();
        flat.extend_from_slice(&one);
    }
    starts.push(flat.len() as u32);
    (flat, starts)
}
