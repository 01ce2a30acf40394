//! Faults without `sch_netem` (so they work on kernels without it): a cable
//! pulled (the bridge port down), and nftables rules on the host's lab
//! interface for isolation, partitions, dropped multicast and random loss. All
//! rules live in one `netdev` table per host namespace, on the ingress and
//! egress hooks of its lab interface, so they catch ARP and neighbour discovery
//! too; `heal` deletes that table.

use anyhow::{Result, ensure};

use crate::command::{run, run_with_stdin};
use crate::lab::{Lab, LabHost, format_mac};

/// The nftables table the lab owns in each host namespace.
pub const NFT_TABLE: &str = "vippy_lab";

impl Lab {
    /// Takes the host's bridge port down: its interface loses carrier but
    /// keeps its addresses, like a pulled cable.
    pub fn link_down(&self, host: &LabHost) -> Result<()> {
        run(
            "ip",
            &["-n", self.switch_netns(), "link", "set", &host.port, "down"],
        )?;
        Ok(())
    }

    /// Undoes [`Lab::link_down`].
    pub fn link_up(&self, host: &LabHost) -> Result<()> {
        run(
            "ip",
            &["-n", self.switch_netns(), "link", "set", &host.port, "up"],
        )?;
        Ok(())
    }

    /// Drops every frame into and out of the host; its link stays up.
    pub fn isolate(&self, host: &LabHost) -> Result<()> {
        self.add_rules(host, &["ingress drop", "egress drop"])
    }

    /// Cuts `a` and `b` off from each other (both ways, every frame, ARP and
    /// neighbour discovery included); each still reaches everyone else.
    pub fn partition(&self, a: &LabHost, b: &LabHost) -> Result<()> {
        self.add_rules(
            a,
            &[&format!("ingress ether saddr {} drop", format_mac(&b.mac))],
        )?;
        self.add_rules(
            b,
            &[&format!("ingress ether saddr {} drop", format_mac(&a.mac))],
        )
    }

    /// Splits the lab into two sides that cannot reach each other.
    pub fn split(&self, side_a: &[&LabHost], side_b: &[&LabHost]) -> Result<()> {
        for a in side_a {
            for b in side_b {
                self.partition(a, b)?;
            }
        }
        Ok(())
    }

    /// Drops UDP multicast into and out of the host (the chat's multicast),
    /// leaving unicast, ARP and neighbour discovery alone.
    pub fn drop_multicast(&self, host: &LabHost) -> Result<()> {
        let mut rules = Vec::new();
        for hook in ["ingress", "egress"] {
            rules.push(format!("{hook} meta l4proto udp ip daddr 224.0.0.0/4 drop"));
            rules.push(format!("{hook} meta l4proto udp ip6 daddr ff00::/8 drop"));
        }
        self.add_rules(host, &rules.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Drops the chat (UDP port `port`) arriving at the host, nothing else:
    /// it is heard but hears nobody (a host firewall, IGMP snooping).
    pub fn drop_chat_input(&self, host: &LabHost, port: u16) -> Result<()> {
        self.add_rules(
            host,
            &[&format!("ingress meta l4proto udp udp dport {port} drop")],
        )
    }

    /// Drops `percent`% of the frames arriving at the host, at random.
    pub fn drop_fraction(&self, host: &LabHost, percent: u8) -> Result<()> {
        ensure!(percent <= 100, "loss of {percent}%");
        self.add_rules(
            host,
            &[&format!("ingress numgen random mod 100 < {percent} drop")],
        )
    }

    /// Removes every rule the lab added to the host.
    pub fn heal(&self, host: &LabHost) -> Result<()> {
        // `add` first makes the delete succeed when there is no table.
        let script = format!("add table netdev {NFT_TABLE}\ndelete table netdev {NFT_TABLE}\n");
        self.nft(host, &script)
    }

    /// [`Lab::heal`] on every host, and every bridge port up.
    pub fn heal_all(&self) -> Result<()> {
        for host in self.hosts() {
            self.heal(host)?;
            self.link_up(host)?;
        }
        Ok(())
    }

    /// Appends rules, each `"<ingress|egress> <nft rule>"`, to the host's table.
    fn add_rules(&self, host: &LabHost, rules: &[&str]) -> Result<()> {
        let dev = &host.ifname;
        let mut script = format!("add table netdev {NFT_TABLE}\n");
        for hook in ["ingress", "egress"] {
            script += &format!(
                "add chain netdev {NFT_TABLE} {hook} {{ type filter hook {hook} device \"{dev}\" priority -500; policy accept; }}\n"
            );
        }
        for rule in rules {
            script += &format!("add rule netdev {NFT_TABLE} {rule}\n");
        }
        self.nft(host, &script)
    }

    fn nft(&self, host: &LabHost, script: &str) -> Result<()> {
        run_with_stdin(
            "ip",
            &["netns", "exec", &host.netns, "nft", "-f", "-"],
            Some(script),
        )?;
        Ok(())
    }
}
