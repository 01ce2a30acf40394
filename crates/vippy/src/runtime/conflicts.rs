//! The address conflicts this node has seen: foreign MACs answering for
//! VIPs held here, as the data plane's probes found them and after the
//! core loop ruled out this cluster's own nodes. Kept for status, logged
//! at error level (not on every round), counted per VIP.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::net::Mac;
use crate::net::frames::ClaimKind;
use crate::status::{AddressConflict, unix_now};

/// The most conflicts kept; past it the one seen longest ago goes.
pub const MAX_CONFLICTS: usize = 256;
/// A conflict seen again is logged at error level at most this often (the
/// probe that sees it runs every arp-cache).
pub const LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Seen {
    interface: String,
    how: ClaimKind,
    first_seen: f64,
    last_seen: f64,
    last_seen_at: Instant,
    sightings: u64,
    logged_at: Instant,
}

/// Conflicts by (VIP, foreign MAC).
#[derive(Debug, Default)]
pub struct Conflicts {
    seen: BTreeMap<(IpAddr, Mac), Seen>,
}

/// What the caller should do about a sighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noted {
    /// First seen (or seen again after it was forgotten): log it.
    New,
    /// Seen before, and not logged for [`LOG_EVERY`]: log it again.
    Again,
    /// Seen before, logged recently.
    Quiet,
}

impl Conflicts {
    pub fn note(
        &mut self,
        ip: IpAddr,
        mac: Mac,
        interface: &str,
        how: ClaimKind,
        now: Instant,
    ) -> Noted {
        let wall = unix_now();
        if let Some(seen) = self.seen.get_mut(&(ip, mac)) {
            seen.last_seen = wall;
            seen.last_seen_at = now;
            seen.sightings += 1;
            seen.how = how;
            seen.interface = interface.to_string();
            if now.saturating_duration_since(seen.logged_at) >= LOG_EVERY {
                seen.logged_at = now;
                return Noted::Again;
            }
            return Noted::Quiet;
        }
        if self.seen.len() >= MAX_CONFLICTS
            && let Some(oldest) = self
                .seen
                .iter()
                .min_by_key(|(_, s)| s.last_seen_at)
                .map(|(k, _)| *k)
        {
            self.seen.remove(&oldest);
        }
        self.seen.insert(
            (ip, mac),
            Seen {
                interface: interface.to_string(),
                how,
                first_seen: wall,
                last_seen: wall,
                last_seen_at: now,
                sightings: 1,
                logged_at: now,
            },
        );
        Noted::New
    }

    /// Forgets conflicts not seen for `age`: the probe that would see them
    /// again runs every arp-cache, so they are over (or the VIP is no
    /// longer held here).
    pub fn forget_older_than(&mut self, age: Duration, now: Instant) {
        self.seen
            .retain(|_, s| now.saturating_duration_since(s.last_seen_at) < age);
    }

    /// For status, oldest first; `group_of` names a VIP's group.
    pub fn list(&self, group_of: impl Fn(IpAddr) -> Option<usize>) -> Vec<AddressConflict> {
        let mut out: Vec<AddressConflict> = self
            .seen
            .iter()
            .map(|((ip, mac), s)| AddressConflict {
                ip: ip.to_string(),
                mac: format_mac(mac),
                interface: s.interface.clone(),
                group: group_of(*ip),
                how: s.how.as_str().to_string(),
                first_seen: s.first_seen,
                last_seen: s.last_seen,
                sightings: s.sightings,
            })
            .collect();
        out.sort_by(|a, b| a.first_seen.total_cmp(&b.first_seen));
        out
    }
}

/// `02:76:6c:00:00:fa`.
pub fn format_mac(mac: &Mac) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: Mac = [0x02, 0x76, 0x6c, 0, 0, 0xfa];

    #[test]
    fn a_conflict_is_new_once_then_quiet_and_counted() {
        let mut conflicts = Conflicts::default();
        let ip: IpAddr = "198.51.100.100".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(
            conflicts.note(ip, MAC, "eth0", ClaimKind::Arp, t0),
            Noted::New
        );
        let t1 = t0 + Duration::from_secs(15);
        assert_eq!(
            conflicts.note(ip, MAC, "eth0", ClaimKind::Arp, t1),
            Noted::Quiet
        );
        let t2 = t0 + LOG_EVERY;
        assert_eq!(
            conflicts.note(ip, MAC, "eth0", ClaimKind::Arp, t2),
            Noted::Again
        );
        let list = conflicts.list(|_| Some(3));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].mac, "02:76:6c:00:00:fa");
        assert_eq!(list[0].ip, "198.51.100.100");
        assert_eq!(list[0].group, Some(3));
        assert_eq!(list[0].sightings, 3);
        assert_eq!(list[0].how, "arp");
        conflicts.forget_older_than(Duration::from_secs(10), t2 + Duration::from_secs(9));
        assert_eq!(conflicts.list(|_| None).len(), 1);
        conflicts.forget_older_than(Duration::from_secs(10), t2 + Duration::from_secs(10));
        assert!(conflicts.list(|_| None).is_empty());
    }

    #[test]
    fn conflicts_are_bounded() {
        let mut conflicts = Conflicts::default();
        let t0 = Instant::now();
        for i in 0..(MAX_CONFLICTS + 10) {
            let mac = [2, 0, 0, 0, (i >> 8) as u8, i as u8];
            let ip: IpAddr = "2001:db8::100".parse().unwrap();
            let at = t0 + Duration::from_millis(i as u64);
            conflicts.note(ip, mac, "eth0", ClaimKind::Advertisement, at);
        }
        let list = conflicts.list(|_| None);
        assert_eq!(list.len(), MAX_CONFLICTS);
        // The ones seen longest ago went.
        assert!(!list.iter().any(|c| c.mac == "02:00:00:00:00:00"));
        assert!(
            list.iter()
                .any(|c| c.mac == format_mac(&[2, 0, 0, 0, 1, 9]))
        );
    }
}
