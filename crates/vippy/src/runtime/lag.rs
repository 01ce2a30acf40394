//! How late the core loop's timers fire: the time from a deadline the core
//! asked for to the moment `handle_timeout` runs is the loop's own lag
//! (it was busy with other inputs, starved of CPU, or paused). Every timer
//! goes into `vippy_loop_lag_seconds`; a lag over a quarter of `stale` is
//! logged, at most once a second, because peers judge this node by
//! heartbeats that are that late. The core's own judgement of a long
//! absence is `Event::LoopLag` (docs/ARCHITECTURE.md).

use std::time::{Duration, Instant};

use tracing::warn;

use crate::metrics::Metrics;

/// At most one lag line this often.
const LOG_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct LagWatch {
    last_logged: Option<Instant>,
    /// Lags over the threshold not logged yet (rate limited).
    unlogged: u64,
}

impl LagWatch {
    /// A timer due at `due` fires at `now`.
    pub fn timer_fired(
        &mut self,
        due: Instant,
        now: Instant,
        stale: Duration,
        metrics: &Metrics,
        node: &str,
    ) {
        let late = now.saturating_duration_since(due);
        metrics.loop_lag(late);
        if late <= stale / 4 {
            return;
        }
        self.unlogged += 1;
        if self
            .last_logged
            .is_some_and(|at| now.duration_since(at) < LOG_EVERY)
        {
            return;
        }
        let more = match self.unlogged {
            1 => String::new(),
            n => format!(" ({n} such lags since the last line)"),
        };
        warn!(node = %node, "the core loop ran a timer {:.0} ms late, over a quarter of stale ({:.0} ms): peers may see this node's heartbeats late{more}", late.as_secs_f64() * 1000.0, stale.as_secs_f64() * 1000.0);
        self.last_logged = Some(now);
        self.unlogged = 0;
    }
}
