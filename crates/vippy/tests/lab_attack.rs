//! A hostile network, on real daemons: the short form of `vippy-lab bench
//! attack` (docs/BENCHMARKS.md). An attacker on the chat LAN listens, then
//! sends 5 000 datagrams of each hostile kind (random, wrong key, replayed,
//! tampered, truncated, oversized, valid secret with an unknown name, valid
//! secret with a stale incarnation). Paced so that a socket buffer rarely
//! overflows (on a machine busy with other work, a large kind may still
//! lose a few, which the kernel counts): every datagram that reached a
//! node is dropped by its full socket buffer, rejected by it (its
//! Prometheus counters say so), or names that node itself; no VIP moves (`ip monitor address` in the node namespaces);
//! no member is judged stale; and a flood does not make the nodes talk
//! more.

mod support;

use std::time::Duration;

use support::lab::started;
use vippy_lab::ClusterSpec;
use vippy_lab::attack::Kind;
use vippy_lab::bench_attack::{AttackOptions, attack, table};

#[test]
#[ignore = "needs root: network namespaces"]
fn a_flood_of_hostile_datagrams_is_rejected_and_moves_nothing() {
    vippy_lab::need_root();
    let mut spec = ClusterSpec::ipv4(3, 6);
    spec.attacker = true;
    let cluster = started(spec);
    let options = AttackOptions {
        per_kind: 5_000,
        rate: Some(5_000),
        seed: 7,
        pause: Duration::from_millis(500),
    };
    let report = attack(&cluster, options).expect("the flood runs");
    let shown = table(&report);
    println!("{shown}");
    for o in &report.outcomes {
        let name = o.kind.name();
        assert!(
            o.reached.iter().all(|r| *r == o.sent as u64),
            "{name}: every datagram reached every node\n{shown}"
        );
        assert_eq!(o.accepted_total(), 0, "{name}: accepted\n{shown}");
        assert!(
            o.ownership_changes.is_empty(),
            "{name}: VIPs moved: {:?}\n{shown}\n{}",
            o.ownership_changes,
            cluster.logs_tail()
        );
        assert_eq!(
            o.stale_peers, 0,
            "{name}: a member was judged stale\n{shown}"
        );
        // About 5 a second from each node (interval 0.2 s), and a few more
        // for what changes; one a datagram would be thousands.
        let seconds = (o.window.1 - o.window.0).as_secs_f64() + options.pause.as_secs_f64();
        let baseline = 3.0 * seconds / cluster.spec.interval;
        assert!(
            (o.heartbeats_sent as f64) < 2.0 * baseline + 10.0,
            "{name}: {} heartbeats sent in {seconds:.1} s\n{shown}",
            o.heartbeats_sent
        );
    }
    // The kinds land where they should: an unknown name as such, a stale
    // incarnation as a replay, a wrong key as a failed MAC.
    // What a full socket buffer dropped was never read, so it is not
    // rejected either (the kernel's count may include a few heartbeats).
    let lands = |k: Kind, reason: &str, expected: u64| {
        let o = report.outcomes.iter().find(|o| o.kind == k).unwrap();
        let rejected = o.rejected.get(reason).copied().unwrap_or(0);
        let dropped: u64 = o.socket_drops.iter().sum();
        assert!(
            rejected <= expected && rejected + dropped >= expected,
            "{}: {rejected} rejected as {reason} and {dropped} dropped, of {expected}\n{shown}",
            k.name()
        );
    };
    lands(Kind::UnknownNode, "unknown_node", 15_000);
    lands(Kind::WrongKey, "auth", 15_000);
    lands(Kind::StaleIncarnation, "replay", 10_000);
    lands(Kind::Oversized, "malformed", 15_000);
    assert_eq!(report.before, report.after, "holders before and after");
}
