//! Configuration: the original's file loads verbatim, every documented
//! mistake is reported with file, key path and position, and the digest
//! covers exactly what must agree cluster-wide.

use std::time::Duration;

use vippy_core::config::{
    ChatInterface, Command, Facility, Failback, LogDriver, NotifyTarget, Quorum, Secret, Severity,
    load, load_cluster,
};

const ORIGINAL: &str = include_str!("fixtures/original-readme.conf");

/// A small valid config in strict JSON, edited by the error tests.
const BASE: &str = r#"{
  "chat": "239.1.1.1:5007",
  "secret": "s3cret",
  "version": 1,
  "vips": [
    [ { "ip": "198.51.100.100/24" } ],
    [ "b", { "ip": "198.51.100.101/24", "interface": "eth0" } ]
  ],
  "nodes": [ "a", "b" ]
}"#;

fn errors_of(text: &str) -> Vec<String> {
    match load(text, "test.conf") {
        Ok(_) => panic!("expected errors, config loaded:\n{text}"),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

fn one_error(text: &str) -> String {
    let errors = errors_of(text);
    assert_eq!(
        errors.len(),
        1,
        "expected exactly one error, got {errors:#?}"
    );
    errors.into_iter().next().unwrap()
}

#[test]
fn original_readme_config_loads_verbatim() {
    let c = load(ORIGINAL, "vippy.conf").expect("the original's example must load");
    assert_eq!(c.chat, "224.1.1.1:5007".parse().unwrap());
    assert_eq!(c.chat_interface, ChatInterface::All);
    assert_eq!(
        c.secrets,
        [Secret::Inline("knsdfkjnsdfkjnweroib0u3".into())]
    );
    assert_eq!(c.cluster.version, 5);
    assert_eq!(c.cluster.nodes, ["node1", "node2"]);
    assert_eq!(c.cluster.groups.len(), 3);
    assert_eq!(c.cluster.groups[0].preferred, None);
    // The single-quoted 'node2' is the preferred node of group 1.
    assert_eq!(c.cluster.groups[1].preferred.as_deref(), Some("node2"));
    assert_eq!(c.cluster.groups[2].ips.len(), 2);
    assert_eq!(c.cluster.groups[2].ips[1], "10.8.3.196/24".parse().unwrap());
    assert_eq!(
        c.interfaces
            .get(&"10.8.99.147".parse().unwrap())
            .map(String::as_str),
        Some("e1000g0")
    );
    assert_eq!(c.interval, Duration::from_millis(500));
    assert_eq!(c.mature, Duration::from_secs(5));
    assert_eq!(c.stale, Duration::from_secs(5));
    // "90" is a string in the original and still means 90 seconds.
    assert_eq!(c.arp_cache, Duration::from_secs(90));
    assert_eq!(c.notify.len(), 3);
    assert_eq!(c.notify[0], NotifyTarget::ArpCache);
    assert!(
        matches!(&c.notify[2], NotifyTarget::Network { net, interface: Some(i) }
        if net.to_string() == "10.8.3.1/29" && i == "e1000g0")
    );
    assert_eq!(c.management.to_str(), Some("/var/run/vippy.socket"));
    assert_eq!(c.logging.driver, LogDriver::Console);
    assert_eq!(c.logging.facility, Facility::Local(7));
    assert!(c.logging.mask.contains(Severity::Notice));
    assert!(!c.logging.mask.contains(Severity::Warning));
    assert!(!c.logging.mask.contains(Severity::Debug));
    assert_eq!(c.quorum, Quorum::Off);
}

#[test]
fn original_defaults() {
    let c = load(BASE, "base.conf").unwrap();
    assert_eq!(c.interval, Duration::from_secs(1));
    assert_eq!(c.mature, Duration::from_secs(5));
    assert_eq!(c.stale, Duration::from_secs(3));
    assert_eq!(c.arp_cache, Duration::from_secs(15));
    assert_eq!(c.management.to_str(), Some("/var/run/vippy.socket"));
    assert_eq!(c.management_mode, 0o600);
    assert_eq!(c.chat_interface, ChatInterface::All);
    assert_eq!(c.quorum, Quorum::Off);
    assert_eq!(c.failback, Failback::Immediate);
    assert!(c.peers.is_empty() && c.checks.is_empty() && c.plugins.is_empty());
}

fn with_failback(value: &str) -> String {
    BASE.replace(
        "\"version\": 1,",
        &format!("\"version\": 1,\n  \"failback\": {value},"),
    )
}

#[test]
fn failback_values() {
    for (value, expected) in [
        ("\"immediate\"", Failback::Immediate),
        ("\"manual\"", Failback::Manual),
        ("0", Failback::Immediate),
        ("30", Failback::After(Duration::from_secs(30))),
        ("2.5", Failback::After(Duration::from_millis(2500))),
        ("\"90\"", Failback::After(Duration::from_secs(90))),
        ("86400", Failback::After(Duration::from_secs(86_400))),
    ] {
        let c = load(&with_failback(value), "f.conf").unwrap();
        assert_eq!(c.failback, expected, "failback: {value}");
    }
    assert_eq!(
        Failback::After(Duration::from_secs(5)).to_string(),
        "after 5s"
    );
    assert_eq!(Failback::Manual.to_string(), "manual");
}

#[test]
fn failback_errors_name_key_and_position() {
    for (value, message) in [
        (
            "-5",
            "test.conf:5:15: failback: -5 seconds is out of range (0 to 86400 seconds)",
        ),
        (
            "86401",
            "test.conf:5:15: failback: 86401 seconds is out of range (0 to 86400 seconds)",
        ),
        (
            "\"sometimes\"",
            "test.conf:5:15: failback: must be \"immediate\", \"manual\" or a number of seconds from 0 to 86400, not \"sometimes\"",
        ),
        (
            "true",
            "test.conf:5:15: failback: must be \"immediate\", \"manual\" or a number of seconds from 0 to 86400, not a boolean",
        ),
    ] {
        assert_eq!(
            one_error(&with_failback(value)),
            message,
            "failback: {value}"
        );
    }
    let e = one_error(&with_failback("\"Manual\""));
    assert!(e.contains("not \"Manual\""), "{e}");
}

fn with_top(key_value: &str) -> String {
    BASE.replace(
        "\"version\": 1,",
        &format!("\"version\": 1,\n  {key_value},"),
    )
}

#[test]
fn link_tracking_defaults_and_values() {
    let c = load(BASE, "base.conf").unwrap();
    assert!(c.track_interfaces, "tracked unless turned off");
    assert_eq!(c.link_down_grace, c.interval, "one interval by default");
    let c = load(&with_top("\"interval\": 0.5"), "f.conf").unwrap();
    assert_eq!(c.link_down_grace, Duration::from_millis(500));
    let c = load(&with_top("\"track_interfaces\": false"), "f.conf").unwrap();
    assert!(!c.track_interfaces);
    let c = load(&with_top("\"link_down_grace\": 2.5"), "f.conf").unwrap();
    assert_eq!(c.link_down_grace, Duration::from_millis(2500));
    let c = load(&with_top("\"link_down_grace\": 0"), "f.conf").unwrap();
    assert_eq!(c.link_down_grace, Duration::ZERO);
}

#[test]
fn link_tracking_errors_name_key_and_position() {
    assert_eq!(
        one_error(&with_top("\"track_interfaces\": \"yes\"")),
        "test.conf:5:23: track_interfaces: must be true or false, not a string"
    );
    assert_eq!(
        one_error(&with_top("\"link_down_grace\": -1")),
        "test.conf:5:22: link_down_grace: -1 seconds is out of range (0 to 86400 seconds)"
    );
    let e = one_error(&with_top("\"link_down_grace\": \"soon\""));
    assert!(e.starts_with("test.conf:5:22: link_down_grace: "), "{e}");
}

#[test]
fn realtime_is_off_or_a_priority() {
    assert_eq!(
        load(BASE, "base.conf").unwrap().realtime,
        None,
        "off unless set"
    );
    let c = load(&with_top("\"realtime\": false"), "f.conf").unwrap();
    assert_eq!(c.realtime, None);
    let c = load(&with_top("\"realtime\": 10"), "f.conf").unwrap();
    assert_eq!(c.realtime, Some(10));
    let c = load(&with_top("\"realtime\": \"99\""), "f.conf").unwrap();
    assert_eq!(c.realtime, Some(99));
    let c = load(&with_top("\"realtime\": 1"), "f.conf").unwrap();
    assert_eq!(c.realtime, Some(1));
}

#[test]
fn realtime_errors_name_key_and_position() {
    assert_eq!(
        one_error(&with_top("\"realtime\": 0")),
        "test.conf:5:15: realtime: 0 is not a whole number from 1 to 99"
    );
    assert_eq!(
        one_error(&with_top("\"realtime\": 100")),
        "test.conf:5:15: realtime: 100 is not a whole number from 1 to 99"
    );
    assert_eq!(
        one_error(&with_top("\"realtime\": 2.5")),
        "test.conf:5:15: realtime: 2.5 is not a whole number from 1 to 99"
    );
    assert_eq!(
        one_error(&with_top("\"realtime\": true")),
        "test.conf:5:15: realtime: must be false or a SCHED_FIFO priority from 1 to 99 (such as 10), not true"
    );
    assert_eq!(
        one_error(&with_top("\"realtime\": \"high\"")),
        "test.conf:5:15: realtime: must be false or a SCHED_FIFO priority from 1 to 99 (such as 10), not \"high\""
    );
    assert_eq!(
        one_error(&with_top("\"realtime\": [10]")),
        "test.conf:5:15: realtime: must be false or a SCHED_FIFO priority from 1 to 99 (such as 10), not an array"
    );
    let e = one_error(&with_top("\"realtim\": 10"));
    assert!(e.contains("did you mean \"realtime\""), "{e}");
}

#[test]
fn strict_json_and_json5_extras_load() {
    let json5 = r#"
    // comments and trailing commas are fine
    {
      chat: '239.1.1.1:5007',
      secret: "s3cret",
      version: 1,
      vips: [ [ { ip: '198.51.100.100/24', }, ], ],
      nodes: [ 'a', ],  /* block comment */
      interval: "0.25",
    }"#;
    let c = load(json5, "x.json5").unwrap();
    assert_eq!(c.interval, Duration::from_millis(250));
    assert!(load(BASE, "strict.json").is_ok());
}

#[test]
fn extensions_parse() {
    let text = r#"{
      "chat": "198.51.100.1:5007",
      "secret_file": "/etc/vippy.secret",
      "vips": [ [ { "ip": "2001:db8::100/64" } ] ],
      "nodes": [ "a", "b", "c" ],
      "peers": { "a": "198.51.100.1:5007", "b": "198.51.100.2:5007" },
      "garp": { "count": 5, "interval": 0.2, "refresh": 30, "rate": 2000 },
      "checks": [ { "name": "http", "command": ["curl", "-fs", "http://127.0.0.1/"], "interval": 1, "timeout": 0.5, "rise": 3, "fall": 1 },
                  { "name": "disk", "command": "test -w /var/tmp && true", "shell": true } ],
      "hooks": { "up": "/usr/local/bin/up", "down": [ ["/usr/local/bin/down", "-v"] ], "timeout": 3 },
      "plugins": [ "/usr/lib/vippy/plugin --flag" ],
      "quorum": "majority",
      "management_mode": "0660",
      "state_dir": "/var/lib/vippy",
      "logging": { "driver": "posix" }
    }"#;
    let c = load(text, "ext.conf").unwrap();
    assert_eq!(c.secrets, [Secret::File("/etc/vippy.secret".into())]);
    assert_eq!(c.peers.len(), 2);
    assert_eq!(c.garp.count, 5);
    assert_eq!(c.garp.refresh, Some(Duration::from_secs(30)));
    assert_eq!(
        c.checks[0].command,
        Command::Argv(vec![
            "curl".into(),
            "-fs".into(),
            "http://127.0.0.1/".into()
        ])
    );
    assert_eq!(c.checks[0].rise, 3);
    assert_eq!(
        c.checks[1].command,
        Command::Shell("test -w /var/tmp && true".into())
    );
    assert_eq!(c.checks[1].interval, Duration::from_secs(2));
    assert_eq!(
        c.hooks.up,
        vec![Command::Argv(vec!["/usr/local/bin/up".into()])]
    );
    assert_eq!(
        c.hooks.down[0],
        Command::Argv(vec!["/usr/local/bin/down".into(), "-v".into()])
    );
    assert_eq!(c.hooks.timeout, Duration::from_secs(3));
    assert_eq!(c.plugins[0].argv(), ["/usr/lib/vippy/plugin", "--flag"]);
    assert_eq!(c.quorum, Quorum::Majority);
    assert_eq!(c.quorum.needed(3), 2);
    assert_eq!(c.management_mode, 0o660);
    assert_eq!(c.logging.driver, LogDriver::Syslog);
    assert!(c.cluster.groups[0].ips[0].addr().is_ipv6());
}

#[test]
fn secret_is_never_in_debug_output() {
    let c = load(BASE, "base.conf").unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn bad_cidr_names_path_and_position() {
    let e = one_error(&BASE.replace("198.51.100.101/24", "198.51.100.301/24"));
    assert_eq!(
        e,
        "test.conf:7:20: vips[1][1].ip: \"198.51.100.301\" in \"198.51.100.301/24\" is not an IPv4 or IPv6 address"
    );
    let e = one_error(&BASE.replace("198.51.100.101/24", "198.51.100.101"));
    assert!(
        e.contains("vips[1][1].ip") && e.contains("needs a prefix length"),
        "{e}"
    );
    let e = one_error(&BASE.replace("198.51.100.101/24", "198.51.100.101/33"));
    assert!(
        e.contains("/33") && e.contains("too long for an IPv4"),
        "{e}"
    );
}

#[test]
fn ipv4_ipv6_mixups() {
    let e = one_error(&BASE.replace("198.51.100.101/24", "2001:db8::1/129"));
    assert!(e.contains("too long for an IPv6"), "{e}");
    let text = BASE.replace(
        "\"nodes\": [ \"a\", \"b\" ]",
        "\"nodes\": [ \"a\", \"b\" ], \"peers\": { \"a\": \"[2001:db8::1]:5007\" }",
    );
    let e = one_error(&text);
    assert!(
        e.contains("peers.a") && e.contains("IPv6") && e.contains("IPv4"),
        "{e}"
    );
}

#[test]
fn preferred_node_not_in_nodes() {
    let e = one_error(&BASE.replace("[ \"b\", {", "[ \"bb\", {"));
    assert!(
        e.starts_with("test.conf:7:7: vips[1][0]: preferred node \"bb\" is not in \"nodes\""),
        "{e}"
    );
    assert!(e.contains("did you mean \"b\""), "{e}");
}

#[test]
fn same_ip_in_two_groups() {
    let e = one_error(&BASE.replace("198.51.100.101/24", "198.51.100.100/25"));
    assert!(
        e.contains("vips[1][1].ip") && e.contains("already used at vips[0][0].ip"),
        "{e}"
    );
}

#[test]
fn empty_group() {
    let e = one_error(&BASE.replace("[ { \"ip\": \"198.51.100.100/24\" } ]", "[ ]"));
    assert!(e.contains("vips[0]") && e.contains("no VIPs"), "{e}");
    let e = one_error(&BASE.replace(
        "[ \"b\", { \"ip\": \"198.51.100.101/24\", \"interface\": \"eth0\" } ]",
        "[ \"b\" ]",
    ));
    assert!(e.contains("vips[1]") && e.contains("no VIPs"), "{e}");
}

#[test]
fn duplicate_node() {
    let e = one_error(&BASE.replace("[ \"a\", \"b\" ]", "[ \"a\", \"b\", \"a\" ]"));
    assert!(e.contains("nodes[2]") && e.contains("listed twice"), "{e}");
}

#[test]
fn chat_must_be_multicast_without_peers() {
    let e = one_error(&BASE.replace("239.1.1.1:5007", "198.51.100.1:5007"));
    assert!(
        e.contains("chat") && e.contains("not a multicast address"),
        "{e}"
    );
    let e = one_error(&BASE.replace("239.1.1.1:5007", "239.1.1.1"));
    assert!(e.contains("needs a port"), "{e}");
}

#[test]
fn stale_must_exceed_interval() {
    let e = one_error(&BASE.replace(
        "\"version\": 1,",
        "\"version\": 1, \"interval\": 2, \"stale\": 2,",
    ));
    assert!(
        e.contains("stale") && e.contains("longer than interval"),
        "{e}"
    );
}

#[test]
fn unknown_key_suggests() {
    let e = one_error(&BASE.replace("\"version\": 1,", "\"version\": 1, \"intreval\": 2,"));
    assert!(
        e.contains("intreval: unknown key (did you mean \"interval\"?)"),
        "{e}"
    );
    let e = one_error(&BASE.replace("\"version\": 1,", "\"version\": 1, \"arp_cache\": 2,"));
    assert!(e.contains("did you mean \"arp-cache\""), "{e}");
    let e = one_error(&BASE.replace(
        "{ \"ip\": \"198.51.100.100/24\" }",
        "{ \"ip\": \"198.51.100.100/24\", \"iface\": \"eth0\" }",
    ));
    assert!(e.contains("vips[0][0].iface: unknown key"), "{e}");
}

#[test]
fn secret_missing_or_empty() {
    let e = one_error(&BASE.replace("\"secret\": \"s3cret\",", ""));
    assert!(e.contains("secret") && e.contains("missing"), "{e}");
    let e = one_error(&BASE.replace("\"s3cret\"", "\"\""));
    assert!(e.contains("secret") && e.contains("empty"), "{e}");
}

#[test]
fn secrets_list_for_rotation() {
    let text = BASE.replace(
        "\"secret\": \"s3cret\",",
        "\"secrets\": [\"new\", { \"file\": \"/etc/vippy.old\" }],",
    );
    let c = load(&text, "test.conf").unwrap();
    assert_eq!(
        c.secrets,
        [
            Secret::Inline("new".into()),
            Secret::File("/etc/vippy.old".into())
        ]
    );
    // Exactly one way to give the secret.
    let both = BASE.replace(
        "\"secret\": \"s3cret\",",
        "\"secret\": \"a\", \"secrets\": [\"b\"],",
    );
    let e = one_error(&both);
    assert!(e.contains("secrets") && e.contains("not both"), "{e}");
    // Empty list, empty entry, repeated entry, wrong type: each named by position.
    for (list, want) in [
        ("[]", "secrets: "),
        ("[\"a\", \"\"]", "secrets[1]: "),
        ("[\"a\", \"a\"]", "secrets[1]: "),
        ("[\"a\", 7]", "secrets[1]: "),
        ("[{ \"path\": \"/x\" }]", "secrets[0].path: unknown key"),
    ] {
        let text = BASE.replace("\"secret\": \"s3cret\",", &format!("\"secrets\": {list},"));
        let errors = errors_of(&text);
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{list}: want {want:?} in {errors:#?}"
        );
    }
}

#[test]
fn up_hooks_may_retry_and_only_they() {
    let text = BASE.replace(
        "\"nodes\": [ \"a\", \"b\" ]",
        "\"nodes\": [ \"a\", \"b\" ], \"hooks\": { \"up\": [ \"/bin/true\", { \"command\": [\"/usr/local/bin/move-ip\", \"--vip\"], \"retry\": true } ] }",
    );
    let c = load(&text, "test.conf").unwrap();
    assert_eq!(c.hooks.up.len(), 2);
    assert_eq!(c.hooks.up_retry, [1].into());
    let text = BASE.replace(
        "\"nodes\": [ \"a\", \"b\" ]",
        "\"nodes\": [ \"a\", \"b\" ], \"hooks\": { \"down\": { \"command\": \"/bin/true\", \"retry\": true } }",
    );
    let e = one_error(&text);
    assert!(
        e.contains("hooks.down.retry") && e.contains("only up hooks"),
        "{e}"
    );
}

#[test]
fn syntax_error_has_position() {
    let e = one_error("{\n  \"chat\": \"239.1.1.1:5007\"\n  \"secret\": \"x\"\n}");
    assert_eq!(
        e,
        "test.conf:3:3: expected ',' or '}' after a member, found '\"'"
    );
}

#[test]
fn several_errors_are_reported_together_in_file_order() {
    let text = BASE
        .replace("198.51.100.101/24", "nonsense")
        .replace("\"version\": 1,", "\"version\": -1,");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].contains("version"));
    assert!(errors[1].contains("vips[1][1].ip"));
}

#[test]
fn wrong_types_are_errors_not_panics() {
    for (from, to) in [
        ("\"version\": 1", "\"version\": \"five\""),
        ("\"version\": 1", "\"version\": 1.5"),
        ("\"nodes\": [ \"a\", \"b\" ]", "\"nodes\": \"a\""),
        ("\"nodes\": [ \"a\", \"b\" ]", "\"nodes\": []"),
        ("\"vips\": [", "\"vips\": [ 5, "),
        ("\"secret\": \"s3cret\"", "\"secret\": 5"),
    ] {
        let text = BASE.replace(from, to);
        assert!(!errors_of(&text).is_empty(), "{to}");
    }
}

mod digest {
    use super::*;

    fn digest(text: &str) -> [u8; 32] {
        load(text, "d.conf").unwrap().cluster.digest()
    }

    #[test]
    fn unchanged_by_formatting_quoting_order_and_interfaces() {
        let base = digest(BASE);
        let reformatted = r#"{ nodes: ['a','b'], vips: [[{ip:'198.51.100.100/24', interface: 'eth9'}],
            ['b', {interface: 'ens3', ip: '198.51.100.101/24'}]], version: 1, secret: 'other',
            chat: '239.9.9.9:7', interval: 0.3 }"#;
        assert_eq!(digest(reformatted), base);
        // failback is local (docs/CONFIGURATION.md): it is not in the digest.
        assert_eq!(digest(&with_failback("\"manual\"")), base);
        assert_eq!(digest(&with_failback("30")), base);
    }

    #[test]
    fn changed_by_what_must_agree() {
        let base = digest(BASE);
        for (from, to) in [
            ("198.51.100.100/24", "198.51.100.102/24"), // an IP
            ("198.51.100.100/24", "198.51.100.100/25"), // a prefix length
            ("[ \"b\", {", "[ \"a\", {"),               // a preference
            ("[ \"b\", {", "[ {"),                      // preference removed
            ("[ \"a\", \"b\" ]", "[ \"b\", \"a\" ]"),   // node order
            ("\"version\": 1", "\"version\": 2"),       // version
        ] {
            assert_ne!(digest(&BASE.replace(from, to)), base, "{from} -> {to}");
        }
        // group order
        let swapped = BASE.replace(
            "[ { \"ip\": \"198.51.100.100/24\" } ],\n    [ \"b\", { \"ip\": \"198.51.100.101/24\", \"interface\": \"eth0\" } ]",
            "[ \"b\", { \"ip\": \"198.51.100.101/24\", \"interface\": \"eth0\" } ],\n    [ { \"ip\": \"198.51.100.100/24\" } ]",
        );
        assert_ne!(swapped, BASE);
        assert_ne!(digest(&swapped), base);
    }

    #[test]
    fn canonical_text_round_trips() {
        let c = load(ORIGINAL, "o.conf").unwrap();
        let text = c.cluster.canonical_text();
        let back = load_cluster(&text, "<transfer>").unwrap();
        assert_eq!(back, *c.cluster);
        assert_eq!(back.digest(), c.cluster.digest());
    }

    #[test]
    fn canonical_text_rejects_local_keys() {
        let e = load_cluster(
            r#"{"version":1,"vips":[],"nodes":["a"],"secret":"x"}"#,
            "<transfer>",
        )
        .unwrap_err();
        assert!(e.to_string().contains("secret: unknown key"), "{e}");
    }
}

fn with_check_groups(groups: &str) -> String {
    BASE.replace(
        "\"nodes\"",
        &format!("\"checks\": [ {{ \"name\": \"db\", \"command\": \"true\", \"groups\": {groups} }} ],\n  \"nodes\""),
    )
}

#[test]
fn check_groups_name_groups_by_index_or_first_address() {
    let c = load(&with_check_groups("[ \"198.51.100.101\", 0, 1 ]"), "t").unwrap();
    assert_eq!(c.checks[0].groups, [0, 1]);
    let c = load(&with_check_groups("[ 1 ]"), "t").unwrap();
    assert_eq!(c.checks[0].groups, [1]);
    // Without the key, the whole node, as before.
    let c = load(ORIGINAL, "vippy.conf").unwrap();
    assert!(c.checks.iter().all(|check| check.groups.is_empty()));
}

#[test]
fn check_groups_that_name_no_group_are_rejected_with_their_position() {
    let cases = [
        (
            "[ 2 ]",
            "test.conf:9:62: checks[0].groups[0]: there is no group 2: \"vips\" has 2 groups (0 to 1)",
        ),
        (
            "[ 0, \"198.51.100.7\" ]",
            "test.conf:9:65: checks[0].groups[1]: 198.51.100.7 is not the first address of any group in \"vips\"",
        ),
        (
            "[ \"web\" ]",
            "test.conf:9:62: checks[0].groups[0]: \"web\" is not an IP address (a group is named by its index or its first address)",
        ),
        (
            "[ true ]",
            "test.conf:9:62: checks[0].groups[0]: a group is its index (a number) or its first address (a string), not a boolean",
        ),
        (
            "[ 0.5 ]",
            "test.conf:9:62: checks[0].groups[0]: 0.5 is not a whole number from 0 to 4294967295",
        ),
        (
            "[ ]",
            "test.conf:9:60: checks[0].groups: is empty; leave \"groups\" out for a check that concerns the whole node",
        ),
        (
            "0",
            "test.conf:9:60: checks[0].groups: must be an array, not a number",
        ),
    ];
    for (groups, want) in cases {
        assert_eq!(
            one_error(&with_check_groups(groups)),
            want,
            "groups {groups}"
        );
    }
}

#[test]
fn a_check_group_inside_a_group_points_at_its_first_address() {
    let text = BASE
        .replace(
            "{ \"ip\": \"198.51.100.100/24\" } ]",
            "{ \"ip\": \"198.51.100.100/24\" }, { \"ip\": \"198.51.100.102/24\" } ]",
        )
        .replace(
            "\"nodes\"",
            "\"checks\": [ { \"name\": \"db\", \"command\": \"true\", \"groups\": [\"198.51.100.102\"] } ],\n  \"nodes\"",
        );
    let e = one_error(&text);
    assert!(
        e.ends_with("198.51.100.102 is not the first address of any group in \"vips\"; it is in group 0, whose first address is 198.51.100.100"),
        "{e}"
    );
}
