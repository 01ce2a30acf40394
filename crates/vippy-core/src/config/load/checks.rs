//! `checks`: health checks and the groups each concerns.

use std::net::IpAddr;

use super::command::read_command;
use super::{DAY, duration_or};
use crate::config::cluster::Cluster;
use crate::config::fields::{Fields, index_path};
use crate::config::json5::{Kind, Value};
use crate::config::model::Check;

pub(super) fn read_checks(f: &mut Fields, v: &Value, cluster: &Cluster) -> Option<Vec<Check>> {
    let items = f.array(v, "checks")?;
    let mut out: Vec<Check> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = index_path("checks", i);
        let Some(obj) = f.object(
            item,
            &path,
            &[
                "name", "command", "shell", "interval", "timeout", "rise", "fall", "groups",
            ],
        ) else {
            ok = false;
            continue;
        };
        let name = match obj.get("name") {
            None => {
                f.error(&obj.child("name"), Some(obj.at), "is required but missing");
                None
            }
            Some(nv) => f.string(nv, &obj.child("name")).and_then(|s| {
                let valid = !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !valid {
                    f.error(&obj.child("name"), Some(nv.at), format!("\"{s}\" is not a check name (1 to 32 of letters, digits, '-', '_', '.')"));
                    None
                } else if out.iter().any(|c| c.name == s) {
                    f.error(&obj.child("name"), Some(nv.at), format!("check \"{s}\" is defined twice"));
                    None
                } else {
                    Some(s.to_string())
                }
            }),
        };
        let shell = match obj.get("shell") {
            None => Some(false),
            Some(sv) => f.boolean(sv, &obj.child("shell")),
        };
        let command = match (obj.get("command"), shell) {
            (None, _) => {
                f.error(
                    &obj.child("command"),
                    Some(obj.at),
                    "is required but missing",
                );
                None
            }
            (Some(cv), Some(shell)) => read_command(f, cv, &obj.child("command"), shell),
            (Some(_), None) => None,
        };
        let interval = duration_or(f, &obj, "interval", 0.01, DAY, Check::DEFAULT_INTERVAL);
        let timeout = duration_or(f, &obj, "timeout", 0.01, 3600.0, Check::DEFAULT_TIMEOUT);
        let rise = match obj.get("rise") {
            None => Some(Check::DEFAULT_RISE),
            Some(rv) => f.integer(rv, &obj.child("rise"), 1, 1000).map(|n| n as u32),
        };
        let fall = match obj.get("fall") {
            None => Some(Check::DEFAULT_FALL),
            Some(fv) => f.integer(fv, &obj.child("fall"), 1, 1000).map(|n| n as u32),
        };
        let groups = match obj.get("groups") {
            None => Some(Vec::new()),
            Some(gv) => read_check_groups(f, gv, &obj.child("groups"), cluster),
        };
        match (name, command, interval, timeout, rise, fall, groups) {
            (
                Some(name),
                Some(command),
                Some(interval),
                Some(timeout),
                Some(rise),
                Some(fall),
                Some(groups),
            ) => out.push(Check {
                name,
                command,
                interval,
                timeout,
                rise,
                fall,
                groups,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A check's `groups`: a non-empty array of group indices (`0`) or of a
/// group's first address (`"198.51.100.10"`), resolved to indices,
/// ascending and without repeats.
fn read_check_groups(
    f: &mut Fields,
    v: &Value,
    path: &str,
    cluster: &Cluster,
) -> Option<Vec<usize>> {
    let items = f.array(v, path)?;
    if items.is_empty() {
        f.error(
            path,
            Some(v.at),
            "is empty; leave \"groups\" out for a check that concerns the whole node",
        );
        return None;
    }
    let count = cluster.groups.len();
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let at = index_path(path, i);
        let group = match &item.kind {
            Kind::Number(..) => f.integer(item, &at, 0, u32::MAX as u64).and_then(|n| {
                let n = n as usize;
                if n >= count {
                    f.error(
                        &at,
                        Some(item.at),
                        format!(
                            "there is no group {n}: \"vips\" has {count} groups (0 to {})",
                            count.saturating_sub(1)
                        ),
                    );
                    return None;
                }
                Some(n)
            }),
            Kind::String(s) => match s.parse::<IpAddr>() {
                Err(_) => {
                    f.error(&at, Some(item.at), format!("\"{s}\" is not an IP address (a group is named by its index or its first address)"));
                    None
                }
                Ok(ip) => {
                    let found = cluster
                        .groups
                        .iter()
                        .position(|g| g.addresses().next() == Some(ip));
                    if found.is_none() {
                        let inside = cluster
                            .groups
                            .iter()
                            .position(|g| g.addresses().any(|a| a == ip));
                        let hint = match inside {
                            Some(g) => format!(
                                "; it is in group {g}, whose first address is {}",
                                cluster.groups[g].ips[0].addr()
                            ),
                            None => String::new(),
                        };
                        f.error(
                            &at,
                            Some(item.at),
                            format!("{ip} is not the first address of any group in \"vips\"{hint}"),
                        );
                    }
                    found
                }
            },
            _ => {
                f.error(
                    &at,
                    Some(item.at),
                    format!(
                        "a group is its index (a number) or its first address (a string), not {}",
                        item.type_name()
                    ),
                );
                None
            }
        };
        match group {
            Some(g) => out.push(g),
            None => ok = false,
        }
    }
    out.sort_unstable();
    out.dedup();
    ok.then_some(out)
}
