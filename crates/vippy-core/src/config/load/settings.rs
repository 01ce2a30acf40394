//! One-value settings written in more than one form: `management_mode`,
//! `quorum`, `realtime` and `failback`.

use super::DAY;
use crate::config::fields::Fields;
use crate::config::json5::{Kind, Value};
use crate::config::model::{Failback, Quorum};

pub(super) fn read_mode(f: &mut Fields, v: &Value) -> Option<u32> {
    let s = match &v.kind {
        Kind::String(s) => s.as_str(),
        _ => {
            f.error(
                "management_mode",
                Some(v.at),
                "write the mode as a string of octal digits, e.g. \"0660\"",
            );
            return None;
        }
    };
    match u32::from_str_radix(s, 8) {
        Ok(mode) if mode <= 0o777 => Some(mode),
        _ => {
            f.error(
                "management_mode",
                Some(v.at),
                format!("\"{s}\" is not a file mode (octal digits up to 0777, e.g. \"0660\")"),
            );
            None
        }
    }
}

pub(super) fn read_quorum(f: &mut Fields, v: &Value, node_count: usize) -> Option<Quorum> {
    match &v.kind {
        Kind::String(s) if s == "majority" => Some(Quorum::Majority),
        Kind::String(s) if s == "off" => Some(Quorum::Off),
        Kind::Bool(false) => Some(Quorum::Off),
        Kind::Number(..) => {
            let n = f.integer(v, "quorum", 0, node_count as u64)? as usize;
            Some(if n == 0 {
                Quorum::Off
            } else {
                Quorum::Count(n)
            })
        }
        _ => {
            f.error(
                "quorum",
                Some(v.at),
                format!(
                    "must be \"majority\", \"off\" or a number of nodes from 1 to {node_count}"
                ),
            );
            None
        }
    }
}

/// `realtime`: `false`, or a SCHED_FIFO priority from 1 to 99 (a number or
/// a numeric string, like every number in the file).
pub(super) fn read_realtime(f: &mut Fields, v: &Value) -> Option<Option<u8>> {
    match &v.kind {
        Kind::Bool(false) => Some(None),
        Kind::Number(..) => f.integer(v, "realtime", 1, 99).map(|p| Some(p as u8)),
        Kind::String(s) if s.trim().parse::<f64>().is_ok() => {
            f.integer(v, "realtime", 1, 99).map(|p| Some(p as u8))
        }
        _ => {
            let shown = match &v.kind {
                Kind::String(s) => format!("\"{s}\""),
                Kind::Bool(true) => "true".to_string(),
                _ => v.type_name().to_string(),
            };
            f.error(
                "realtime",
                Some(v.at),
                format!(
                    "must be false or a SCHED_FIFO priority from 1 to 99 (such as 10), not {shown}"
                ),
            );
            None
        }
    }
}

pub(super) fn read_failback(f: &mut Fields, v: &Value) -> Option<Failback> {
    match &v.kind {
        Kind::String(s) if s == "immediate" => Some(Failback::Immediate),
        Kind::String(s) if s == "manual" => Some(Failback::Manual),
        Kind::Number(..) => f.duration(v, "failback", 0.0, DAY).map(Failback::after),
        Kind::String(s) if s.trim().parse::<f64>().is_ok() => {
            f.duration(v, "failback", 0.0, DAY).map(Failback::after)
        }
        _ => {
            let shown = match &v.kind {
                Kind::String(s) => format!("\"{s}\""),
                _ => v.type_name().to_string(),
            };
            f.error(
                "failback",
                Some(v.at),
                format!(
                    "must be \"immediate\", \"manual\" or a number of seconds from 0 to 86400, not {shown}"
                ),
            );
            None
        }
    }
}
