//! When and to whom addresses are announced: the repeats of an
//! acquisition's burst (`garp.count`, `garp.interval`), the periodic
//! refresh of everything held (`garp.refresh`), and the notify list's
//! targets for targeted ARP replies. Pure: the executor in `mod.rs` sends
//! what this says is due.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use tokio::time::Instant;
use vippy_core::config::{Garp, NotifyTarget};
use vippy_core::wire;

use super::plan::Desired;
use crate::net::{Address, Neighbour};

/// An announcement still to repeat: when, for which group, what, how many
/// more times.
type Repeat = (Instant, usize, Vec<IpNet>, u32);

pub(super) struct Schedule {
    /// Repeated announcements still due, soonest first.
    repeats: BinaryHeap<Reverse<Repeat>>,
    next_refresh: Option<Instant>,
}

impl Schedule {
    pub fn new(now: Instant, garp: &Garp) -> Schedule {
        Schedule {
            repeats: BinaryHeap::new(),
            next_refresh: garp.refresh.map(|r| now + r),
        }
    }

    /// The configuration changed: a new refresh period starts now.
    pub fn reconfigured(&mut self, now: Instant, old: &Garp, new: &Garp) {
        if old.refresh != new.refresh {
            self.next_refresh = new.refresh.map(|r| now + r);
        }
    }

    /// Groups just had the first round of their burst: the rest of it,
    /// `garp.count - 1` rounds `garp.interval` apart.
    pub fn announced(&mut self, now: Instant, garp: &Garp, groups: Vec<(usize, Vec<IpNet>)>) {
        if garp.count > 1 {
            let at = now + garp.interval;
            for (group, ips) in groups {
                self.repeats.push(Reverse((at, group, ips, garp.count - 1)));
            }
        }
    }

    /// When something is next due, if anything is.
    pub fn next_due(&self) -> Option<Instant> {
        let repeat = self.repeats.peek().map(|Reverse((at, ..))| *at);
        match (repeat, self.next_refresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What to announce at `now`, in one round: the due repeats of what is
    /// still held here, or everything held when the refresh is due.
    pub fn due(&mut self, now: Instant, garp: &Garp, held: &Desired) -> Vec<IpNet> {
        let mut due: Vec<IpNet> = Vec::new();
        while let Some(Reverse((at, ..))) = self.repeats.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, group, ips, remaining))) = self.repeats.pop() else {
                break;
            };
            // A group released since is not announced again.
            let still: Vec<IpNet> = ips
                .into_iter()
                .filter(|ip| held.contains_key(&ip.addr()))
                .collect();
            if !still.is_empty() {
                due.extend_from_slice(&still);
                if remaining > 1 {
                    self.repeats
                        .push(Reverse((now + garp.interval, group, still, remaining - 1)));
                }
            }
        }
        if self.next_refresh.is_some_and(|at| at <= now) {
            due = held.values().map(|(net, _)| *net).collect();
            self.next_refresh = garp.refresh.map(|r| now + r);
        }
        due
    }
}

/// Who gets a targeted ARP reply for `vip`: neighbours inside the notify
/// networks, and (for the `"arp-cache"` token) the cluster's shared
/// neighbours that sit on a subnet of the VIP's interface.
pub(super) fn notify_targets(
    notify: &[NotifyTarget],
    vip: Ipv4Addr,
    local: &[Neighbour],
    cluster: &[wire::Neighbour],
    addresses: &[Address],
    ifindex: u32,
) -> Vec<(Ipv4Addr, [u8; 6])> {
    let mut out: BTreeMap<Ipv4Addr, [u8; 6]> = BTreeMap::new();
    let on_link = |ip: IpAddr| {
        addresses
            .iter()
            .any(|a| a.ifindex == ifindex && !a.vip && a.net.contains(&ip))
    };
    for target in notify {
        match target {
            NotifyTarget::ArpCache => {
                for n in cluster {
                    // The cluster list also has every node's own addresses
                    // (this host's too): only other hosts are told.
                    if let IpAddr::V4(v4) = n.ip
                        && v4 != vip
                        && on_link(n.ip)
                        && !addresses.iter().any(|a| a.net.addr() == n.ip)
                    {
                        out.insert(v4, n.mac);
                    }
                }
            }
            NotifyTarget::Network { net, .. } => {
                for n in local {
                    if let IpAddr::V4(v4) = n.ip
                        && v4 != vip
                        && n.ifindex == ifindex
                        && net.contains(&n.ip)
                    {
                        out.insert(v4, n.mac);
                    }
                }
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn garp(count: u32, refresh: Option<u64>) -> Garp {
        Garp {
            count,
            interval: Duration::from_millis(500),
            refresh: refresh.map(Duration::from_secs),
            ..Garp::default()
        }
    }

    fn held(list: &[&str]) -> Desired {
        list.iter()
            .map(|s| {
                let net: IpNet = s.parse().unwrap();
                (net.addr(), (net, Some(0)))
            })
            .collect()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_burst_of_three_repeats_twice_an_interval_apart_then_stops() {
        let (t0, g) = (Instant::now(), garp(3, None));
        let mut s = Schedule::new(t0, &g);
        let vip = nets(&["198.51.100.50/24"]);
        let h = held(&["198.51.100.50/24"]);
        s.announced(t0, &g, vec![(0, vip.clone())]);
        assert_eq!(s.next_due(), Some(t0 + g.interval));
        assert!(s.due(t0, &g, &h).is_empty(), "nothing before its time");
        let t1 = t0 + g.interval;
        assert_eq!(s.due(t1, &g, &h), vip);
        let t2 = t1 + g.interval;
        assert_eq!(s.next_due(), Some(t2));
        assert_eq!(s.due(t2, &g, &h), vip);
        assert_eq!(s.next_due(), None, "three rounds in all");
    }

    #[test]
    fn a_burst_of_one_has_no_repeats() {
        let (t0, g) = (Instant::now(), garp(1, None));
        let mut s = Schedule::new(t0, &g);
        s.announced(t0, &g, vec![(0, nets(&["198.51.100.50/24"]))]);
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn a_group_released_before_its_repeat_is_not_announced_again() {
        let (t0, g) = (Instant::now(), garp(3, None));
        let mut s = Schedule::new(t0, &g);
        s.announced(
            t0,
            &g,
            vec![(0, nets(&["198.51.100.50/24", "198.51.100.51/24"]))],
        );
        // .51 was released; .50 is still held.
        let h = held(&["198.51.100.50/24"]);
        assert_eq!(s.due(t0 + g.interval, &g, &h), nets(&["198.51.100.50/24"]));
        assert!(s.due(t0 + g.interval * 2, &g, &Desired::new()).is_empty());
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn the_refresh_announces_everything_held_and_comes_back() {
        let (t0, g) = (Instant::now(), garp(3, Some(60)));
        let mut s = Schedule::new(t0, &g);
        let h = held(&["198.51.100.50/24", "2001:db8::50/64"]);
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(s.next_due(), Some(t1));
        assert_eq!(
            s.due(t1, &g, &h),
            nets(&["198.51.100.50/24", "2001:db8::50/64"])
        );
        assert_eq!(s.next_due(), Some(t1 + Duration::from_secs(60)));
    }

    #[test]
    fn a_reload_that_changes_the_refresh_restarts_its_period() {
        let (t0, old) = (Instant::now(), garp(3, Some(60)));
        let mut s = Schedule::new(t0, &old);
        let t1 = t0 + Duration::from_secs(10);
        s.reconfigured(t1, &old, &garp(3, None));
        assert_eq!(s.next_due(), None);
        s.reconfigured(t1, &garp(3, None), &garp(3, Some(5)));
        assert_eq!(s.next_due(), Some(t1 + Duration::from_secs(5)));
    }

    fn own(ifindex: u32, net: &str) -> Address {
        Address {
            ifindex,
            ifname: None,
            net: net.parse().unwrap(),
            vip: false,
            secondary: false,
        }
    }

    #[test]
    fn arp_cache_tells_other_hosts_on_the_vips_link_only() {
        let vip: Ipv4Addr = "198.51.100.50".parse().unwrap();
        let addresses = [own(2, "198.51.100.11/24"), own(3, "203.0.113.11/24")];
        let shared = [
            // A client on the VIP's link: told.
            wire::Neighbour {
                ip: "198.51.100.7".parse().unwrap(),
                mac: [2, 0, 0, 0, 0, 7],
            },
            // This host's own address, as a peer shared it: not told.
            wire::Neighbour {
                ip: "198.51.100.11".parse().unwrap(),
                mac: [2, 0, 0, 0, 0, 11],
            },
            // Another link: not told.
            wire::Neighbour {
                ip: "203.0.113.7".parse().unwrap(),
                mac: [2, 0, 0, 0, 1, 7],
            },
            // The VIP itself: not told.
            wire::Neighbour {
                ip: vip.into(),
                mac: [2, 0, 0, 0, 0, 50],
            },
        ];
        let got = notify_targets(&[NotifyTarget::ArpCache], vip, &[], &shared, &addresses, 2);
        assert_eq!(
            got,
            vec![("198.51.100.7".parse().unwrap(), [2, 0, 0, 0, 0, 7])]
        );
    }

    #[test]
    fn a_notify_network_tells_local_neighbours_inside_it_on_the_vips_link() {
        let vip: Ipv4Addr = "198.51.100.50".parse().unwrap();
        let target = NotifyTarget::Network {
            net: "198.51.100.0/25".parse().unwrap(),
            interface: None,
        };
        let n = |ip: &str, ifindex| Neighbour {
            ip: ip.parse().unwrap(),
            mac: [2, 0, 0, 0, 0, ifindex as u8],
            ifindex,
        };
        let local = [
            n("198.51.100.7", 2),
            n("198.51.100.200", 2),
            n("198.51.100.8", 3),
        ];
        let got = notify_targets(&[target], vip, &local, &[], &[], 2);
        assert_eq!(
            got,
            vec![("198.51.100.7".parse().unwrap(), [2, 0, 0, 0, 0, 2])]
        );
    }
}
