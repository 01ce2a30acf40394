//! `realtime` on a real daemon, seen from outside through /proc: the loop
//! thread (the main one) runs at SCHED_FIFO 10, the data plane's at 9, the thread serving the API
//! does not, a check's child does not, and the memory is locked. Without
//! the capability vippyd refuses to start and says what to grant.

use std::time::Duration;

use vippy_lab::{Cluster, ClusterSpec};

mod support;
use support::lab::{bins, status};

/// SCHED_OTHER and SCHED_FIFO as /proc/PID/stat shows them.
const SCHED_OTHER: u32 = 0;
const SCHED_FIFO: u32 = 1;

/// A thread's name and its /proc/PID/task/TID/stat fields; `fields[n - 3]`
/// is field n (the ones after the name start at field 3, the state).
fn stat(pid: u32, tid: u32) -> (String, Vec<String>) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap();
    let open = stat.find('(').unwrap();
    let close = stat.rfind(')').unwrap();
    let fields = stat[close + 2..].split(' ').map(str::to_string).collect();
    (stat[open + 1..close].to_string(), fields)
}

/// (policy, rt_priority, comm) of a thread: fields 41 and 40.
fn sched(pid: u32, tid: u32) -> (u32, u32, String) {
    let (comm, fields) = stat(pid, tid);
    let field = |n: usize| fields[n - 3].parse::<u32>().unwrap();
    (field(41), field(40), comm)
}

/// (nice, comm) of a thread: field 19.
fn nice(pid: u32, tid: u32) -> (i32, String) {
    let (comm, fields) = stat(pid, tid);
    (fields[19 - 3].parse().unwrap(), comm)
}

fn threads(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect()
}

fn vm_locked_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmLck:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Without `realtime`, the data plane's thread runs nicer than the loop:
/// at 16 nodes x 4096 groups on 2 cores, a takeover's kernel work on that
/// thread otherwise kept heartbeats from going out, and the cold start
/// never converged (docs/BENCHMARKS.md, "Thousands of VIPs").
#[test]
#[ignore = "needs root: network namespaces"]
fn without_realtime_the_data_plane_yields_to_the_loop() {
    vippy_lab::need_root();
    let mut cluster = Cluster::build(ClusterSpec::ipv4(1, 1), bins()).expect("lab");
    cluster.start_all().expect("daemon starts");
    let vips = cluster.vips();
    cluster
        .wait_for(Duration::from_secs(8), |c| Ok(c.holders(&vips)?[0] == [0]))
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs_tail()));
    let pid = cluster.pid(0).unwrap();
    let all: Vec<(i32, String)> = threads(pid).into_iter().map(|t| nice(pid, t)).collect();
    assert_eq!(nice(pid, pid).0, 0, "the loop's thread: {all:?}");
    assert!(
        all.iter()
            .any(|(n, comm)| *n == 5 && comm == "vippy-dataplane"),
        "the data plane at nice 5: {all:?}"
    );
}

#[test]
#[ignore = "needs root: network namespaces"]
fn the_loop_runs_at_sched_fifo_and_the_rest_does_not() {
    vippy_lab::need_root();
    let mut spec = ClusterSpec::ipv4(1, 1);
    let mut cluster = Cluster::build(spec.clone(), bins()).expect("lab");
    // A check whose shell writes its own policy (field 41 of its stat).
    let policy_file = cluster.dir().join("check-policy");
    spec.extra = format!(
        "  realtime: 10,\n  checks: [ {{ name: \"prio\", command: \"cut -d' ' -f41 /proc/$$/stat > {}\", shell: true, interval: 0.5, rise: 1 }} ],\n",
        policy_file.display()
    );
    cluster.spec = spec;
    cluster
        .write_config(0, 1, &cluster.spec.groups.clone())
        .unwrap();
    cluster.start(0).unwrap();
    let vips = cluster.vips();
    cluster
        .wait_for(Duration::from_secs(8), |c| Ok(c.holders(&vips)?[0] == [0]))
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs_tail()));
    // The API answers (it is served on the runtime of normal priority).
    assert_eq!(status(&cluster, 0)["node"], "node1");

    let pid = cluster.pid(0).unwrap();
    let (policy, priority, _) = sched(pid, pid);
    assert_eq!(
        (policy, priority),
        (SCHED_FIFO, 10),
        "the main thread runs the loop and the data plane"
    );
    let all: Vec<(u32, u32, String)> = threads(pid).into_iter().map(|t| sched(pid, t)).collect();
    let normal: Vec<&(u32, u32, String)> = all
        .iter()
        .filter(|(_, _, comm)| comm == vippy::realtime::BACKGROUND_THREAD)
        .collect();
    assert!(
        !normal.is_empty(),
        "no {} thread: {all:?}",
        vippy::realtime::BACKGROUND_THREAD
    );
    for (policy, priority, comm) in &normal {
        assert_eq!((*policy, *priority), (SCHED_OTHER, 0), "{comm}");
    }
    // Only the loop's thread and the data plane's are real-time, the data
    // plane one priority below, so the loop preempts it; the log writer,
    // the blocking pool and the runtime of normal priority are not.
    let fifo: Vec<&(u32, u32, String)> = all.iter().filter(|(p, _, _)| *p != SCHED_OTHER).collect();
    assert_eq!(fifo.len(), 2, "{all:?}");
    assert!(
        fifo.iter()
            .any(|(p, prio, comm)| (*p, *prio) == (SCHED_FIFO, 9) && comm == "vippy-dataplane"),
        "the data plane runs at SCHED_FIFO 9: {all:?}"
    );
    let locked = vm_locked_kb(pid);
    assert!(locked > 1024, "VmLck {locked} kB");
    let check_policy = std::fs::read_to_string(&policy_file).unwrap();
    assert_eq!(check_policy.trim(), "0", "a check runs at SCHED_OTHER");
    eprintln!("threads {all:?}, VmLck {locked} kB");
}

#[test]
#[ignore = "needs root: network namespaces"]
fn without_the_capability_vippyd_says_what_to_grant() {
    vippy_lab::need_root();
    let mut spec = ClusterSpec::ipv4(1, 1);
    spec.extra = "  realtime: 10,\n".into();
    let cluster = Cluster::build(spec, bins()).expect("lab");
    let config = cluster.config_path(0).display().to_string();
    let vippyd = bins().vippyd.display().to_string();
    // No CAP_SYS_NICE and an RLIMIT_RTPRIO of 0: SCHED_FIFO is refused.
    let out = cluster
        .lab
        .exec(
            cluster.node(0),
            &[
                "prlimit",
                "--rtprio=0",
                "--",
                "setpriv",
                "--inh-caps=-sys_nice",
                "--bounding-set=-sys_nice",
                "--",
                &vippyd,
                "-c",
                &config,
                "-n",
                "node1",
            ],
        )
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for want in [
        "realtime: not permitted to run at SCHED_FIFO priority 10",
        "CAP_SYS_NICE",
        "LimitRTPRIO=99",
    ] {
        assert!(stderr.contains(want), "{want:?} not in: {stderr}");
    }
}
