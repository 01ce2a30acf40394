//! A real Prometheus server (Debian's `prometheus`, started inside the lab's
//! client namespace) scrapes two vippyd over their `metrics` TCP listeners;
//! its HTTP API then says both targets are up and every group is held
//! exactly once across the cluster. The listener serves nothing but
//! `GET /metrics`.

use std::time::{Duration, Instant};

use vippy_lab::{Cluster, ClusterSpec};

mod support;
use support::lab::bins;

const PORT: u16 = 9650;

/// Prometheus' answer to an instant query, as (labels, value) pairs.
fn query(cluster: &Cluster, web: &str, promql: &str) -> Vec<(serde_json::Value, String)> {
    let url = format!("http://{web}/api/v1/query");
    let out = cluster
        .lab
        .exec(
            cluster.client(),
            &[
                "curl",
                "-s",
                "--max-time",
                "2",
                "--data-urlencode",
                &format!("query={promql}"),
                &url,
            ],
        )
        .unwrap();
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return Vec::new();
    };
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                r["metric"].clone(),
                r["value"][1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs root: network namespaces"]
fn prometheus_scrapes_both_nodes_and_sees_each_group_held_once() {
    vippy_lab::need_root();
    if std::process::Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("prometheus is not installed: run scripts/install-deps.sh");
    }
    let mut spec = ClusterSpec::ipv4(2, 3);
    let mut cluster = Cluster::build(spec.clone(), bins()).expect("lab");
    let targets: Vec<String> = (0..2)
        .map(|i| format!("{}:{PORT}", cluster.node(i).ipv4))
        .collect();
    spec.node_extra = targets
        .iter()
        .map(|t| format!("  metrics: '{t}',\n"))
        .collect();
    cluster.spec = spec;
    for i in 0..2 {
        let groups = cluster.spec.groups.clone();
        cluster.write_config(i, 1, &groups).unwrap();
    }
    cluster.start_all().unwrap();
    cluster
        .wait_converged(&[0, 1], Duration::from_secs(10))
        .unwrap();

    let web = format!("{}:9090", cluster.client().ipv4);
    let dir = cluster.dir().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: vippy\n    static_configs:\n      - targets: [{}]\n",
            targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
        ),
    )
    .unwrap();
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.join("data").display()),
        format!("--web.listen-address={web}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _prometheus = cluster
        .lab
        .spawn(
            cluster.client(),
            std::path::Path::new("/usr/bin/prometheus"),
            &args,
            &[],
            &dir.join("prometheus.log"),
        )
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut up, mut held) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        up = query(&cluster, &web, "up");
        held = query(&cluster, &web, "sum by (group) (vippy_group_held)");
        if up.len() == 2
            && up.iter().all(|(_, v)| v == "1")
            && held.len() == 3
            && held.iter().all(|(_, v)| v == "1")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    assert_eq!(up.len(), 2, "up: {up:?}\n{log}");
    assert!(up.iter().all(|(_, v)| v == "1"), "up: {up:?}\n{log}");
    assert_eq!(held.len(), 3, "held: {held:?}\n{log}");
    assert!(held.iter().all(|(_, v)| v == "1"), "held: {held:?}");
    let peers = query(&cluster, &web, "vippy_peer_up");
    assert_eq!(peers.len(), 2, "{peers:?}");
    assert!(peers.iter().all(|(_, v)| v == "1"), "{peers:?}");

    // Only GET /metrics: the management API stays on the unix socket.
    for (method, path, code) in [
        ("GET", "/status", "404"),
        ("POST", "/active", "405"),
        ("GET", "/metrics", "200"),
    ] {
        let url = format!("http://{}{path}", targets[0]);
        let out = cluster
            .lab
            .exec(
                cluster.client(),
                &[
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-X",
                    method,
                    &url,
                ],
            )
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            code,
            "{method} {path}"
        );
    }
}
