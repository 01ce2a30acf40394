//! Which VIPs this node could not plumb, and when to try again
//! (docs/OPERATIONS.md, "Link tracking"). A held VIP whose first plumb and
//! the reconcile retry after it both failed makes its group one this node
//! cannot serve (`plumb-failed:<error>`), so the core releases it and a
//! peer takes it. Released, the VIP is not tried here any more, so the
//! mark is lifted when trying again has a chance: at once when the network
//! grows (an interface appears, comes up or gets carrier, an address is
//! added: an operator fixing things), on any config change, and otherwise
//! after a back-off (`FIRST_BACKOFF`, doubling up to `MAX_BACKOFF`) for
//! errors nothing here can see being fixed.
//!
//! Pure: time is an argument.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed attempts in a row before the group is given up here: the
/// acquisition's plumb and one reconcile retry (a second later at most).
pub const GIVE_UP_AFTER: u32 = 2;
pub const FIRST_BACKOFF: Duration = Duration::from_secs(60);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    /// Failed attempts in a row.
    attempts: u32,
    error: String,
    /// Given up: tried again from then on.
    retry_at: Option<Instant>,
    /// The next back-off, doubled each time it runs out without a success.
    backoff: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct PlumbFailures {
    by_ip: BTreeMap<IpAddr, Failure>,
}

impl PlumbFailures {
    /// An attempt to plumb `ip` failed; `true` when that gives it up.
    pub fn failed(&mut self, now: Instant, ip: IpAddr, error: &str) -> bool {
        let failure = self.by_ip.entry(ip).or_insert(Failure {
            attempts: 0,
            error: String::new(),
            retry_at: None,
            backoff: FIRST_BACKOFF,
        });
        failure.attempts += 1;
        failure.error = error.to_string();
        if failure.retry_at.is_none() && failure.attempts >= GIVE_UP_AFTER {
            failure.retry_at = Some(now + failure.backoff);
            failure.backoff = (failure.backoff * 2).min(MAX_BACKOFF);
            return true;
        }
        false
    }

    /// `ip` is on: every failure is forgotten. `true` when it had been
    /// given up.
    pub fn plumbed(&mut self, ip: IpAddr) -> bool {
        self.by_ip.remove(&ip).is_some_and(|f| f.retry_at.is_some())
    }

    /// Something that may fix a failure happened (the network grew, the
    /// config changed): everything given up is tried again, the back-off
    /// starts over. `true` when anything was given up.
    pub fn retry_all(&mut self) -> bool {
        let given_up = self.by_ip.values().any(|f| f.retry_at.is_some());
        self.by_ip.clear();
        given_up
    }

    /// Lifts the give-ups whose back-off ran out (their next one is
    /// longer). `true` when any was lifted.
    pub fn expire(&mut self, now: Instant) -> bool {
        let mut lifted = false;
        for failure in self.by_ip.values_mut() {
            if failure.retry_at.is_some_and(|at| at <= now) {
                failure.retry_at = None;
                failure.attempts = 0;
                lifted = true;
            }
        }
        lifted
    }

    /// The VIPs given up, with their last error.
    pub fn given_up(&self) -> impl Iterator<Item = (IpAddr, &str)> {
        self.by_ip
            .iter()
            .filter(|(_, f)| f.retry_at.is_some())
            .map(|(ip, f)| (*ip, f.error.as_str()))
    }

    /// When [`expire`](Self::expire) lifts the next give-up.
    pub fn next_retry(&self) -> Option<Instant> {
        self.by_ip.values().filter_map(|f| f.retry_at).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn given_up_after_the_plumb_and_one_retry() {
        let now = Instant::now();
        let mut f = PlumbFailures::default();
        let vip = ip("203.0.113.5");
        assert!(!f.failed(now, vip, "interface eth9 does not exist"));
        assert_eq!(f.given_up().count(), 0, "one failure is retried");
        assert!(f.failed(now, vip, "interface eth9 does not exist"));
        assert_eq!(
            f.given_up().collect::<Vec<_>>(),
            [(vip, "interface eth9 does not exist")]
        );
        assert!(!f.failed(now, vip, "again"), "already given up");
        assert_eq!(f.next_retry(), Some(now + FIRST_BACKOFF));
    }

    #[test]
    fn a_success_forgets_the_failures() {
        let now = Instant::now();
        let mut f = PlumbFailures::default();
        let vip = ip("203.0.113.5");
        f.failed(now, vip, "e");
        assert!(!f.plumbed(vip), "not given up yet");
        assert!(!f.failed(now, vip, "e"), "the count started over");
        f.failed(now, vip, "e");
        assert!(f.plumbed(vip));
        assert_eq!(f.given_up().count(), 0);
        assert_eq!(f.next_retry(), None);
    }

    #[test]
    fn the_back_off_doubles_and_is_capped() {
        let mut now = Instant::now();
        let mut f = PlumbFailures::default();
        let vip = ip("2001:db8::5");
        let mut expected = FIRST_BACKOFF;
        for _ in 0..8 {
            f.failed(now, vip, "e");
            assert!(f.failed(now, vip, "e"));
            assert_eq!(f.next_retry(), Some(now + expected));
            assert!(!f.expire(now + expected - Duration::from_millis(1)));
            now += expected;
            assert!(f.expire(now));
            assert_eq!(f.given_up().count(), 0, "tried again");
            expected = (expected * 2).min(MAX_BACKOFF);
        }
        assert_eq!(expected, MAX_BACKOFF);
    }

    #[test]
    fn retry_all_lifts_every_give_up() {
        let now = Instant::now();
        let mut f = PlumbFailures::default();
        assert!(!f.retry_all(), "nothing to lift");
        for vip in ["203.0.113.5", "203.0.113.6"] {
            f.failed(now, ip(vip), "e");
            f.failed(now, ip(vip), "e");
        }
        assert!(f.retry_all());
        assert_eq!(f.given_up().count(), 0);
        assert!(!f.failed(now, ip("203.0.113.5"), "e"), "counted afresh");
    }
}
