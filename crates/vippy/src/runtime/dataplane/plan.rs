//! What the data plane should change, decided from a [`Kernel`] snapshot
//! without touching the kernel: where a VIP goes, which held VIPs are
//! missing, which configured ones are strays, what a removal deletes. The
//! executor in `mod.rs` turns the answers into netlink requests; keeping
//! the decisions here lets table tests cover them without root.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use vippy_core::config::Cluster;

use super::kernel::Kernel;
use crate::net::{Address, VipInterface, vip_interface};

/// The addresses that should be on this host, with their group (`None`:
/// not tied to one, such as a restore after a reload).
pub(super) type Desired = BTreeMap<IpAddr, (IpNet, Option<usize>)>;

/// Groups' addresses, as orders carry them.
pub(super) type Items = [(Option<usize>, Vec<IpNet>)];

/// Every address of every configured group: the only addresses the data
/// plane ever removes.
pub(crate) fn configured(cluster: &Cluster) -> BTreeSet<IpAddr> {
    cluster.groups.iter().flat_map(|g| g.addresses()).collect()
}

/// How many of `items`, from the front, make one chunk of plumbs: whole
/// groups, at least one, until they hold `size` addresses.
pub(super) fn chunk_end(items: &Items, size: usize) -> usize {
    let mut addresses = 0;
    for (i, (_, ips)) in items.iter().enumerate() {
        addresses += ips.len();
        if addresses >= size {
            return i + 1;
        }
    }
    items.len()
}

/// The interface (index, name) for a VIP: the configured one, else the one
/// whose connected subnet contains it; or why there is none.
pub(super) fn interface_for(
    interfaces: &BTreeMap<IpAddr, String>,
    ip: &IpNet,
    kernel: &Kernel,
) -> Result<(u32, String), String> {
    let configured = interfaces.get(&ip.addr());
    let home = vip_interface(configured, ip.addr(), &kernel.own, &kernel.links);
    if let Some(VipInterface {
        index: Some(index),
        name,
    }) = home
    {
        return Ok((index, name));
    }
    match configured {
        Some(name) => Err(format!("interface {name} does not exist")),
        None => Err(format!(
            "no interface has a connected subnet containing {}; set \"interface\" for it",
            ip.addr()
        )),
    }
}

/// What reconciling one snapshot with the desired state must do.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Repair {
    /// Held VIPs not on their interface with their prefix, by group.
    pub missing: BTreeMap<Option<usize>, Vec<IpNet>>,
    /// Exactly the addresses to delete: configured VIPs not held here,
    /// addresses tagged as vippy's that no group has any more, and held
    /// ones with another prefix length or on another interface than
    /// configured now (a reload moved them). Nothing else with the IP.
    pub strays: Vec<Address>,
}

/// Compares a snapshot with the desired state; never names an address
/// that is neither a configured VIP nor tagged as vippy's.
pub(super) fn repair(
    desired: &Desired,
    configured: &BTreeSet<IpAddr>,
    interfaces: &BTreeMap<IpAddr, String>,
    kernel: &Kernel,
) -> Repair {
    // Where each held VIP belongs now (`None`: cannot tell, anywhere will do).
    let homes: BTreeMap<IpAddr, Option<u32>> = desired
        .values()
        .map(|(net, _)| {
            let home = interface_for(interfaces, net, kernel).ok();
            (net.addr(), home.map(|(ifindex, _)| ifindex))
        })
        .collect();
    let in_place = |a: &Address, net: &IpNet| {
        a.net == *net && homes[&net.addr()].is_none_or(|home| home == a.ifindex)
    };
    let mut missing: BTreeMap<Option<usize>, Vec<IpNet>> = BTreeMap::new();
    for (net, group) in desired.values() {
        if !kernel.with_ip(net.addr()).any(|a| in_place(a, net)) {
            missing.entry(*group).or_default().push(*net);
        }
    }
    let strays = kernel
        .addresses
        .iter()
        .filter(|a| match desired.get(&a.net.addr()) {
            // Tagged as vippy's but wanted by no group: left by a crash
            // before a reload removed its group.
            None => configured.contains(&a.net.addr()) || a.vip,
            Some((net, _)) => !in_place(a, net),
        })
        .cloned()
        .collect();
    Repair { missing, strays }
}

/// What removing groups' addresses deletes: every address with one of
/// their IPs, whatever its prefix length or interface.
pub(super) fn removals(items: &Items, kernel: &Kernel) -> Vec<(Option<usize>, Address)> {
    let mut present = Vec::new();
    for (group, ips) in items {
        for ip in ips {
            present.extend(kernel.with_ip(ip.addr()).map(|a| (*group, a.clone())));
        }
    }
    present
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Link;

    #[test]
    fn a_chunk_is_whole_groups_up_to_its_size() {
        let group = |n: usize| (Some(n), vec!["2001:db8::1/64".parse().unwrap(); n]);
        assert_eq!(chunk_end(&[group(1), group(1), group(1)], 2), 2);
        assert_eq!(
            chunk_end(&[group(3), group(1)], 2),
            1,
            "a group is not split"
        );
        assert_eq!(
            chunk_end(&[group(1), group(1)], 32),
            2,
            "the rest is one chunk"
        );
        assert_eq!(chunk_end(&[], 32), 0);
    }

    fn link(index: u32, name: &str) -> Link {
        Link {
            index,
            name: name.into(),
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            up: true,
            running: true,
            multicast: true,
            loopback: false,
        }
    }

    fn address(ifindex: u32, net: &str, vip: bool) -> Address {
        Address {
            ifindex,
            ifname: None,
            net: net.parse().unwrap(),
            vip,
            secondary: false,
        }
    }

    /// eth0 (2) on 198.51.100.0/24 and eth1 (3) on 203.0.113.0/24, plus `vips`.
    fn kernel(vips: &[(u32, &str)]) -> Kernel {
        let mut addresses = vec![
            address(2, "198.51.100.11/24", false),
            address(3, "203.0.113.11/24", false),
        ];
        addresses.extend(vips.iter().map(|(i, net)| address(*i, net, true)));
        Kernel::new(addresses, vec![link(2, "eth0"), link(3, "eth1")])
    }

    fn desired(vips: &[(&str, usize)]) -> Desired {
        vips.iter()
            .map(|(net, g)| {
                let net: IpNet = net.parse().unwrap();
                (net.addr(), (net, Some(*g)))
            })
            .collect()
    }

    fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn a_vip_goes_on_the_interface_whose_subnet_holds_it_unless_configured() {
        let k = kernel(&[]);
        let none = BTreeMap::new();
        assert_eq!(
            interface_for(&none, &net("203.0.113.50/24"), &k),
            Ok((3, "eth1".into()))
        );
        let eth0: BTreeMap<IpAddr, String> =
            [("203.0.113.50".parse().unwrap(), "eth0".into())].into();
        assert_eq!(
            interface_for(&eth0, &net("203.0.113.50/24"), &k),
            Ok((2, "eth0".into()))
        );
    }

    #[test]
    fn no_interface_is_an_error_that_says_what_to_set() {
        let k = kernel(&[]);
        let err = interface_for(&BTreeMap::new(), &net("2001:db8::5/64"), &k).unwrap_err();
        assert!(
            err.contains("no interface has a connected subnet containing 2001:db8::5"),
            "{err}"
        );
        assert!(err.contains("set \"interface\""), "{err}");
        let eth9: BTreeMap<IpAddr, String> =
            [("2001:db8::5".parse().unwrap(), "eth9".into())].into();
        let err = interface_for(&eth9, &net("2001:db8::5/64"), &k).unwrap_err();
        assert_eq!(err, "interface eth9 does not exist");
    }

    #[test]
    fn a_held_vip_in_place_needs_nothing() {
        let k = kernel(&[(2, "198.51.100.50/24")]);
        let d = desired(&[("198.51.100.50/24", 0)]);
        let configured = ips(&["198.51.100.50", "198.51.100.51"]);
        assert_eq!(
            repair(&d, &configured, &BTreeMap::new(), &k),
            Repair::default()
        );
    }

    #[test]
    fn a_held_vip_removed_by_hand_is_missing_in_its_group() {
        let k = kernel(&[]);
        let d = desired(&[("198.51.100.50/24", 4)]);
        let r = repair(&d, &ips(&["198.51.100.50"]), &BTreeMap::new(), &k);
        assert_eq!(r.missing, [(Some(4), vec![net("198.51.100.50/24")])].into());
        assert!(r.strays.is_empty());
    }

    #[test]
    fn a_configured_vip_not_held_is_a_stray_and_nothing_else_is() {
        // .50 is configured and left by a crash; .60 was added by hand and
        // is no VIP of this cluster; the host's own addresses stay too.
        let mut addresses = kernel(&[(2, "198.51.100.50/24")]).addresses;
        addresses.push(address(2, "198.51.100.60/24", false));
        let k = Kernel::new(addresses, vec![link(2, "eth0"), link(3, "eth1")]);
        let r = repair(
            &Desired::new(),
            &ips(&["198.51.100.50"]),
            &BTreeMap::new(),
            &k,
        );
        assert!(r.missing.is_empty());
        assert_eq!(r.strays, vec![address(2, "198.51.100.50/24", true)]);
    }

    #[test]
    fn a_tagged_address_of_a_removed_group_is_a_stray() {
        // .70 carries vippy's tag but no group has it any more: a crash
        // left it, and a reload removed its group meanwhile.
        let k = kernel(&[(2, "198.51.100.70/24")]);
        let r = repair(
            &Desired::new(),
            &ips(&["198.51.100.50"]),
            &BTreeMap::new(),
            &k,
        );
        assert_eq!(r.strays, vec![address(2, "198.51.100.70/24", true)]);
    }

    #[test]
    fn a_held_vip_with_another_prefix_goes_and_comes_back_right() {
        let k = kernel(&[(2, "198.51.100.50/32")]);
        let d = desired(&[("198.51.100.50/24", 1)]);
        let r = repair(&d, &ips(&["198.51.100.50"]), &BTreeMap::new(), &k);
        assert_eq!(r.strays, vec![address(2, "198.51.100.50/32", true)]);
        assert_eq!(r.missing, [(Some(1), vec![net("198.51.100.50/24")])].into());
    }

    #[test]
    fn a_held_vip_moved_to_another_interface_by_reload_moves() {
        let k = kernel(&[(2, "198.51.100.50/24")]);
        let d = desired(&[("198.51.100.50/24", 0)]);
        let eth1: BTreeMap<IpAddr, String> =
            [("198.51.100.50".parse().unwrap(), "eth1".into())].into();
        let r = repair(&d, &ips(&["198.51.100.50"]), &eth1, &k);
        assert_eq!(r.strays, vec![address(2, "198.51.100.50/24", true)]);
        assert_eq!(r.missing, [(Some(0), vec![net("198.51.100.50/24")])].into());
    }

    #[test]
    fn a_held_vip_whose_interface_is_unknown_is_fine_anywhere() {
        // eth9 does not exist here: the copy on eth0 is kept, not churned.
        let k = kernel(&[(2, "198.51.100.50/24")]);
        let d = desired(&[("198.51.100.50/24", 0)]);
        let eth9: BTreeMap<IpAddr, String> =
            [("198.51.100.50".parse().unwrap(), "eth9".into())].into();
        assert_eq!(
            repair(&d, &ips(&["198.51.100.50"]), &eth9, &k),
            Repair::default()
        );
    }

    #[test]
    fn a_removal_deletes_the_ip_whatever_its_prefix_or_interface() {
        let k = kernel(&[
            (2, "198.51.100.50/24"),
            (3, "198.51.100.50/32"),
            (2, "198.51.100.51/24"),
        ]);
        let gone = removals(&[(Some(0), vec![net("198.51.100.50/24")])], &k);
        assert_eq!(
            gone,
            vec![
                (Some(0), address(2, "198.51.100.50/24", true)),
                (Some(0), address(3, "198.51.100.50/32", true)),
            ]
        );
    }
}
