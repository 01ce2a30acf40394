//! vippy's placement against the original's md5 rule, on random
//! clusters: balance, and groups moved when one node fails or joins.
//!
//! The table in docs/BENCHMARKS.md comes from
//! `cargo test -p vippy-core --release --test placement_compare -- --ignored --nocapture`.

mod support;

use md5::{Digest, Md5};
use support::Rng;
use vippy_core::hash::stable_hash;
use vippy_core::placement::{Assignment, NodeIndex, PlacementGroup, PlacementNode, assign};

/// A cluster as both rules see it: node names and each group's first VIP.
/// No preferences: they would hide the difference in balance.
struct Cluster {
    names: Vec<String>,
    first_vips: Vec<String>,
}

impl Cluster {
    fn random(nodes: usize, groups: usize, rng: &mut Rng) -> Cluster {
        let names = (0..nodes)
            .map(|_| format!("node-{:08x}", rng.next() as u32))
            .collect();
        // 2001:db8::/32 (RFC 3849): enough distinct addresses for 4096 groups.
        let first_vips = (0..groups)
            .map(|_| {
                let r = rng.next();
                format!(
                    "2001:db8:{:x}:{:x}::{:x}",
                    r >> 48,
                    (r >> 32) & 0xffff,
                    r & 0xffff_ffff
                )
            })
            .collect();
        Cluster { names, first_vips }
    }
}

/// The original's rule: the active node with the lowest md5(node|ip).
/// `digests[n][g]` is precomputed once per cluster.
fn original(digests: &[Vec<[u8; 16]>], active: &[usize], groups: usize) -> Assignment {
    let owners = (0..groups)
        .map(|g| {
            active
                .iter()
                .min_by_key(|&&n| digests[n][g])
                .map(|&n| n as NodeIndex)
        })
        .collect();
    Assignment { owners }
}

fn vippy(cluster: &Cluster, active: &[usize], before: Option<&Assignment>) -> Assignment {
    let groups: Vec<PlacementGroup> = cluster
        .first_vips
        .iter()
        .map(|ip| PlacementGroup {
            key: stable_hash(ip.as_bytes()),
            preferred: None,
        })
        .collect();
    let eligible: Vec<PlacementNode> = active
        .iter()
        .map(|&n| PlacementNode {
            index: n as NodeIndex,
            key: stable_hash(cluster.names[n].as_bytes()),
        })
        .collect();
    let holders = before.map_or_else(|| vec![Vec::new(); groups.len()], Assignment::as_holders);
    assign(&groups, &eligible, &holders)
}

/// max − min load over the active nodes.
fn imbalance(assignment: &Assignment, active: &[usize], nodes: usize) -> usize {
    let loads = assignment.loads(nodes);
    let active_loads = active.iter().map(|&n| loads[n]);
    active_loads.clone().max().unwrap_or(0) - active_loads.min().unwrap_or(0)
}

/// Groups moved, and how many of them moved between two nodes that were
/// both up before and after (collateral).
fn moves(before: &Assignment, after: &Assignment, changed: usize) -> (usize, usize) {
    let moved: Vec<usize> = after.moved_since(before).collect();
    let collateral = moved
        .iter()
        .filter(|&&g| {
            before.owner(g) != Some(changed as NodeIndex)
                && after.owner(g) != Some(changed as NodeIndex)
        })
        .count();
    (moved.len(), collateral)
}

#[derive(Default)]
struct Tally {
    imbalance_sum: usize,
    imbalance_worst: usize,
    fail_moved: usize,
    fail_collateral: usize,
    join_moved: usize,
    join_collateral: usize,
}

impl Tally {
    fn add(&mut self, imbalance: usize, fail: (usize, usize), join: (usize, usize)) {
        self.imbalance_sum += imbalance;
        self.imbalance_worst = self.imbalance_worst.max(imbalance);
        self.fail_moved += fail.0;
        self.fail_collateral += fail.1;
        self.join_moved += join.0;
        self.join_collateral += join.1;
    }
}

/// Runs both rules over `clusters` random clusters of each size.
fn compare(nodes: usize, groups: usize, clusters: usize) -> (Tally, Tally) {
    let mut rng = Rng((nodes as u64) << 32 | groups as u64);
    let (mut old, mut new) = (Tally::default(), Tally::default());
    for _ in 0..clusters {
        let cluster = Cluster::random(nodes, groups, &mut rng);
        let digests: Vec<Vec<[u8; 16]>> = cluster
            .names
            .iter()
            .map(|name| {
                cluster
                    .first_vips
                    .iter()
                    .map(|ip| Md5::digest(format!("{name}|{ip}").as_bytes()).into())
                    .collect()
            })
            .collect();
        let all: Vec<usize> = (0..nodes).collect();
        let failed = (rng.next() % nodes as u64) as usize;
        let survivors: Vec<usize> = all.iter().copied().filter(|&n| n != failed).collect();

        // Steady state, then `failed` fails, then it comes back.
        let steady = original(&digests, &all, groups);
        let down = original(&digests, &survivors, groups);
        let back = original(&digests, &all, groups);
        old.add(
            imbalance(&steady, &all, nodes),
            moves(&steady, &down, failed),
            moves(&down, &back, failed),
        );

        let steady = vippy(&cluster, &all, None);
        let down = vippy(&cluster, &survivors, Some(&steady));
        let back = vippy(&cluster, &all, Some(&down));
        new.add(
            imbalance(&steady, &all, nodes),
            moves(&steady, &down, failed),
            moves(&down, &back, failed),
        );
    }
    (old, new)
}

fn row(nodes: usize, groups: usize, clusters: usize) -> (String, Tally) {
    let (old, new) = compare(nodes, groups, clusters);
    let mean = |sum: usize| sum as f64 / clusters as f64;
    let line = format!(
        "| {nodes} | {groups} | {:.2} / {:.2} | {} / {} | {:.1} / {:.1} | {} / {} | {:.1} / {:.1} | {} / {} |",
        mean(old.imbalance_sum),
        mean(new.imbalance_sum),
        old.imbalance_worst,
        new.imbalance_worst,
        mean(old.fail_moved),
        mean(new.fail_moved),
        old.fail_collateral,
        new.fail_collateral,
        mean(old.join_moved),
        mean(new.join_moved),
        old.join_collateral,
        new.join_collateral,
    );
    (line, new)
}

#[test]
#[ignore = "prints the comparison table for docs/BENCHMARKS.md; run in release"]
fn print_comparison_table() {
    const CLUSTERS: usize = 200;
    println!("{CLUSTERS} random clusters per row; each cell is original / vippy.\n");
    println!(
        "| N | M | imbalance mean | imbalance worst | failure: moved (mean) | failure: collateral (total) | join: moved (mean) | join: collateral (total) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for nodes in [2, 3, 5, 8, 16, 64] {
        for groups in [2, 6, 32, 256, 4096] {
            let (line, vippy) = row(nodes, groups, CLUSTERS);
            println!("{line}");
            assert!(vippy.imbalance_worst <= 1);
            assert_eq!(vippy.fail_collateral + vippy.join_collateral, 0);
        }
    }
}

/// A small run of the same code, so the comparison cannot rot unnoticed.
#[test]
fn comparison_holds_on_small_clusters() {
    for (nodes, groups) in [(2, 2), (3, 6), (5, 32)] {
        let (_, vippy) = row(nodes, groups, 20);
        assert!(vippy.imbalance_worst <= 1, "{nodes} nodes, {groups} groups");
        assert_eq!(
            vippy.fail_collateral + vippy.join_collateral,
            0,
            "{nodes} nodes, {groups} groups"
        );
    }
}
