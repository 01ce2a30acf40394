//! Shared by the api, vippyctl, checks, hooks and plugins tests: temporary
//! directories and a real API server fed by hand-built state.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use vippy::api::{AdminKind, AdminRequest, ApiError, ApiState};
use vippy::metrics::Metrics;
use vippy::status::{Event, GroupStatus, PeerStatus, Status};

/// Whether the process whose pid a test program wrote to a file has ended.
pub fn ended(pid: &str) -> bool {
    vippy_lab::process_ended(pid.trim().parse().expect("a pid"))
}

/// A directory under /tmp, world-traversable (so `nobody` can reach a
/// socket in it), removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "vippy-{tag}-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        ));
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes an executable script.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `cond` every 20 ms until it holds or `secs` pass.
pub async fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A real API server on a socket in a temp dir, with a task answering
/// admin requests the way the runtime would.
pub struct Harness {
    pub dir: TempDir,
    pub socket: PathBuf,
    pub status: watch::Sender<Status>,
    pub events: broadcast::Sender<Event>,
    pub metrics: Arc<Metrics>,
    /// Every admin request received, in order.
    pub admin_log: Arc<Mutex<Vec<AdminKind>>>,
    /// Makes the next reloads fail, as an invalid config would.
    pub reload_fails: Arc<AtomicBool>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), ApiError>>>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(0o600, 64).await
    }

    pub async fn start_with(mode: u32, event_capacity: usize) -> Harness {
        let dir = TempDir::new("api");
        let socket = dir.join("vippy.socket");
        let (status, status_rx) = watch::channel(sample_status());
        let (events, _) = broadcast::channel(event_capacity);
        let metrics = Arc::new(Metrics::new());
        let (admin_tx, mut admin_rx) = mpsc::channel::<AdminRequest>(8);
        let admin_log = Arc::new(Mutex::new(Vec::new()));
        let reload_fails = Arc::new(AtomicBool::new(false));
        {
            let log = admin_log.clone();
            let fails = reload_fails.clone();
            tokio::spawn(async move {
                while let Some(request) = admin_rx.recv().await {
                    let answer = match &request.kind {
                        AdminKind::SetActive { active: true, .. } => Ok("active".to_string()),
                        AdminKind::UndrainAll => Ok("active".to_string()),
                        AdminKind::SetActive {
                            active: false,
                            reason,
                            ..
                        } => Ok(format!(
                            "inactive (administrative: {})",
                            reason.as_deref().unwrap_or("no reason given")
                        )),
                        AdminKind::Reload if fails.load(Ordering::SeqCst) => {
                            Err("/etc/vippy.conf:3:5: vips[0]: not an address".to_string())
                        }
                        AdminKind::Reload => Ok("reloaded: version 6".to_string()),
                        AdminKind::Move {
                            node: Some(node), ..
                        } if node == "node3" => {
                            Err("node node3 is not eligible: never heard".to_string())
                        }
                        AdminKind::Move {
                            group,
                            node: Some(node),
                        } => Ok(format!(
                            "group {group}: moving to {node}, released first; pinned there"
                        )),
                        AdminKind::Move { group, node: None } => Ok(format!(
                            "group {group}: pin to node2 cleared; normal placement"
                        )),
                    };
                    log.lock().unwrap().push(request.kind);
                    let _ = request.reply.send(answer);
                }
            });
        }
        let state = ApiState::new(status_rx, metrics.clone(), admin_tx, events.clone());
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(vippy::api::serve(socket.clone(), mode, state, async move {
            let _ = shutdown_rx.await;
        }));
        eventually(10, "the socket to appear", || socket.exists()).await;
        Harness {
            dir,
            socket,
            status,
            events,
            metrics,
            admin_log,
            reload_fails,
            shutdown: Some(shutdown_tx),
            server: Some(server),
        }
    }

    pub fn admin_requests(&self) -> Vec<AdminKind> {
        self.admin_log.lock().unwrap().clone()
    }

    /// Waits until `n` clients are subscribed to the event stream.
    pub async fn wait_for_subscribers(&self, n: usize) {
        eventually(10, "event subscribers", || {
            self.events.receiver_count() >= n
        })
        .await;
    }

    /// Stops the server and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("server stops")
                .unwrap()
                .unwrap();
        }
    }
}

/// `curl --unix-socket SOCK` with `args` (as root). Returns (status code,
/// body). `-w` appends the code on a last line.
pub async fn curl(socket: &Path, args: &[&str]) -> (u16, String) {
    curl_as(None, socket, args).await
}

/// The same, run as another user through setpriv when `uid` is given.
pub async fn curl_as(uid: Option<u32>, socket: &Path, args: &[&str]) -> (u16, String) {
    let mut cmd = match uid {
        Some(uid) => {
            let mut cmd = tokio::process::Command::new("setpriv");
            cmd.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={uid}"))
                .arg("--clear-groups")
                .arg("curl");
            cmd
        }
        None => tokio::process::Command::new("curl"),
    };
    cmd.arg("-sS")
        .arg("--max-time")
        .arg("20")
        .arg("--unix-socket")
        .arg(socket)
        .arg("-w")
        .arg("\n%{http_code}")
        .args(args);
    let out = cmd.output().await.expect("curl runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').expect("curl printed a code");
    (
        code.trim().parse().unwrap_or_else(|_| {
            panic!(
                "curl code in {text:?}; stderr {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }),
        body.to_string(),
    )
}

pub fn sample_status() -> Status {
    Status {
        node: "node1".into(),
        version: 5,
        digest: "3f2a9c0d1e4b5a69".into(),
        config_origin: "file".into(),
        mature: true,
        active: false,
        reasons: vec!["administrative".into(), "check:http".into()],
        admin_reason: Some("kernel upgrade".into()),
        drains: [("admin".to_string(), "kernel upgrade".to_string())].into(),
        groups: vec![
            GroupStatus {
                index: 0,
                ips: vec!["198.51.100.195/24".into()],
                interfaces: vec![Some("eth0".into())],
                preferred: None,
                owner: Some("node1".into()),
                holders: vec!["node1".into()],
                held_here: true,
                since_seconds: Some(12.5),
                failback_to: Some("node3".into()),
                failback_in_seconds: Some(2.5),
                cannot_serve_here: vec![],
                cannot_serve_elsewhere: vec![],
                pinned_to: None,
                pin_dormant: None,
            },
            GroupStatus {
                index: 1,
                ips: vec!["203.0.113.147/24".into()],
                interfaces: vec![None],
                preferred: Some("node2".into()),
                owner: Some("node2".into()),
                holders: vec!["node2".into()],
                held_here: false,
                since_seconds: Some(3.0),
                failback_to: None,
                failback_in_seconds: None,
                cannot_serve_here: vec![],
                cannot_serve_elsewhere: vec![],
                pinned_to: Some("node2".into()),
                pin_dormant: None,
            },
            GroupStatus {
                index: 2,
                ips: vec!["203.0.113.149/24".into(), "198.51.100.196/24".into()],
                interfaces: vec![Some("eth0".into()), Some("eth0".into())],
                preferred: None,
                owner: None,
                holders: vec![],
                held_here: false,
                since_seconds: None,
                failback_to: None,
                failback_in_seconds: None,
                cannot_serve_here: vec![],
                cannot_serve_elsewhere: vec![],
                pinned_to: Some("node3".into()),
                pin_dormant: Some("never heard".into()),
            },
        ],
        peers: vec![
            PeerStatus {
                name: "node2".into(),
                address: Some("198.51.100.12:5007".into()),
                last_heard_seconds: Some(0.4),
                incarnation: Some(7),
                config_version: Some(5),
                eligible: true,
                why_not: None,
                secret_index: 1,
                present: true,
            },
            PeerStatus {
                name: "node3".into(),
                address: None,
                last_heard_seconds: None,
                incarnation: None,
                config_version: None,
                eligible: false,
                why_not: Some("never heard".into()),
                secret_index: 0,
                present: false,
            },
        ],
        counters: BTreeMap::from([("heartbeats_sent".to_string(), 10)]),
        waiting: None,
        strangers: Vec::new(),
        failback: "5s".into(),
        protocols: Vec::new(),
        hooks_retrying: Vec::new(),
        conflicts: Vec::new(),
        nodes: vec!["node1".into(), "node2".into(), "node3".into()],
    }
}
