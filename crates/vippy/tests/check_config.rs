//! `vippyd --check-config` as an operator runs it.

use std::process::Command;

const ORIGINAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../vippy-core/tests/fixtures/original-readme.conf"
);

fn vippyd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vippyd"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn valid_file_prints_summary_and_exits_0() {
    let (code, out, _) = vippyd(&["--check-config", "-c", ORIGINAL, "-n", "node2"]);
    assert_eq!(code, 0);
    assert!(out.contains("valid"), "{out}");
    assert!(
        out.contains("3 groups (4 VIPs), 2 nodes: node1, node2"),
        "{out}"
    );
    assert!(
        out.contains("this node: node2 (preferred for 1 groups)"),
        "{out}"
    );
    assert!(
        !out.contains("knsdfkjnsdfkjnweroib0u3"),
        "the secret must never be printed"
    );
}

#[test]
fn unknown_node_exits_1_and_lists_nodes() {
    let (code, _, err) = vippyd(&["-t", "-c", ORIGINAL, "-n", "node9"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("\"node9\" is not in \"nodes\" (node1, node2)"),
        "{err}"
    );
}

#[test]
fn invalid_file_exits_1_with_every_error() {
    let dir = std::env::temp_dir().join(format!("vippy-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.conf");
    let text = std::fs::read_to_string(ORIGINAL)
        .unwrap()
        .replace("10.8.3.196/24", "10.8.3.296/24")
        .replace("\"mature\"", "\"matrue\"");
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = vippyd(&["-t", "-c", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, 1);
    assert!(out.is_empty());
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].contains(":10:3: vips[2][1].ip") || lines[0].contains("vips[2][1].ip"),
        "{err}"
    );
    assert!(
        err.contains("matrue: unknown key (did you mean \"mature\"?)"),
        "{err}"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let (code, _, err) = vippyd(&["-t", "-c", "/nonexistent/vippy.conf"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("/nonexistent/vippy.conf: cannot read"),
        "{err}"
    );
}

#[test]
fn daemon_refuses_a_node_not_in_the_config_and_lists_the_nodes() {
    // Fails before touching the network, so it runs anywhere.
    let (code, _, err) = vippyd(&["-c", ORIGINAL, "-n", "node7"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("\"node7\" is not in \"nodes\" (node1, node2)"),
        "{err}"
    );
}

#[test]
fn a_scoped_check_shows_its_groups() {
    let dir = std::env::temp_dir().join(format!("vippy-check-scope-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scoped.conf");
    let text = std::fs::read_to_string(ORIGINAL).unwrap().replace(
        "\"interval\": 0.5,",
        "\"interval\": 0.5,\n  \"checks\": [ { \"name\": \"db\", \"command\": \"/bin/true\", \"groups\": [ \"10.8.99.149\", 0 ] },\n              { \"name\": \"disk\", \"command\": \"/bin/true\" } ],",
    );
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = vippyd(&["-t", "-c", path.to_str().unwrap(), "-n", "node1"]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("checks: db (groups 0, 2 only), disk;"),
        "{out}"
    );
}
