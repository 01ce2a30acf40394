//! The per-sender anti-replay window (docs/PROTOCOL.md, RFC 4303 §3.4.3).

use proptest::prelude::*;
use std::collections::BTreeSet;
use vippy_core::wire::{Replay, ReplayWindow};

/// Checks, then accepts if fresh, as a receiver does.
fn receive(w: &mut ReplayWindow, inc: u64, seq: u64) -> Result<(), Replay> {
    w.check(inc, seq)?;
    w.accept(inc, seq);
    Ok(())
}

#[test]
fn first_datagram_is_fresh() {
    let mut w = ReplayWindow::new();
    assert_eq!(w.incarnation(), None);
    assert_eq!(w.check(5, 0), Ok(()));
    assert_eq!(w.incarnation(), None, "check changes nothing");
    w.accept(5, 0);
    assert_eq!(w.incarnation(), Some(5));
}

#[test]
fn duplicate() {
    let mut w = ReplayWindow::new();
    assert_eq!(receive(&mut w, 1, 10), Ok(()));
    assert_eq!(w.check(1, 10), Err(Replay::Duplicate));
    assert_eq!(receive(&mut w, 1, 11), Ok(()));
    assert_eq!(w.check(1, 10), Err(Replay::Duplicate));
    assert_eq!(w.check(1, 11), Err(Replay::Duplicate));
}

#[test]
fn older_than_the_window() {
    let mut w = ReplayWindow::new();
    receive(&mut w, 1, 100).unwrap();
    // 63 behind is the oldest still inside a 64-entry window.
    assert_eq!(w.check(1, 37), Ok(()));
    assert_eq!(w.check(1, 36), Err(Replay::OldSequence));
    assert_eq!(w.check(1, 0), Err(Replay::OldSequence));
}

#[test]
fn older_incarnation() {
    let mut w = ReplayWindow::new();
    receive(&mut w, 1_000, 5).unwrap();
    assert_eq!(w.check(999, 6), Err(Replay::OldIncarnation));
    assert_eq!(w.check(0, u64::MAX), Err(Replay::OldIncarnation));
}

#[test]
fn reordered_within_the_window_is_accepted_once() {
    let mut w = ReplayWindow::new();
    for seq in [1, 2, 5, 4, 3, 9, 6, 8, 7] {
        assert_eq!(receive(&mut w, 1, seq), Ok(()), "first {seq}");
    }
    for seq in 1..=9 {
        assert_eq!(
            receive(&mut w, 1, seq),
            Err(Replay::Duplicate),
            "again {seq}"
        );
    }
    // A late one still inside the window, never seen before.
    receive(&mut w, 1, 100).unwrap();
    assert_eq!(receive(&mut w, 1, 50), Ok(()));
    assert_eq!(receive(&mut w, 1, 50), Err(Replay::Duplicate));
}

#[test]
fn newer_incarnation_resets() {
    let mut w = ReplayWindow::new();
    receive(&mut w, 1, 1_000_000).unwrap();
    // The sender restarted: its sequence starts over.
    assert_eq!(receive(&mut w, 2, 0), Ok(()));
    assert_eq!(w.incarnation(), Some(2));
    assert_eq!(receive(&mut w, 2, 1), Ok(()));
    assert_eq!(w.check(2, 0), Err(Replay::Duplicate));
    assert_eq!(w.check(1, 1_000_001), Err(Replay::OldIncarnation));
}

#[test]
fn big_jumps_forward() {
    let mut w = ReplayWindow::new();
    receive(&mut w, 1, 0).unwrap();
    receive(&mut w, 1, 1).unwrap();
    // Lost datagrams: jumps of exactly the window, more, and to the end.
    receive(&mut w, 1, 65).unwrap();
    assert_eq!(w.check(1, 1), Err(Replay::OldSequence));
    assert_eq!(
        w.check(1, 2),
        Ok(()),
        "64 behind the new highest is out, 63 in"
    );
    receive(&mut w, 1, 1 << 40).unwrap();
    assert_eq!(w.check(1, 65), Err(Replay::OldSequence));
    assert_eq!(w.check(1, (1 << 40) - 1), Ok(()));
    receive(&mut w, 1, u64::MAX).unwrap();
    assert_eq!(w.check(1, u64::MAX), Err(Replay::Duplicate));
    assert_eq!(w.check(1, u64::MAX - 63), Ok(()));
    assert_eq!(w.check(1, u64::MAX - 64), Err(Replay::OldSequence));
    receive(&mut w, u64::MAX, 0).unwrap();
    assert_eq!(w.check(u64::MAX, 0), Err(Replay::Duplicate));
}

#[test]
fn accepting_a_rejected_pair_changes_nothing() {
    let mut w = ReplayWindow::new();
    receive(&mut w, 5, 100).unwrap();
    let before = w.clone();
    w.accept(4, 200);
    w.accept(5, 100);
    w.accept(5, 1);
    assert_eq!(w, before);
}

/// A plain model: the set of pairs accepted in the current incarnation.
#[derive(Default)]
struct Model {
    incarnation: Option<u64>,
    highest: u64,
    seen: BTreeSet<u64>,
}

impl Model {
    fn check(&self, inc: u64, seq: u64) -> Result<(), Replay> {
        let Some(cur) = self.incarnation else {
            return Ok(());
        };
        if inc < cur {
            Err(Replay::OldIncarnation)
        } else if inc > cur || seq > self.highest {
            Ok(())
        } else if self.highest - seq >= 64 {
            Err(Replay::OldSequence)
        } else if self.seen.contains(&seq) {
            Err(Replay::Duplicate)
        } else {
            Ok(())
        }
    }

    fn accept(&mut self, inc: u64, seq: u64) {
        if self.incarnation != Some(inc) {
            self.incarnation = Some(inc);
            self.highest = seq;
            self.seen.clear();
        }
        self.highest = self.highest.max(seq);
        self.seen.insert(seq);
    }
}

proptest! {
    // Failing inputs are printed; integration tests have no lib.rs beside
    // them for proptest's default regression files.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// The bitmap window agrees with the set model, and no pair is ever
    /// accepted twice.
    #[test]
    fn matches_a_set_model(
        start in 0u64..u64::MAX - 10_000,
        steps in prop::collection::vec((0u64..3, 0u64..200), 1..300),
    ) {
        let mut w = ReplayWindow::new();
        let mut model = Model::default();
        let mut accepted = BTreeSet::new();
        for (inc, seq) in steps {
            let seq = start + seq;
            let expected = model.check(inc, seq);
            prop_assert_eq!(w.check(inc, seq), expected);
            if expected.is_ok() {
                w.accept(inc, seq);
                model.accept(inc, seq);
                prop_assert!(accepted.insert((inc, seq)), "accepted twice: {:?}", (inc, seq));
            }
            prop_assert_eq!(w.incarnation(), model.incarnation);
        }
    }
}
