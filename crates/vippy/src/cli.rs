//! Command lines of `vippyd` and `vippyctl` (the original's flags and defaults:
//! `-c`, `-n`, `-p`, the socket path), shared by the binaries and by
//! `vippy-gen`, which writes the man pages and shell completions from them.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

/// The original's configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/vippy.conf";
/// The original's management socket.
pub const DEFAULT_SOCKET: &str = "/var/run/vippy.socket";

const VIPPYD_ABOUT: &str = "Keeps virtual IP addresses alive over a cluster of Linux nodes";

const VIPPYD_LONG_ABOUT: &str = "\
Keeps virtual IP addresses alive over a cluster of Linux nodes.

vippyd manages groups of virtual IP addresses (VIPs) over the nodes listed in
its configuration file. Nodes exchange authenticated heartbeats over UDP
(multicast, or unicast peers), agree on which node holds which group, plumb
the addresses on their interfaces and announce them with gratuitous ARP and
unsolicited IPv6 neighbour advertisements.

The node with the highest configuration \"version\" dominates: the others adopt
its \"vips\" and \"nodes\". SIGHUP rereads the configuration file; a file that
does not parse or validate is rejected and the running configuration stays.
SIGTERM or SIGINT releases this node's VIPs, tells the peers, and exits.

Under systemd (Type=notify) vippyd reports readiness and status and pings the
watchdog. vippyctl(8) talks to the running daemon; the file format is in
vippy.conf(5).";

/// `vippyd -c FILE -n NODE`.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "vippyd",
    version,
    about = VIPPYD_ABOUT,
    long_about = VIPPYD_LONG_ABOUT
)]
pub struct VippydArgs {
    /// Configuration file.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = DEFAULT_CONFIG
    )]
    pub config: PathBuf,

    /// This node's name in "nodes" [default: the hostname].
    #[arg(
        short = 'n',
        long = "node",
        value_name = "NODE",
        long_help = "This node's name, as written in the configuration's \"nodes\" list. \
                     Defaults to the hostname; give it when the hostname is not in \"nodes\"."
    )]
    pub node: Option<String>,

    /// Run PROGRAM as a supervised plugin; repeatable.
    #[arg(
        short = 'p',
        long = "plugin",
        value_name = "PROGRAM",
        action = ArgAction::Append,
        long_help = "Run PROGRAM as a plugin, in addition to the configuration's \"plugins\" \
                     list; may be given more than once. PROGRAM is split at spaces into a \
                     program and its arguments (no shell). A plugin is a long-running program \
                     in any language that uses the management API; it gets VIPPY_SOCKET and \
                     VIPPY_NODE in its environment and is restarted with back-off when it exits."
    )]
    pub plugins: Vec<String>,

    /// Check the configuration, print a summary and exit (0 valid, 1 not).
    #[arg(
        short = 't',
        long = "check-config",
        long_help = "Read and validate the configuration file the way the daemon would, \
                     print a summary and exit. Also checks what the daemon needs from this \
                     host: that this node (-n, or else the hostname, as at start) is in \
                     \"nodes\" and \"peers\" name every other node, that the secret files \
                     can be read, and that the programs of checks, hooks, plugins and -p \
                     exist and are executable (found in PATH when not absolute; /bin/sh for \
                     \"shell\": true). A VIP interface missing on this host is a warning. \
                     Exit status 0 when valid (warnings allowed), 1 with every error found \
                     otherwise, 2 on a usage error. The summary goes to stdout, errors and \
                     warnings to stderr. Nothing is started (like keepalived -t)."
    )]
    pub check_config: bool,

    /// With -t: print the result as one JSON object.
    #[arg(
        long = "json",
        requires = "check_config",
        long_help = "With --check-config: print one JSON object on stdout instead of text, \
                     {\"ok\", \"file\", \"node\", \"node_from\", \"errors\", \"warnings\", \
                     \"summary\"}, each error and warning {\"path\", \"message\", \"line\", \
                     \"column\", \"text\"}, as described in docs/CONFIGURATION.md. \
                     The exit status is the same as without it."
    )]
    pub json: bool,
}

impl VippydArgs {
    /// `-n NODE`, or else the hostname.
    pub fn node_name(&self) -> Result<String, String> {
        if let Some(node) = &self.node {
            return Ok(node.clone());
        }
        let name = nix::unistd::gethostname()
            .map_err(|e| format!("cannot read the hostname ({e}); give the node with -n NODE"))?;
        name.into_string()
            .map_err(|_| "the hostname is not UTF-8; give the node with -n NODE".to_string())
    }
}

const VIPPYCTL_ABOUT: &str = "Controls a running vippyd";

const VIPPYCTL_LONG_ABOUT: &str = "\
Controls a running vippyd through its management socket.

vippyctl shows the cluster as the local node sees it, drains the node (its
groups move to other nodes) and undrains it, asks the daemon to reread its
configuration, and follows its events. It speaks HTTP/JSON over the unix
socket named by \"management\" in vippy.conf(5); curl --unix-socket works too.
Exit status is 0 on success and 1 on any error.";

/// `vippyctl [-s SOCKET] COMMAND`.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "vippyctl",
    version,
    about = VIPPYCTL_ABOUT,
    long_about = VIPPYCTL_LONG_ABOUT
)]
pub struct VippyctlArgs {
    /// vippyd's management socket.
    #[arg(
        short = 's',
        long = "socket",
        value_name = "SOCKET",
        global = true,
        default_value = DEFAULT_SOCKET
    )]
    pub socket: PathBuf,

    #[command(subcommand)]
    pub command: VippyctlCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum VippyctlCommand {
    /// Show the cluster from this node's point of view.
    #[command(
        long_about = "Show the cluster from this node's point of view: the nodes with \
                            their state, the groups with their holder and addresses, and \
                            the configuration in force (version, origin, digest)."
    )]
    Status {
        /// Print the daemon's JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Make this node inactive: its groups move to other nodes.
    #[command(
        long_about = "Make this node inactive, with an optional reason shown in status: \
                            it gives up its groups, which move to other eligible nodes, and \
                            takes none until undrained. Use before maintenance."
    )]
    Drain {
        /// Why, shown in status.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Who drains (default "admin"): the node stays drained until every
        /// source has undrained it.
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
    },
    /// Lift a drain: the node is active again once no source drains it.
    #[command(
        long_about = "Lift the drain of one source (the operator's, \"admin\", unless \
                            --source names another). The node takes groups again once no \
                            source drains it; status shows the drains left. --all lifts \
                            every drain."
    )]
    Undrain {
        /// Whose drain to lift (default "admin").
        #[arg(long, value_name = "NAME", conflicts_with = "all")]
        source: Option<String>,
        /// Lift every source's drain.
        #[arg(long)]
        all: bool,
    },
    /// Move a group to a node and keep it there (a planned move).
    #[command(
        long_about = "Move GROUP (its index, or one of its addresses, as status shows \
                            them) to NODE, an eligible node, and keep it there: the holder \
                            releases it first, then NODE takes it, so it is never on two \
                            nodes. The pin is shared by the whole cluster, so any node may \
                            be asked, and status shows it as \"pinned to NODE by operator\". \
                            It holds until NODE stops being active (drained, a failing \
                            check, stopped or restarted), until the group is moved again, \
                            or until --clear drops it and normal placement resumes."
    )]
    Move {
        /// The group: its index, or one of its addresses.
        #[arg(value_name = "GROUP")]
        group: String,
        /// The node to move it to.
        #[arg(value_name = "NODE", required_unless_present = "clear")]
        node: Option<String>,
        /// Drop the group's pin instead: normal placement again.
        #[arg(long, conflicts_with = "node")]
        clear: bool,
    },
    /// Reread the configuration file (like SIGHUP).
    #[command(
        long_about = "Ask vippyd to reread its configuration file, like SIGHUP, and \
                            report whether the new file was accepted. A file that does not \
                            parse or validate is rejected with its errors and the running \
                            configuration stays."
    )]
    Reload,
    /// Print the metrics, as Prometheus scrapes them.
    #[command(
        long_about = "Print GET /metrics: the OpenMetrics text a Prometheus server \
                            scrapes (from the unix socket, or from the `metrics` TCP \
                            address when configured)."
    )]
    Metrics,
    /// Follow events: one line each, until vippyd stops.
    Watch {
        /// Print the raw JSON lines.
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        VippydArgs::command().debug_assert();
        VippyctlArgs::command().debug_assert();
    }

    #[test]
    fn vippyd_takes_the_original_flags() {
        let args =
            VippydArgs::try_parse_from(["vippyd", "-c", "/tmp/v.conf", "-n", "node1"]).unwrap();
        assert_eq!(args.config, PathBuf::from("/tmp/v.conf"));
        assert_eq!(args.node.as_deref(), Some("node1"));
        let args = VippydArgs::try_parse_from(["vippyd", "-p", "a b", "-p", "c", "-t"]).unwrap();
        assert_eq!(args.plugins, ["a b", "c"]);
        assert!(args.check_config);
        assert!(!args.json);
        assert_eq!(args.config, PathBuf::from(DEFAULT_CONFIG));
        let args = VippydArgs::try_parse_from(["vippyd", "-t", "--json"]).unwrap();
        assert!(args.check_config && args.json);
        let err = VippydArgs::try_parse_from(["vippyd", "--json"]).unwrap_err();
        assert_eq!(err.exit_code(), 2, "--json without -t is a usage error");
    }

    #[test]
    fn vippyctl_socket_goes_before_or_after_the_command() {
        let a = VippyctlArgs::try_parse_from(["vippyctl", "-s", "/s", "status"]).unwrap();
        let b = VippyctlArgs::try_parse_from(["vippyctl", "status", "-s", "/s"]).unwrap();
        assert_eq!(a, b);
        let c = VippyctlArgs::try_parse_from(["vippyctl", "drain", "--reason", "kernel"]).unwrap();
        assert_eq!(c.socket, PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(
            c.command,
            VippyctlCommand::Drain {
                reason: Some("kernel".into()),
                source: None,
            }
        );
        let d = VippyctlArgs::try_parse_from(["vippyctl", "undrain", "--source", "x", "--all"]);
        assert!(d.is_err(), "--source and --all conflict");
    }
}
