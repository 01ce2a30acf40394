//! Placement: which eligible node owns each group. The rules it keeps, and
//! the tests that prove each, are listed in docs/ARCHITECTURE.md,
//! "Placement rules".
//!
//! [`assign`] is a pure function of the groups, the eligible nodes and who
//! announces holding what, so every node that sees the same heartbeats
//! computes the same [`Assignment`]. It works in four steps:
//!
//! 1. *Preferred*: a group whose preferred node is eligible goes there.
//! 2. *Capacity*: a node whose preferred groups alone exceed its fair share
//!    owns exactly those; the others own ⌊q⌋ or ⌈q⌉ of the rest, the ⌈q⌉
//!    going to the highest node keys. Ranked by key, not by holdings, so
//!    capacities never depend on holders and cannot oscillate.
//! 3. *Keep*: every other group stays with its highest-weight eligible
//!    holder while that holder has room; a holder over capacity sheds its
//!    lowest-weight groups.
//! 4. *Fill*: the groups left (orphans), in group order, go to the
//!    highest-weight node with room.
//!
//! Keeping what is held is what makes failures and joins move nothing else
//! (stability, rule 4), while the capacities keep loads within one
//! (balance, rule 3) —
//! the balance pure rendezvous hashing lacks. Rendezvous weights only choose
//! among nodes with room.

mod capacity;
mod memo;
mod pin;

pub use memo::Memo;
pub use pin::{Pin, assign_pinned};

use crate::hash::weight;

/// Index of a node in the config's `nodes` list.
pub type NodeIndex = u16;

/// A group as placement sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacementGroup {
    /// `stable_hash` of the group's identity.
    pub key: u64,
    /// The node the config prefers for this group, if any.
    pub preferred: Option<NodeIndex>,
}

/// An eligible node as placement sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacementNode {
    pub index: NodeIndex,
    /// `stable_hash` of the node's name.
    pub key: u64,
}

/// The owner of each group, by group index; `None` only when no node is
/// eligible (rule 5: one owner per group).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    pub owners: Vec<Option<NodeIndex>>,
}

impl Assignment {
    /// The owner of `group`, `None` if there is none or no such group.
    pub fn owner(&self, group: usize) -> Option<NodeIndex> {
        self.owners.get(group).copied().flatten()
    }

    /// The groups `node` owns, in group order.
    pub fn groups_of(&self, node: NodeIndex) -> impl Iterator<Item = usize> + '_ {
        self.owners
            .iter()
            .enumerate()
            .filter(move |(_, owner)| **owner == Some(node))
            .map(|(group, _)| group)
    }

    /// How many groups `node` owns.
    pub fn load(&self, node: NodeIndex) -> usize {
        self.groups_of(node).count()
    }

    /// How many groups each node owns, indexed by [`NodeIndex`]; owners at or
    /// past `node_count` are not counted.
    pub fn loads(&self, node_count: usize) -> Vec<usize> {
        let mut loads = vec![0; node_count];
        for owner in self.owners.iter().flatten() {
            if let Some(load) = loads.get_mut(usize::from(*owner)) {
                *load += 1;
            }
        }
        loads
    }

    /// The holders the cluster announces once every node has acted on this
    /// assignment: the input that makes [`assign`] return it again.
    pub fn as_holders(&self) -> Vec<Vec<NodeIndex>> {
        self.owners
            .iter()
            .map(|owner| owner.iter().copied().collect())
            .collect()
    }

    /// The groups whose owner differs from `before` (a group missing from
    /// either counts as moved).
    pub fn moved_since<'a>(&'a self, before: &'a Assignment) -> impl Iterator<Item = usize> + 'a {
        let len = self.owners.len().max(before.owners.len());
        (0..len).filter(move |&group| self.owners.get(group) != before.owners.get(group))
    }
}

/// No node: a group without an owner, or a node index that is not eligible.
const NO_SLOT: u32 = u32::MAX;

/// Assigns every group to one eligible node.
///
/// `holders[g]` lists the nodes that announce holding group `g`, in any
/// order; nodes that are not eligible are ignored, a missing entry counts as
/// no holder and extra entries are ignored. The result depends only on the
/// contents of `eligible` and of each holders list, not their order
/// (determinism, rule 1); a node listed twice in `eligible` counts once.
pub fn assign(
    groups: &[PlacementGroup],
    eligible: &[PlacementNode],
    holders: &[Vec<NodeIndex>],
) -> Assignment {
    assign_excluding(groups, eligible, holders, &[])
}

/// [`assign`] where eligible nodes may be unable to serve some groups (an
/// interface down, a plumb that failed, a check scoped to groups):
/// `excluded[g]` lists the nodes that cannot serve group `g` (a missing
/// entry: none). Such a node is never the owner of such a group: it does not
/// get it as preferred, does not keep it as holder, and is passed over when
/// it is filled. Capacities stay as [`assign`] computes them, so an
/// exclusion moves nothing else at once; a group that only nodes at
/// capacity can serve goes over capacity to the strongest of them (every
/// group some eligible node can serve has an owner), and that node then
/// sheds its weakest other group as any node over capacity does (balance
/// over what remains: one more planned move). With no exclusions this is
/// exactly [`assign`].
pub fn assign_excluding(
    groups: &[PlacementGroup],
    eligible: &[PlacementNode],
    holders: &[Vec<NodeIndex>],
    excluded: &[Vec<NodeIndex>],
) -> Assignment {
    let nodes = canonical(eligible);
    if nodes.is_empty() {
        return Assignment {
            owners: vec![None; groups.len()],
        };
    }
    // Node index -> position in `nodes` (its slot).
    let mut slot_of = vec![NO_SLOT; usize::from(nodes[nodes.len() - 1].index) + 1];
    for (slot, node) in nodes.iter().enumerate() {
        slot_of[usize::from(node.index)] = slot as u32;
    }
    let slot = |index: NodeIndex| slot_of.get(usize::from(index)).copied().unwrap_or(NO_SLOT);
    let can = |s: u32, group: usize| {
        excluded
            .get(group)
            .is_none_or(|list| !list.contains(&nodes[s as usize].index))
    };

    // 1. Preferred (rule 2).
    let mut owner = vec![NO_SLOT; groups.len()];
    let mut fixed = vec![false; groups.len()];
    let mut preferred = vec![0usize; nodes.len()];
    // The preferred groups each node actually gets (it can serve them).
    let mut placed = vec![0usize; nodes.len()];
    for (group, placement) in groups.iter().enumerate() {
        if let Some(s) = placement.preferred.map(slot).filter(|&s| s != NO_SLOT) {
            // Counted for capacity even when excluded, so that an exclusion
            // changes no capacity (and so moves no other group at once).
            preferred[s as usize] += 1;
            if can(s, group) {
                owner[group] = s;
                fixed[group] = true;
                placed[s as usize] += 1;
            }
        }
    }

    // 2. Capacity (balance, rule 3); `room` is what is left after the
    // preferred groups placed. A preferred group its node cannot serve
    // leaves that room free, so the rooms still add up to the groups left
    // (without that, a group would bounce between nodes over their room).
    let mut room: Vec<usize> = capacity::capacities(&nodes, &preferred, groups.len())
        .iter()
        .zip(&placed)
        .map(|(capacity, placed)| capacity - placed)
        .collect();

    // 3. Keep: each group stays with its highest-weight eligible holder.
    let mut claimed = vec![0usize; nodes.len()];
    for (group, placement) in groups.iter().enumerate() {
        if owner[group] != NO_SLOT {
            continue;
        }
        let announced = holders.get(group).map_or(&[][..], Vec::as_slice);
        let best = announced
            .iter()
            .map(|&index| slot(index))
            .filter(|&s| s != NO_SLOT && can(s, group))
            .max_by_key(|&s| strength(&nodes[s as usize], placement));
        if let Some(s) = best {
            owner[group] = s;
            claimed[s as usize] += 1;
        }
    }
    shed(groups, &nodes, &fixed, &mut owner, &claimed, &room);
    for (room, claimed) in room.iter_mut().zip(&claimed) {
        *room -= (*claimed).min(*room);
    }

    // 4. Fill. Capacities sum to the group count, so the rooms left sum to
    // the orphans left and, without exclusions, `open` never runs dry
    // before they do. A group no node with room can serve goes over
    // capacity to the strongest node that can.
    let mut open: Vec<u32> = (0..nodes.len() as u32)
        .filter(|&s| room[s as usize] > 0)
        .collect();
    for (group, placement) in groups.iter().enumerate() {
        if owner[group] != NO_SLOT {
            continue;
        }
        let place = (0..open.len())
            .filter(|&place| can(open[place], group))
            .max_by_key(|&place| strength(&nodes[open[place] as usize], placement));
        if let Some(place) = place {
            let s = open[place];
            owner[group] = s;
            room[s as usize] -= 1;
            if room[s as usize] == 0 {
                open.swap_remove(place);
            }
        } else if let Some(s) = (0..nodes.len() as u32)
            .filter(|&s| can(s, group))
            .max_by_key(|&s| strength(&nodes[s as usize], placement))
        {
            owner[group] = s;
        }
    }

    Assignment {
        owners: owner
            .into_iter()
            .map(|s| (s != NO_SLOT).then(|| nodes[s as usize].index))
            .collect(),
    }
}

/// A held group [`assign_settling`] leaves with its holder for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deferred {
    pub group: usize,
    /// Where [`assign`] would move it: a settling node.
    pub to: NodeIndex,
}

/// [`assign`] with failback control: nodes in `settling` are eligible, but
/// may not yet take a group that an eligible node holds (they came back
/// lately, or failback is manual). A group [`assign`] would move from its
/// holder to a settling node that does not hold it stays with its
/// highest-weight eligible holder (the one [`assign`]'s keep step
/// chooses); everything else is [`assign`]'s answer. So groups nobody
/// holds (and those of a failed holder) are placed as always, moves to
/// settled nodes happen as always, and with `settling` empty the result
/// is exactly [`assign`]'s. Also returns the moves held back, in group
/// order.
///
/// Deterministic as [`assign`] is (rule 1): the order of `settling` does
/// not matter, and nodes in it that are not eligible are ignored.
pub fn assign_settling(
    groups: &[PlacementGroup],
    eligible: &[PlacementNode],
    holders: &[Vec<NodeIndex>],
    settling: &[NodeIndex],
) -> (Assignment, Vec<Deferred>) {
    assign_settling_excluding(groups, eligible, holders, &[], settling)
}

/// [`assign_settling`] over [`assign_excluding`]: a held-back move stays
/// only with a holder that can serve the group.
pub fn assign_settling_excluding(
    groups: &[PlacementGroup],
    eligible: &[PlacementNode],
    holders: &[Vec<NodeIndex>],
    excluded: &[Vec<NodeIndex>],
    settling: &[NodeIndex],
) -> (Assignment, Vec<Deferred>) {
    let mut assignment = assign_excluding(groups, eligible, holders, excluded);
    if settling.is_empty() {
        return (assignment, Vec::new());
    }
    let nodes = canonical(eligible);
    let node = |index: NodeIndex| {
        nodes
            .binary_search_by_key(&index, |n| n.index)
            .ok()
            .map(|at| &nodes[at])
    };
    let mut deferred = Vec::new();
    for (group, owner) in assignment.owners.iter_mut().enumerate() {
        let Some(to) = owner.filter(|o| settling.contains(o)) else {
            continue;
        };
        let announced = holders.get(group).map_or(&[][..], Vec::as_slice);
        if announced.contains(&to) {
            continue; // it holds it already: nothing moves to it
        }
        let cannot = excluded.get(group).map_or(&[][..], Vec::as_slice);
        let keeper = announced
            .iter()
            .filter(|index| !cannot.contains(index))
            .filter_map(|&index| node(index))
            .max_by_key(|n| strength(n, &groups[group]));
        if let Some(keeper) = keeper {
            *owner = Some(keeper.index);
            deferred.push(Deferred { group, to });
        }
    }
    (assignment, deferred)
}

/// Eligible nodes sorted by index, each index once, so input order cannot
/// matter (determinism, rule 1).
fn canonical(eligible: &[PlacementNode]) -> Vec<PlacementNode> {
    let mut nodes = eligible.to_vec();
    nodes.sort_unstable_by_key(|node| (node.index, node.key));
    nodes.dedup_by_key(|node| node.index);
    nodes
}

/// How strongly `node` draws `group`: its rendezvous weight, with the node's
/// key and index to break ties the same way on every node.
fn strength(node: &PlacementNode, group: &PlacementGroup) -> (u64, u64, NodeIndex) {
    (weight(node.key, group.key), node.key, node.index)
}

/// Un-owns the lowest-weight claimed groups of every node that claimed more
/// than its room: a node over capacity sheds its lowest-weight groups.
fn shed(
    groups: &[PlacementGroup],
    nodes: &[PlacementNode],
    fixed: &[bool],
    owner: &mut [u32],
    claimed: &[usize],
    room: &[usize],
) {
    if claimed
        .iter()
        .zip(room)
        .all(|(claimed, room)| claimed <= room)
    {
        return; // The steady state: nothing to sort.
    }
    // (slot, weight, group) of every claim on a node over its room, strongest first.
    let mut over: Vec<(u32, u64, usize)> = (0..groups.len())
        .filter(|&group| {
            let s = owner[group];
            !fixed[group] && s != NO_SLOT && claimed[s as usize] > room[s as usize]
        })
        .map(|group| {
            let s = owner[group];
            (s, weight(nodes[s as usize].key, groups[group].key), group)
        })
        .collect();
    over.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let mut kept = 0;
    for (i, &(s, _, group)) in over.iter().enumerate() {
        if i == 0 || over[i - 1].0 != s {
            kept = 0;
        }
        if kept < room[s as usize] {
            kept += 1;
        } else {
            owner[group] = NO_SLOT;
        }
    }
}
