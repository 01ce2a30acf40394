//! Address changes as netlink events: one `ip -ts monitor address` per node
//! namespace, each line timestamped by `ip` as it read the event, so a
//! plumb is seen when the kernel made it, without polling dumps.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::lab::LabHost;

/// One address added or removed on a node, `at` seconds after the
/// monitor's start (wall clock, as `ip -ts` stamps it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddressEvent {
    pub at: f64,
    pub node: usize,
    pub vip: usize,
    pub added: bool,
}

/// Watches the nodes' addresses for a known list of VIPs.
pub struct AddressMonitor {
    /// Seconds since the epoch at the monitor's start.
    epoch: f64,
    events: Arc<Mutex<Vec<AddressEvent>>>,
    children: Vec<Child>,
}

impl AddressMonitor {
    /// Starts one monitor per node; events for addresses not in `vips` are
    /// ignored.
    pub fn start(nodes: &[LabHost], vips: &[IpAddr]) -> Result<AddressMonitor> {
        let index: Arc<HashMap<IpAddr, usize>> =
            Arc::new(vips.iter().enumerate().map(|(i, ip)| (*ip, i)).collect());
        let epoch = now_epoch();
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut children = Vec::new();
        for (node, host) in nodes.iter().enumerate() {
            let mut child = Command::new("ip")
                .args(["-ts", "-n", &host.netns, "monitor", "address"])
                // `ip -ts` prints local time: make it UTC, like `epoch`.
                .env("TZ", "UTC")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .context("starting ip monitor")?;
            let stdout = child.stdout.take().context("ip monitor stdout")?;
            let (events, index) = (events.clone(), index.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some((at, ip, added)) = parse_line(&line)
                        && let Some(&vip) = index.get(&ip)
                    {
                        let event = AddressEvent {
                            at: at - epoch,
                            node,
                            vip,
                            added,
                        };
                        events.lock().expect("events").push(event);
                    }
                }
            });
            children.push(child);
        }
        Ok(AddressMonitor {
            epoch,
            events,
            children,
        })
    }

    /// The monitor's start, seconds since the epoch: subtract it from a
    /// wall-clock stamp (`ping -D`) to put it on the events' clock.
    pub fn epoch(&self) -> f64 {
        self.epoch
    }

    /// Seconds since the monitor started, on the same clock as the events.
    pub fn now(&self) -> f64 {
        now_epoch() - self.epoch
    }

    /// Every event so far, in time order.
    pub fn events(&self) -> Vec<AddressEvent> {
        let mut events = self.events.lock().expect("events").clone();
        events.sort_by(|a, b| a.at.total_cmp(&b.at));
        events
    }
}

impl Drop for AddressMonitor {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `[2026-12-02T06:52:00.522934] [Deleted ]2: eth0    inet6 2001:db8::1:5/64 …`
/// as (seconds since the epoch, address, added). Continuation lines and
/// other events give `None`.
pub fn parse_line(line: &str) -> Option<(f64, IpAddr, bool)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once(']')?;
    let at = parse_stamp(stamp)?;
    let rest = rest.trim_start();
    let added = !rest.starts_with("Deleted ");
    let mut words = rest.split_whitespace();
    let ip = words
        .find(|w| *w == "inet" || *w == "inet6")
        .and(words.next())?;
    let ip = ip.split('/').next()?.parse().ok()?;
    Some((at, ip, added))
}

/// `2026-12-02T06:52:00.522934` (UTC) as seconds since the epoch.
fn parse_stamp(stamp: &str) -> Option<f64> {
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    Some((days_from_civil(y, m, day) * 86400 + h * 3600 + min * 60) as f64 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_parse() {
        let (at, ip, added) = parse_line(
            "[2026-12-02T06:52:00.522934] 2: eth0    inet6 2001:db8::1:5/64 scope global ",
        )
        .unwrap();
        assert!(added);
        assert_eq!(ip, "2001:db8::1:5".parse::<IpAddr>().unwrap());
        assert!((at - 1_796_194_320.522_934).abs() < 1e-6, "{at}");
        let (_, _, added) = parse_line(
            "[2026-12-02T06:52:00.526675] Deleted 2: eth0    inet6 2001:db8::1:5/64 scope global ",
        )
        .unwrap();
        assert!(!added);
        assert_eq!(
            parse_line("       valid_lft forever preferred_lft forever"),
            None
        );
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
