//! The observer outside the daemons: every node namespace's address
//! changes from netlink (one [`AddressMonitor`] subscription per node, no
//! polling), and the client pinging every VIP of the pool continuously
//! (`ping -D -O`, ten echoes a second each) and reading its neighbour table
//! (`ip -j neigh`, a netlink dump) when the invariants are checked.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::cluster::Cluster;
use crate::monitor::{AddressEvent, AddressMonitor};
use crate::probe::parse_neighbour;

/// Seconds between a pinger's echoes.
pub const PING_INTERVAL: f64 = 0.1;

/// What the observer watches with.
pub struct Observer {
    monitor: AddressMonitor,
    vips: Vec<IpAddr>,
    /// Reply times per VIP, on the monitor's clock.
    replies: Arc<Mutex<Vec<Vec<f64>>>>,
    pingers: Vec<Child>,
    client_netns: String,
    client_ifname: String,
}

impl Observer {
    /// Subscribes to every node's addresses and starts one pinger per VIP
    /// in the client's namespace; `ifname` is the client's interface on
    /// the VIP LAN.
    pub fn start(cluster: &Cluster, vips: &[IpAddr], ifname: &str) -> Result<Observer> {
        let monitor = AddressMonitor::start(cluster.lab.nodes(), vips)?;
        let replies = Arc::new(Mutex::new(vec![Vec::new(); vips.len()]));
        let client = cluster.client();
        let epoch = monitor.epoch();
        let mut pingers = Vec::new();
        for (v, vip) in vips.iter().enumerate() {
            let interval = PING_INTERVAL.to_string();
            let vip_text = vip.to_string();
            let mut child = Command::new("ip")
                .args(["netns", "exec", &client.netns, "stdbuf", "-oL"])
                .args(["ping", "-D", "-O", "-n", "-i", &interval, &vip_text])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .context("starting ping in the client namespace")?;
            let stdout = child.stdout.take().context("ping stdout")?;
            let replies = replies.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(at) = parse_reply(&line) {
                        replies.lock().expect("replies")[v].push(at - epoch);
                    }
                }
            });
            pingers.push(child);
        }
        Ok(Observer {
            monitor,
            vips: vips.to_vec(),
            replies,
            pingers,
            client_netns: client.netns.clone(),
            client_ifname: ifname.to_string(),
        })
    }

    /// Seconds since the observer started: the clock of every time it gives.
    pub fn now(&self) -> f64 {
        self.monitor.now()
    }

    /// Every address event so far, in time order.
    pub fn events(&self) -> Vec<AddressEvent> {
        self.monitor.events()
    }

    /// The client's last reply from each VIP.
    pub fn last_replies(&self) -> Vec<Option<f64>> {
        let replies = self.replies.lock().expect("replies");
        replies.iter().map(|r| r.last().copied()).collect()
    }

    /// Every reply from each VIP so far.
    pub fn replies(&self) -> Vec<Vec<f64>> {
        self.replies.lock().expect("replies").clone()
    }

    /// The client's neighbour entry for each VIP (`ip -j neigh`).
    pub fn neighbours(&self) -> Result<Vec<Option<[u8; 6]>>> {
        let out = Command::new("ip")
            .args(["-n", &self.client_netns, "-j", "neigh", "show"])
            .args(["dev", &self.client_ifname])
            .stdin(Stdio::null())
            .output()
            .context("ip neigh in the client namespace")?;
        self.vips
            .iter()
            .map(|ip| parse_neighbour(&out.stdout, *ip))
            .collect()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        for child in &mut self.pingers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The time of a reply line of `ping -D`:
/// `[1796194320.522934] 64 bytes from 203.0.113.100: icmp_seq=5 ttl=64 time=0.05 ms`.
/// Other lines (no answer yet, errors, the header) give `None`.
pub fn parse_reply(line: &str) -> Option<f64> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once(']')?;
    if !rest.contains(" bytes from ") || !rest.contains("icmp_seq=") {
        return None;
    }
    stamp.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_reply_lines_parse() {
        assert_eq!(
            parse_reply(
                "[1796194320.522934] 64 bytes from 203.0.113.100: icmp_seq=5 ttl=64 time=0.05 ms"
            ),
            Some(1_796_194_320.522_934)
        );
        assert_eq!(
            parse_reply("[1796194320.522934] no answer yet for icmp_seq=6"),
            None
        );
        assert_eq!(
            parse_reply("PING 2001:db8:1::1:3 (2001:db8:1::1:3) 56 data bytes"),
            None
        );
        assert_eq!(
            parse_reply(
                "[1796194320.6] From 203.0.113.200 icmp_seq=7 Destination Host Unreachable"
            ),
            None
        );
    }
}
