//! A golden scenario's inputs: one JSON object per line of `NAME.jsonl`.
//!
//! Setup lines (no `at`), before any timed line:
//! - `{"config": TEXT}`: the cluster's config file (JSON5 text, or a JSON
//!   object); every node in its `nodes` starts with it. Exactly one.
//! - `{"config": TEXT, "name": "v6"}`: a config for `reload` to use.
//! - `{"config": TEXT, "name": "other", "for": ["n3"]}`: n3 starts with it.
//! - `{"note": "..."}`: printed at the top of the transcript.
//!
//! Timed lines, in time order (`at` in seconds of simulated time):
//! `start`, `crash`, `shutdown`, `health` (+ `check`, `ok`), `admin`
//! (+ `active`, `reason`), `reload` (+ `config`: a name or inline text),
//! `replay` (+ `to`), `holders` (print the holders table), `note` (print
//! a line), and `run_until` (with or without `at`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use vippy_core::config::{Config, load};

#[derive(Debug)]
pub struct Script {
    pub name: String,
    /// The node names, in the order of the default config's `nodes`.
    pub nodes: Vec<String>,
    /// The config each node starts with, by node index.
    pub start_configs: Vec<Arc<Config>>,
    /// Every config of the script (default first), for naming digests.
    pub configs: Vec<(String, Arc<Config>)>,
    pub notes: Vec<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug)]
pub struct Step {
    /// Line number in the `.jsonl`, for messages.
    pub line: usize,
    /// Seconds since the start.
    pub at: f64,
    pub input: Input,
}

#[derive(Debug)]
pub enum Input {
    Start(usize),
    Crash(usize),
    Shutdown(usize),
    Health {
        node: usize,
        check: String,
        ok: bool,
    },
    Admin {
        node: usize,
        active: bool,
        reason: Option<String>,
    },
    Reload {
        node: usize,
        label: String,
        config: Arc<Config>,
    },
    Replay {
        from: usize,
        to: usize,
    },
    Holders,
    Note(String),
    RunUntil,
}

impl Script {
    pub fn parse(name: &str, text: &str) -> Result<Script, String> {
        let mut default: Option<Arc<Config>> = None;
        let mut named: BTreeMap<String, Arc<Config>> = BTreeMap::new();
        let mut configs: Vec<(String, Arc<Config>)> = Vec::new();
        let mut overrides: Vec<(String, Arc<Config>)> = Vec::new();
        let mut notes = Vec::new();
        let mut raw_steps: Vec<(usize, Map<String, Value>)> = Vec::new();

        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let at = |msg: String| format!("{name}.jsonl:{line_no}: {msg}");
            if line.trim().is_empty() {
                continue;
            }
            let value: Value =
                serde_json::from_str(line).map_err(|e| at(format!("not JSON: {e}")))?;
            let Value::Object(obj) = value else {
                return Err(at("each line must be a JSON object".into()));
            };
            let timed = obj.contains_key("at") || obj.contains_key("run_until");
            if timed {
                raw_steps.push((line_no, obj));
                continue;
            }
            if !raw_steps.is_empty() {
                return Err(at("setup lines must come before timed lines".into()));
            }
            if let Some(note) = obj.get("note") {
                notes.push(str_field(note).map_err(at)?.to_string());
                continue;
            }
            let Some(text) = obj.get("config") else {
                return Err(at(
                    "a line without \"at\" must have \"config\" or \"note\"".into()
                ));
            };
            let config = parse_config(text, &format!("{name}.jsonl:{line_no}")).map_err(at)?;
            match obj.get("name") {
                None => {
                    if default.is_some() {
                        return Err(at("a second unnamed config (name it)".into()));
                    }
                    configs.insert(0, ("file".to_string(), config.clone()));
                    default = Some(config);
                }
                Some(v) => {
                    let label = str_field(v).map_err(at)?.to_string();
                    if named.insert(label.clone(), config.clone()).is_some() {
                        return Err(at(format!("config {label:?} named twice")));
                    }
                    configs.push((label, config.clone()));
                    if let Some(list) = obj.get("for") {
                        let Value::Array(list) = list else {
                            return Err(at("\"for\" must be a list of node names".into()));
                        };
                        for node in list {
                            overrides
                                .push((str_field(node).map_err(at)?.to_string(), config.clone()));
                        }
                    }
                }
            }
        }

        let default = default.ok_or_else(|| format!("{name}.jsonl: no unnamed config line"))?;
        let nodes = default.cluster.nodes.clone();
        let mut start_configs = vec![default.clone(); nodes.len()];
        for (node, config) in overrides {
            let i = nodes
                .iter()
                .position(|n| *n == node)
                .ok_or_else(|| format!("{name}.jsonl: \"for\" names {node:?}, not in nodes"))?;
            start_configs[i] = config;
        }

        let node_of = |line_no: usize, v: &Value| -> Result<usize, String> {
            let s = str_field(v).map_err(|e| format!("{name}.jsonl:{line_no}: {e}"))?;
            nodes
                .iter()
                .position(|n| n == s)
                .ok_or_else(|| format!("{name}.jsonl:{line_no}: no node {s:?}"))
        };
        let mut steps = Vec::new();
        let mut last = 0.0f64;
        for (line_no, obj) in raw_steps {
            let err = |msg: String| format!("{name}.jsonl:{line_no}: {msg}");
            let at = match (obj.get("at"), obj.get("run_until")) {
                (_, Some(t)) | (Some(t), None) => t
                    .as_f64()
                    .filter(|t| *t >= 0.0)
                    .ok_or_else(|| err("times are seconds, >= 0".into()))?,
                (None, None) => unreachable!("timed lines have one"),
            };
            if at < last {
                return Err(err(format!("at {at} goes back in time (after {last})")));
            }
            last = at;
            let input = if obj.contains_key("run_until") {
                Input::RunUntil
            } else if let Some(v) = obj.get("start") {
                Input::Start(node_of(line_no, v)?)
            } else if let Some(v) = obj.get("crash") {
                Input::Crash(node_of(line_no, v)?)
            } else if let Some(v) = obj.get("shutdown") {
                Input::Shutdown(node_of(line_no, v)?)
            } else if let Some(v) = obj.get("health") {
                Input::Health {
                    node: node_of(line_no, v)?,
                    check: obj
                        .get("check")
                        .map(str_field)
                        .transpose()
                        .map_err(err)?
                        .ok_or_else(|| err("health needs \"check\"".into()))?
                        .to_string(),
                    ok: obj
                        .get("ok")
                        .and_then(Value::as_bool)
                        .ok_or_else(|| err("health needs \"ok\": true or false".into()))?,
                }
            } else if let Some(v) = obj.get("admin") {
                Input::Admin {
                    node: node_of(line_no, v)?,
                    active: obj
                        .get("active")
                        .and_then(Value::as_bool)
                        .ok_or_else(|| err("admin needs \"active\": true or false".into()))?,
                    reason: obj
                        .get("reason")
                        .map(str_field)
                        .transpose()
                        .map_err(err)?
                        .map(str::to_string),
                }
            } else if let Some(v) = obj.get("reload") {
                let node = node_of(line_no, v)?;
                let Some(c) = obj.get("config") else {
                    return Err(err("reload needs \"config\"".into()));
                };
                let (label, config) = match c.as_str().and_then(|s| named.get(s)) {
                    Some(config) => (c.as_str().unwrap_or_default().to_string(), config.clone()),
                    None => {
                        let config =
                            parse_config(c, &format!("{name}.jsonl:{line_no}")).map_err(err)?;
                        let label = format!("line {line_no}");
                        configs.push((label.clone(), config.clone()));
                        (label, config)
                    }
                };
                Input::Reload {
                    node,
                    label,
                    config,
                }
            } else if let Some(v) = obj.get("replay") {
                let to = obj
                    .get("to")
                    .ok_or_else(|| err("replay needs \"to\"".into()))?;
                Input::Replay {
                    from: node_of(line_no, v)?,
                    to: node_of(line_no, to)?,
                }
            } else if obj.contains_key("holders") {
                Input::Holders
            } else if let Some(v) = obj.get("note") {
                Input::Note(str_field(v).map_err(err)?.to_string())
            } else {
                return Err(err(format!("nothing to do in {}", Value::Object(obj))));
            };
            steps.push(Step {
                line: line_no,
                at,
                input,
            });
        }
        Ok(Script {
            name: name.to_string(),
            nodes,
            start_configs,
            configs,
            notes,
            steps,
        })
    }
}

fn str_field(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, got {v}"))
}

/// JSON5 text as a string, or the config as a JSON object.
fn parse_config(v: &Value, source: &str) -> Result<Arc<Config>, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Object(_) => v.to_string(),
        other => return Err(format!("a config is JSON5 text or an object, not {other}")),
    };
    load(&text, source)
        .map(Arc::new)
        .map_err(|e| format!("config does not load: {e}"))
}
