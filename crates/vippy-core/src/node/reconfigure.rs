//! New configurations without flaps: a reload that keeps
//! vips and nodes moves nothing; one that adds a group moves nothing else;
//! one that removes a group releases only that group.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::{Action, Cause, Event, Node, SecretBytes, index_groups};
use crate::config::{Cluster, Config};

/// Adopted configs and peers' configs kept to read their holdings.
const MAX_KNOWN_CONFIGS: usize = 8;

impl Node {
    /// A reloaded file. Local settings always apply; its cluster part applies
    /// unless the cluster already runs a newer version adopted from a peer.
    pub(super) fn reload(&mut self, config: Arc<Config>, secrets: &[SecretBytes], now: Instant) {
        let file_cluster = config.cluster.clone();
        self.config = config;
        self.keys = super::derive_keys(secrets);
        if file_cluster.digest() == self.cluster.digest() {
            // Same vips and nodes: timers, logging, checks changed; nothing moves.
            self.needs_decide = true;
            self.adopted_from = None;
            return;
        }
        if file_cluster.version < self.cluster.version {
            self.events.push_back(Event::ConfigKept {
                detail: format!(
                    "the file's version {} is older than the running version {}{}; keeping the running vips and nodes (bump the file's version to change them)",
                    file_cluster.version,
                    self.cluster.version,
                    self.adopted_from
                        .as_ref()
                        .map(|p| format!(" adopted from {p}"))
                        .unwrap_or_default()
                ),
            });
            self.needs_decide = true;
            return;
        }
        self.install_cluster(file_cluster, None, now);
    }

    /// Switches to `cluster`, keeping held groups that still exist.
    pub(super) fn install_cluster(
        &mut self,
        cluster: Arc<Cluster>,
        from: Option<String>,
        now: Instant,
    ) {
        let previous = std::mem::replace(&mut self.cluster, cluster.clone());
        self.known.insert(previous.digest(), previous.clone());
        self.known.insert(cluster.digest(), cluster.clone());
        self.group_index = index_groups(&cluster);
        self.index = cluster.node_index(&self.name);
        self.adopted_from = from.clone();
        self.counters.config_adoptions += 1;

        let held_keys: Vec<u64> = self.held.keys().copied().collect();
        for key in held_keys {
            match self.group_index.get(&key).copied() {
                None => self.release(key, None, Cause::RemovedFromConfig),
                Some(g) => {
                    // Same addresses; a changed prefix length is re-plumbed in place.
                    let ips = cluster.groups[g].ips.clone();
                    let held = self.held.get_mut(&key).expect("listed above");
                    if held.ips != ips {
                        let gone: Vec<_> = held
                            .ips
                            .iter()
                            .filter(|ip| !ips.contains(ip))
                            .copied()
                            .collect();
                        held.ips = ips.clone();
                        if !gone.is_empty() {
                            self.actions.push_back(Action::Unplumb {
                                group: Some(g),
                                ips: gone,
                            });
                        }
                        self.actions.push_back(Action::Plumb { group: g, ips });
                    }
                }
            }
        }
        // Owners are node indices of the old config, which may list fewer
        // nodes or in another order: carry them over by name.
        let renumber = |old: u16| -> Option<u16> {
            previous
                .nodes
                .get(usize::from(old))
                .and_then(|name| cluster.node_index(name))
        };
        // And groups by index of the old config: carry them over by key.
        let old_owner: BTreeMap<u64, Option<u16>> = previous
            .groups
            .iter()
            .zip(&self.last_owner)
            .map(|(group, owner)| (group.key, *owner))
            .collect();
        self.last_owner = cluster
            .groups
            .iter()
            .map(|g| old_owner.get(&g.key).copied().flatten().and_then(renumber))
            .collect();
        // Handoff recipients likewise; a handoff is short-lived, so drop them.
        self.handoffs.clear();
        // Keepers are told by node index, which a new config may change:
        // tell them again once seen under the new one.
        for released in self.released.values_mut() {
            released.told = None;
        }
        // A node takes no group nobody held until `mature` after adopting a
        // new config, so that its peers adopt it too before anything new is
        // placed; it keeps the groups it holds meanwhile.
        self.settle_until = (!self.config.mature.is_zero()).then(|| now + self.config.mature);
        self.events.push_back(Event::ConfigAdopted {
            version: cluster.version,
            previous_version: previous.version,
            from,
        });
        self.prune_known();
        // Peers on the other config may have announced our groups while
        // their holdings could not be read here.
        if !self.held.is_empty() {
            self.reannounce_all = Some(format!("config version {} in force", cluster.version));
        }
        self.needs_decide = true;
        self.dirty = true;
    }

    /// Keeps the current config and those present peers run.
    pub(super) fn prune_known(&mut self) {
        if self.known.len() <= MAX_KNOWN_CONFIGS {
            return;
        }
        let current = self.cluster.digest();
        let in_use: Vec<_> = self
            .peers
            .values()
            .filter(|p| p.present())
            .filter_map(|p| p.state.as_ref().map(|s| s.digest))
            .collect();
        self.known
            .retain(|d, _| *d == current || in_use.contains(d));
    }
}
