//! vippy-gen: writes the man pages and shell completions for packaging.
//!
//! `vippy-gen OUTDIR` writes `OUTDIR/man/{vippyd.8,vippyctl.8,vippy.conf.5}`
//! and `OUTDIR/completions/` for bash, zsh and fish. The pages of the two
//! binaries come from their clap definitions in `vippy::cli`, so options stay
//! in step with the code; vippy.conf(5) is written by hand in
//! `packaging/man/`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use vippy::cli::{VippyctlArgs, VippydArgs};

const VIPPY_CONF_5: &str = include_str!("../../../../packaging/man/vippy.conf.5");

const MANUAL: &str = "System Manager's Manual";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: vippy-gen OUTDIR   (writes OUTDIR/man and OUTDIR/completions)");
        return ExitCode::from(2);
    };
    match generate(Path::new(&out)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vippy-gen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path) -> Result<Vec<PathBuf>> {
    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    for dir in [&man_dir, &completions_dir] {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut written = Vec::new();

    let pages = [
        ("vippyd.8", man_page(VippydArgs::command(), VIPPYD_EXTRA)?),
        (
            "vippyctl.8",
            man_page(VippyctlArgs::command(), VIPPYCTL_EXTRA)?,
        ),
        ("vippy.conf.5", VIPPY_CONF_5.as_bytes().to_vec()),
    ];
    for (name, text) in pages {
        let path = man_dir.join(name);
        write_file(&path, &text)?;
        written.push(path);
    }

    for mut cmd in [VippydArgs::command(), VippyctlArgs::command()] {
        let name = cmd.get_name().to_string();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut cmd, &name, &mut text);
            // The names the shells look for in their completion directories.
            let file = match shell {
                Shell::Bash => name.clone(),
                Shell::Zsh => format!("_{name}"),
                _ => format!("{name}.fish"),
            };
            let dir = completions_dir.join(shell.to_string());
            fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let path = dir.join(file);
            write_file(&path, &text)?;
            written.push(path);
        }
    }
    Ok(written)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A page for a binary: clap_mangen's title, name, description and options,
/// with a synopsis that names the values, the subcommands in full, and
/// hand-written sections.
fn man_page(cmd: Command, extra: &str) -> Result<Vec<u8>> {
    let version = cmd.get_version().unwrap_or_default().to_string();
    let man = Man::new(cmd.clone())
        .title(cmd.get_name().to_uppercase())
        .section("8")
        .date(man_date())
        .source(format!("vippy {version}"))
        .manual(MANUAL);
    let mut sections: Vec<Vec<u8>> = Vec::new();
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    sections.push(buf);
    let mut buf = Vec::new();
    man.render_name_section(&mut buf)?;
    sections.push(buf);
    sections.push(synopsis(&cmd).render().into_bytes());
    let mut buf = Vec::new();
    man.render_description_section(&mut buf)?;
    sections.push(buf);
    let mut buf = Vec::new();
    man.render_options_section(&mut buf)?;
    sections.push(buf);
    if cmd.has_subcommands() {
        sections.push(commands(&cmd).render().into_bytes());
    }
    sections.push(extra.as_bytes().to_vec());

    // Each fragment from roff starts with the same apostrophe preamble:
    // keep one, right after .TH, so the page starts with .TH.
    let preamble = Roff::new().render();
    let mut page = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        let text = String::from_utf8_lossy(section);
        let text = text.strip_prefix(preamble.as_str()).unwrap_or(&text);
        page.extend_from_slice(text.as_bytes());
        if i == 0 {
            page.extend_from_slice(preamble.as_bytes());
        }
    }
    Ok(page)
}

/// The page date: `SOURCE_DATE_EPOCH` (reproducible builds) or today, UTC.
fn man_date() -> String {
    page_date(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())
}

/// `YYYY-MM-DD` of a Unix time in seconds, or of now when it is missing or
/// not one.
fn page_date(epoch: Option<&str>) -> String {
    epoch
        .and_then(|s| s.trim().parse::<u64>().ok())
        .and_then(|secs| jiff::Timestamp::from_second(i64::try_from(secs).ok()?).ok())
        .unwrap_or_else(jiff::Timestamp::now)
        .strftime("%Y-%m-%d")
        .to_string()
}

/// `vippyd [-c FILE] [-n NODE] …`, values named.
fn synopsis(cmd: &Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    let mut line = vec![bold(cmd.get_name()), roman(" ")];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let Some(flag) = arg
            .get_short()
            .map(|s| format!("-{s}"))
            .or_else(|| arg.get_long().map(|l| format!("--{l}")))
        else {
            continue;
        };
        if matches!(arg.get_id().as_str(), "help" | "version") {
            continue;
        }
        line.push(roman("["));
        line.push(bold(flag));
        if let Some(names) = arg
            .get_value_names()
            .filter(|_| arg.get_action().takes_values())
        {
            line.push(roman(" "));
            line.push(italic(names.join(" ")));
        }
        line.push(roman("]"));
        if matches!(arg.get_action(), clap::ArgAction::Append) {
            line.push(roman("..."));
        }
        line.push(roman(" "));
    }
    if cmd.has_subcommands() {
        line.push(italic("COMMAND"));
    }
    roff.text(line);
    roff
}

/// Every subcommand with its long description and options.
fn commands(cmd: &Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let mut head = vec![bold(sub.get_name())];
        let own: Vec<_> = sub
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set() && a.get_long() != Some("help"))
            .collect();
        for arg in &own {
            if let Some(long) = arg.get_long() {
                head.push(roman(" ["));
                head.push(bold(format!("--{long}")));
                if let Some(names) = arg
                    .get_value_names()
                    .filter(|_| arg.get_action().takes_values())
                {
                    head.push(roman(" "));
                    head.push(italic(names.join(" ")));
                }
                head.push(roman("]"));
            }
        }
        roff.control("TP", []);
        roff.text(head);
        let about = sub
            .get_long_about()
            .or_else(|| sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        roff.text([roman(about)]);
        for arg in own {
            if let (Some(long), Some(help)) = (arg.get_long(), arg.get_help()) {
                roff.control("RS", []);
                roff.control("TP", []);
                roff.text([bold(format!("--{long}"))]);
                roff.text([roman(help.to_string())]);
                roff.control("RE", []);
            }
        }
    }
    roff
}

const VIPPYD_EXTRA: &str = r#".SH SIGNALS
.TP
.B SIGHUP
Reread the configuration file. A file that does not parse or validate is
rejected with a clear error in the log and the running configuration stays.
Under systemd, \fBsystemctl reload vippyd\fR sends it.
.TP
.BR SIGTERM ", " SIGINT
Stop: release this node's VIPs, tell the peers so they take over at once,
let the \fBdown\fR hooks run (5 s in all), stop the plugins (SIGKILL after
5 s) and exit.
.SH ENVIRONMENT
.TP
.BR VIPPY_LOG ", " RUST_LOG
A tracing filter directive (for example \fBvippy=debug\fR) that replaces
the configuration's \fBlogging.mask\fR, for debugging.
.TP
.BR VIPPY_SYSLOG_SOCKET ", " VIPPY_JOURNAL_SOCKET
Other sockets than \fI/dev/log\fR and \fI/run/systemd/journal/socket\fR
for the \fBsyslog\fR and \fBjournald\fR logging drivers.
.TP
.BR NOTIFY_SOCKET ", " WATCHDOG_USEC
Set by systemd for Type=notify services: vippyd reports readiness, reloads
and stopping, and pings the watchdog at half of WATCHDOG_USEC.
.SH FILES
.TP
.I /etc/vippy.conf
The configuration file; see \fBvippy.conf\fR(5).
.TP
.I /var/run/vippy.socket
The management socket (the \fBmanagement\fR key); see \fBvippyctl\fR(8).
.TP
.I /var/lib/vippy
A usual \fBstate_dir\fR, where an adopted cluster configuration is kept
across restarts.
.SH EXIT STATUS
0 after a clean stop, or with \fB\-t\fR when the configuration is valid
(warnings allowed); 1 on an invalid configuration or a failure to start;
2 on a usage error. With \fB\-t \-\-json\fR the verdict is also one JSON
object on standard output.
.SH EXAMPLES
.nf
vippyd \-c /etc/vippy.conf \-n node1
vippyd \-t \-c /etc/vippy.conf
vippyd \-t \-\-json \-c /etc/vippy.conf \-n node1
.fi
.SH SEE ALSO
\fBvippyctl\fR(8), \fBvippy.conf\fR(5), \fBsystemd.service\fR(5)
"#;

const VIPPYCTL_EXTRA: &str = r#".SH EXIT STATUS
0 on success; 1 on any error, including a daemon that cannot be reached.
.SH FILES
.TP
.I /var/run/vippy.socket
The default management socket. vippyd creates it with mode 0600 unless
\fBmanagement_mode\fR says otherwise.
.SH EXAMPLES
.nf
vippyctl status
vippyctl \-s /run/vippy/vippy.socket status \-\-json
vippyctl drain \-\-reason "kernel upgrade"
vippyctl undrain
vippyctl move 0 node3
vippyctl move 203.0.113.10 \-\-clear
vippyctl watch
.fi
.SH SEE ALSO
\fBvippyd\fR(8), \fBvippy.conf\fR(5)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn generated() -> (TempDir, Vec<PathBuf>) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            TempDir(std::env::temp_dir().join(format!("vippy-gen-{}-{n}", std::process::id())));
        let _ = fs::remove_dir_all(&dir.0);
        let files = generate(&dir.0).expect("generate");
        (dir, files)
    }

    fn read(dir: &TempDir, rel: &str) -> String {
        fs::read_to_string(dir.0.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    #[test]
    fn writes_every_page_and_completion() {
        let (dir, files) = generated();
        let want = [
            "man/vippyd.8",
            "man/vippyctl.8",
            "man/vippy.conf.5",
            "completions/bash/vippyd",
            "completions/bash/vippyctl",
            "completions/zsh/_vippyd",
            "completions/zsh/_vippyctl",
            "completions/fish/vippyd.fish",
            "completions/fish/vippyctl.fish",
        ];
        for rel in want {
            assert!(files.contains(&dir.0.join(rel)), "{rel} not listed");
            assert!(!read(&dir, rel).is_empty(), "{rel} is empty");
        }
        assert_eq!(files.len(), want.len());
        assert!(read(&dir, "completions/bash/vippyctl").contains("complete -F"));
        assert!(read(&dir, "completions/bash/vippyctl").contains("--clear"));
        assert!(read(&dir, "completions/zsh/_vippyd").starts_with("#compdef vippyd"));
        assert!(read(&dir, "completions/fish/vippyctl.fish").contains("complete -c vippyctl"));
    }

    #[test]
    fn pages_start_with_th_and_name_their_options() {
        let (dir, _) = generated();
        let vippyd = read(&dir, "man/vippyd.8");
        assert!(vippyd.starts_with(".TH VIPPYD 8 "), "{}", &vippyd[..40]);
        for flag in [
            r"\-\-config",
            r"\-\-node",
            r"\-\-plugin",
            r"\-\-check\-config",
        ] {
            assert!(vippyd.contains(flag), "vippyd.8 lacks {flag}");
        }
        assert!(vippyd.contains("/etc/vippy.conf"));
        let vippyctl = read(&dir, "man/vippyctl.8");
        assert!(vippyctl.starts_with(".TH VIPPYCTL 8 "));
        for word in [
            "status",
            "drain",
            "undrain",
            "reload",
            "watch",
            "move",
            r"\-\-clear",
            r"\-\-reason",
        ] {
            assert!(vippyctl.contains(word), "vippyctl.8 lacks {word}");
        }
        assert!(vippyctl.contains("/var/run/vippy.socket"));
        for page in [&vippyd, &vippyctl] {
            assert_eq!(page.matches(".SH NAME").count(), 1);
            assert_eq!(page.matches(r".ds Aq \(aq").count(), 1);
        }
    }

    #[test]
    fn vippy_conf_5_covers_every_key() {
        let (dir, _) = generated();
        let page = read(&dir, "man/vippy.conf.5");
        assert!(page.starts_with(".TH VIPPY.CONF 5 "));
        let nested = [
            "driver", "facility", "mask", "count", "refresh", "rate", "name", "command", "shell",
            "interval", "timeout", "rise", "fall", "groups", "up", "down", "change",
        ];
        for key in vippy_core::config::TOP_KEYS.iter().chain(&nested) {
            let key = key.replace('-', r"\-");
            let documented = page
                .lines()
                .any(|l| l == format!(".B {key}") || l.starts_with(&format!(".BR {key} ")));
            assert!(documented, "vippy.conf.5 has no entry for {key}");
        }
    }

    /// groff's own warnings, where groff is installed.
    #[test]
    fn groff_finds_nothing_to_warn_about() {
        let (dir, files) = generated();
        for page in files.iter().filter(|f| f.starts_with(dir.0.join("man"))) {
            let Ok(out) = std::process::Command::new("groff")
                .args(["-man", "-ww", "-z"])
                .arg(page)
                .output()
            else {
                eprintln!("skipped: no groff");
                return;
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "{}: {stderr}",
                page.display()
            );
        }
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(page_date(Some("0")), "1970-01-01");
        assert_eq!(page_date(Some("951782400")), "2000-02-29");
        assert_eq!(page_date(Some(" 1767225599\n")), "2025-12-31");
        assert_eq!(page_date(Some("1767225600")), "2026-01-01");
    }
}
