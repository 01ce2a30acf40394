//! Address-shaped values several sections share: ADDRESS/PREFIX,
//! ADDRESS:PORT and interface names, each with a message per way it goes
//! wrong.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::config::fields::Fields;
use crate::config::json5::{Position, Value};

pub(super) fn interface_name(f: &mut Fields, v: &Value, path: &str) -> Option<String> {
    let name = f.string(v, path)?;
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
        f.error(
            path,
            Some(v.at),
            format!(
                "\"{name}\" is not a valid interface name (1 to 15 characters, no '/' or spaces)"
            ),
        );
        return None;
    }
    Some(name.to_string())
}

/// ADDRESS/PREFIX, with a specific message for each way it goes wrong.
pub(super) fn cidr(f: &mut Fields, s: &str, path: &str, at: Position) -> Option<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net);
    }
    let message = match s.split_once('/') {
        None if s.parse::<IpAddr>().is_ok() => {
            let example = if s.contains(':') { "/64" } else { "/24" };
            format!("\"{s}\" needs a prefix length, e.g. \"{s}{example}\"")
        }
        None => format!(
            "\"{s}\" is not an address with a prefix length (ADDRESS/PREFIX, e.g. 10.8.3.195/24)"
        ),
        Some((addr, prefix)) => match (addr.parse::<IpAddr>(), prefix.parse::<u8>()) {
            (Err(_), _) => format!("\"{addr}\" in \"{s}\" is not an IPv4 or IPv6 address"),
            (Ok(_), Err(_)) => format!("\"{prefix}\" in \"{s}\" is not a prefix length"),
            (Ok(IpAddr::V4(_)), Ok(p)) => {
                format!("/{p} in \"{s}\" is too long for an IPv4 address (at most /32)")
            }
            (Ok(IpAddr::V6(_)), Ok(p)) => {
                format!("/{p} in \"{s}\" is too long for an IPv6 address (at most /128)")
            }
        },
    };
    f.error(path, Some(at), message);
    None
}

pub(super) fn socket_addr(f: &mut Fields, v: &Value, path: &str) -> Option<SocketAddr> {
    let s = f.string(v, path)?;
    match s.parse::<SocketAddr>() {
        Ok(addr) if addr.port() == 0 => {
            f.error(
                path,
                Some(v.at),
                format!("\"{s}\" needs a port other than 0"),
            );
            None
        }
        Ok(addr) => Some(addr),
        Err(_) => {
            let hint = if s.parse::<IpAddr>().is_ok() {
                " (it needs a port, e.g. 239.1.1.1:5007 or [ff15::1]:5007)"
            } else {
                " (expected ADDRESS:PORT, e.g. 239.1.1.1:5007 or [ff15::1]:5007)"
            };
            f.error(
                path,
                Some(v.at),
                format!("\"{s}\" is not an address and port{hint}"),
            );
            None
        }
    }
}

pub(super) fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}
