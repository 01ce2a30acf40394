//! `vippyd --check-config`: validate a file the way the daemon would load
//! it, like `keepalived -t`, without starting anything; and, beyond what the
//! loader checks, what the daemon needs from this host: its node name (the
//! hostname without `-n`), the programs of checks, hooks and plugins, and
//! the VIPs' interfaces.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use vippy_core::config::json5::{self, Kind, Value};
use vippy_core::config::{self, ChatInterface, Config, ConfigError, Secret};
use vippy_core::node::SecretBytes;

/// Where the node name being checked came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeName {
    /// `-n NODE`.
    Given(String),
    /// No `-n`: the hostname, as the daemon takes it at start, or why it
    /// could not be read.
    Hostname(Result<String, String>),
}

impl NodeName {
    /// The name, when there is one.
    pub fn name(&self) -> Option<&str> {
        match self {
            NodeName::Given(n) | NodeName::Hostname(Ok(n)) => Some(n),
            NodeName::Hostname(Err(_)) => None,
        }
    }

    fn is_hostname(&self) -> bool {
        matches!(self, NodeName::Hostname(_))
    }
}

/// What `vippyd --check-config` found. Problems are [`ConfigError`]s: the
/// file (or `vippyd` for the command line), the key path, the position when
/// known, and a message that never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file, as given.
    pub file: String,
    pub node: NodeName,
    /// Anything that makes the daemon refuse the file or fail at what the
    /// file asks: exit status 1.
    pub errors: Vec<ConfigError>,
    /// Worth knowing, but the daemon runs with it (exit status 0).
    pub warnings: Vec<ConfigError>,
    /// The one-screen summary, when there are no errors.
    pub summary: Option<String>,
}

impl Report {
    /// No errors (warnings allowed).
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors, one a line, as `vippyd -t` prints them on stderr.
    pub fn errors_text(&self) -> String {
        lines(&self.errors, "")
    }

    /// The warnings, one a line, each led by `warning: `.
    pub fn warnings_text(&self) -> String {
        lines(&self.warnings, "warning: ")
    }

    /// `vippyd -t --json`: one JSON object (documented in
    /// docs/CONFIGURATION.md, "Checking a file").
    pub fn to_json(&self) -> serde_json::Value {
        let problems = |list: &[ConfigError]| -> Vec<serde_json::Value> {
            list.iter()
                .map(|e| {
                    serde_json::json!({
                        "path": e.path,
                        "message": e.message,
                        "line": e.at.map(|p| p.line),
                        "column": e.at.map(|p| p.column),
                        "text": e.to_string(),
                    })
                })
                .collect()
        };
        serde_json::json!({
            "ok": self.ok(),
            "file": self.file,
            "node": self.node.name(),
            "node_from": if self.node.is_hostname() { "hostname" } else { "option" },
            "errors": problems(&self.errors),
            "warnings": problems(&self.warnings),
            "summary": self.summary,
        })
    }
}

fn lines(list: &[ConfigError], lead: &str) -> String {
    list.iter()
        .map(|e| format!("{lead}{e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Source of the problems that come from the command line, not the file.
const COMMAND_LINE: &str = "vippyd";

/// Everything `vippyd --check-config` checks: the file as the daemon loads
/// it, `node` in `nodes` (the daemon refuses to start otherwise), `peers`
/// naming every other node, the secrets readable, the programs of checks,
/// hooks, plugins and `-p PROGRAM` (`cli_plugins`) present and executable;
/// and, as warnings, interfaces that do not exist on this host.
pub fn check(path: &Path, node: &NodeName, cli_plugins: &[String]) -> Report {
    let file = path.display().to_string();
    let mut report = Report {
        file: file.clone(),
        node: node.clone(),
        errors: Vec::new(),
        warnings: Vec::new(),
        summary: None,
    };
    let text = match read_text(path) {
        Ok(text) => text,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    let config = match config::load(&text, &file) {
        Ok(config) => config,
        Err(errors) => {
            report.errors = errors.0;
            return report;
        }
    };
    // The loader accepted the text, so it parses; it gives the positions
    // and the exact key paths of what is checked below.
    let doc = json5::parse(&text).ok();
    let doc = doc.as_ref();
    let mut problems = Problems {
        config: &config,
        doc,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    problems.node(node);
    problems.secrets();
    problems.programs(cli_plugins);
    problems.interfaces(Path::new(SYS_CLASS_NET));
    let Problems {
        errors, warnings, ..
    } = problems;
    report.errors = errors;
    report.warnings = warnings;
    if report.ok() {
        let name = node.name();
        let mut summary = config::summary(&config, name);
        if let (Some(name), true) = (name, node.is_hostname()) {
            summary = summary.replacen(
                &format!("  this node: {name} ("),
                &format!("  this node: {name} (from the hostname; "),
                1,
            );
        }
        report.summary = Some(summary);
    }
    report
}

/// Reads and validates `path`; with `node`, checks `node`, else the
/// hostname, as [`check`] does. Returns the summary (without the warnings)
/// or every error, one a line.
pub fn check_config(path: &Path, node: Option<&str>) -> Result<String, String> {
    let node = match node {
        Some(n) => NodeName::Given(n.to_string()),
        None => NodeName::Hostname(hostname()),
    };
    let report = check(path, &node, &[]);
    match report.summary {
        Some(summary) if report.ok() => Ok(summary),
        _ => Err(report.errors_text()),
    }
}

/// This host's name as the daemon takes it when `-n` is not given.
pub fn hostname() -> Result<String, String> {
    let name = nix::unistd::gethostname()
        .map_err(|e| format!("cannot read the hostname ({e}); give the node with -n NODE"))?;
    name.into_string()
        .map_err(|_| "the hostname is not UTF-8; give the node with -n NODE".to_string())
}

/// Where Linux lists this host's network interfaces.
const SYS_CLASS_NET: &str = "/sys/class/net";

/// The shell `"shell": true` commands run with.
const SHELL: &str = "/bin/sh";

/// What execvp(3) searches when `PATH` is not set.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

struct Problems<'a> {
    config: &'a Config,
    /// The parsed file, for key paths and positions.
    doc: Option<&'a Value>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

impl Problems<'_> {
    fn problem(&self, path: &str, at: Option<&Value>, message: String) -> ConfigError {
        ConfigError {
            source: self.config.source.clone(),
            path: path.to_string(),
            at: at.map(|v| v.at),
            message,
        }
    }

    fn error(&mut self, path: &str, at: Option<&Value>, message: String) {
        let e = self.problem(path, at, message);
        self.errors.push(e);
    }

    fn warning(&mut self, path: &str, at: Option<&Value>, message: String) {
        let w = self.problem(path, at, message);
        self.warnings.push(w);
    }

    /// The node in `nodes`, as the daemon requires at start, and then the
    /// peers naming every other node.
    fn node(&mut self, node: &NodeName) {
        let config = self.config;
        let nodes = member(self.doc, "nodes");
        let known = config.cluster.nodes.join(", ");
        let name = match node {
            NodeName::Hostname(Err(e)) => {
                self.errors.push(ConfigError {
                    source: COMMAND_LINE.to_string(),
                    path: String::new(),
                    at: None,
                    message: e.clone(),
                });
                return;
            }
            NodeName::Given(name) => {
                if config.cluster.node_index(name).is_none() {
                    self.error(
                        "nodes",
                        nodes,
                        format!(
                            "node \"{name}\" is not in \"nodes\" ({known}); pass the right name with -n NODE"
                        ),
                    );
                    return;
                }
                name
            }
            NodeName::Hostname(Ok(name)) => {
                if config.cluster.node_index(name).is_none() {
                    self.error(
                        "nodes",
                        nodes,
                        format!(
                            "this host's name \"{name}\" (the hostname, taken when -n is not given) is not in \"nodes\" ({known}); pass the node's name with -n NODE"
                        ),
                    );
                    return;
                }
                name
            }
        };
        if let Err(e) = peers_cover_nodes(config, name) {
            let message = strip_source(config, &e);
            let message = message.strip_prefix("peers: ").unwrap_or(message);
            self.error("peers", member(self.doc, "peers"), message.to_string());
        }
    }

    /// Every secret file readable and not empty, no two secrets the same.
    fn secrets(&mut self) {
        if let Err(e) = secrets_bytes(self.config) {
            let key = ["secrets", "secret_file", "secret"]
                .into_iter()
                .find(|k| member(self.doc, k).is_some())
                .unwrap_or("secret");
            let message = strip_source(self.config, &e).to_string();
            self.error(key, member(self.doc, key), message);
        }
    }

    /// The program of every check, hook and plugin present and executable.
    fn programs(&mut self, cli_plugins: &[String]) {
        let config = self.config;
        let checks = member(self.doc, "checks");
        for (i, check) in config.checks.iter().enumerate() {
            let at = member(item(checks, i), "command");
            self.program(&format!("checks[{i}].command"), at, &check.command);
        }
        let hooks = member(self.doc, "hooks");
        for (key, commands) in [
            ("up", &config.hooks.up),
            ("down", &config.hooks.down),
            ("change", &config.hooks.change),
        ] {
            let written = member(hooks, key);
            // One command on its own, or a list of them.
            let listed = matches!(written.map(|v| &v.kind), Some(Kind::Array(_)));
            for (i, command) in commands.iter().enumerate() {
                let (path, at) = if listed {
                    (format!("hooks.{key}[{i}]"), item(written, i))
                } else {
                    (format!("hooks.{key}"), written)
                };
                self.program(&path, at, command);
            }
        }
        let plugins = member(self.doc, "plugins");
        for (i, command) in config.plugins.iter().enumerate() {
            self.program(&format!("plugins[{i}]"), item(plugins, i), command);
        }
        for (i, program) in cli_plugins.iter().enumerate() {
            let argv: Vec<String> = program.split_whitespace().map(String::from).collect();
            if argv.is_empty() {
                continue;
            }
            if let Err(message) = find_program(&argv[0]) {
                self.errors.push(ConfigError {
                    source: COMMAND_LINE.to_string(),
                    path: format!("-p[{i}]"),
                    at: None,
                    message,
                });
            }
        }
    }

    fn program(&mut self, path: &str, at: Option<&Value>, command: &config::Command) {
        let program = match command {
            config::Command::Argv(argv) => match argv.first() {
                Some(p) => p.as_str(),
                None => return,
            },
            config::Command::Shell(_) => SHELL,
        };
        if let Err(message) = find_program(program) {
            self.error(path, at, message);
        } else if program.contains('/') && !program.starts_with('/') {
            self.warning(
                path,
                at,
                format!(
                    "{program}: a relative path, found from here but run from the daemon's working directory (/ under systemd); give an absolute path"
                ),
            );
        }
    }

    /// Each VIP's named interface, and a named `chat_interface`, present on
    /// this host. Not an error: the daemon plumbs a VIP, and joins the chat
    /// group, once its interface appears.
    fn interfaces(&mut self, sys_class_net: &Path) {
        if !sys_class_net.is_dir() {
            return;
        }
        let config = self.config;
        let vips = member(self.doc, "vips");
        for (g, group) in config.cluster.groups.iter().enumerate() {
            // A leading node name takes the first place in the file.
            let lead = usize::from(group.preferred.is_some());
            for (e, ip) in group.ips.iter().enumerate() {
                let Some(ifname) = config.interfaces.get(&ip.addr()) else {
                    continue;
                };
                if interface_exists(sys_class_net, ifname) {
                    continue;
                }
                let e = e + lead;
                let at = member(item(item(vips, g), e), "interface");
                self.warning(
                    &format!("vips[{g}][{e}].interface"),
                    at,
                    format!(
                        "no interface \"{ifname}\" on this host; {ip} is plumbed only once it exists"
                    ),
                );
            }
        }
        let chat = match &config.chat_interface {
            ChatInterface::Named(ifname) => Some(ifname),
            ChatInterface::All => None,
        };
        if let Some(ifname) = chat.filter(|n| !interface_exists(sys_class_net, n)) {
            self.warning(
                "chat_interface",
                member(self.doc, "chat_interface"),
                format!(
                    "no interface \"{ifname}\" on this host; the chat group is joined only once it exists"
                ),
            );
        }
    }
}

fn interface_exists(sys_class_net: &Path, ifname: &str) -> bool {
    // Names with a slash or dots cannot be interfaces and must not walk
    // out of the directory.
    !ifname.contains('/') && ifname != "." && ifname != ".." && sys_class_net.join(ifname).exists()
}

/// Where argv[0] is run from: itself when it holds a slash, else the first
/// executable of that name in `PATH`, as execvp(3) finds it.
pub fn find_program(program: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).map(|()| path);
    }
    let search = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
    let mut found_not_executable = None;
    for dir in search.split(':') {
        // An empty entry is the working directory.
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
        match executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if candidate.exists() => {
                found_not_executable.get_or_insert(e);
            }
            Err(_) => {}
        }
    }
    Err(found_not_executable.unwrap_or_else(|| format!("{program}: not found in PATH ({search})")))
}

fn executable(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{shown}: not found"));
        }
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if meta.permissions().mode() & 0o111 == 0
        || nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_err()
    {
        return Err(format!("{shown}: not executable"));
    }
    Ok(())
}

fn member<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    match &v?.kind {
        Kind::Object(members) => members
            .iter()
            .rev()
            .find(|m| m.key == key)
            .map(|m| &m.value),
        _ => None,
    }
}

fn item(v: Option<&Value>, i: usize) -> Option<&Value> {
    match &v?.kind {
        Kind::Array(items) => items.get(i),
        _ => None,
    }
}

fn strip_source<'e>(config: &Config, e: &'e str) -> &'e str {
    e.strip_prefix(config.source.as_str())
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(e)
}

/// Largest config file accepted; a 4096-group file is well under 1 MiB.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Reads and validates a configuration file.
pub fn read_config(path: &Path) -> Result<Config, String> {
    let text = read_text(path).map_err(|e| e.to_string())?;
    config::load(&text, &path.display().to_string()).map_err(|e| e.to_string())
}

/// A configuration file's text, refusing one too large to be one.
fn read_text(path: &Path) -> Result<String, ConfigError> {
    let shown = path.display().to_string();
    let fail = |message: String| ConfigError {
        source: shown.clone(),
        path: String::new(),
        at: None,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(fail(format!(
            "{} bytes is too large for a configuration file",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))
}

/// A clear error naming the known nodes when `node` is not one of them.
pub fn node_in_config(config: &Config, node: &str) -> Result<(), String> {
    if config.cluster.node_index(node).is_none() {
        return Err(format!(
            "{}: node \"{node}\" is not in \"nodes\" ({}); pass the right name with -n NODE",
            config.source,
            config.cluster.nodes.join(", ")
        ));
    }
    peers_cover_nodes(config, node)
}

/// In unicast mode a node that is not in `peers` is never sent to: it
/// would hear nobody's heartbeats and take every group beside its peers.
pub fn peers_cover_nodes(config: &Config, node: &str) -> Result<(), String> {
    if config.peers.is_empty() {
        return Ok(());
    }
    let missing: Vec<&str> = config
        .cluster
        .nodes
        .iter()
        .filter(|n| n.as_str() != node && !config.peers.contains_key(n.as_str()))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: peers: no address for {} (unicast chat must name every node but this one)",
        config.source,
        missing.join(", ")
    ))
}

/// The secrets' bytes in order (the first signs), reading each file that
/// holds one. Errors never include a secret itself.
pub fn secrets_bytes(config: &Config) -> Result<Vec<SecretBytes>, String> {
    let mut out = Vec::with_capacity(config.secrets.len());
    for secret in &config.secrets {
        let bytes = secret_bytes(config, secret)?;
        if out.iter().any(|s: &SecretBytes| s.0 == bytes) {
            return Err(format!(
                "{}: secrets: two entries hold the same secret",
                config.source
            ));
        }
        out.push(SecretBytes(bytes));
    }
    Ok(out)
}

fn secret_bytes(config: &Config, secret: &Secret) -> Result<Vec<u8>, String> {
    match secret {
        Secret::Inline(s) => Ok(s.as_bytes().to_vec()),
        Secret::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                format!(
                    "{}: secret file {}: cannot read: {e}",
                    config.source,
                    path.display()
                )
            })?;
            // A trailing newline from an editor is not part of the secret.
            let trimmed = bytes.trim_ascii_end().to_vec();
            if trimmed.is_empty() {
                return Err(format!(
                    "{}: secret file {}: is empty",
                    config.source,
                    path.display()
                ));
            }
            Ok(trimmed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{
  chat: "239.1.1.1:5007", secret: "s3cret-not-shown", nodes: ["a", "b"],
  chat_interface: "gone1",
  vips: [ ["b", { ip: "192.0.2.1/24", interface: "eth0" }, { ip: "192.0.2.2/24", interface: "gone0" }],
          [{ ip: "192.0.2.3/24" }] ],
}"#;

    fn problems(config: &Config, doc: &Value) -> (Vec<ConfigError>, Vec<ConfigError>) {
        let mut p = Problems {
            config,
            doc: Some(doc),
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        let dir = std::env::temp_dir().join(format!("vippy-sysnet-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("eth0")).unwrap();
        p.interfaces(&dir);
        std::fs::remove_dir_all(&dir).ok();
        (p.errors, p.warnings)
    }

    #[test]
    fn missing_interfaces_are_warnings_at_their_key() {
        let config = config::load(TEXT, "t.conf").unwrap();
        let doc = json5::parse(TEXT).unwrap();
        let (errors, warnings) = problems(&config, &doc);
        assert!(errors.is_empty());
        let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "t.conf:4:93: vips[0][2].interface: no interface \"gone0\" on this host; 192.0.2.2/24 is plumbed only once it exists",
                "t.conf:3:19: chat_interface: no interface \"gone1\" on this host; the chat group is joined only once it exists",
            ]
        );
    }

    #[test]
    fn programs_are_found_like_execvp() {
        assert_eq!(find_program("/bin/sh"), Ok(PathBuf::from("/bin/sh")));
        assert!(find_program("sh").is_ok(), "sh is in PATH");
        assert_eq!(
            find_program("/nonexistent/x"),
            Err("/nonexistent/x: not found".to_string())
        );
        assert_eq!(find_program("/"), Err("/: not a regular file".to_string()));
        assert!(
            find_program("vippy-no-such-program-17")
                .unwrap_err()
                .starts_with("vippy-no-such-program-17: not found in PATH ("),
        );
        assert!(!interface_exists(Path::new("/sys/class"), "../class"));
    }
}
