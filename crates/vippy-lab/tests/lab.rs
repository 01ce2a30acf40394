//! The lab itself, as root: building, reachability, processes, faults,
//! cleanup on drop and on panic, and the sweep of a leaked lab.

use std::net::{IpAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vippy_lab::{Lab, LabSpec, in_netns, netns_exists, netns_list, process_ended, sweep};

fn bridge_exists(switch: &str) -> bool {
    Command::new("ip")
        .args(["-n", switch, "link", "show", "br0"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
#[ignore = "needs root: network namespaces"]
fn two_nodes_and_a_client_reach_each_other_and_vanish_on_drop() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec::nodes(2)).unwrap();
    let namespaces = lab.namespaces().to_vec();
    let switch = lab.switch_netns().to_string();
    let dir = lab.dir().to_path_buf();
    assert_eq!(namespaces.len(), 4, "switch, two nodes, client");
    assert!(bridge_exists(&switch));
    assert!(dir.is_dir());

    let [n1, n2] = lab.nodes() else {
        panic!("two nodes")
    };
    let client = lab.client().unwrap();
    assert_eq!(n1.ipv4.to_string(), "198.51.100.11");
    assert_eq!(n2.ipv6.unwrap().to_string(), "2001:db8::12");
    assert_eq!(client.ipv4.to_string(), "198.51.100.200");
    for from in [n1, n2, client] {
        for to in [n1, n2, client] {
            if from != to {
                assert!(
                    lab.ping(from, IpAddr::V4(to.ipv4)).unwrap(),
                    "{} -> {} v4",
                    from.name,
                    to.name
                );
                assert!(
                    lab.ping(from, IpAddr::V6(to.ipv6.unwrap())).unwrap(),
                    "{} -> {} v6",
                    from.name,
                    to.name
                );
            }
        }
    }
    let addrs = lab.addresses(n1).unwrap();
    assert!(
        addrs.contains(&"198.51.100.11/24".parse().unwrap()),
        "{addrs:?}"
    );
    assert!(
        addrs.contains(&"2001:db8::11/64".parse().unwrap()),
        "{addrs:?}"
    );
    // The pings left neighbour entries with the lab's fixed MACs.
    assert_eq!(
        lab.neighbour(client, IpAddr::V4(n1.ipv4)).unwrap(),
        Some(n1.mac)
    );
    assert_eq!(
        lab.neighbour(client, IpAddr::V6(n2.ipv6.unwrap())).unwrap(),
        Some(n2.mac)
    );
    assert_eq!(
        lab.neighbour(client, "198.51.100.99".parse().unwrap())
            .unwrap(),
        None
    );

    drop(lab);
    for ns in &namespaces {
        assert!(!netns_exists(ns), "{ns} left behind");
    }
    assert!(!bridge_exists(&switch));
    assert!(!dir.exists());
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_panic_in_a_test_body_still_removes_the_lab() {
    vippy_lab::need_root();
    let made = std::sync::Mutex::new(Vec::new());
    let result = std::panic::catch_unwind(|| {
        let lab = Lab::build(LabSpec {
            nodes: 1,
            client: false,
            ..LabSpec::default()
        })
        .unwrap();
        made.lock()
            .unwrap()
            .extend(lab.namespaces().iter().cloned());
        panic!("deliberate panic inside a lab");
    });
    assert!(result.is_err());
    let made = made.into_inner().unwrap();
    assert_eq!(made.len(), 2);
    for ns in &made {
        assert!(!netns_exists(ns), "{ns} left behind after a panic");
    }
}

/// Family used only by the leak test, so concurrent tests' sweeps of the
/// default family never touch its lab.
const LEAK_FAMILY: &str = "vlt-";

/// Not a test of its own: the leak test runs this test binary again with
/// `VIPPY_LAB_LEAK=1`, and then this builds a lab and exits without
/// dropping it, as a killed test would.
#[test]
fn leak_helper() {
    if std::env::var_os("VIPPY_LAB_LEAK").is_none() {
        return;
    }
    let spec = LabSpec {
        nodes: 1,
        family: Some(LEAK_FAMILY.into()),
        ..LabSpec::default()
    };
    let lab = Lab::build(spec).unwrap();
    println!("LEAKED {}", lab.prefix());
    std::process::exit(0);
}

#[test]
#[ignore = "needs root: network namespaces"]
fn sweep_removes_a_lab_whose_process_died() {
    vippy_lab::need_root();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "leak_helper", "--nocapture", "--test-threads=1"])
        .env("VIPPY_LAB_LEAK", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let prefix = stdout
        .lines()
        .find_map(|l| l.split("LEAKED ").nth(1))
        .unwrap_or_else(|| {
            panic!(
                "helper printed no prefix: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .trim()
        .to_string();
    let leaked: Vec<String> = netns_list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert_eq!(leaked.len(), 3, "switch, node, client leaked: {leaked:?}");
    let dir = std::env::temp_dir().join(&prefix);
    assert!(dir.is_dir());

    let swept = sweep(LEAK_FAMILY);
    for ns in &leaked {
        assert!(
            swept.namespaces.contains(ns),
            "{ns} not reported: {swept:?}"
        );
        assert!(!netns_exists(ns), "{ns} survived the sweep");
    }
    assert!(!dir.exists());
    // Our own live labs are never swept.
    let lab = Lab::build(LabSpec {
        nodes: 1,
        client: false,
        family: Some(LEAK_FAMILY.into()),
        ..LabSpec::default()
    })
    .unwrap();
    assert!(sweep(LEAK_FAMILY).namespaces.is_empty());
    assert!(netns_exists(lab.switch_netns()));
}

#[test]
#[ignore = "needs root: network namespaces"]
fn code_and_processes_run_inside_a_host() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 1,
        client: false,
        ..LabSpec::default()
    })
    .unwrap();
    let node = &lab.nodes()[0];

    // A socket made in in_netns lives in the node's namespace: it can bind
    // the node's address, which the host's namespace does not have.
    let ip = node.ipv4;
    let socket = in_netns(&node.netns, move || UdpSocket::bind((ip, 0)))
        .unwrap()
        .unwrap();
    assert_eq!(socket.local_addr().unwrap().ip(), IpAddr::V4(ip));
    assert!(UdpSocket::bind((ip, 0)).is_err());
    assert!(in_netns("vl-no-such-namespace", || ()).is_err());

    // Spawned programs run there too.
    let log = lab.dir().join("addr.log");
    let mut ip_addr = lab
        .spawn(node, Path::new("ip"), &["-brief", "addr"], &[], &log)
        .unwrap();
    ip_addr
        .wait_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("ip exits");
    assert!(
        ip_addr.log_text().contains("198.51.100.11/24"),
        "{}",
        ip_addr.log_text()
    );

    let mut sleeper = lab
        .spawn(
            node,
            Path::new("sh"),
            &["-c", "echo $LAB_GREETING; exec sleep 60"],
            &[("LAB_GREETING", "hi")],
            &lab.dir().join("sleep.log"),
        )
        .unwrap();
    // The shell may not have run yet; signals sent before `echo` would
    // race it, so wait for the greeting first.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sleeper.log_text().trim() != "hi" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pids = lab
        .exec_ok(
            node,
            &["ip", "netns", "identify", &sleeper.pid().to_string()],
        )
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&pids.stdout).trim(), node.netns);
    sleeper.stop().unwrap();
    sleeper.cont().unwrap();
    let (status, by_itself) = sleeper.terminate(Duration::from_secs(5)).unwrap();
    assert!(by_itself && !status.success());
    assert_eq!(sleeper.log_text().trim(), "hi");
    assert!(sleeper.stop().is_err(), "signals to a reaped process fail");

    // A process left running is killed when the lab drops.
    let orphan = lab
        .spawn(
            node,
            Path::new("sleep"),
            &["60"],
            &[],
            &lab.dir().join("orphan.log"),
        )
        .unwrap();
    let pid = orphan.pid();
    std::mem::forget(orphan);
    drop(lab);
    std::thread::sleep(Duration::from_millis(100));
    // Killed; at most a zombie until this process reaps it (it never will).
    assert!(process_ended(pid));
}

#[test]
#[ignore = "needs root: network namespaces"]
fn faults_cut_and_heal_the_network() {
    vippy_lab::need_root();
    let lab = Lab::build(LabSpec {
        nodes: 2,
        client: true,
        attacker: true,
        ..LabSpec::default()
    })
    .unwrap();
    let [n1, n2] = lab.nodes() else { panic!() };
    let client = lab.client().unwrap();
    let attacker = lab.attacker().unwrap();
    assert_eq!(attacker.ipv4.to_string(), "198.51.100.250");
    let v4 = |h: &vippy_lab::LabHost| IpAddr::V4(h.ipv4);

    lab.partition(n1, n2).unwrap();
    assert!(!lab.ping(n1, v4(n2)).unwrap());
    assert!(!lab.ping(n2, v4(n1)).unwrap());
    assert!(lab.ping(n1, v4(client)).unwrap());
    assert!(lab.ping(n2, v4(client)).unwrap());
    lab.heal_all().unwrap();
    assert!(lab.ping(n1, v4(n2)).unwrap());

    lab.isolate(n1).unwrap();
    assert!(!lab.ping(client, v4(n1)).unwrap());
    lab.heal(n1).unwrap();
    lab.heal(n1).unwrap(); // healing twice is fine
    assert!(lab.ping(client, v4(n1)).unwrap());

    lab.link_down(n2).unwrap();
    assert!(!lab.ping(client, v4(n2)).unwrap());
    lab.link_up(n2).unwrap();
    assert!(lab.ping(client, v4(n2)).unwrap());
    // The node kept its addresses through the pulled cable.
    assert!(
        lab.addresses(n2)
            .unwrap()
            .contains(&"2001:db8::12/64".parse().unwrap())
    );

    // Multicast dropped, unicast still flows.
    lab.drop_multicast(n1).unwrap();
    assert!(lab.ping(n1, v4(n2)).unwrap());
    assert!(lab.ping(n1, IpAddr::V6(n2.ipv6.unwrap())).unwrap());
    lab.drop_fraction(n2, 0).unwrap();
    assert!(lab.drop_fraction(n2, 101).is_err());
}
