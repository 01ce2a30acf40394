//! Release before announce, as state (docs/ARCHITECTURE.md, "The ordering
//! rule"). A heartbeat queued after a release no longer lists the group,
//! and a peer that hears it takes the group at once; so it must not leave
//! before the data plane has removed the addresses. The core loop does not
//! wait for that: each release puts a barrier (the answer to its
//! `Order::Flush`) in this queue, and every transmit the core produces
//! while a barrier is pending is held behind it, in order. When a barrier's
//! flush is answered, what queued behind it goes out, up to the next
//! barrier. A barrier not answered by its deadline is given up: what it
//! held goes out anyway, and it is reported as stuck, so a stuck data plane
//! makes this node hold a VIP twice for a while rather than go silent and
//! be judged stale. The deadline counts from the last transmit to the
//! cluster that left, not from the release: peers judge staleness by the
//! gap between what they hear, and a release made just before the next
//! heartbeat was due would otherwise stretch that gap to the whole limit
//! plus an interval.

use std::collections::VecDeque;
use std::time::Instant;

use tokio::sync::oneshot;
use vippy_core::node::{Destination, Transmit};

/// The transmits held behind pending releases, oldest first.
#[derive(Debug, Default)]
pub struct HeldTransmits {
    queue: VecDeque<Held>,
    /// When a transmit to the cluster last left (was handed out to send).
    last_out: Option<Instant>,
}

#[derive(Debug)]
enum Held {
    Barrier(Barrier),
    Transmit(Transmit),
}

#[derive(Debug)]
struct Barrier {
    /// Answered by the data plane once the removals before it are applied.
    applied: oneshot::Receiver<()>,
    /// Set when `settled` saw the answer (the receiver is then spent).
    answered: bool,
    /// The groups this release removes, for the report if it gets stuck.
    groups: Vec<usize>,
    since: Instant,
    deadline: Instant,
}

/// A release the data plane did not finish by its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckRelease {
    pub groups: Vec<usize>,
    pub since: Instant,
}

/// What may go out now: the transmits in order, and the releases given up
/// on the way.
#[derive(Debug, Default)]
pub struct Passed {
    pub transmits: Vec<Transmit>,
    pub stuck: Vec<StuckRelease>,
}

impl HeldTransmits {
    /// A release was sent to the data plane, followed by a flush answered
    /// on `applied`: every transmit from now on waits for that answer, or
    /// until `limit` after the last transmit to the cluster left (at the
    /// latest; not before `now`).
    pub fn release(
        &mut self,
        applied: oneshot::Receiver<()>,
        groups: Vec<usize>,
        now: Instant,
        limit: std::time::Duration,
    ) {
        let deadline = (self.last_out.unwrap_or(now) + limit).max(now);
        self.queue.push_back(Held::Barrier(Barrier {
            applied,
            answered: false,
            groups,
            since: now,
            deadline,
        }));
    }

    /// `transmit` back if nothing is pending (send it now), else `None`:
    /// it is held behind the pending releases.
    pub fn hold(&mut self, transmit: Transmit, now: Instant) -> Option<Transmit> {
        if self.queue.is_empty() {
            self.sent(&transmit, now);
            return Some(transmit);
        }
        self.queue.push_back(Held::Transmit(transmit));
        None
    }

    /// Whether a release is still pending.
    pub fn pending(&self) -> bool {
        !self.queue.is_empty()
    }

    /// How many transmits wait.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.queue
            .iter()
            .filter(|h| matches!(h, Held::Transmit(_)))
            .count()
    }

    /// Takes what may go out at `now`: every barrier at the front that is
    /// answered (or whose data plane is gone) or past its deadline (then
    /// reported as stuck), and the transmits up to the next pending one.
    pub fn pass(&mut self, now: Instant) -> Passed {
        self.take(now, false)
    }

    /// Everything, whatever is pending (at shutdown, once the grace is
    /// over): unanswered releases are reported as stuck.
    pub fn pass_all(&mut self, now: Instant) -> Passed {
        self.take(now, true)
    }

    /// Only what goes to the whole cluster keeps every peer's view fresh.
    fn sent(&mut self, transmit: &Transmit, now: Instant) {
        if transmit.destination == Destination::Cluster {
            self.last_out = Some(now);
        }
    }

    fn take(&mut self, now: Instant, all: bool) -> Passed {
        let mut passed = Passed::default();
        while let Some(front) = self.queue.front_mut() {
            match front {
                Held::Transmit(_) => {
                    if let Some(Held::Transmit(t)) = self.queue.pop_front() {
                        self.sent(&t, now);
                        passed.transmits.push(t);
                    }
                }
                Held::Barrier(barrier) => {
                    // A closed channel is a data plane that stopped: there
                    // is nothing left to wait for.
                    let answered = barrier.answered
                        || !matches!(
                            barrier.applied.try_recv(),
                            Err(oneshot::error::TryRecvError::Empty)
                        );
                    if !answered && !all && now < barrier.deadline {
                        break;
                    }
                    if let Some(Held::Barrier(barrier)) = self.queue.pop_front()
                        && !answered
                    {
                        passed.stuck.push(StuckRelease {
                            groups: barrier.groups,
                            since: barrier.since,
                        });
                    }
                }
            }
        }
        passed
    }

    /// Resolves when the first pending release is answered or reaches its
    /// deadline (then call [`HeldTransmits::pass`]); never while nothing
    /// is pending. Cancel-safe: a select! may drop it at any time.
    pub async fn settled(&mut self) {
        let Some(Held::Barrier(barrier)) = self.queue.front_mut() else {
            return std::future::pending().await;
        };
        if barrier.answered {
            return;
        }
        let deadline = tokio::time::Instant::from_std(barrier.deadline);
        tokio::select! {
            _ = &mut barrier.applied => barrier.answered = true,
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio::sync::oneshot;
    use vippy_core::node::{Destination, Transmit};

    use super::{HeldTransmits, StuckRelease};

    fn transmit(n: u8) -> Transmit {
        Transmit {
            destination: Destination::Cluster,
            bytes: vec![n],
        }
    }

    fn bytes(transmits: &[Transmit]) -> Vec<u8> {
        transmits.iter().map(|t| t.bytes[0]).collect()
    }

    const LIMIT: Duration = Duration::from_millis(600);

    #[test]
    fn nothing_pending_goes_out_at_once() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        assert_eq!(held.hold(transmit(1), now).map(|t| t.bytes), Some(vec![1]));
        assert!(!held.pending());
        let passed = held.pass(now);
        assert!(passed.transmits.is_empty() && passed.stuck.is_empty());
    }

    #[test]
    fn transmits_after_a_release_wait_for_its_flush_in_order() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        let (done, applied) = oneshot::channel();
        held.release(applied, vec![3], now, LIMIT);
        for n in 1..=3 {
            assert!(held.hold(transmit(n), now).is_none());
        }
        assert_eq!(held.held(), 3);
        assert!(held.pass(now).transmits.is_empty(), "flush not answered");
        done.send(()).unwrap();
        let passed = held.pass(now);
        assert_eq!(bytes(&passed.transmits), [1, 2, 3]);
        assert!(passed.stuck.is_empty());
        assert!(!held.pending());
        assert!(
            held.hold(transmit(4), now).is_some(),
            "nothing pending any more"
        );
    }

    #[test]
    fn a_second_release_adds_its_own_barrier() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        let (first, applied) = oneshot::channel();
        held.release(applied, vec![1], now, LIMIT);
        assert!(held.hold(transmit(1), now).is_none());
        let (second, applied) = oneshot::channel();
        held.release(applied, vec![2], now, LIMIT);
        assert!(held.hold(transmit(2), now).is_none());

        // The second answered first: nothing passes the first barrier.
        second.send(()).unwrap();
        assert!(held.pass(now).transmits.is_empty());
        first.send(()).unwrap();
        assert_eq!(bytes(&held.pass(now).transmits), [1, 2]);
        assert!(!held.pending());
    }

    #[test]
    fn only_what_queued_before_the_next_pending_release_passes() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        let (first, applied) = oneshot::channel();
        held.release(applied, vec![1], now, LIMIT);
        assert!(held.hold(transmit(1), now).is_none());
        let (_second, applied) = oneshot::channel();
        held.release(applied, vec![2], now, LIMIT);
        assert!(held.hold(transmit(2), now).is_none());
        first.send(()).unwrap();
        assert_eq!(bytes(&held.pass(now).transmits), [1]);
        assert!(held.pending());
        assert_eq!(held.held(), 1);
    }

    #[test]
    fn the_limit_counts_from_the_last_transmit_that_left() {
        let start = Instant::now();
        let mut held = HeldTransmits::default();
        assert!(held.hold(transmit(1), start).is_some());
        // A release a quarter of the limit later: what it holds must leave
        // by the limit after transmit 1, not after the release.
        let now = start + LIMIT / 4;
        let (_flush, applied) = oneshot::channel();
        held.release(applied, vec![5], now, LIMIT);
        assert!(held.hold(transmit(2), now).is_none());
        assert!(
            held.pass(start + LIMIT - Duration::from_millis(1))
                .transmits
                .is_empty()
        );
        let passed = held.pass(start + LIMIT);
        assert_eq!(bytes(&passed.transmits), [2]);
        assert_eq!(passed.stuck.len(), 1);

        // Only transmits to the whole cluster count: a reply to one peer
        // keeps the others' view no fresher.
        let later = start + LIMIT * 2;
        let reply = Transmit {
            destination: Destination::Peer("198.51.100.1:5007".parse().unwrap()),
            bytes: vec![3],
        };
        assert!(held.hold(reply, later).is_some());
        let (_flush, applied) = oneshot::channel();
        held.release(applied, vec![6], later, LIMIT);
        assert!(held.hold(transmit(4), later).is_none());
        assert!(
            held.pass(start + LIMIT * 2 - Duration::from_millis(1))
                .transmits
                .is_empty()
        );
        assert_eq!(
            bytes(&held.pass(later).transmits),
            [4],
            "already a limit since transmit 2"
        );
    }

    #[test]
    fn a_release_past_its_deadline_is_reported_and_its_transmits_go() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        let (_done, applied) = oneshot::channel();
        held.release(applied, vec![4, 9], now, LIMIT);
        assert!(held.hold(transmit(1), now).is_none());
        assert!(held.pass(now + LIMIT / 2).transmits.is_empty());
        let passed = held.pass(now + LIMIT);
        assert_eq!(bytes(&passed.transmits), [1]);
        assert_eq!(
            passed.stuck,
            [StuckRelease {
                groups: vec![4, 9],
                since: now
            }]
        );
        assert!(!held.pending());
    }

    #[test]
    fn a_stopped_data_plane_holds_nothing_back() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        let (done, applied) = oneshot::channel::<()>();
        held.release(applied, vec![0], now, LIMIT);
        assert!(held.hold(transmit(1), now).is_none());
        drop(done);
        let passed = held.pass(now);
        assert_eq!(bytes(&passed.transmits), [1]);
        assert!(passed.stuck.is_empty());
    }

    #[test]
    fn pass_all_gives_up_every_pending_release() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        let (_a, applied) = oneshot::channel();
        held.release(applied, vec![1], now, LIMIT);
        assert!(held.hold(transmit(1), now).is_none());
        let (_b, applied) = oneshot::channel();
        held.release(applied, vec![2], now, LIMIT);
        assert!(held.hold(transmit(2), now).is_none());
        let passed = held.pass_all(now);
        assert_eq!(bytes(&passed.transmits), [1, 2]);
        assert_eq!(passed.stuck.len(), 2);
        assert!(!held.pending());
    }

    #[tokio::test]
    async fn settled_resolves_on_the_answer_and_keeps_it() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        let (done, applied) = oneshot::channel();
        // A deadline that never comes in this test: only the answer wakes it.
        held.release(applied, vec![1], now, Duration::from_secs(3600));
        assert!(held.hold(transmit(1), now).is_none());
        done.send(()).unwrap();
        held.settled().await;
        // The answer was taken by `settled`; `pass` still counts it.
        let passed = held.pass(now);
        assert_eq!(bytes(&passed.transmits), [1]);
        assert!(passed.stuck.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn settled_resolves_at_the_deadline() {
        let now = Instant::now();
        let mut held = HeldTransmits::default();
        let (_done, applied) = oneshot::channel::<()>();
        held.release(applied, vec![1], now, LIMIT);
        assert!(held.hold(transmit(1), now).is_none());
        // Paused time advances by itself to the deadline.
        held.settled().await;
        let passed = held.pass(now + LIMIT);
        assert_eq!(bytes(&passed.transmits), [1]);
        assert_eq!(passed.stuck.len(), 1);
    }
}
