//! Named network namespaces (`/run/netns/NAME`, as `ip netns` makes them) and
//! running code inside one.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::command::run;

/// Where `ip netns` keeps its namespace handles.
pub const NETNS_DIR: &str = "/run/netns";

/// The handle file of a named namespace.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Whether a named namespace exists.
pub fn netns_exists(name: &str) -> bool {
    netns_path(name).exists()
}

/// The names of all named namespaces.
pub fn netns_list() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Runs `f` on a fresh thread that has joined the namespace `netns`, and
/// returns what it returns. Sockets (netlink, packet, UDP) created inside `f`
/// belong to that namespace for their whole life, wherever they are used
/// afterwards. A panic in `f` is resumed on the caller's thread.
///
/// To create tokio sockets inside, enter a runtime handle in `f`:
/// `let h = Handle::current(); in_netns(ns, move || { let _g = h.enter(); … })`.
pub fn in_netns<T: Send>(netns: &str, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    let path = netns_path(netns);
    let handle = File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("namespace {}: {e}", path.display())))?;
    std::thread::scope(|scope| {
        let thread = scope.spawn(move || {
            // Only this thread moves; setns(CLONE_NEWNET) is allowed in a
            // multi-threaded process.
            setns(&handle, CloneFlags::CLONE_NEWNET)
                .map_err(|e| io::Error::other(format!("setns into {netns}: {e}")))?;
            Ok(f())
        });
        match thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Creates a named namespace with `lo` up.
pub(crate) fn netns_add(name: &str) -> Result<()> {
    run("ip", &["netns", "add", name])?;
    run("ip", &["-n", name, "link", "set", "lo", "up"])?;
    Ok(())
}

/// Kills every process whose main thread lives in the namespace (a process
/// there would keep it, and its links, alive after `ip netns del`), then
/// deletes it. Missing namespaces are fine.
pub(crate) fn netns_delete(name: &str) -> Result<()> {
    if !netns_exists(name) {
        return Ok(());
    }
    kill_processes_in(name);
    run("ip", &["netns", "del", name]).with_context(|| format!("deleting namespace {name}"))?;
    Ok(())
}

/// SIGKILLs the processes `ip netns pids` lists for a namespace, never this
/// process itself.
pub(crate) fn kill_processes_in(name: &str) {
    kill_all(&processes_in(name));
}

/// The processes in a namespace (this one left out).
pub(crate) fn processes_in(name: &str) -> Vec<i32> {
    let Ok(out) = run("ip", &["netns", "pids", name]) else {
        return Vec::new();
    };
    let me = std::process::id();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .filter(|pid| *pid as u32 != me)
        .collect()
}

/// SIGKILLs every one of `pids` at once.
pub(crate) fn kill_all(pids: &[i32]) {
    for pid in pids {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
}

/// Writes a sysctl inside a namespace. `/proc/sys/net` resolves through the
/// calling thread's namespace, so no process is started.
pub(crate) fn sysctl(netns: &str, key: &str, value: &str) -> Result<()> {
    let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
    in_netns(netns, || std::fs::write(&path, value))
        .and_then(|r| r)
        .with_context(|| format!("sysctl {key}={value} in {netns}"))
}
