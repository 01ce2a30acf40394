//! One snapshot of the kernel's links and addresses (one dump of each),
//! kept up to date with what a batch adds and removes, so a batch of
//! thousands of orders reads the kernel once.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::net::{Address, Link};

pub(super) struct Kernel {
    pub addresses: Vec<Address>,
    /// The addresses that are not VIPs: the connected subnets.
    pub own: Vec<Address>,
    pub links: Vec<Link>,
    /// Positions in `addresses` by IP.
    by_ip: BTreeMap<IpAddr, Vec<usize>>,
}

impl Kernel {
    pub fn new(addresses: Vec<Address>, links: Vec<Link>) -> Kernel {
        let own = addresses.iter().filter(|a| !a.vip).cloned().collect();
        let mut kernel = Kernel {
            addresses,
            own,
            links,
            by_ip: BTreeMap::new(),
        };
        kernel.index();
        kernel
    }

    fn index(&mut self) {
        self.by_ip.clear();
        for (i, a) in self.addresses.iter().enumerate() {
            self.by_ip.entry(a.net.addr()).or_default().push(i);
        }
    }

    /// Every address with this IP, whatever its prefix or interface.
    pub fn with_ip(&self, ip: IpAddr) -> impl Iterator<Item = &Address> {
        self.by_ip
            .get(&ip)
            .into_iter()
            .flatten()
            .map(|i| &self.addresses[*i])
    }

    /// A VIP the data plane just added.
    pub fn added(&mut self, ifindex: u32, ifname: &str, net: IpNet) {
        if self
            .with_ip(net.addr())
            .any(|a| a.ifindex == ifindex && a.net == net)
        {
            return;
        }
        self.by_ip
            .entry(net.addr())
            .or_default()
            .push(self.addresses.len());
        self.addresses.push(Address {
            ifindex,
            ifname: Some(ifname.to_string()),
            net,
            vip: true,
            secondary: false,
        });
    }

    /// Addresses the data plane just removed.
    pub fn removed(&mut self, gone: &[Address]) {
        if gone.is_empty() {
            return;
        }
        let gone: BTreeSet<(u32, IpNet)> = gone.iter().map(|a| (a.ifindex, a.net)).collect();
        self.addresses
            .retain(|a| !gone.contains(&(a.ifindex, a.net)));
        self.index();
    }
}
