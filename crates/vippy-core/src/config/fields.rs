//! Typed reading of JSON5 values with the key path kept for errors. Every
//! reader records a clear error and returns `None` instead of failing fast,
//! so one run reports every problem in a file.

use std::time::Duration;

use super::error::{ConfigError, suggest};
use super::json5::{Kind, Member, Position, Value};

pub(crate) struct Fields<'s> {
    pub source: &'s str,
    pub errors: Vec<ConfigError>,
}

/// The members of an object, looked up by key.
pub(crate) struct Object<'v> {
    pub members: &'v [Member],
    pub at: Position,
    pub path: String,
}

impl<'v> Object<'v> {
    pub fn get(&self, key: &str) -> Option<&'v Value> {
        self.members.iter().find(|m| m.key == key).map(|m| &m.value)
    }

    /// `path.key` for a member of this object.
    pub fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

pub(crate) fn index_path(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl<'s> Fields<'s> {
    pub fn new(source: &'s str) -> Fields<'s> {
        Fields {
            source,
            errors: Vec::new(),
        }
    }

    pub fn error(&mut self, path: &str, at: Option<Position>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            source: self.source.to_string(),
            path: path.to_string(),
            at,
            message: message.into(),
        });
    }

    /// An object whose keys must all be in `known`; unknown and repeated
    /// keys are errors (with a "did you mean" where one is close).
    pub fn object<'v>(&mut self, v: &'v Value, path: &str, known: &[&str]) -> Option<Object<'v>> {
        let Kind::Object(members) = &v.kind else {
            self.error(
                path,
                Some(v.at),
                format!("must be an object, not {}", v.type_name()),
            );
            return None;
        };
        for (i, m) in members.iter().enumerate() {
            let key_path = if path.is_empty() {
                m.key.clone()
            } else {
                format!("{path}.{}", m.key)
            };
            if !known.contains(&m.key.as_str()) {
                let hint = match suggest(&m.key, known) {
                    Some(k) => format!(" (did you mean \"{k}\"?)"),
                    None => format!(" (known keys: {})", known.join(", ")),
                };
                self.error(&key_path, Some(m.key_at), format!("unknown key{hint}"));
            } else if members[..i].iter().any(|earlier| earlier.key == m.key) {
                self.error(&key_path, Some(m.key_at), "key appears more than once");
            }
        }
        Some(Object {
            members,
            at: v.at,
            path: path.to_string(),
        })
    }

    pub fn array<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v [Value]> {
        match &v.kind {
            Kind::Array(items) => Some(items),
            _ => {
                self.error(
                    path,
                    Some(v.at),
                    format!("must be an array, not {}", v.type_name()),
                );
                None
            }
        }
    }

    pub fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match &v.kind {
            Kind::String(s) => Some(s),
            _ => {
                self.error(
                    path,
                    Some(v.at),
                    format!("must be a string, not {}", v.type_name()),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, v: &Value, path: &str) -> Option<bool> {
        match &v.kind {
            Kind::Bool(b) => Some(*b),
            _ => {
                self.error(
                    path,
                    Some(v.at),
                    format!("must be true or false, not {}", v.type_name()),
                );
                None
            }
        }
    }

    /// A number, or a string holding one (the original wrote `"arp-cache": "90"`).
    fn number(&mut self, v: &Value, path: &str, what: &str) -> Option<f64> {
        let parsed = match &v.kind {
            Kind::Number(n, _) => Some(*n),
            Kind::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                let shown = match &v.kind {
                    Kind::String(s) => format!("\"{s}\""),
                    Kind::Number(_, text) => text.clone(),
                    _ => v.type_name().to_string(),
                };
                self.error(path, Some(v.at), format!("{shown} is not {what}"));
                None
            }
        }
    }

    /// Seconds, as a number or numeric string, within `min..=max` seconds.
    pub fn duration(&mut self, v: &Value, path: &str, min: f64, max: f64) -> Option<Duration> {
        let seconds = self.number(v, path, "a number of seconds")?;
        if !(min..=max).contains(&seconds) {
            self.error(
                path,
                Some(v.at),
                format!("{seconds} seconds is out of range ({min} to {max} seconds)"),
            );
            return None;
        }
        Some(Duration::from_secs_f64(seconds))
    }

    /// A whole number within `min..=max`, as a number or numeric string.
    pub fn integer(&mut self, v: &Value, path: &str, min: u64, max: u64) -> Option<u64> {
        let n = self.number(v, path, "a whole number")?;
        if n.fract() != 0.0 || n < min as f64 || n > max as f64 {
            self.error(
                path,
                Some(v.at),
                format!("{n} is not a whole number from {min} to {max}"),
            );
            return None;
        }
        Some(n as u64)
    }

    /// A string or, where allowed, an array of strings.
    pub fn strings(&mut self, v: &Value, path: &str) -> Option<Vec<String>> {
        match &v.kind {
            Kind::String(s) => Some(vec![s.clone()]),
            Kind::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(self.string(item, &index_path(path, i))?.to_string());
                }
                Some(out)
            }
            _ => {
                self.error(
                    path,
                    Some(v.at),
                    format!(
                        "must be a string or an array of strings, not {}",
                        v.type_name()
                    ),
                );
                None
            }
        }
    }
}
