//! How many groups each eligible node may own (placement's balance rule,
//! rule 3 in docs/ARCHITECTURE.md, "Placement rules").

use super::PlacementNode;

/// Capacities, one per node in `nodes`, summing to `total`.
///
/// Water-filling: a node whose preferred groups alone exceed the fair share
/// of what is left is capped at exactly those (preferences win over balance,
/// rule 2); the others share the rest as ⌊q⌋ or ⌈q⌉. The ⌈q⌉ slots go to
/// the highest-ranked nodes by key, never by what they hold: capacities then
/// do not depend on holders, so they cannot feed back into themselves and
/// oscillate. A fixed rank is still stable (rule 4): removing a node only
/// raises the level, and the ⌈q⌉ nodes are a prefix of the same ranking that
/// only grows, so no survivor's capacity drops; adding a node only lowers
/// them, so no old node gains room to take groups from another old node.
pub(super) fn capacities(nodes: &[PlacementNode], preferred: &[usize], total: usize) -> Vec<usize> {
    let n = nodes.len();
    let mut capacity = vec![0; n];
    let mut capped = vec![false; n];

    // Nodes with equal preferred counts are capped together or not at all,
    // so the order among them does not matter.
    let mut by_preferred: Vec<usize> = (0..n).collect();
    by_preferred.sort_unstable_by(|&a, &b| preferred[b].cmp(&preferred[a]));
    let (mut rest, mut sharers) = (total, n);
    for &slot in &by_preferred {
        // `preferred[slot] > rest / sharers` without rounding. The last
        // sharer is never capped: `rest` includes its own preferred groups.
        if preferred[slot] * sharers <= rest {
            break;
        }
        capacity[slot] = preferred[slot];
        capped[slot] = true;
        rest -= preferred[slot];
        sharers -= 1;
    }

    let mut sharing: Vec<usize> = (0..n).filter(|&slot| !capped[slot]).collect();
    sharing.sort_unstable_by(|&a, &b| rank(&nodes[b]).cmp(&rank(&nodes[a])));
    let sharers = sharing.len().max(1);
    let (level, extra) = (rest / sharers, rest % sharers);
    for (place, &slot) in sharing.iter().enumerate() {
        capacity[slot] = level + usize::from(place < extra);
    }
    capacity
}

/// The fixed order in which nodes get the ⌈q⌉ slots: higher key first.
fn rank(node: &PlacementNode) -> (u64, u16) {
    (node.key, node.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: u16) -> Vec<PlacementNode> {
        (0..n)
            .map(|index| PlacementNode {
                index,
                key: u64::from(index) * 7919,
            })
            .collect()
    }

    #[test]
    fn even_split_favours_the_highest_keys() {
        assert_eq!(capacities(&nodes(3), &[0, 0, 0], 5), vec![1, 2, 2]);
    }

    #[test]
    fn heavy_preferences_are_capped_at_exactly_their_count() {
        // Node 0 prefers 7 of 10 groups: it keeps those 7, the others share 3.
        assert_eq!(capacities(&nodes(3), &[7, 0, 0], 10), vec![7, 1, 2]);
        // Capping one node can push another over the new fair share.
        assert_eq!(capacities(&nodes(4), &[6, 3, 0, 0], 11), vec![6, 3, 1, 1]);
    }

    #[test]
    fn light_preferences_share_the_level() {
        assert_eq!(capacities(&nodes(3), &[2, 1, 0], 6), vec![2, 2, 2]);
    }

    #[test]
    fn no_groups_no_capacity() {
        assert_eq!(capacities(&nodes(2), &[0, 0], 0), vec![0, 0]);
    }
}
