//! `garp`: how often and how fast addresses are announced.

use super::DAY;
use crate::config::fields::Fields;
use crate::config::json5::{Kind, Value};
use crate::config::model::Garp;

pub(super) fn read_garp(f: &mut Fields, v: &Value) -> Option<Garp> {
    let obj = f.object(v, "garp", &["count", "interval", "refresh", "rate"])?;
    let default = Garp::default();
    let count = match obj.get("count") {
        None => Some(default.count),
        Some(cv) => f.integer(cv, "garp.count", 1, 100).map(|n| n as u32),
    };
    let interval = match obj.get("interval") {
        None => Some(default.interval),
        Some(iv) => f.duration(iv, "garp.interval", 0.001, 60.0),
    };
    // 0 or absent: no periodic refresh.
    let refresh = match obj.get("refresh") {
        None => Some(None),
        Some(Value {
            kind: Kind::Null, ..
        }) => Some(None),
        Some(rv) => f
            .duration(rv, "garp.refresh", 0.0, DAY)
            .map(|d| (!d.is_zero()).then_some(d)),
    };
    let rate = match obj.get("rate") {
        None => Some(default.rate),
        Some(rv) => f.integer(rv, "garp.rate", 1, 10_000_000).map(|n| n as u32),
    };
    Some(Garp {
        count: count?,
        interval: interval?,
        refresh: refresh?,
        rate: rate?,
    })
}
