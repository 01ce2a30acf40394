//! The validated configuration, as the rest of vippy sees it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::cluster::Cluster;

/// Everything one node runs with: the cluster-wide part (which must agree
/// on every node, [`Cluster`]) and the local settings around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the configuration was read from, for messages.
    pub source: String,
    pub cluster: Arc<Cluster>,
    /// Local interface names of VIPs, by address: interface names are local
    /// and not part of the cluster digest.
    pub interfaces: BTreeMap<IpAddr, String>,
    pub chat: SocketAddr,
    pub chat_interface: ChatInterface,
    /// The shared secrets, at least one: the first signs every datagram,
    /// every one is accepted (`secrets`, for rotation; `secret` or
    /// `secret_file` give a list of one).
    pub secrets: Vec<Secret>,
    pub interval: Duration,
    pub mature: Duration,
    pub stale: Duration,
    pub arp_cache: Duration,
    pub notify: Vec<NotifyTarget>,
    pub management: PathBuf,
    /// File mode of the management socket (0600 unless configured).
    pub management_mode: u32,
    pub logging: Logging,
    /// Unicast peers: node name → address:port. Empty means multicast only.
    pub peers: BTreeMap<String, SocketAddr>,
    pub garp: Garp,
    pub checks: Vec<Check>,
    pub hooks: Hooks,
    pub plugins: Vec<Command>,
    pub quorum: Quorum,
    /// When groups go back to a returning node (`failback`).
    pub failback: Failback,
    /// Whether a group whose VIP's interface is missing, down or without
    /// carrier counts as one this node cannot serve (`track_interfaces`).
    pub track_interfaces: bool,
    /// How long an interface must be down before it counts
    /// (`link_down_grace`; one `interval` unless set).
    pub link_down_grace: Duration,
    /// The SCHED_FIFO priority of the core loop, with the daemon's memory
    /// locked (`realtime`; the data plane runs one below, see
    /// [`data_plane_priority`]); `None` (the default): normal scheduling.
    /// Read at start only.
    pub realtime: Option<u8>,
    /// Where an adopted cluster config is kept across restarts.
    pub state_dir: Option<PathBuf>,
    /// A TCP address serving `GET /metrics` (and nothing else) for
    /// Prometheus; `None` (the default): metrics only on the unix socket.
    pub metrics: Option<SocketAddr>,
}

/// The data plane's SCHED_FIFO priority under `realtime: priority`: one
/// below the core loop's, so the loop preempts it. At one priority, a data
/// plane plumbing hundreds of addresses (the kernel's work counted to its
/// thread) kept the loops of its node and of the node beside it off both
/// CPUs for over 100 ms, and peers judged them stale. Below SCHED_FIFO 1
/// there is only normal priority, which loses to the load `realtime` is
/// for, so at 1 both share it.
pub fn data_plane_priority(priority: u8) -> u8 {
    priority.saturating_sub(1).max(1)
}

/// The defaults of the settings a file may leave out (docs/CONFIGURATION.md
/// lists them too); the rest default through their types.
impl Config {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
    pub const DEFAULT_MATURE: Duration = Duration::from_secs(5);
    pub const DEFAULT_STALE: Duration = Duration::from_secs(3);
    pub const DEFAULT_ARP_CACHE: Duration = Duration::from_secs(15);
    pub const DEFAULT_MANAGEMENT: &str = "/var/run/vippy.socket";
    /// Only the owner (root) may use the socket unless configured.
    pub const DEFAULT_MANAGEMENT_MODE: u32 = 0o600;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatInterface {
    /// Join the chat group on every multicast-capable interface.
    All,
    Named(String),
}

/// The shared secret. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    /// Read by the daemon at start and on reload; must not be empty.
    File(PathBuf),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Secret::Inline(<redacted>)"),
            Secret::File(path) => f.debug_tuple("Secret::File").field(path).finish(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// The union of the cluster's shared neighbour tables.
    ArpCache,
    /// Every neighbour in this network (the address's CIDR).
    Network {
        net: IpNet,
        interface: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    pub driver: LogDriver,
    pub facility: Facility,
    pub mask: LevelMask,
}

impl Default for Logging {
    fn default() -> Logging {
        Logging {
            driver: LogDriver::Console,
            facility: Facility::Daemon,
            mask: LevelMask::default_mask(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDriver {
    Console,
    /// Also accepted as "posix", the original's name.
    Syslog,
    Journald,
}

impl LogDriver {
    pub fn name(self) -> &'static str {
        match self {
            LogDriver::Console => "console",
            LogDriver::Syslog => "syslog",
            LogDriver::Journald => "journald",
        }
    }
}

/// Syslog facilities (RFC 5424 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Authpriv,
    Ftp,
    Local(u8),
}

impl Facility {
    pub const NAMES: [&'static str; 20] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
        "local7",
    ];

    pub fn from_name(name: &str) -> Option<Facility> {
        Some(match name {
            "kern" => Facility::Kern,
            "user" => Facility::User,
            "mail" => Facility::Mail,
            "daemon" => Facility::Daemon,
            "auth" | "security" => Facility::Auth,
            "syslog" => Facility::Syslog,
            "lpr" => Facility::Lpr,
            "news" => Facility::News,
            "uucp" => Facility::Uucp,
            "cron" => Facility::Cron,
            "authpriv" => Facility::Authpriv,
            "ftp" => Facility::Ftp,
            _ => {
                let n = name.strip_prefix("local")?.parse::<u8>().ok()?;
                if n > 7 {
                    return None;
                }
                Facility::Local(n)
            }
        })
    }

    /// The facility code (RFC 5424 table 1).
    pub fn code(self) -> u8 {
        match self {
            Facility::Kern => 0,
            Facility::User => 1,
            Facility::Mail => 2,
            Facility::Daemon => 3,
            Facility::Auth => 4,
            Facility::Syslog => 5,
            Facility::Lpr => 6,
            Facility::News => 7,
            Facility::Uucp => 8,
            Facility::Cron => 9,
            Facility::Authpriv => 10,
            Facility::Ftp => 11,
            Facility::Local(n) => 16 + n,
        }
    }
}

/// Syslog severities (RFC 5424 §6.2.1), most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Emerg,
    Alert,
    Crit,
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Severity {
    pub const ALL: [Severity; 8] = [
        Severity::Emerg,
        Severity::Alert,
        Severity::Crit,
        Severity::Err,
        Severity::Warning,
        Severity::Notice,
        Severity::Info,
        Severity::Debug,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Emerg => "emerg",
            Severity::Alert => "alert",
            Severity::Crit => "crit",
            Severity::Err => "err",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
            Severity::Info => "info",
            Severity::Debug => "debug",
        }
    }

    pub fn from_name(name: &str) -> Option<Severity> {
        Some(match name {
            "emerg" | "panic" => Severity::Emerg,
            "alert" => Severity::Alert,
            "crit" => Severity::Crit,
            "err" | "error" => Severity::Err,
            "warning" | "warn" => Severity::Warning,
            "notice" => Severity::Notice,
            "info" => Severity::Info,
            "debug" => Severity::Debug,
            _ => return None,
        })
    }
}

/// Which severities are logged: a set, as in the original, not a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelMask(u8);

impl LevelMask {
    pub fn none() -> LevelMask {
        LevelMask(0)
    }

    /// The default when `logging.mask` is absent: everything but debug.
    pub fn default_mask() -> LevelMask {
        let mut mask = LevelMask::none();
        for s in Severity::ALL {
            mask.set(s, s != Severity::Debug);
        }
        mask
    }

    pub fn set(&mut self, severity: Severity, on: bool) {
        let bit = 1u8 << severity as u8;
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }

    pub fn contains(self, severity: Severity) -> bool {
        self.0 & (1u8 << severity as u8) != 0
    }
}

/// Gratuitous ARP / unsolicited NA settings (`garp`).
#[derive(Debug, Clone, PartialEq)]
pub struct Garp {
    /// Announcements per acquisition.
    pub count: u32,
    /// Gap between repeated announcements.
    pub interval: Duration,
    /// Re-announce held VIPs this often, if set.
    pub refresh: Option<Duration>,
    /// Packets per second at most, across all VIPs.
    pub rate: u32,
}

impl Default for Garp {
    fn default() -> Garp {
        Garp {
            count: 3,
            interval: Duration::from_millis(500),
            refresh: None,
            // 1000 VIPs × 2 ARP forms in well under 100 ms.
            rate: 50_000,
        }
    }
}

/// A program to run, with or without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run directly: program and arguments.
    Argv(Vec<String>),
    /// Run with `/bin/sh -c`, only when the config asks for it.
    Shell(String),
}

impl Command {
    /// The argument vector to execute.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Argv(argv) => argv.clone(),
            Command::Shell(script) => vec!["/bin/sh".into(), "-c".into(), script.clone()],
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Argv(argv) => f.write_str(&argv.join(" ")),
            Command::Shell(script) => write!(f, "sh -c {script:?}"),
        }
    }
}

/// A health check: failing makes the node inactive with reason `check:NAME`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub command: Command,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive successes before a failing check counts as passing.
    pub rise: u32,
    /// Consecutive failures before a passing check counts as failing.
    pub fall: u32,
    /// The groups (indices in this file's `vips`, ascending) a failing check
    /// makes this node unable to serve; empty: the whole node goes inactive.
    pub groups: Vec<usize>,
}

impl Check {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
    /// Two in a row, so one slow run does not flap the node.
    pub const DEFAULT_RISE: u32 = 2;
    pub const DEFAULT_FALL: u32 = 2;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hooks {
    pub up: Vec<Command>,
    pub down: Vec<Command>,
    pub change: Vec<Command>,
    pub timeout: Duration,
    /// Indices of `up` commands given with `"retry": true`: re-run with
    /// back-off while the group stays held here, until one run exits 0
    /// (for clouds where the address moves through the provider's API).
    pub up_retry: std::collections::BTreeSet<usize>,
}

impl Default for Hooks {
    /// No hooks; a hook that runs longer than 10 s is killed.
    fn default() -> Hooks {
        Hooks {
            up: Vec::new(),
            down: Vec::new(),
            change: Vec::new(),
            timeout: Duration::from_secs(10),
            up_retry: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    /// As in the original: a node alone still serves.
    Off,
    /// More than half of `nodes`.
    Majority,
    Count(usize),
}

impl Quorum {
    /// Eligible nodes (this one included) needed to hold anything.
    pub fn needed(self, node_count: usize) -> usize {
        match self {
            Quorum::Off => 0,
            Quorum::Majority => node_count / 2 + 1,
            Quorum::Count(n) => n,
        }
    }
}

/// When a node that comes back (restarted, undrained, its check passing
/// again) gets back its preferred groups and its balanced share of the
/// groups others hold (docs/ARCHITECTURE.md, "Failback"). Groups nobody
/// holds, and groups whose holder fails, are placed at once whatever this
/// says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Failback {
    /// As soon as it is eligible (the original's rule).
    #[default]
    Immediate,
    /// Once it has been eligible without a break for this long, as this
    /// node has seen it.
    After(Duration),
    /// Never: a group stays with its holder while the holder is eligible.
    Manual,
}

impl Failback {
    /// `After(d)`, or `Immediate` for zero.
    pub fn after(delay: Duration) -> Failback {
        if delay.is_zero() {
            Failback::Immediate
        } else {
            Failback::After(delay)
        }
    }
}

impl std::fmt::Display for Failback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failback::Immediate => f.write_str("immediate"),
            Failback::After(d) => write!(f, "after {}s", d.as_secs_f64()),
            Failback::Manual => f.write_str("manual"),
        }
    }
}
