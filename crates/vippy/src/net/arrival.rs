//! When a chat datagram arrived, from the kernel's receive timestamp
//! (`SO_TIMESTAMPNS`): the core's self-doubt rule compares it with the time
//! the loop read the datagram, so a loop that falls behind a queue of
//! heartbeats doubts itself rather than its peers (docs/ARCHITECTURE.md,
//! "A node that falls behind").
//!
//! The kernel stamps with the wall clock, which can step; the core keeps
//! monotonic time. So the wait is measured on the wall clock (stamp to
//! now), and bounded by the monotonic time since the socket was last seen
//! empty: nothing read now can have waited longer than that, whatever the
//! wall clock did. A stamp from the future (the clock stepped back) counts
//! as no wait.

use std::time::{Instant, SystemTime};

/// The monotonic instant a datagram read at `read_at` (wall clock
/// `wall_now`) arrived, given its kernel stamp and when its socket was last
/// seen empty. Without a stamp it arrived as it was read.
pub fn arrived(
    read_at: Instant,
    wall_now: SystemTime,
    stamp: Option<SystemTime>,
    empty_at: Instant,
) -> Instant {
    let Some(stamp) = stamp else {
        return read_at;
    };
    let waited = wall_now.duration_since(stamp).unwrap_or_default();
    let most = read_at.saturating_duration_since(empty_at);
    read_at.checked_sub(waited.min(most)).unwrap_or(read_at)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::arrived;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_stamped_datagram_arrived_as_long_ago_as_the_stamp_says() {
        let read = Instant::now() + ms(10_000);
        let wall = SystemTime::UNIX_EPOCH + ms(1_000_000);
        let at = arrived(read, wall, Some(wall - ms(250)), read - ms(5_000));
        assert_eq!(read - at, ms(250));
    }

    #[test]
    fn without_a_stamp_it_arrived_as_it_was_read() {
        let read = Instant::now() + ms(10_000);
        let at = arrived(read, SystemTime::now(), None, read - ms(5_000));
        assert_eq!(at, read);
    }

    #[test]
    fn a_wall_clock_stepped_forward_cannot_make_it_older_than_the_empty_queue() {
        let read = Instant::now() + ms(10_000);
        let wall = SystemTime::UNIX_EPOCH + ms(1_000_000);
        // The clock jumped an hour forward while the datagram queued, but
        // the socket was empty 40 ms ago.
        let stamp = wall - ms(3_600_000);
        let at = arrived(read, wall, Some(stamp), read - ms(40));
        assert_eq!(read - at, ms(40));
    }

    #[test]
    fn a_stamp_from_the_future_counts_as_no_wait() {
        let read = Instant::now() + ms(10_000);
        let wall = SystemTime::UNIX_EPOCH + ms(1_000_000);
        let at = arrived(read, wall, Some(wall + ms(500)), read - ms(5_000));
        assert_eq!(at, read);
    }
}
