//! The series read from the status snapshot at each scrape: what this node
//! holds and sees. Built per scrape so their cost falls on the scraper and
//! a VIP removed by a reload simply stops being reported.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::Escaped;
use crate::status::Status;

#[derive(Debug)]
pub(super) struct ClusterView {
    version: u64,
    /// (group, ip, held here)
    held: Vec<(String, String, bool)>,
    /// (group, owner)
    owners: Vec<(String, Escaped)>,
    /// (peer, up, seconds since last heard)
    peers: Vec<(Escaped, bool, Option<f64>)>,
}

impl ClusterView {
    pub(super) fn new(status: &Status) -> ClusterView {
        let mut held = Vec::new();
        let mut owners = Vec::new();
        for g in &status.groups {
            let group = g.index.to_string();
            for ip in &g.ips {
                held.push((group.clone(), ip.clone(), g.held_here));
            }
            if let Some(owner) = &g.owner {
                owners.push((group.clone(), Escaped(owner.clone())));
            }
        }
        let peers = status
            .peers
            .iter()
            .map(|p| (Escaped(p.name.clone()), p.present, p.last_heard_seconds))
            .collect();
        ClusterView {
            version: status.version,
            held,
            owners,
            peers,
        }
    }
}

impl Collector for ClusterView {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut info = encoder.encode_descriptor(
            "vippy_build_info",
            "The vippyd build: always 1, with its version as a label",
            None,
            MetricType::Gauge,
        )?;
        info.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?
            .encode_gauge(&1i64)?;

        encoder
            .encode_descriptor(
                "vippy_config_version",
                "The cluster config version in force here (the file's or one adopted from a peer)",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&self.version)?;

        let mut held = encoder.encode_descriptor(
            "vippy_group_held",
            "1 when the VIP is plumbed on this node, one series per VIP of the config",
            None,
            MetricType::Gauge,
        )?;
        for (group, ip, here) in &self.held {
            held.encode_family(&[("group", group.as_str()), ("ip", ip.as_str())])?
                .encode_gauge(&i64::from(*here))?;
        }

        let mut owner = encoder.encode_descriptor(
            "vippy_group_owner",
            "1 for the node placement assigns the group to, as this node sees it",
            None,
            MetricType::Gauge,
        )?;
        for (group, node) in &self.owners {
            owner
                .encode_family(&[("group", Escaped(group.clone())), ("node", node.clone())])?
                .encode_gauge(&1i64)?;
        }

        let mut up = encoder.encode_descriptor(
            "vippy_peer_up",
            "1 while the peer counts: heard within stale, echoing this node, not departed",
            None,
            MetricType::Gauge,
        )?;
        for (peer, is_up, _) in &self.peers {
            up.encode_family(&[("peer", peer)])?
                .encode_gauge(&i64::from(*is_up))?;
        }

        let mut heard = encoder.encode_descriptor(
            "vippy_peer_last_heard_seconds",
            "Seconds since the peer's last authenticated datagram",
            None,
            MetricType::Gauge,
        )?;
        for (peer, _, seconds) in &self.peers {
            if let Some(seconds) = seconds {
                heard
                    .encode_family(&[("peer", peer)])?
                    .encode_gauge(seconds)?;
            }
        }
        Ok(())
    }
}
