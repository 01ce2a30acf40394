//! The data plane task (docs/ARCHITECTURE.md, "The data plane"): applies the
//! core's desired state to the kernel over rtnetlink, announces acquired VIPs,
//! and reconciles — so a failed call is retried, a VIP removed by hand comes
//! back, and a VIP this node does not hold (left by a crash or kill -9) goes
//! away. It runs apart from the core loop, on a thread and a runtime of its
//! own ([`start`]), so a slow netlink call never delays a heartbeat and a
//! busy core loop never starves it.

mod announcements;
mod kernel;
mod plan;

pub(super) use plan::configured;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use vippy_core::config::{Cluster, Config, NotifyTarget};
use vippy_core::wire;

use announcements::{Schedule, notify_targets};
use kernel::Kernel;
use plan::{Desired, Items};

use crate::net::frames::ClaimKind;
use crate::net::{
    Address, Announcer, GarpForm, Link, Mac, NetError, Netlink, PROBE_WAIT, Pacer, probe_conflicts,
    promote_secondaries,
};

/// What the core loop asks of the data plane.
#[derive(Debug)]
pub enum Order {
    Plumb {
        group: usize,
        ips: Vec<IpNet>,
    },
    Unplumb {
        group: Option<usize>,
        ips: Vec<IpNet>,
    },
    /// Announce the group; `cluster_neighbours` serves the `"arp-cache"` notify token.
    Announce {
        group: usize,
        ips: Vec<IpNet>,
        cluster_neighbours: Vec<wire::Neighbour>,
    },
    /// The configuration or the cluster config in force changed.
    Configure {
        config: Arc<Config>,
        cluster: Arc<Cluster>,
    },
    /// Answer once every earlier removal is applied (plumbs and
    /// announcements queued with it may follow): after a release the core
    /// loop holds its transmits until then, and waits for it at shutdown.
    Flush(oneshot::Sender<()>),
}

/// What the data plane tells the core loop.
#[derive(Debug)]
pub enum Report {
    /// Addresses are now on this host (the original's network `up`).
    Plumbed {
        group: Option<usize>,
        ips: Vec<IpNet>,
        interface: String,
        restored: bool,
    },
    /// Addresses are gone from this host (network `down`).
    Unplumbed {
        group: Option<usize>,
        ips: Vec<IpNet>,
        interface: String,
        leftover: bool,
    },
    PlumbFailed {
        ip: IpNet,
        error: String,
    },
    UnplumbFailed {
        ip: IpNet,
        error: String,
    },
    Announced {
        garp: u64,
        na: u64,
        arp_replies: u64,
    },
    /// This host's neighbour table, to share with the cluster.
    Neighbours(Vec<wire::Neighbour>),
    /// This host's interfaces changed (one appeared, went, came up or down):
    /// the chat follows them.
    Links(Vec<Link>),
    /// A MAC that is not this host's claimed a VIP held here (a probe
    /// round's finding; the core loop tells peers' MACs from foreign ones).
    Conflict {
        ip: IpAddr,
        interface: String,
        mac: Mac,
        how: ClaimKind,
    },
}

/// How often the kernel is compared with the desired state.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// The most commands applied on one dump of the kernel.
const BATCH_MAX: usize = 16_384;
/// How much nicer than the core loop the data plane's thread runs
/// without `realtime`: about a third of its weight (CFS: 1024 against 335).
const DATA_PLANE_NICE: i32 = 5;
/// Addresses plumbed before their announcements go out, in a batch of
/// plumbs: small enough that the first VIPs answer soon, large enough
/// that the kernel still gets requests in flight together.
const PLUMB_CHUNK: usize = 32;
/// Netlink requests in flight at once: the kernel answers them in order,
/// so the data plane waits for one round trip per batch, not per address.
const IN_FLIGHT: usize = 256;

pub struct DataPlane {
    netlink: Netlink,
    config: Arc<Config>,
    cluster: Arc<Cluster>,
    /// Addresses that should be here, with their group.
    desired: Desired,
    announcers: HashMap<u32, Announcer>,
    promoted: BTreeSet<String>,
    /// Announcement repeats and refreshes still due.
    schedule: Schedule,
    reports: mpsc::UnboundedSender<Report>,
    next_reconcile: Instant,
    next_neighbour_scan: Instant,
    /// The interfaces as last reported: index, name, up, multicast.
    links_seen: Vec<(u32, String, bool, bool)>,
    /// Held VIPs whose first plumb failed: when reconcile gets them on,
    /// that is their `up` (hooks run), not a restore.
    never_up: BTreeSet<IpAddr>,
    /// A removal failed since the last flush: retry before answering it.
    removal_failed: bool,
    /// The latest conflict probe round per interface, so a slow one is not
    /// overlapped by the next periodic round.
    probing: HashMap<u32, tokio::task::JoinHandle<()>>,
}

/// The data plane's thread, "vippy-dataplane": a current-thread runtime
/// with its own netlink connection, so neither side's work waits on the
/// other's turn on one thread (a core loop deciding over thousands of
/// groups kept the data plane, and every netlink round trip of it, waiting
/// for seconds). Returns once the leftovers are removed, before this node
/// says anything to its peers; the thread ends when `commands` closes.
pub async fn start(
    config: Arc<Config>,
    cluster: Arc<Cluster>,
    reports: mpsc::UnboundedSender<Report>,
    commands: mpsc::UnboundedReceiver<Order>,
    alive: crate::systemd::Beat,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let (ready_tx, ready) = oneshot::channel::<Result<(), String>>();
    let thread = std::thread::Builder::new()
        .name("vippy-dataplane".into())
        .spawn(move || {
            match config.realtime {
                Some(priority) => {
                    let priority = crate::realtime::data_plane_priority(priority);
                    if let Err(e) = crate::realtime::join(priority) {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                }
                // When the CPU is short, the core loop's heartbeats go
                // first: a takeover of thousands of VIPs (the kernel's
                // work for each address and frame is counted to this
                // thread) must not make the node look dead to its peers.
                None => crate::realtime::yield_to_loop(DATA_PLANE_NICE),
            }
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("starting its runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let netlink = match Netlink::new() {
                    Ok(netlink) => netlink,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("opening rtnetlink: {e}")));
                        return;
                    }
                };
                let mut dataplane = DataPlane::new(netlink, config, cluster, reports);
                dataplane.remove_leftovers().await;
                let _ = ready_tx.send(Ok(()));
                dataplane.run(commands, alive).await;
            });
        })?;
    match ready.await {
        Ok(Ok(())) => Ok(thread),
        Ok(Err(e)) => anyhow::bail!("data plane: {e}"),
        Err(_) => anyhow::bail!("data plane: its thread ended before it started"),
    }
}

impl DataPlane {
    pub fn new(
        netlink: Netlink,
        config: Arc<Config>,
        cluster: Arc<Cluster>,
        reports: mpsc::UnboundedSender<Report>,
    ) -> DataPlane {
        let now = Instant::now();
        DataPlane {
            netlink,
            schedule: Schedule::new(now, &config.garp),
            config,
            cluster,
            desired: BTreeMap::new(),
            announcers: HashMap::new(),
            promoted: BTreeSet::new(),
            reports,
            next_reconcile: now,
            next_neighbour_scan: now,
            links_seen: Vec::new(),
            never_up: BTreeSet::new(),
            removal_failed: false,
            probing: HashMap::new(),
        }
    }

    /// Removes configured VIPs this node does not hold, and tagged
    /// addresses no group has: at start it holds none, so anything left by
    /// a crash or kill -9 goes before this node says anything to its peers.
    pub async fn remove_leftovers(&mut self) {
        self.reconcile().await;
    }

    /// Applies commands until the channel closes, beating `alive` on
    /// every pass (the systemd watchdog's proof of progress).
    pub async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Order>,
        alive: crate::systemd::Beat,
    ) {
        loop {
            alive.beat();
            let mut wake = self.next_reconcile.min(self.next_neighbour_scan);
            if let Some(at) = self.schedule.next_due() {
                wake = wake.min(at);
            }
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => {
                        // Whatever else is queued goes in the same batch:
                        // one decision can plumb thousands of groups.
                        let mut batch = vec![command];
                        while batch.len() < BATCH_MAX {
                            match commands.try_recv() {
                                Ok(command) => batch.push(command),
                                Err(_) => break,
                            }
                        }
                        self.apply_batch(batch).await;
                    }
                    None => return,
                },
                _ = tokio::time::sleep_until(wake) => self.timers().await,
            }
        }
    }

    /// Tells the core loop; if it has stopped, there is nobody to tell.
    fn report(&mut self, report: Report) {
        self.removal_failed |= matches!(report, Report::UnplumbFailed { .. });
        let _ = self.reports.send(report);
    }

    /// What is due: announcements, reconcile (and following the links),
    /// the neighbour scan and its conflict probe, all on one snapshot of
    /// the kernel.
    async fn timers(&mut self) {
        let now = Instant::now();
        let due = self.schedule.due(now, &self.config.garp, &self.desired);
        let reconcile = self.next_reconcile <= now;
        let scan = self.next_neighbour_scan <= now;
        if due.is_empty() && !reconcile && !scan {
            return;
        }
        let mut kernel = self.kernel().await;
        if !due.is_empty()
            && let Ok(kernel) = &mut kernel
        {
            self.announce_once(&due, &[], kernel).await;
        }
        if reconcile {
            if let Ok(kernel) = &mut kernel {
                self.follow_links(&kernel.links);
                self.repair(kernel).await;
            }
            self.next_reconcile = now + RECONCILE_EVERY.min(self.config.interval * 2);
        }
        if scan {
            self.next_neighbour_scan = now + self.config.arp_cache;
            if let Ok(list) = self.netlink.neighbours().await {
                let mut shared: Vec<wire::Neighbour> = list
                    .into_iter()
                    .map(|n| wire::Neighbour {
                        ip: n.ip,
                        mac: n.mac,
                    })
                    .collect();
                if let Ok(kernel) = &kernel {
                    shared.extend(self.own_entries(&kernel.own, &kernel.links));
                }
                self.report(Report::Neighbours(shared));
            }
            // Every arp-cache, held VIPs are probed for hosts answering
            // for them besides this one.
            if let Ok(kernel) = &kernel {
                let held: Vec<IpNet> = self.desired.values().map(|(net, _)| *net).collect();
                self.probe(&held, kernel, true);
            }
        }
    }

    /// Applies a batch of commands on one dump of the kernel's addresses
    /// and links (kept up to date with what the batch changes). Removals
    /// go first and the batch's flushes are answered right after them, so
    /// a release held back in the core loop (`release_barrier.rs`) waits
    /// for one round of deletes, not for the plumbs and announcements
    /// queued with it; then the plumbs, a chunk at a time, each followed by
    /// its groups' announcements; then the other announcements. That order
    /// has the same end state as applying the commands one by one: the
    /// desired set follows them in order, and only an address the batch
    /// leaves unwanted is removed, only one it leaves wanted is plumbed or
    /// announced. A batch that changes the configuration is applied in
    /// order instead.
    async fn apply_batch(&mut self, batch: Vec<Order>) {
        if batch.iter().any(|c| matches!(c, Order::Configure { .. })) {
            return self.apply_in_order(batch).await;
        }
        let mut plumbs: Vec<(Option<usize>, Vec<IpNet>)> = Vec::new();
        let mut removals: Vec<(Option<usize>, Vec<IpNet>)> = Vec::new();
        let mut announces = Vec::new();
        let mut flushes = Vec::new();
        for command in batch {
            match command {
                Order::Plumb { group, ips } => {
                    for ip in &ips {
                        self.desired.insert(ip.addr(), (*ip, Some(group)));
                    }
                    plumbs.push((Some(group), ips));
                }
                Order::Unplumb { group, ips } => {
                    for ip in &ips {
                        self.desired.remove(&ip.addr());
                        self.never_up.remove(&ip.addr());
                    }
                    removals.push((group, ips));
                }
                announce @ Order::Announce { .. } => announces.push(announce),
                Order::Flush(done) => flushes.push(done),
                Order::Configure { .. } => unreachable!("applied in order above"),
            }
        }
        let wanted = |desired: &Desired, ip: &IpNet| {
            desired.get(&ip.addr()).is_some_and(|(net, _)| net == ip)
        };
        let changed = !plumbs.is_empty() || !removals.is_empty();
        for (_, ips) in &mut removals {
            ips.retain(|ip| !self.desired.contains_key(&ip.addr()));
        }
        removals.retain(|(_, ips)| !ips.is_empty());
        let mut kernel: Option<Result<Kernel, NetError>> = None;
        if !removals.is_empty() {
            match self.cached(&mut kernel).await {
                Ok(k) => self.unplumb(&removals, k).await,
                Err(e) => self.unplumb_failed(&removals, &e.to_string()),
            }
        }
        if !flushes.is_empty() {
            // The release is announced once this answers: a removal that
            // failed gets another try first (peers take the VIP at once).
            if std::mem::take(&mut self.removal_failed) {
                self.reconcile().await;
                kernel = None; // reconcile changed the kernel
            }
            for done in flushes {
                let _ = done.send(());
            }
        }
        for (_, ips) in &mut plumbs {
            ips.retain(|ip| wanted(&self.desired, ip));
        }
        plumbs.retain(|(_, ips)| !ips.is_empty());
        let mut announces: Vec<Order> = announces
            .into_iter()
            .filter_map(|command| match command {
                Order::Announce {
                    group,
                    mut ips,
                    cluster_neighbours,
                } => {
                    ips.retain(|ip| wanted(&self.desired, ip));
                    (!ips.is_empty()).then_some(Order::Announce {
                        group,
                        ips,
                        cluster_neighbours,
                    })
                }
                _ => None,
            })
            .collect();
        if !plumbs.is_empty() {
            if let Ok(k) = self.cached(&mut kernel).await {
                let all: Vec<IpNet> = plumbs.iter().flat_map(|(_, ips)| ips.clone()).collect();
                self.probe(&all, k, false);
            }
            // A chunk at a time, each announced as soon as it is on: the
            // first VIPs of a node's takeover answer after one chunk's
            // plumbs, not after the whole batch's (hundreds of IPv6
            // addresses take the kernel about 100 ms).
            while !plumbs.is_empty() {
                let rest = plumbs.split_off(plan::chunk_end(&plumbs, PLUMB_CHUNK));
                let chunk = std::mem::replace(&mut plumbs, rest);
                let groups: BTreeSet<usize> = chunk.iter().filter_map(|(g, _)| *g).collect();
                match self.cached(&mut kernel).await {
                    Ok(k) => self.add(chunk, k, false).await,
                    Err(e) => self.plumb_failed(&chunk, &e.to_string()),
                }
                let (now, later) = announces.into_iter().partition(
                    |order| matches!(order, Order::Announce { group, .. } if groups.contains(group)),
                );
                announces = later;
                if !now.is_empty() {
                    self.announce_batch(now, &mut kernel).await;
                }
            }
        }
        if !announces.is_empty() {
            self.announce_batch(announces, &mut kernel).await;
        }
        if changed {
            self.next_reconcile = Instant::now();
        }
    }

    /// Applies a batch of commands in order, on one dump of the kernel's
    /// addresses and links (kept up to date with what the batch changes),
    /// with the netlink requests of consecutive plumbs or removals in
    /// flight together. A batch that plumbed or removed is checked against
    /// a fresh dump by the reconcile that follows it.
    async fn apply_in_order(&mut self, batch: Vec<Order>) {
        let mut kernel: Option<Result<Kernel, NetError>> = None;
        let mut changed = false;
        let mut commands = batch.into_iter().peekable();
        while let Some(command) = commands.next() {
            match command {
                Order::Plumb { group, ips } => {
                    // The core queues plumb, announce, plumb, announce…:
                    // the run's plumbs go first, all in flight together,
                    // then its announcements in one round (each still after
                    // its own plumb).
                    let mut items = vec![(Some(group), ips)];
                    let mut announces = Vec::new();
                    while let Some(Order::Plumb { .. } | Order::Announce { .. }) = commands.peek() {
                        match commands.next() {
                            Some(Order::Plumb { group, ips }) => items.push((Some(group), ips)),
                            Some(announce) => announces.push(announce),
                            None => break,
                        }
                    }
                    for (group, ips) in &items {
                        for ip in ips {
                            self.desired.insert(ip.addr(), (*ip, *group));
                        }
                    }
                    changed = true;
                    match self.cached(&mut kernel).await {
                        Ok(k) => self.plumb(items, k, false).await,
                        Err(e) => self.plumb_failed(&items, &e.to_string()),
                    }
                    if !announces.is_empty() {
                        self.announce_batch(announces, &mut kernel).await;
                    }
                }
                Order::Unplumb { group, ips } => {
                    let mut items = vec![(group, ips)];
                    while let Some(Order::Unplumb { .. }) = commands.peek() {
                        if let Some(Order::Unplumb { group, ips }) = commands.next() {
                            items.push((group, ips));
                        }
                    }
                    for (_, ips) in &items {
                        for ip in ips {
                            self.desired.remove(&ip.addr());
                            self.never_up.remove(&ip.addr());
                        }
                    }
                    changed = true;
                    match self.cached(&mut kernel).await {
                        Ok(k) => self.unplumb(&items, k).await,
                        Err(e) => self.unplumb_failed(&items, &e.to_string()),
                    }
                }
                announce @ Order::Announce { .. } => {
                    let mut announces = vec![announce];
                    while let Some(Order::Announce { .. }) = commands.peek() {
                        announces.extend(commands.next());
                    }
                    self.announce_batch(announces, &mut kernel).await;
                }
                Order::Configure { config, cluster } => {
                    self.schedule
                        .reconfigured(Instant::now(), &self.config.garp, &config.garp);
                    self.config = config;
                    self.cluster = cluster;
                    self.announcers.clear(); // the pacer rate may have changed
                }
                Order::Flush(done) => {
                    // The release is announced once this answers: a removal
                    // that failed gets another try first (peers take the VIP
                    // at once).
                    if std::mem::take(&mut self.removal_failed) {
                        self.reconcile().await;
                        kernel = None; // reconcile changed the kernel
                    }
                    let _ = done.send(());
                }
            }
        }
        if changed {
            self.next_reconcile = Instant::now();
        }
    }

    /// Announces a run of `Order::Announce` in one round, and queues
    /// their repeats.
    async fn announce_batch(
        &mut self,
        announces: Vec<Order>,
        kernel: &mut Option<Result<Kernel, NetError>>,
    ) {
        let mut all = Vec::new();
        let mut groups = Vec::new();
        let mut neighbours = Vec::new();
        for command in announces {
            if let Order::Announce {
                group,
                ips,
                cluster_neighbours,
            } = command
            {
                all.extend_from_slice(&ips);
                groups.push((group, ips));
                // One drain's announcements carry the same list.
                neighbours = cluster_neighbours;
            }
        }
        if let Ok(k) = self.cached(kernel).await {
            self.announce_once(&all, &neighbours, k).await;
        }
        self.schedule
            .announced(Instant::now(), &self.config.garp, groups);
    }

    /// The batch's dump, made on first use.
    async fn cached<'k>(
        &self,
        kernel: &'k mut Option<Result<Kernel, NetError>>,
    ) -> Result<&'k mut Kernel, &'k NetError> {
        if kernel.is_none() {
            *kernel = Some(self.kernel().await);
        }
        match kernel.as_mut().expect("set above") {
            Ok(k) => Ok(k),
            Err(e) => Err(e),
        }
    }

    fn unplumb_failed(&mut self, items: &Items, error: &str) {
        for ip in items.iter().flat_map(|(_, ips)| ips) {
            self.report(Report::UnplumbFailed {
                ip: *ip,
                error: error.to_string(),
            });
        }
    }

    fn plumb_failed(&mut self, items: &Items, error: &str) {
        for ip in items.iter().flat_map(|(_, ips)| ips) {
            self.report(Report::PlumbFailed {
                ip: *ip,
                error: error.to_string(),
            });
        }
    }

    fn interface_for(&self, ip: &IpNet, kernel: &Kernel) -> Option<(u32, String)> {
        plan::interface_for(&self.config.interfaces, ip, kernel).ok()
    }

    /// One dump of the links and one of the addresses.
    async fn kernel(&self) -> Result<Kernel, NetError> {
        let links = self.netlink.links().await?;
        let addresses = self.netlink.addresses_on(&links).await?;
        Ok(Kernel::new(addresses, links))
    }

    /// Plumbs groups' addresses, every request in flight at once, and
    /// reports what went on, per group and interface.
    async fn plumb(
        &mut self,
        items: Vec<(Option<usize>, Vec<IpNet>)>,
        kernel: &mut Kernel,
        restored: bool,
    ) {
        if !restored {
            // Acquired: probed alongside the plumbing, not before it.
            let all: Vec<IpNet> = items.iter().flat_map(|(_, ips)| ips.clone()).collect();
            self.probe(&all, kernel, false);
        }
        self.add(items, kernel, restored).await;
    }

    /// The netlink side of [`DataPlane::plumb`], without the probe.
    async fn add(
        &mut self,
        items: Vec<(Option<usize>, Vec<IpNet>)>,
        kernel: &mut Kernel,
        restored: bool,
    ) {
        let mut requests: Vec<(Option<usize>, IpNet, u32, String)> = Vec::new();
        for (group, ips) in items {
            for ip in ips {
                if !restored {
                    // Until it is on, at least; a failure below keeps it so.
                    self.never_up.insert(ip.addr());
                }
                let (ifindex, name) =
                    match plan::interface_for(&self.config.interfaces, &ip, kernel) {
                        Ok(home) => home,
                        Err(error) => {
                            self.report(Report::PlumbFailed { ip, error });
                            continue;
                        }
                    };
                // Releasing a VIP that became the subnet's primary must not
                // take the other addresses down with it.
                if ip.addr().is_ipv4()
                    && self.promoted.insert(name.clone())
                    && let Err(e) = promote_secondaries(&name)
                {
                    tracing::warn!(
                        "{e}: releasing a VIP that is its subnet's primary address on {name} would remove the subnet's other addresses with it; set net.ipv4.conf.all.promote_secondaries=1 (the packaged unit does so before start)"
                    );
                }
                requests.push((group, ip, ifindex, name));
            }
        }
        let netlink = self.netlink.clone();
        let results: Vec<_> = futures::stream::iter(requests)
            .map(|(group, ip, ifindex, name)| {
                let netlink = netlink.clone();
                async move {
                    let result = netlink.add_address(ifindex, ip).await;
                    (group, ip, ifindex, name, result)
                }
            })
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        // By group, interface and whether it is a restore.
        let mut done: BTreeMap<(Option<usize>, String, bool), Vec<IpNet>> = BTreeMap::new();
        for (group, ip, ifindex, name, result) in results {
            match result {
                Ok(()) => {
                    kernel.added(ifindex, &name, ip);
                    let first = self.never_up.remove(&ip.addr());
                    let key = (group, name, restored && !first);
                    done.entry(key).or_default().push(ip);
                }
                Err(e) => self.report(Report::PlumbFailed {
                    ip,
                    error: e.to_string(),
                }),
            }
        }
        for ((group, interface, restored), ips) in done {
            self.report(Report::Plumbed {
                group,
                ips,
                interface,
                restored,
            })
        }
    }

    /// Removes exactly these addresses, every request in flight at once,
    /// and reports what went, per group and interface.
    async fn delete(
        &mut self,
        present: Vec<(Option<usize>, Address)>,
        kernel: &mut Kernel,
        leftover: bool,
    ) {
        let netlink = self.netlink.clone();
        let results: Vec<_> = futures::stream::iter(present)
            .map(|(group, address)| {
                let netlink = netlink.clone();
                async move {
                    let result = netlink.del_address(address.ifindex, address.net).await;
                    (group, address, result)
                }
            })
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        let mut by_interface: BTreeMap<(Option<usize>, String), Vec<IpNet>> = BTreeMap::new();
        let mut gone = Vec::new();
        for (group, address, result) in results {
            match result {
                Ok(()) => {
                    gone.push(address.clone());
                    by_interface
                        .entry((group, address.ifname.clone().unwrap_or_default()))
                        .or_default()
                        .push(address.net)
                }
                Err(e) => {
                    let (ip, error) = (address.net, e.to_string());
                    self.report(Report::UnplumbFailed { ip, error });
                }
            }
        }
        kernel.removed(&gone);
        for ((group, interface), ips) in by_interface {
            self.report(Report::Unplumbed {
                group,
                ips,
                interface,
                leftover,
            })
        }
    }

    /// Removes groups' addresses wherever they are, whatever their prefix
    /// length.
    async fn unplumb(&mut self, items: &Items, kernel: &mut Kernel) {
        let present = plan::removals(items, kernel);
        self.delete(present, kernel, false).await;
    }

    /// Reports the interfaces when they changed since last time.
    fn follow_links(&mut self, links: &[Link]) {
        let seen: Vec<_> = links
            .iter()
            .map(|l| (l.index, l.name.clone(), l.up, l.multicast))
            .collect();
        if seen != self.links_seen {
            self.links_seen = seen;
            self.report(Report::Links(links.to_vec()));
        }
    }

    /// Puts back what should be here and removes VIPs that should not be,
    /// on a fresh snapshot.
    async fn reconcile(&mut self) {
        if let Ok(mut kernel) = self.kernel().await {
            self.repair(&mut kernel).await;
        }
    }

    /// Carries out [`plan::repair`] on `kernel`; never touches an address
    /// that is neither a configured VIP nor tagged as vippy's.
    async fn repair(&mut self, kernel: &mut Kernel) {
        let configured = plan::configured(&self.cluster);
        let plan::Repair { missing, strays } =
            plan::repair(&self.desired, &configured, &self.config.interfaces, kernel);
        if !strays.is_empty() {
            let strays = strays.into_iter().map(|a| (None, a)).collect();
            self.delete(strays, kernel, true).await;
        }
        if !missing.is_empty() {
            let all: Vec<IpNet> = missing.values().flatten().copied().collect();
            self.plumb(missing.into_iter().collect(), kernel, true)
                .await;
            // Someone removed it by hand: tell the network again.
            self.announce_once(&all, &[], kernel).await;
        }
    }

    /// One round of announcements for `ips`: gratuitous ARP in both forms
    /// (switches differ in which they honour) or an unsolicited NA, then
    /// targeted ARP replies to the notify list.
    async fn announce_once(
        &mut self,
        ips: &[IpNet],
        cluster_neighbours: &[wire::Neighbour],
        kernel: &mut Kernel,
    ) {
        let local_neighbours = if self
            .config
            .notify
            .iter()
            .any(|n| matches!(n, NotifyTarget::Network { .. }))
        {
            self.netlink.neighbours().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        let (mut garp, mut na, mut replies) = (0u64, 0u64, 0u64);
        // Read once per interface and burst, not once per VIP.
        let mut forwards: BTreeMap<String, bool> = BTreeMap::new();
        for ip in ips {
            let Some((ifindex, ifname)) = self.interface_for(ip, kernel) else {
                continue;
            };
            let Some(announcer) = self.announcer(ifindex, &kernel.links) else {
                continue;
            };
            match ip.addr() {
                IpAddr::V4(v4) => {
                    if announcer.gratuitous_arp(v4, GarpForm::Both).await.is_ok() {
                        garp += 2;
                    }
                    let targets = notify_targets(
                        &self.config.notify,
                        v4,
                        &local_neighbours,
                        cluster_neighbours,
                        &kernel.addresses,
                        ifindex,
                    );
                    let announcer = self.announcers.get_mut(&ifindex).expect("made above");
                    for (to_ip, to_mac) in targets {
                        if announcer.arp_reply(v4, to_ip, to_mac).await.is_ok() {
                            replies += 1;
                        }
                    }
                }
                IpAddr::V6(v6) => {
                    let router = *forwards
                        .entry(ifname.clone())
                        .or_insert_with(|| crate::net::forwards_ipv6(&ifname));
                    if announcer.unsolicited_na(v6, router).await.is_ok() {
                        na += 1;
                    }
                }
            }
        }
        self.report(Report::Announced {
            garp,
            na,
            arp_replies: replies,
        })
    }

    /// This host's own addresses with their interface's MAC, shared with
    /// the cluster beside the neighbour table: that is how peers know
    /// which MACs are a vippy node's (see `LoopState::note_conflict`).
    /// VIPs are left out: they move.
    fn own_entries(&self, addresses: &[Address], links: &[Link]) -> Vec<wire::Neighbour> {
        let configured = plan::configured(&self.cluster);
        addresses
            .iter()
            .filter(|a| !a.vip && !configured.contains(&a.net.addr()))
            .filter(|a| !a.net.addr().is_loopback())
            .filter_map(|a| {
                let link = links.iter().find(|l| l.index == a.ifindex && !l.loopback)?;
                Some(wire::Neighbour {
                    ip: a.net.addr(),
                    mac: link.mac?,
                })
            })
            .collect()
    }

    /// Starts a conflict probe round for `ips`, one task per interface,
    /// and returns at once: nothing here waits for an answer. Findings come
    /// back as [`Report::Conflict`]. A `periodic` round is skipped on an
    /// interface whose previous round is still listening.
    fn probe(&mut self, ips: &[IpNet], kernel: &Kernel, periodic: bool) {
        let links = &kernel.links;
        let ours: Vec<Mac> = links.iter().filter_map(|l| l.mac).collect();
        let mut by_interface: BTreeMap<u32, (String, Vec<IpAddr>)> = BTreeMap::new();
        for ip in ips {
            if let Some((ifindex, name)) = self.interface_for(ip, kernel) {
                let entry = by_interface.entry(ifindex).or_insert((name, Vec::new()));
                entry.1.push(ip.addr());
            }
        }
        // A round never outlasts arp-cache, so periodic rounds do not pile up.
        let wait = PROBE_WAIT.min(self.config.arp_cache);
        let rate = self.config.garp.rate;
        for (ifindex, (interface, vips)) in by_interface {
            let Some(mac) = links
                .iter()
                .find(|l| l.index == ifindex)
                .and_then(|l| l.mac)
            else {
                continue;
            };
            if periodic && self.probing.get(&ifindex).is_some_and(|t| !t.is_finished()) {
                continue;
            }
            let reports = self.reports.clone();
            let ours = ours.clone();
            let task = tokio::spawn(async move {
                let pacer = Pacer::new(rate, rate.clamp(1, 4096));
                let found = |s: crate::net::Sighting| {
                    let _ = reports.send(Report::Conflict {
                        ip: s.ip,
                        interface: interface.clone(),
                        mac: s.mac,
                        how: s.kind,
                    });
                };
                if let Err(e) =
                    probe_conflicts(ifindex, mac, &ours, &vips, wait, pacer, found).await
                {
                    tracing::debug!("conflict probe on {interface}: {e}");
                }
            });
            self.probing.insert(ifindex, task);
        }
    }

    /// The announcer for `ifindex`, made again when the interface's MAC
    /// changed (a bond failing over with `fail_over_mac`, `ip link set
    /// address`): announcements must carry the address traffic reaches now.
    fn announcer(&mut self, ifindex: u32, links: &[Link]) -> Option<&mut Announcer> {
        let mac = links.iter().find(|l| l.index == ifindex)?.mac?;
        if self
            .announcers
            .get(&ifindex)
            .is_some_and(|a| a.mac() != mac)
        {
            self.announcers.remove(&ifindex);
        }
        if !self.announcers.contains_key(&ifindex) {
            let rate = self.config.garp.rate;
            let announcer = Announcer::new(ifindex, mac)
                .ok()?
                .with_pacer(Pacer::new(rate, rate.clamp(1, 4096)));
            self.announcers.insert(ifindex, announcer);
        }
        self.announcers.get_mut(&ifindex)
    }
}
