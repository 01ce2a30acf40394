//! Commands, as checks, hooks and plugins write them.

use crate::config::fields::{Fields, Object};
use crate::config::json5::{Kind, Value};
use crate::config::model::Command;

/// A command: `"prog arg"` (split on spaces, no shell), `["prog", "arg"]`,
/// or `{ "command": ..., "shell": true }` to run it with /bin/sh.
pub(super) fn read_command(f: &mut Fields, v: &Value, path: &str, shell: bool) -> Option<Command> {
    match &v.kind {
        Kind::Object(_) => {
            let obj = f.object(v, path, &["command", "shell"])?;
            command_object(f, &obj)
        }
        Kind::String(s) if shell => Some(Command::Shell(s.clone())),
        Kind::String(s) => {
            let argv: Vec<String> = s.split_whitespace().map(String::from).collect();
            if argv.is_empty() {
                f.error(path, Some(v.at), "command is empty");
                return None;
            }
            Some(Command::Argv(argv))
        }
        Kind::Array(_) if shell => {
            f.error(
                path,
                Some(v.at),
                "with \"shell\": true, give the command as one string",
            );
            None
        }
        Kind::Array(_) => {
            let argv = f.strings(v, path)?;
            if argv.is_empty() || argv[0].is_empty() {
                f.error(path, Some(v.at), "command is empty");
                return None;
            }
            Some(Command::Argv(argv))
        }
        _ => {
            f.error(path, Some(v.at), format!("a command is a string, an array of strings or an object with \"command\", not {}", v.type_name()));
            None
        }
    }
}

/// `{ "command": …, "shell": … }`, its keys already checked.
pub(super) fn command_object(f: &mut Fields, obj: &Object) -> Option<Command> {
    let shell = match obj.get("shell") {
        None => false,
        Some(sv) => f.boolean(sv, &obj.child("shell"))?,
    };
    let Some(cv) = obj.get("command") else {
        f.error(
            &obj.child("command"),
            Some(obj.at),
            "is required but missing",
        );
        return None;
    };
    read_command(f, cv, &obj.child("command"), shell)
}
