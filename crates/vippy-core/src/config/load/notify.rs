//! `notify`: who else hears about an address that moved.

use super::address::{cidr, interface_name};
use crate::config::fields::{Fields, index_path};
use crate::config::json5::{Kind, Value};
use crate::config::model::NotifyTarget;

pub(super) fn read_notify(f: &mut Fields, v: &Value) -> Option<Vec<NotifyTarget>> {
    let items = f.array(v, "notify")?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = index_path("notify", i);
        match &item.kind {
            Kind::String(s) if s == "arp-cache" => out.push(NotifyTarget::ArpCache),
            Kind::String(s) => {
                f.error(&path, Some(item.at), format!("\"{s}\" is not a notify target: use \"arp-cache\" or {{ \"ip\": \"NETWORK/PREFIX\" }}"));
                ok = false;
            }
            _ => {
                let Some(obj) = f.object(item, &path, &["ip", "interface"]) else {
                    ok = false;
                    continue;
                };
                let interface = match obj.get("interface") {
                    None => Some(None),
                    Some(iv) => interface_name(f, iv, &obj.child("interface")).map(Some),
                };
                let net = match obj.get("ip") {
                    None => {
                        f.error(&obj.child("ip"), Some(obj.at), "is required but missing");
                        None
                    }
                    Some(iv) => f
                        .string(iv, &obj.child("ip"))
                        .and_then(|s| cidr(f, s, &obj.child("ip"), iv.at)),
                };
                match (net, interface) {
                    (Some(net), Some(interface)) => {
                        out.push(NotifyTarget::Network { net, interface })
                    }
                    _ => ok = false,
                }
            }
        }
    }
    ok.then_some(out)
}
