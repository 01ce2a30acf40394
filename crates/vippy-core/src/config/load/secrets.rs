//! `secret`, `secret_file` and `secrets`: the keys every message is
//! authenticated with.

use std::path::PathBuf;

use crate::config::fields::{Fields, Object, index_path};
use crate::config::json5::{Kind, Value};
use crate::config::model::Secret;

/// `secret`, `secret_file` or `secrets` (exactly one of them).
pub(super) fn read_secrets(f: &mut Fields, top: &Object) -> Option<Vec<Secret>> {
    let Some(list) = top.get("secrets") else {
        return read_secret(f, top).map(|s| vec![s]);
    };
    if let Some(other) = top.get("secret").or(top.get("secret_file")) {
        f.error(
            "secrets",
            Some(other.at),
            "give \"secrets\" or one of \"secret\" and \"secret_file\", not both",
        );
        return None;
    }
    let items = f.array(list, "secrets")?;
    if items.is_empty() {
        f.error(
            "secrets",
            Some(list.at),
            "is empty; list at least one secret (the first signs, every one is accepted)",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = index_path("secrets", i);
        let secret = match &item.kind {
            Kind::String(s) if s.is_empty() => {
                f.error(&path, Some(item.at), "is empty; a secret must be set");
                None
            }
            Kind::String(s) => Some(Secret::Inline(s.clone())),
            Kind::Object(_) => f.object(item, &path, &["file"]).and_then(|o| {
                let Some(v) = o.get("file") else {
                    f.error(
                        &path,
                        Some(item.at),
                        "needs \"file\": the path of a file holding the secret",
                    );
                    return None;
                };
                secret_file(f, v, &format!("{path}.file"))
            }),
            _ => {
                f.error(
                    &path,
                    Some(item.at),
                    format!(
                        "must be a string or {{ \"file\": PATH }}, not {}",
                        item.type_name()
                    ),
                );
                None
            }
        };
        match secret {
            Some(s) if out.contains(&s) => {
                f.error(&path, Some(item.at), "repeats an earlier entry");
                ok = false;
            }
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// The path of a file holding a secret, at `path` (`secret_file`, or a
/// `secrets` entry's `file`).
fn secret_file(f: &mut Fields, v: &Value, path: &str) -> Option<Secret> {
    let s = f.string(v, path)?;
    if s.is_empty() {
        f.error(
            path,
            Some(v.at),
            "is empty; give the path of a file holding the secret",
        );
        return None;
    }
    Some(Secret::File(PathBuf::from(s)))
}

fn read_secret(f: &mut Fields, top: &Object) -> Option<Secret> {
    match (top.get("secret"), top.get("secret_file")) {
        (Some(_), Some(v)) => {
            f.error(
                "secret_file",
                Some(v.at),
                "give either \"secret\" or \"secret_file\", not both",
            );
            None
        }
        (Some(v), None) => {
            let s = f.string(v, "secret")?;
            if s.is_empty() {
                f.error("secret", Some(v.at), "is empty; every message is authenticated with it, so it must be set (the same on every node)");
                return None;
            }
            Some(Secret::Inline(s.to_string()))
        }
        (None, Some(v)) => secret_file(f, v, "secret_file"),
        (None, None) => {
            f.error("secret", Some(top.at), "is missing: set \"secret\" or \"secret_file\"; every message is authenticated with it");
            None
        }
    }
}
