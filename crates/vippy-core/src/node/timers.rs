//! The node's deadlines as one named table: `poll_timeout` waits for the
//! earliest, `handle_timeout` acts on those due. One list for both, so no
//! deadline can be waited for and then ignored, or acted on and never
//! woken for.

use std::time::Instant;

use super::{Event, Node};

/// One deadline of the node; `P` names a peer (borrowed while the table
/// is only read, owned once a due timer is acted on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Timer<P> {
    /// While behind, placement runs at this deadline, not per datagram.
    DecideAt,
    /// Back from a pause: peers may be called deaf again (see `wake`).
    DeafAfter,
    /// Groups nobody held may be taken (see `unowned_claim_time`).
    ClaimUnowned,
    /// This peer's last echo of us is too old: it may no longer hear us.
    EchoExpiry(P),
    /// This peer has not been heard for `stale`.
    PeerStale(P),
    /// The oldest contest ran out of patience (see `contest_patience`).
    Contest,
    /// A settling node settles (`failback: N`).
    Failback,
    /// A newly adopted config has been in force long enough.
    Settle,
    /// A config transfer is due to be asked for again.
    FetchRetry,
    /// The periodic heartbeat (said no earlier than `quiet_until`).
    Heartbeat,
    /// Boot maturity; `flush` acts on it, whichever input reaches it first.
    Mature,
    /// A state change waits to be announced once the node may speak.
    Announce,
}

impl Timer<&str> {
    fn owned(self) -> Timer<String> {
        match self {
            Timer::DecideAt => Timer::DecideAt,
            Timer::DeafAfter => Timer::DeafAfter,
            Timer::ClaimUnowned => Timer::ClaimUnowned,
            Timer::EchoExpiry(name) => Timer::EchoExpiry(name.to_string()),
            Timer::PeerStale(name) => Timer::PeerStale(name.to_string()),
            Timer::Contest => Timer::Contest,
            Timer::Failback => Timer::Failback,
            Timer::Settle => Timer::Settle,
            Timer::FetchRetry => Timer::FetchRetry,
            Timer::Heartbeat => Timer::Heartbeat,
            Timer::Mature => Timer::Mature,
            Timer::Announce => Timer::Announce,
        }
    }
}

impl Node {
    /// Every deadline running now, in the order `handle_timeout` acts on
    /// them (which orders the events it emits).
    pub(super) fn timers(&self) -> Vec<(Timer<&str>, Instant)> {
        let mut timers = Vec::new();
        if let Some(t) = self.decide_at {
            timers.push((Timer::DecideAt, t));
        }
        if let Some(t) = self.deaf_after {
            timers.push((Timer::DeafAfter, t));
        }
        if self.unowned_waiting {
            timers.push((Timer::ClaimUnowned, self.unowned_claim_time()));
        }
        // Peers are judged only once what queued while we were away is read.
        let stale = self.config.stale;
        let window = self.echo_window();
        for (name, peer) in &self.peers {
            if peer.verified {
                let at = (peer.echoed_at + window).max(self.judge_after);
                timers.push((Timer::EchoExpiry(name.as_str()), at));
            }
            if peer.fresh {
                let at = peer.stale_at(stale).max(self.judge_after);
                timers.push((Timer::PeerStale(name.as_str()), at));
            }
        }
        if let Some(t) = self.contest_deadline() {
            timers.push((Timer::Contest, t));
        }
        if let Some(t) = self.failback_at {
            timers.push((Timer::Failback, t));
        }
        if let Some(t) = self.settle_until {
            timers.push((Timer::Settle, t));
        }
        if let Some(fetch) = &self.fetch {
            timers.push((Timer::FetchRetry, fetch.retry_at));
        }
        timers.push((Timer::Heartbeat, self.next_heartbeat));
        if !self.lifecycle.mature() {
            timers.push((Timer::Mature, self.mature_at));
        }
        if self.dirty {
            timers.push((Timer::Announce, self.quiet_until));
        }
        timers
    }

    /// The earliest instant any deadline wants the node woken.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let next = self
            .timers()
            .into_iter()
            .map(|(timer, at)| match timer {
                // Nothing is said before `quiet_until`.
                Timer::Heartbeat => at.max(self.quiet_until),
                _ => at,
            })
            .min()?;
        if self.decision_deferred {
            // Every other deadline only asks for a decision, which waits.
            return Some(next.max(self.quiet_until));
        }
        Some(next)
    }

    /// Acts on every deadline due at `now`.
    pub(super) fn run_due_timers(&mut self, now: Instant) {
        let due: Vec<Timer<String>> = self
            .timers()
            .into_iter()
            .filter(|(_, at)| now >= *at)
            .map(|(timer, _)| timer.owned())
            .collect();
        for timer in due {
            match timer {
                Timer::DecideAt => {
                    self.decide_at = None;
                    self.needs_decide = true;
                }
                Timer::DeafAfter => {
                    self.deaf_after = None;
                    self.needs_decide = true;
                }
                Timer::ClaimUnowned => {
                    self.unowned_waiting = false;
                    self.needs_decide = true;
                }
                Timer::EchoExpiry(name) => {
                    // An echo is good for a while only: one that stops
                    // coming means the peer no longer hears us.
                    if let Some(peer) = self.peers.get_mut(&name) {
                        peer.verified = false;
                        self.needs_decide = true;
                    }
                }
                Timer::PeerStale(name) => {
                    if let Some(peer) = self.peers.get_mut(&name) {
                        peer.fresh = false;
                        if !peer.departed {
                            self.events.push_back(Event::PeerStale { node: name });
                            self.needs_decide = true;
                        }
                    }
                }
                Timer::Contest | Timer::Failback => self.needs_decide = true,
                Timer::Settle => {
                    self.settle_until = None;
                    self.needs_decide = true;
                }
                Timer::FetchRetry => self.fetch_timeout(now),
                Timer::Heartbeat => {
                    self.dirty = true;
                    // Pending handoffs expire with time, not with messages.
                    self.needs_decide |=
                        !self.handoffs.is_empty() || self.telling() || self.skew_since.is_some();
                    // A config that failed to arrive is tried again once its
                    // backoff ends.
                    if self.fetch.is_none() {
                        self.start_fetch(now);
                    }
                }
                // `flush` acts on these, after every input.
                Timer::Mature | Timer::Announce => {}
            }
        }
    }
}
