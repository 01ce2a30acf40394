//! Placement at the largest supported size: 4096 groups (the most a config
//! may have, so that a heartbeat fits its budget) over 64 nodes. Results and
//! how to read them: docs/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vippy_core::hash::stable_hash;
use vippy_core::placement::{NodeIndex, PlacementGroup, PlacementNode, assign};

const GROUPS: usize = 4096;
const NODES: usize = 64;

fn cluster() -> (Vec<PlacementGroup>, Vec<PlacementNode>) {
    let groups = (0..GROUPS)
        .map(|g| PlacementGroup {
            key: stable_hash(format!("198.51.{}.{}", g / 256, g % 256).as_bytes()),
            preferred: None,
        })
        .collect();
    let nodes = (0..NODES)
        .map(|n| PlacementNode {
            index: n as NodeIndex,
            key: stable_hash(format!("node{n}").as_bytes()),
        })
        .collect();
    (groups, nodes)
}

fn bench(c: &mut Criterion) {
    let (groups, nodes) = cluster();
    let nobody: Vec<Vec<NodeIndex>> = vec![Vec::new(); GROUPS];
    let settled = assign(&groups, &nodes, &nobody).as_holders();
    let survivors = &nodes[1..];

    let mut group = c.benchmark_group("placement 4096 groups x 64 nodes");
    group.bench_function("cold start", |b| {
        b.iter(|| assign(black_box(&groups), black_box(&nodes), black_box(&nobody)))
    });
    group.bench_function("steady state", |b| {
        b.iter(|| assign(black_box(&groups), black_box(&nodes), black_box(&settled)))
    });
    group.bench_function("one node failed", |b| {
        b.iter(|| {
            assign(
                black_box(&groups),
                black_box(survivors),
                black_box(&settled),
            )
        })
    });
    group.bench_function("one node joined", |b| {
        let settled_without_first = assign(&groups, survivors, &nobody).as_holders();
        b.iter(|| {
            assign(
                black_box(&groups),
                black_box(&nodes),
                black_box(&settled_without_first),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
