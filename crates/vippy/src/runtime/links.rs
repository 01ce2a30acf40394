//! Per-group eligibility from this host's own network (docs/ARCHITECTURE.md,
//! "Link tracking and plumb failures"): the groups this node cannot serve
//! because an interface one of their VIPs uses is missing, down or without
//! carrier (source `link`, reason `link:<ifname>`), or because their VIPs
//! could not be plumbed (source `plumb`, reason `plumb-failed:<error>`).
//!
//! A task of its own, woken by the kernel's link and address notifications
//! ([`NetEvents`]), by the core loop (config changes, plumb results) and by
//! its own timers (the grace and `mature` of [`LinkTiming`], the back-off
//! of [`PlumbFailures`]). It sends the core loop one [`CannotServe`] per
//! source whenever that source's groups change; the loop hands it to the
//! core as `LocalEvent::CannotServe`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use ipnet::IpNet;
use tokio::sync::mpsc;
use tracing::{info, warn};
use vippy_core::config::{Cluster, Config};

use super::dataplane::configured;
use super::link_timing::{LinkTiming, Trouble};
use super::plumb_failures::PlumbFailures;
use crate::net::{Address, Link, NetEvents, vip_interface};

pub const SOURCE_LINK: &str = "link";
pub const SOURCE_PLUMB: &str = "plumb";

/// What the core loop tells the link watch.
#[derive(Debug)]
pub enum LinkInput {
    /// The configuration or the cluster config in force changed.
    Configure {
        config: Arc<Config>,
        cluster: Arc<Cluster>,
    },
    /// The data plane could not plumb a held VIP (`Report::PlumbFailed`).
    PlumbFailed { ip: IpNet, error: String },
    /// Addresses are on (`Report::Plumbed`).
    Plumbed { ips: Vec<IpNet> },
}

/// The groups this node cannot serve for `source`'s reasons, by index in
/// `cluster`: the loop drops it when another cluster config is in force by
/// then (a fresh one follows the `Configure`).
#[derive(Debug)]
pub struct CannotServe {
    pub source: &'static str,
    pub groups: BTreeMap<usize, String>,
    pub cluster: Arc<Cluster>,
}

/// The core loop's side: inputs to the watch, and what it last told it
/// about the config, to tell it again when that changes.
pub struct LinkHandle {
    inputs: mpsc::UnboundedSender<LinkInput>,
    config: Arc<Config>,
    cluster: Arc<Cluster>,
}

impl LinkHandle {
    /// Starts the watch task; its findings come on the receiver.
    pub fn spawn(
        config: Arc<Config>,
        cluster: Arc<Cluster>,
    ) -> (LinkHandle, mpsc::UnboundedReceiver<CannotServe>) {
        let (out, findings) = mpsc::unbounded_channel();
        let (inputs, rx) = mpsc::unbounded_channel();
        let watch = LinkWatch::new(config.clone(), cluster.clone(), out);
        tokio::spawn(watch.run(rx));
        let handle = LinkHandle {
            inputs,
            config,
            cluster,
        };
        (handle, findings)
    }

    /// Tells the watch the config in force when it is not the one it has
    /// (a reload, an adoption): called after every pass of the loop, a
    /// pointer comparison.
    pub fn follow(&mut self, config: &Arc<Config>, cluster: &Arc<Cluster>) {
        if Arc::ptr_eq(config, &self.config) && Arc::ptr_eq(cluster, &self.cluster) {
            return;
        }
        self.config = config.clone();
        self.cluster = cluster.clone();
        self.send(LinkInput::Configure {
            config: config.clone(),
            cluster: cluster.clone(),
        });
    }

    /// Plumb results from the data plane's reports.
    pub fn report(&self, report: &super::dataplane::Report) {
        use super::dataplane::Report;
        match report {
            Report::PlumbFailed { ip, error } => self.send(LinkInput::PlumbFailed {
                ip: *ip,
                error: error.clone(),
            }),
            Report::Plumbed { ips, .. } => self.send(LinkInput::Plumbed { ips: ips.clone() }),
            _ => {}
        }
    }

    fn send(&self, input: LinkInput) {
        // Stopped only with the loop.
        let _ = self.inputs.send(input);
    }
}

impl CannotServe {
    /// For the core, if it was worked out for the cluster config in force.
    pub fn event(self, in_force: &Arc<Cluster>) -> Option<vippy_core::node::LocalEvent> {
        let current = Arc::ptr_eq(&self.cluster, in_force) || *self.cluster == **in_force;
        current.then(|| vippy_core::node::LocalEvent::CannotServe {
            source: self.source.to_string(),
            groups: self.groups,
        })
    }
}

struct LinkWatch {
    events: Option<NetEvents>,
    config: Arc<Config>,
    cluster: Arc<Cluster>,
    links: Vec<Link>,
    /// This host's own addresses, VIPs left out: the connected subnets a
    /// VIP without a configured interface goes on. Kept apart so the
    /// work per notification does not grow with the VIPs plumbed here.
    own: Vec<Address>,
    /// Every configured VIP, to tell them from own addresses on kernels
    /// that keep no tag (before 6.3): their coming and going is this
    /// node's own doing, not the network changing.
    vips: BTreeSet<IpAddr>,
    /// Per group, the interfaces its VIPs use, worked out again only when
    /// the links, the own addresses or the config change (`None`).
    uses: Option<Uses>,
    timing: LinkTiming,
    /// Interface names seen on this host since start: one never seen counts
    /// at once, one that went away waits for the grace.
    seen: BTreeSet<String>,
    /// The interface each VIP used last, for when its connected subnet is
    /// gone with the link (IPv6 addresses go when a link goes down).
    homes: BTreeMap<IpAddr, String>,
    /// What was logged last per interface, to log changes only.
    logged: BTreeMap<String, Option<Trouble>>,
    failures: PlumbFailures,
    /// What was sent last per source.
    sent: BTreeMap<&'static str, BTreeMap<usize, String>>,
    out: mpsc::UnboundedSender<CannotServe>,
}

impl LinkWatch {
    /// Subscribes to the kernel's notifications; without them (an old
    /// kernel, a seccomp filter) link tracking is off and says so.
    fn new(
        config: Arc<Config>,
        cluster: Arc<Cluster>,
        out: mpsc::UnboundedSender<CannotServe>,
    ) -> LinkWatch {
        let events = match NetEvents::subscribe() {
            Ok(events) => Some(events),
            Err(e) => {
                warn!("{e}: interfaces are not tracked, a group whose link is down stays here");
                None
            }
        };
        LinkWatch {
            events,
            timing: LinkTiming::new(config.link_down_grace, config.mature),
            vips: configured(&cluster),
            config,
            cluster,
            links: Vec::new(),
            own: Vec::new(),
            uses: None,
            seen: BTreeSet::new(),
            homes: BTreeMap::new(),
            logged: BTreeMap::new(),
            failures: PlumbFailures::default(),
            sent: BTreeMap::new(),
            out,
        }
    }

    /// Runs until the loop's side of `inputs` closes.
    async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<LinkInput>) {
        self.rescan().await;
        self.update(Instant::now());
        loop {
            let now = Instant::now();
            let wake = [self.timing.next_change(now), self.failures.next_retry()]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                changed = changed(&mut self.events) => {
                    if changed {
                        self.rescan().await;
                    } else {
                        warn!("the kernel's link notifications stopped: interfaces are no longer tracked");
                        self.events = None;
                    }
                }
                input = inputs.recv() => match input {
                    Some(input) => self.input(input),
                    None => return,
                },
                _ = sleep_until(wake) => {}
            }
            self.update(Instant::now());
        }
    }

    fn input(&mut self, input: LinkInput) {
        let now = Instant::now();
        match input {
            LinkInput::Configure { config, cluster } => {
                self.timing
                    .set_timers(config.link_down_grace, config.mature);
                self.vips = configured(&cluster);
                self.config = config;
                self.cluster = cluster;
                self.uses = None;
                // An operator's fix may be in it: plumbing is tried again.
                if self.failures.retry_all() {
                    info!("config changed: VIPs that could not be plumbed are tried again");
                }
                // Indices may have moved: both sources are said again.
                self.sent.clear();
            }
            LinkInput::PlumbFailed { ip, error } => {
                if self.failures.failed(now, ip.addr(), &error) {
                    warn!(ip = %ip, "{ip} could not be plumbed twice in a row ({error}): its group goes to another node; tried again when an interface or address appears, the config changes, or after a back-off");
                }
            }
            LinkInput::Plumbed { ips } => {
                for ip in ips {
                    self.failures.plumbed(ip.addr());
                }
            }
        }
    }

    /// Lists links and addresses afresh after a notification. When the
    /// network grew (an interface appeared, came up or got carrier, an
    /// address that is not a VIP was added), VIPs that could not be plumbed
    /// get another chance.
    async fn rescan(&mut self) {
        let Some(events) = &self.events else {
            return;
        };
        let netlink = events.netlink();
        let (links, addresses) = match (netlink.links().await, netlink.addresses().await) {
            (Ok(links), Ok(addresses)) => (links, addresses),
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!("listing links after a notification: {e}");
                return;
            }
        };
        let own: Vec<Address> = addresses
            .into_iter()
            .filter(|a| !a.vip && !self.vips.contains(&a.net.addr()))
            .collect();
        let grew = links.iter().any(|l| {
            !self
                .links
                .iter()
                .any(|old| old.name == l.name && (old.running || !l.running) && (old.up || !l.up))
        }) || own.iter().any(|a| {
            !self
                .own
                .iter()
                .any(|old| old.net == a.net && old.ifindex == a.ifindex)
        });
        let first = self.links.is_empty();
        if links != self.links || own != self.own {
            self.uses = None;
        }
        self.seen.extend(links.iter().map(|l| l.name.clone()));
        self.links = links;
        self.own = own;
        if grew && !first && self.failures.retry_all() {
            info!("the network changed: VIPs that could not be plumbed are tried again");
        }
    }

    /// Works out both sources' groups and sends those that changed.
    fn update(&mut self, now: Instant) {
        if self.failures.expire(now) {
            info!("VIPs that could not be plumbed are tried again after their back-off");
        }
        let link = self.link_groups(now);
        let plumb = self.plumb_groups();
        for (source, groups) in [(SOURCE_LINK, link), (SOURCE_PLUMB, plumb)] {
            if self.sent.get(source) == Some(&groups) {
                continue;
            }
            self.sent.insert(source, groups.clone());
            let _ = self.out.send(CannotServe {
                source,
                groups,
                cluster: self.cluster.clone(),
            });
        }
    }

    /// The groups with a VIP on an interface that counts as down.
    fn link_groups(&mut self, now: Instant) -> BTreeMap<usize, String> {
        if !self.config.track_interfaces || self.events.is_none() {
            self.timing.retain(&BTreeSet::new());
            self.logged.clear();
            return BTreeMap::new();
        }
        let uses = match self.uses.take() {
            Some(uses) => uses,
            None => self.work_out_uses(),
        };
        for name in &uses.interfaces {
            let trouble = match self.links.iter().find(|l| &l.name == name) {
                None => Some(Trouble::Missing),
                Some(l) if !l.up => Some(Trouble::Down),
                Some(l) if !l.running => Some(Trouble::NoCarrier),
                Some(_) => None,
            };
            let at_once = trouble == Some(Trouble::Missing) && !self.seen.contains(name);
            self.timing.observe(now, name, trouble, at_once);
        }
        self.timing.retain(&uses.interfaces);
        let counted = self.timing.counted(now);
        self.log_changes(&counted);
        let mut groups = BTreeMap::new();
        if !counted.is_empty() {
            for (g, name) in &uses.groups {
                if counted.contains_key(name) {
                    groups.entry(*g).or_insert_with(|| format!("link:{name}"));
                }
            }
        }
        self.uses = Some(uses);
        groups
    }

    /// The interface each group's VIPs use, and where each VIP lives now.
    fn work_out_uses(&mut self) -> Uses {
        let mut homes = BTreeMap::new();
        let mut groups = Vec::new();
        for (g, group) in self.cluster.groups.iter().enumerate() {
            for ip in group.addresses() {
                let configured = self.config.interfaces.get(&ip);
                let home = vip_interface(configured, ip, &self.own, &self.links)
                    .map(|h| h.name)
                    .or_else(|| self.homes.get(&ip).cloned());
                // No interface at all (no connected subnet, none named):
                // not a link matter; the plumb fails and says why.
                if let Some(name) = home {
                    homes.insert(ip, name.clone());
                    groups.push((g, name));
                }
            }
        }
        self.homes = homes;
        let interfaces = groups.iter().map(|(_, name)| name.clone()).collect();
        Uses { groups, interfaces }
    }

    /// The groups with a VIP given up after failed plumbs.
    fn plumb_groups(&self) -> BTreeMap<usize, String> {
        let mut groups = BTreeMap::new();
        for (ip, error) in self.failures.given_up() {
            if let Some(g) = self
                .cluster
                .groups
                .iter()
                .position(|group| group.addresses().any(|a| a == ip))
            {
                groups
                    .entry(g)
                    .or_insert_with(|| format!("plumb-failed:{error}"));
            }
        }
        groups
    }

    fn log_changes(&mut self, counted: &BTreeMap<String, Option<Trouble>>) {
        for (name, trouble) in counted {
            if self.logged.get(name) == Some(trouble) {
                continue;
            }
            match trouble {
                Some(trouble) => {
                    warn!(interface = %name, "interface {name} {trouble}: its groups go to other nodes (link:{name})")
                }
                None => {
                    info!(interface = %name, "interface {name} is up again: its groups may come back once it has been up for {:?} (mature)", self.config.mature)
                }
            }
        }
        for name in self.logged.keys() {
            if !counted.contains_key(name) {
                info!(interface = %name, "interface {name} counts as up: this node can serve its groups again");
            }
        }
        self.logged = counted.clone();
    }
}

/// Which interfaces the groups use.
struct Uses {
    /// A group and an interface one of its VIPs uses.
    groups: Vec<(usize, String)>,
    /// All of those interfaces.
    interfaces: BTreeSet<String>,
}

async fn changed(events: &mut Option<NetEvents>) -> bool {
    match events {
        Some(events) => events.changed().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
