//! `logging`: driver, syslog facility and the per-level mask.

use crate::config::error::suggest;
use crate::config::fields::Fields;
use crate::config::json5::Value;
use crate::config::model::{Facility, LevelMask, LogDriver, Logging, Severity};

pub(super) fn read_logging(f: &mut Fields, v: &Value) -> Option<Logging> {
    let obj = f.object(v, "logging", &["driver", "facility", "mask"])?;
    let default = Logging::default();
    let driver = match obj.get("driver") {
        None => Some(default.driver),
        Some(dv) => f.string(dv, "logging.driver").and_then(|s| match s {
            "console" => Some(LogDriver::Console),
            "posix" | "syslog" => Some(LogDriver::Syslog),
            "journald" => Some(LogDriver::Journald),
            other => {
                f.error(
                    "logging.driver",
                    Some(dv.at),
                    format!(
                        "\"{other}\" is not a logging driver (console, syslog, posix or journald)"
                    ),
                );
                None
            }
        }),
    };
    let facility = match obj.get("facility") {
        None => Some(default.facility),
        Some(fv) => f.string(fv, "logging.facility").and_then(|s| {
            let found = Facility::from_name(s);
            if found.is_none() {
                let hint = suggest(s, &Facility::NAMES)
                    .map(|k| format!(" (did you mean \"{k}\"?)"))
                    .unwrap_or_default();
                f.error(
                    "logging.facility",
                    Some(fv.at),
                    format!("\"{s}\" is not a syslog facility{hint}"),
                );
            }
            found
        }),
    };
    let mask = match obj.get("mask") {
        None => Some(default.mask),
        Some(mv) => {
            let names: Vec<&str> = Severity::ALL.iter().map(|s| s.name()).collect();
            let mobj = f.object(mv, "logging.mask", &names)?;
            // Levels left out of the mask stay at the default (on, but debug).
            let mut mask = LevelMask::default_mask();
            let mut ok = true;
            for member in mobj.members {
                let Some(severity) = Severity::from_name(&member.key) else {
                    continue; // reported as an unknown key
                };
                match f.boolean(&member.value, &mobj.child(&member.key)) {
                    Some(on) => mask.set(severity, on),
                    None => ok = false,
                }
            }
            ok.then_some(mask)
        }
    };
    Some(Logging {
        driver: driver?,
        facility: facility?,
        mask: mask?,
    })
}
