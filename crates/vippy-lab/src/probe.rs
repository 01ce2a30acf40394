//! Looking into a host from outside: its addresses and neighbour table as
//! `ip -j` reports them, and reachability by ping. These are the lab's
//! independent witnesses; they do not share code with the daemon's netlink.

use std::net::IpAddr;

use anyhow::{Context, Result, bail};
use ipnet::IpNet;
use serde_json::Value;

use crate::lab::{Lab, LabHost, parse_mac};

impl Lab {
    /// Every address on the host's lab interface (including its IPv6
    /// link-local one), from `ip -j addr`.
    pub fn addresses(&self, host: &LabHost) -> Result<Vec<IpNet>> {
        let out = self.exec_ok(host, &["ip", "-j", "addr", "show", "dev", &host.ifname])?;
        parse_addresses(&out.stdout)
    }

    /// Every address on one of the host's interfaces (a second LAN's).
    pub fn addresses_on(&self, host: &LabHost, ifname: &str) -> Result<Vec<IpNet>> {
        let out = self.exec_ok(host, &["ip", "-j", "addr", "show", "dev", ifname])?;
        parse_addresses(&out.stdout)
    }

    /// Every address on every interface of the host.
    pub fn all_addresses(&self, host: &LabHost) -> Result<Vec<IpNet>> {
        let out = self.exec_ok(host, &["ip", "-j", "addr", "show"])?;
        parse_addresses(&out.stdout)
    }

    /// The MAC the host's neighbour table holds for `ip`, from `ip -j neigh`;
    /// `None` when there is no entry, or it is FAILED or INCOMPLETE.
    pub fn neighbour(&self, host: &LabHost, ip: IpAddr) -> Result<Option<[u8; 6]>> {
        let out = self.exec_ok(host, &["ip", "-j", "neigh", "show"])?;
        parse_neighbour(&out.stdout, ip)
    }

    /// Whether a ping from `host` to `ip` is answered within 3 s: echoes go
    /// every 0.2 s until the first reply. One echo with a short wait is not
    /// enough: after a cut, the neighbour entry may still be resolving, and
    /// the kernel's next ARP probe can be a second away.
    pub fn ping(&self, host: &LabHost, ip: IpAddr) -> Result<bool> {
        let out = self.exec(
            host,
            &[
                "ping",
                "-n",
                "-q",
                "-c",
                "1",
                "-i",
                "0.2",
                "-w",
                "3",
                &ip.to_string(),
            ],
        )?;
        // ping says 1 (no reply) or 2 (e.g. no route); anything else (`ip
        // netns exec` cannot run ping at all) would read as an outage.
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1 | 2) => Ok(false),
            _ => bail!(
                "ping {ip} in {} failed ({}): {}",
                host.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }
    }
}

/// The addresses in `ip -j addr` output.
pub fn parse_addresses(json: &[u8]) -> Result<Vec<IpNet>> {
    let links: Value = serde_json::from_slice(json).context("parsing `ip -j addr`")?;
    let mut nets = Vec::new();
    for link in links.as_array().into_iter().flatten() {
        for info in link["addr_info"].as_array().into_iter().flatten() {
            let (Some(local), Some(len)) = (info["local"].as_str(), info["prefixlen"].as_u64())
            else {
                continue;
            };
            let ip: IpAddr = local
                .parse()
                .with_context(|| format!("address {local:?}"))?;
            let len = u8::try_from(len).context("prefix length")?;
            nets.push(IpNet::new(ip, len).with_context(|| format!("{ip}/{len}"))?);
        }
    }
    Ok(nets)
}

/// The MAC for `ip` in `ip -j neigh` output, skipping FAILED and INCOMPLETE
/// entries and entries without a link-layer address.
pub fn parse_neighbour(json: &[u8], ip: IpAddr) -> Result<Option<[u8; 6]>> {
    let entries: Value = serde_json::from_slice(json).context("parsing `ip -j neigh`")?;
    for entry in entries.as_array().into_iter().flatten() {
        let Some(dst) = entry["dst"].as_str().and_then(|d| d.parse::<IpAddr>().ok()) else {
            continue;
        };
        if dst != ip {
            continue;
        }
        let unusable = entry["state"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| matches!(s.as_str(), Some("FAILED" | "INCOMPLETE")));
        if unusable {
            continue;
        }
        if let Some(mac) = entry["lladdr"].as_str().and_then(parse_mac) {
            return Ok(Some(mac));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_addr_info() {
        let json = br#"[{"ifindex":2,"ifname":"eth0","addr_info":[
            {"family":"inet","local":"198.51.100.11","prefixlen":24},
            {"family":"inet6","local":"2001:db8::11","prefixlen":64},
            {"family":"inet6","local":"fe80::76:6cff:fe00:11","prefixlen":64}]}]"#;
        let nets = parse_addresses(json).unwrap();
        assert_eq!(
            nets,
            vec![
                "198.51.100.11/24".parse::<IpNet>().unwrap(),
                "2001:db8::11/64".parse().unwrap(),
                "fe80::76:6cff:fe00:11/64".parse().unwrap(),
            ]
        );
        assert_eq!(parse_addresses(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn neighbours_skip_failed_incomplete_and_other_addresses() {
        let json = br#"[
            {"dst":"198.51.100.12","dev":"eth0","state":["FAILED"]},
            {"dst":"198.51.100.13","dev":"eth0","state":["INCOMPLETE"]},
            {"dst":"198.51.100.11","dev":"eth0","lladdr":"02:76:6c:00:00:0b","state":["STALE"]},
            {"dst":"2001:db8::11","dev":"eth0","lladdr":"02:76:6c:00:00:0b","router":null,"state":["REACHABLE"]}]"#;
        let mac = Some([2, 0x76, 0x6c, 0, 0, 0x0b]);
        assert_eq!(
            parse_neighbour(json, "198.51.100.11".parse().unwrap()).unwrap(),
            mac
        );
        assert_eq!(
            parse_neighbour(json, "2001:db8::11".parse().unwrap()).unwrap(),
            mac
        );
        assert_eq!(
            parse_neighbour(json, "198.51.100.12".parse().unwrap()).unwrap(),
            None
        );
        assert_eq!(
            parse_neighbour(json, "198.51.100.13".parse().unwrap()).unwrap(),
            None
        );
        assert_eq!(
            parse_neighbour(json, "198.51.100.99".parse().unwrap()).unwrap(),
            None
        );
    }
}
