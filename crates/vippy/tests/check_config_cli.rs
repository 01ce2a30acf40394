//! `vippyd --check-config` on what the daemon needs from this host: the node
//! name from the hostname, the programs of checks, hooks and plugins, the
//! peers, the interfaces; `--json`; the exit statuses. Runs the built binary
//! on files in a temporary directory; needs neither root nor a network.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const SECRET: &str = "do-not-print-this-secret-8e1f";

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("vippy-checkcli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn hostname() -> String {
    nix::unistd::gethostname().unwrap().into_string().unwrap()
}

/// A valid file for nodes `nodes`, with `extra` members added at the top.
fn config(nodes: &[&str], extra: &str) -> String {
    let nodes: Vec<String> = nodes.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        r#"{{
  "chat": "239.1.1.1:5007",
  "secret": "{SECRET}",
  "vips": [
    [ {{ "ip": "192.0.2.10/24", "interface": "lo" }} ],
    [ {{ "ip": "192.0.2.11/24" }}, {{ "ip": "192.0.2.12/24", "interface": "lo" }} ]
  ],
  "nodes": [ {} ],
  {extra}
}}
"#,
        nodes.join(", ")
    )
}

fn vippyd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vippyd"))
        .args(args)
        .output()
        .expect("runs");
    let (out_text, err_text) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !out_text.contains(SECRET) && !err_text.contains(SECRET),
        "the secret must never be printed: {out_text}{err_text}"
    );
    (out.status.code().unwrap_or(-1), out_text, err_text)
}

fn check(path: &Path, more: &[&str]) -> (i32, String, String) {
    let mut args = vec!["-t", "-c", path.to_str().unwrap()];
    args.extend_from_slice(more);
    vippyd(&args)
}

fn json(path: &Path, more: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--json"];
    args.extend_from_slice(more);
    let (code, out, err) = check(path, &args);
    assert!(err.is_empty(), "--json prints only on stdout: {err}");
    let value: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    (code, value)
}

#[test]
fn valid_file_without_n_names_this_host_and_exits_0() {
    let dir = Dir::new("valid");
    let host = hostname();
    let path = dir.write(
        "v.conf",
        &config(
            &[&host, "other-node"],
            r#""checks": [ { "name": "t", "command": "true --flag" },
                { "name": "sh", "command": "exit 0 && /nonexistent/x", "shell": true } ],
  "hooks": { "up": "/bin/sh -c true", "down": [["sh", "-c", "true"]] },
  "plugins": [ ["/bin/sh", "-c", "sleep 1"] ],"#,
        ),
    );
    let (code, out, err) = check(&path, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": valid"), "{out}");
    assert!(
        out.contains(&format!(
            "this node: {host} (from the hostname; preferred for 0 groups)"
        )),
        "{out}"
    );
    assert!(err.is_empty(), "no warnings for lo: {err}");
    // With -n the summary says nothing about the hostname.
    let (code, out, _) = check(&path, &["-n", "other-node"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("this node: other-node (preferred for 0 groups)"),
        "{out}"
    );
}

#[test]
fn hostname_not_in_nodes_exits_1_and_says_to_pass_n() {
    let dir = Dir::new("hostname");
    let path = dir.write("v.conf", &config(&["vippy-test-a", "vippy-test-b"], ""));
    let (code, out, err) = check(&path, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "no summary for an invalid file: {out}");
    let host = hostname();
    assert!(
        err.contains(&format!(
            "this host's name \"{host}\" (the hostname, taken when -n is not given) is not in \"nodes\" (vippy-test-a, vippy-test-b); pass the node's name with -n NODE"
        )),
        "{err}"
    );
    // The daemon would refuse the same: -n fixes it.
    let (code, _, err) = check(&path, &["-n", "vippy-test-b"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn missing_check_program_exits_1_naming_the_key() {
    let dir = Dir::new("program");
    let path = dir.write(
        "v.conf",
        &config(
            &["a", "b"],
            r#""checks": [ { "name": "probe", "command": "/nonexistent/vippy-probe --fast" } ],"#,
        ),
    );
    let (code, out, err) = check(&path, &["-n", "a"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // File, line:column of the command, key path, program.
    let want = format!(
        "{}:9:45: checks[0].command: /nonexistent/vippy-probe: not found",
        path.display()
    );
    assert!(err.contains(&want), "want {want}\ngot {err}");
}

#[test]
fn hooks_plugins_and_p_programs_are_checked_too() {
    let dir = Dir::new("hooks");
    let not_executable = dir.write("not-executable", "#!/bin/sh\n");
    std::fs::set_permissions(&not_executable, std::fs::Permissions::from_mode(0o644)).unwrap();
    let extra = format!(
        r#""hooks": {{ "up": "vippy-no-such-program-4b2", "down": [ ["/bin/sh", "-c", "true"], "{}" ] }},
  "plugins": [ "{}" ],"#,
        not_executable.display(),
        dir.0.display()
    );
    let path = dir.write("v.conf", &config(&["a", "b"], &extra));
    let (code, _, err) = check(&path, &["-n", "a", "-p", "/nonexistent/vippy-plugin arg"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("hooks.up: vippy-no-such-program-4b2: not found in PATH ("),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "hooks.down[1]: {}: not executable",
            not_executable.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "plugins[0]: {}: not a regular file",
            dir.0.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("vippyd: -p[0]: /nonexistent/vippy-plugin: not found"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 4, "{err}");
}

#[test]
fn missing_interface_is_a_warning_and_exits_0() {
    let dir = Dir::new("interface");
    let text = config(&["a", "b"], "").replace(
        r#"{ "ip": "192.0.2.12/24", "interface": "lo" }"#,
        r#"{ "ip": "192.0.2.12/24", "interface": "vpy-nx0" }"#,
    );
    let path = dir.write("v.conf", &text);
    let (code, out, err) = check(&path, &["-n", "a"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": valid"), "{out}");
    if !Path::new("/sys/class/net").is_dir() {
        return;
    }
    assert!(
        err.contains(&format!(
            "warning: {}:6:72: vips[1][1].interface: no interface \"vpy-nx0\" on this host; 192.0.2.12/24 is plumbed only once it exists",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn peers_must_name_every_other_node() {
    let dir = Dir::new("peers");
    let text = config(
        &["a", "b", "c"],
        r#""peers": { "a": "192.0.2.1:5007", "b": "192.0.2.2:5007" },"#,
    )
    .replace("239.1.1.1:5007", "0.0.0.0:5007");
    let path = dir.write("v.conf", &text);
    let (code, _, err) = check(&path, &["-n", "a"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("peers: no address for c (unicast chat must name every node but this one)"),
        "{err}"
    );
    let (code, _, err) = check(&path, &["-n", "c"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn json_output_has_the_fields() {
    let dir = Dir::new("json");
    let text = config(
        &["a", "b"],
        r#""checks": [ { "name": "probe", "command": ["/nonexistent/vippy-probe"] } ],"#,
    )
    .replace(
        r#""192.0.2.10/24", "interface": "lo""#,
        r#""192.0.2.10/24", "interface": "vpy-nx1""#,
    );
    let bad = dir.write("bad.conf", &text);
    let (code, v) = json(&bad, &["-n", "a"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["ok"], false);
    assert_eq!(v["file"], bad.to_str().unwrap());
    assert_eq!(v["node"], "a");
    assert_eq!(v["node_from"], "option");
    assert!(v["summary"].is_null(), "{v}");
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{v}");
    assert_eq!(errors[0]["path"], "checks[0].command");
    assert_eq!(errors[0]["message"], "/nonexistent/vippy-probe: not found");
    assert_eq!(errors[0]["line"], 9);
    assert!(errors[0]["column"].is_u64(), "{v}");
    assert!(
        errors[0]["text"]
            .as_str()
            .unwrap()
            .ends_with("checks[0].command: /nonexistent/vippy-probe: not found"),
        "{v}"
    );
    let warnings = v["warnings"].as_array().unwrap();
    if Path::new("/sys/class/net").is_dir() {
        assert_eq!(warnings.len(), 1, "{v}");
        assert_eq!(warnings[0]["path"], "vips[0][0].interface");
        assert_eq!(warnings[0]["line"], 5);
    }

    let good = dir.write("good.conf", &config(&[&hostname(), "b"], ""));
    let (code, v) = json(&good, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["node"], hostname().as_str());
    assert_eq!(v["node_from"], "hostname");
    assert_eq!(v["errors"], serde_json::json!([]));
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert!(v["summary"].as_str().unwrap().contains(": valid"), "{v}");

    // A file that does not load: the loader's errors, with their positions.
    let broken = dir.write("broken.conf", &config(&["a", "b"], r#""matrue": 5,"#));
    let (code, v) = json(&broken, &["-n", "a"]);
    assert_eq!(code, 1);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors[0]["path"], "matrue");
    assert_eq!(errors[0]["line"], 9);
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = vippyd(&["--json"]);
    assert_eq!(code, 2, "--json needs --check-config: {err}");
    let (code, _, _) = vippyd(&["-t", "--no-such-flag"]);
    assert_eq!(code, 2);
}
