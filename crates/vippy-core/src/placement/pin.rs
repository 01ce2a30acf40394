//! Operator pins: a planned move of a group to a chosen node
//! (docs/ARCHITECTURE.md, "Planned moves").
//!
//! A pin whose node is eligible acts exactly as if the config preferred that
//! node for the group: the group is placed there first (rule 2), counts as
//! that node's preferred group for capacities, and failback never holds it
//! back (the operator asked for it now). Every other group is placed as
//! [`assign_settling`](super::assign_settling) places it with that
//! preference, so a pin moves other groups only as a preference would: a
//! pin node over its new capacity sheds its lowest-weight held groups to
//! nodes with room. A pin whose node is not eligible changes nothing.

use super::{
    Assignment, Deferred, NodeIndex, PlacementGroup, PlacementNode, assign_settling_excluding,
};

/// "Group `group` goes to `node` while `node` is eligible."
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pin {
    pub group: usize,
    pub node: NodeIndex,
}

/// [`assign_settling_excluding`](super::assign_settling_excluding) with
/// operator pins applied as preferences (see the module). Pins of groups
/// out of range, to nodes not in `eligible`, or to a node that cannot serve
/// the group (`excluded`) are ignored; for a group pinned twice the higher node index counts, so the
/// result does not depend on the order of `pins` (rule 1).
pub fn assign_pinned(
    groups: &[PlacementGroup],
    eligible: &[PlacementNode],
    holders: &[Vec<NodeIndex>],
    excluded: &[Vec<NodeIndex>],
    settling: &[NodeIndex],
    pins: &[Pin],
) -> (Assignment, Vec<Deferred>) {
    let mut pinned: Vec<Option<NodeIndex>> = vec![None; groups.len()];
    for pin in pins {
        let in_force = eligible.iter().any(|n| n.index == pin.node)
            && !excluded
                .get(pin.group)
                .is_some_and(|list| list.contains(&pin.node));
        if let Some(slot) = pinned.get_mut(pin.group).filter(|_| in_force) {
            *slot = Some(slot.map_or(pin.node, |other| other.max(pin.node)));
        }
    }
    if pinned.iter().all(Option::is_none) {
        return assign_settling_excluding(groups, eligible, holders, excluded, settling);
    }
    let preferring: Vec<PlacementGroup> = groups
        .iter()
        .zip(&pinned)
        .map(|(group, pin)| PlacementGroup {
            key: group.key,
            preferred: pin.or(group.preferred),
        })
        .collect();
    let (mut assignment, mut deferred) =
        assign_settling_excluding(&preferring, eligible, holders, excluded, settling);
    // The operator asked for this move now: failback does not defer it.
    deferred.retain(|d| match pinned[d.group] {
        Some(node) => {
            assignment.owners[d.group] = Some(node);
            false
        }
        None => true,
    });
    (assignment, deferred)
}
