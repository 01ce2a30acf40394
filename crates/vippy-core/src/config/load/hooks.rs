//! `hooks`: commands run when groups come, go or change.

use super::command::{command_object, read_command};
use super::duration_or;
use crate::config::fields::{Fields, index_path};
use crate::config::json5::{Kind, Value};
use crate::config::model::{Command, Hooks};

pub(super) fn read_hooks(f: &mut Fields, v: &Value) -> Option<Hooks> {
    let obj = f.object(v, "hooks", &["up", "down", "change", "timeout"])?;
    // Each entry, with whether it asks to be retried.
    let list = |f: &mut Fields, key: &str| -> Option<Vec<(Command, bool)>> {
        let Some(lv) = obj.get(key) else {
            return Some(Vec::new());
        };
        let path = obj.child(key);
        match &lv.kind {
            // One command on its own is fine too.
            Kind::String(_) | Kind::Object(_) => {
                read_hook_command(f, lv, &path, key).map(|c| vec![c])
            }
            _ => {
                let items = f.array(lv, &path)?;
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(read_hook_command(f, item, &index_path(&path, i), key)?);
                }
                Some(out)
            }
        }
    };
    let up = list(f, "up");
    let up_retry = up.as_ref().map(|up| {
        up.iter()
            .enumerate()
            .filter(|(_, (_, retry))| *retry)
            .map(|(i, _)| i)
            .collect()
    });
    let up = up.map(|up| up.into_iter().map(|(c, _)| c).collect());
    let plain =
        |l: Option<Vec<(Command, bool)>>| l.map(|l| l.into_iter().map(|(c, _)| c).collect());
    let down = plain(list(f, "down"));
    let change = plain(list(f, "change"));
    let timeout = duration_or(f, &obj, "timeout", 0.01, 3600.0, Hooks::default().timeout);
    Some(Hooks {
        up: up?,
        down: down?,
        change: change?,
        timeout: timeout?,
        up_retry: up_retry?,
    })
}

/// A hook entry: a command, or `{ "command": …, "shell": …, "retry": … }`;
/// only `up` hooks may retry (they run while the group is held here).
fn read_hook_command(f: &mut Fields, v: &Value, path: &str, list: &str) -> Option<(Command, bool)> {
    let Kind::Object(_) = &v.kind else {
        return read_command(f, v, path, false).map(|c| (c, false));
    };
    let obj = f.object(v, path, &["command", "shell", "retry"])?;
    let retry = match obj.get("retry") {
        None => false,
        Some(rv) => f.boolean(rv, &obj.child("retry"))?,
    };
    if retry && list != "up" {
        f.error(
            &obj.child("retry"),
            obj.get("retry").map(|rv| rv.at),
            "only up hooks can retry (they are re-run while the group is held here)",
        );
        return None;
    }
    command_object(f, &obj).map(|c| (c, retry))
}
