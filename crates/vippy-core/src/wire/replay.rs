//! Anti-replay for one sender (docs/PROTOCOL.md): the incarnation must not go
//! back, and within an incarnation each sequence number is accepted once,
//! through a 64-entry sliding window (RFC 4303 §3.4.3) so that datagrams
//! reordered slightly by the network still count.

use super::error::Rejection;

/// How many sequence numbers behind the highest one are still accepted.
const WINDOW: u64 = 64;

/// Why [`ReplayWindow::check`] rejected an authentic datagram.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// This incarnation and sequence were accepted before.
    #[error("duplicate sequence number")]
    Duplicate,
    /// The sequence is older than the window: it can no longer be told apart
    /// from a replay.
    #[error("sequence number older than the replay window")]
    OldSequence,
    /// The sender has since restarted with a newer incarnation.
    #[error("old incarnation")]
    OldIncarnation,
}

impl Replay {
    /// Always [`Rejection::Replay`]; here so callers can treat every
    /// rejection alike.
    pub fn reason(&self) -> Rejection {
        Rejection::Replay
    }
}

/// The anti-replay state for one sender.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    current: Option<Current>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Current {
    incarnation: u64,
    /// The highest sequence accepted in this incarnation.
    highest: u64,
    /// Bit `d` set: sequence `highest - d` was accepted. Bit 0 is `highest`.
    seen: u64,
}

impl ReplayWindow {
    /// A window that has accepted nothing: any first datagram passes.
    pub fn new() -> Self {
        ReplayWindow::default()
    }

    /// Whether a datagram with this incarnation and sequence would be fresh.
    /// Changes nothing: call [`accept`](Self::accept) once the datagram has
    /// been fully accepted, so that a datagram rejected later for another
    /// reason does not burn its sequence number.
    pub fn check(&self, incarnation: u64, sequence: u64) -> Result<(), Replay> {
        let Some(cur) = self.current else {
            return Ok(());
        };
        if incarnation < cur.incarnation {
            return Err(Replay::OldIncarnation);
        }
        if incarnation > cur.incarnation || sequence > cur.highest {
            return Ok(());
        }
        // sequence <= highest here, so this does not underflow.
        let behind = cur.highest - sequence;
        if behind >= WINDOW {
            Err(Replay::OldSequence)
        } else if cur.seen & (1 << behind) != 0 {
            Err(Replay::Duplicate)
        } else {
            Ok(())
        }
    }

    /// Records a datagram as accepted. A newer incarnation starts a fresh
    /// window; a pair that [`check`](Self::check) rejects changes nothing.
    pub fn accept(&mut self, incarnation: u64, sequence: u64) {
        if self.check(incarnation, sequence).is_err() {
            return;
        }
        let cur = match self.current {
            Some(cur) if cur.incarnation == incarnation => cur,
            _ => {
                self.current = Some(Current {
                    incarnation,
                    highest: sequence,
                    seen: 1,
                });
                return;
            }
        };
        let next = if sequence > cur.highest {
            let ahead = sequence - cur.highest;
            let seen = if ahead >= WINDOW {
                0
            } else {
                cur.seen << ahead
            };
            Current {
                highest: sequence,
                seen: seen | 1,
                ..cur
            }
        } else {
            Current {
                seen: cur.seen | 1 << (cur.highest - sequence),
                ..cur
            }
        };
        self.current = Some(next);
    }

    /// The sender's current incarnation, once anything was accepted.
    pub fn incarnation(&self) -> Option<u64> {
        self.current.map(|c| c.incarnation)
    }
}
