//! The golden-test harness: parse a scenario, run it on a recording
//! [`World`], write its transcript, compare it with the expected one.
//!
//! - `script.rs`: the `.jsonl` inputs.
//! - `transcript.rs`: recorded outputs as readable lines.

pub mod script;
pub mod transcript;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vippy_core::config::Cluster;
use vippy_core::node::{Event, LocalEvent, Node};
use vippy_sim::world::{Output, Recorded, World};

use script::{Input, Script};
use transcript::{Transcript, ips, stamp};

/// One-way network delay: small and fixed, so times read easily.
const DELAY: Duration = Duration::from_millis(1);
/// No faults are injected, so the seed only fixes the world's RNG.
const SEED: u64 = 0;

pub const REGEN_HINT: &str = "VIPPY_GOLDEN=regen cargo test -p vippy-sim --release --test golden";

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// A finished scenario: the world as it ended, everything every node
/// output, and the transcript.
pub struct Run {
    pub script: Script,
    pub world: World,
    /// Every output, in order (also those the transcript does not show).
    pub outputs: Vec<Recorded>,
    /// The holders table at each `holders` line: (seconds, holders by group).
    pub snapshots: Vec<(f64, Vec<Vec<String>>)>,
    /// Two holders of one address at once, if that happened (the run stops).
    pub violation: Option<String>,
    pub transcript: String,
}

impl Run {
    /// Parses and runs `tests/golden/NAME.jsonl`.
    pub fn scenario(name: &str) -> Run {
        let path = golden_dir().join(format!("{name}.jsonl"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let script = Script::parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
        run(script)
    }

    pub fn index(&self, name: &str) -> usize {
        self.script
            .nodes
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    pub fn node(&self, name: &str) -> &Node {
        self.world.nodes[self.index(name)]
            .node
            .as_ref()
            .unwrap_or_else(|| panic!("{name} is not running"))
    }

    /// Events of `name`, with their time in seconds.
    pub fn events(&self, name: &str) -> Vec<(f64, &Event)> {
        let i = self.index(name);
        self.outputs
            .iter()
            .filter(|r| r.node == i)
            .filter_map(|r| match &r.output {
                Output::Event(e) => Some((r.at.as_secs_f64(), e)),
                _ => None,
            })
            .collect()
    }

    /// Every event of every node, with node name and time in seconds.
    pub fn all_events(&self) -> Vec<(f64, &str, &Event)> {
        self.outputs
            .iter()
            .filter_map(|r| match &r.output {
                Output::Event(e) => {
                    Some((r.at.as_secs_f64(), self.script.nodes[r.node].as_str(), e))
                }
                _ => None,
            })
            .collect()
    }

    /// Who has each group's first address plumbed now, by group index of
    /// the newest config a running node has.
    pub fn holders(&self) -> Vec<Vec<String>> {
        holder_names(&self.world)
    }

    /// The holders table printed at `at` seconds.
    pub fn snapshot(&self, at: f64) -> &[Vec<String>] {
        self.snapshots
            .iter()
            .find(|(t, _)| (t - at).abs() < 1e-9)
            .map(|(_, h)| h.as_slice())
            .unwrap_or_else(|| panic!("no holders line at {at} s"))
    }
}

fn run(script: Script) -> Run {
    let mut world = World::new(SEED, script.start_configs.clone(), DELAY);
    for (i, name) in script.nodes.iter().enumerate() {
        world.nodes[i].name = name.clone();
    }
    world.record();
    // Never two holders of one address at once, not even for a moment.
    world.strict_single_holder = true;
    let mut watched: Vec<_> = script
        .configs
        .iter()
        .flat_map(|(_, c)| c.cluster.groups.iter().flat_map(|g| g.ips.iter().copied()))
        .collect();
    watched.sort();
    watched.dedup_by_key(|ip| ip.addr());
    world.watched = watched;

    let clusters: Vec<(String, Arc<Cluster>)> = script
        .configs
        .iter()
        .map(|(label, c)| (label.clone(), c.cluster.clone()))
        .collect();
    let mut out = Transcript::new(&world, &clusters);
    out.raw(&format!(
        "# {} — expected transcript; inputs in {}.jsonl. Regenerate: {REGEN_HINT}",
        script.name, script.name
    ));
    for note in &script.notes {
        out.raw(&format!("# {note}"));
    }
    let mut outputs = Vec::new();
    let mut snapshots = Vec::new();
    let mut violation = None;
    fn keep(world: &mut World, out: &mut Transcript, outputs: &mut Vec<Recorded>) {
        let recorded = world.take_recorded();
        outputs.extend(recorded.iter().cloned());
        out.outputs(recorded);
    }

    for step in &script.steps {
        let t = world.base + Duration::from_secs_f64(step.at);
        world.run_until(t);
        keep(&mut world, &mut out, &mut outputs);
        if let Some(v) = world.violation.take() {
            out.raw(&format!(
                "!!! VIOLATION at {}: {v}",
                stamp(world.now - world.base)
            ));
            violation = Some(v);
            break;
        }
        let at = world.now - world.base;
        let name = |i: usize| script.nodes[i].clone();
        match &step.input {
            Input::Start(i) => {
                out.forget(*i);
                world.start(*i);
                let node = world.nodes[*i].node.as_ref().expect("started");
                let what = format!(
                    ">>> start (config v{}, {} groups, {} nodes)",
                    node.cluster().version,
                    node.cluster().groups.len(),
                    node.cluster().nodes.len()
                );
                // The start line goes before what the node did on starting.
                let recorded = world.take_recorded();
                out.line(at, &name(*i), &what);
                outputs.extend(recorded.iter().cloned());
                out.outputs(recorded);
            }
            Input::Crash(i) => {
                out.line(
                    at,
                    &name(*i),
                    ">>> crash (killed; its addresses vanish with it)",
                );
                world.crash(*i);
            }
            Input::Shutdown(i) => {
                out.line(
                    at,
                    &name(*i),
                    ">>> shutdown (graceful stop, then the process exits)",
                );
                world.local(*i, LocalEvent::Shutdown);
                keep(&mut world, &mut out, &mut outputs);
                // vippyd exits once the goodbye is sent; it is in flight.
                world.crash(*i);
            }
            Input::Health { node, check, ok } => {
                out.line(
                    at,
                    &name(*node),
                    &format!(
                        ">>> health check {check} {}",
                        if *ok { "passes" } else { "FAILS" }
                    ),
                );
                world.local(
                    *node,
                    LocalEvent::Health {
                        check: check.clone(),
                        ok: *ok,
                    },
                );
            }
            Input::Admin {
                node,
                active,
                reason,
            } => {
                let what = match (active, reason) {
                    (false, Some(r)) => format!(">>> admin drain (reason: {r})"),
                    (false, None) => ">>> admin drain".to_string(),
                    (true, _) => ">>> admin undrain".to_string(),
                };
                out.line(at, &name(*node), &what);
                world.local(
                    *node,
                    LocalEvent::Admin {
                        source: "admin".into(),
                        active: *active,
                        reason: reason.clone(),
                    },
                );
            }
            Input::Reload {
                node,
                label,
                config,
            } => {
                out.line(
                    at,
                    &name(*node),
                    &format!(
                        ">>> reload config {label} (v{}, {} groups)",
                        config.cluster.version,
                        config.cluster.groups.len()
                    ),
                );
                world.reload(*node, config.clone());
            }
            Input::Replay { from, to } => {
                out.line(
                    at,
                    &name(*to),
                    &format!(">>> replay of the last datagram {} sent it", name(*from)),
                );
                assert!(
                    world.replay_last(*from, *to),
                    "{}.jsonl:{}: nothing recorded from {} to {}",
                    script.name,
                    step.line,
                    name(*from),
                    name(*to)
                );
            }
            Input::Holders => {}
            Input::Note(text) => out.raw(&format!("# {text}")),
            Input::RunUntil => {}
        }
        keep(&mut world, &mut out, &mut outputs);
        if matches!(step.input, Input::Holders) {
            out.line(at, "holders:", &holders_line(&world));
            snapshots.push((at.as_secs_f64(), holder_names(&world)));
        }
        if let Some(v) = world.violation.take() {
            out.raw(&format!(
                "!!! VIOLATION at {}: {v}",
                stamp(world.now - world.base)
            ));
            violation = Some(v);
            break;
        }
    }

    let at = world.now - world.base;
    out.raw("# end");
    out.line(at, "holders:", &holders_line(&world));
    for (i, name) in script.nodes.iter().enumerate() {
        let what = match world.nodes[i].node.as_ref() {
            None => "not running".to_string(),
            Some(node) => {
                let c = node.counters();
                let mut s = format!(
                    "v{} {}, heartbeats sent {} received {}, acquisitions {}, releases {}, config adoptions {}",
                    node.cluster().version,
                    if node.is_active() {
                        "active"
                    } else {
                        "inactive"
                    },
                    c.heartbeats_sent,
                    c.heartbeats_received,
                    c.acquisitions,
                    c.releases,
                    c.config_adoptions
                );
                for r in vippy_core::node::Rejection::ALL {
                    if c.rejected(r) > 0 {
                        s.push_str(&format!(", rejected {} {}", r.as_str(), c.rejected(r)));
                    }
                }
                s
            }
        };
        out.line(at, name, &format!("counters: {what}"));
    }
    let transcript = out.text;
    Run {
        script,
        world,
        outputs,
        snapshots,
        violation,
        transcript,
    }
}

/// Each group of the newest running config, by index, with the nodes that
/// have its first address plumbed.
fn holders(world: &World) -> Vec<(Vec<ipnet::IpNet>, Vec<String>)> {
    let cluster = world
        .nodes
        .iter()
        .filter_map(|n| n.node.as_ref().map(|node| node.cluster().clone()))
        .max_by_key(|c| c.version);
    let Some(cluster) = cluster else {
        return Vec::new();
    };
    cluster
        .groups
        .iter()
        .map(|g| {
            let names = world
                .holders_of(&g.ips[0])
                .into_iter()
                .map(|i| world.nodes[i].name.clone())
                .collect();
            (g.ips.clone(), names)
        })
        .collect()
}

fn holder_names(world: &World) -> Vec<Vec<String>> {
    holders(world).into_iter().map(|(_, names)| names).collect()
}

/// `g0=n1 g1=n3 g2=- ...`; `n1+n2` would be a double holder.
fn holders_line(world: &World) -> String {
    let groups = holders(world);
    let mut parts = Vec::new();
    for (g, (_, names)) in groups.iter().enumerate() {
        let who = if names.is_empty() {
            "-".to_string()
        } else {
            names.join("+")
        };
        parts.push(format!("g{g}={who}"));
    }
    // Addresses plumbed somewhere that the newest config does not have.
    let known: Vec<_> = groups
        .iter()
        .flat_map(|(list, _)| list.iter().map(|ip| ip.addr()))
        .collect();
    for n in &world.nodes {
        let extra: Vec<_> = n
            .plumbed
            .iter()
            .filter(|ip| !known.contains(&ip.addr()))
            .copied()
            .collect();
        if n.node.is_some() && !extra.is_empty() {
            parts.push(format!("{}+={}", n.name, ips(&extra)));
        }
    }
    parts.join(" ")
}

/// Compares a transcript with `NAME.out`, or rewrites it under
/// `VIPPY_GOLDEN=regen`. The error shows the first differing lines.
pub fn compare(name: &str, actual: &str) -> Result<(), String> {
    let path = golden_dir().join(format!("{name}.out"));
    if std::env::var("VIPPY_GOLDEN").is_ok_and(|v| v == "regen") {
        std::fs::write(&path, actual)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    let got = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.out"));
    let _ = std::fs::write(&got, actual);
    let exp: Vec<&str> = expected.lines().collect();
    let act: Vec<&str> = actual.lines().collect();
    let mut msg = format!("{name}: the transcript differs from {}\n", path.display());
    if expected.is_empty() {
        msg.push_str("(no expected transcript yet)\n");
    }
    msg.push_str(&diff(&exp, &act));
    msg.push_str(&format!(
        "(- expected, + actual) whole actual transcript: {}\n",
        got.display()
    ));
    Err(msg)
}

/// A unified-style diff of two transcripts (a longest-common-subsequence
/// walk): hunks with two lines of context, the first few of them.
fn diff(exp: &[&str], act: &[&str]) -> String {
    const CONTEXT: usize = 2;
    const MAX_LINES: usize = 40;
    // lcs[i][j]: the longest common subsequence of exp[i..] and act[j..].
    let mut lcs = vec![vec![0u32; act.len() + 1]; exp.len() + 1];
    for i in (0..exp.len()).rev() {
        for j in (0..act.len()).rev() {
            lcs[i][j] = if exp[i] == act[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // (sign, expected line number, text)
    let mut ops: Vec<(char, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < exp.len() || j < act.len() {
        if i < exp.len() && j < act.len() && exp[i] == act[j] {
            ops.push((' ', i + 1, exp[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < exp.len() && (j == act.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i + 1, exp[i]));
            i += 1;
        } else {
            ops.push(('+', i + 1, act[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut out = String::new();
    let mut shown = 0;
    let mut last_printed: Option<usize> = None;
    for &k in &changed {
        let from = k.saturating_sub(CONTEXT);
        let to = (k + CONTEXT).min(ops.len() - 1);
        for (m, op) in ops.iter().enumerate().take(to + 1).skip(from) {
            if last_printed.is_some_and(|p| m <= p) {
                continue;
            }
            if last_printed.is_none_or(|p| m > p + 1) {
                out.push_str(&format!("@@ expected line {} @@\n", op.1));
            }
            out.push_str(&format!("{} {}\n", op.0, op.2));
            last_printed = Some(m);
            shown += 1;
            if shown >= MAX_LINES {
                out.push_str(&format!("... ({} changed lines in all)\n", changed.len()));
                return out;
            }
        }
    }
    out
}
