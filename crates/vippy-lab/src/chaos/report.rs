//! The chaos run's report: settings, the faults as they ran, violations
//! (with the seed and time to replay), restarts, settle times and the
//! client-visible outage per fault kind, as text and as an SVG.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::ChaosReport;
use super::invariants::quantile;
use super::schedule::FaultKind;

/// `node1, node3` from indices.
fn names(nodes: &[usize]) -> String {
    nodes
        .iter()
        .map(|n| format!("node{}", n + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One fault's target in words.
pub fn target(kind: &FaultKind) -> String {
    match kind {
        FaultKind::Partition { side } => format!("{} | the rest", names(side)),
        FaultKind::OneWay { node, deaf: true } => {
            format!("node{} hears nobody", node + 1)
        }
        FaultKind::OneWay { node, deaf: false } => {
            format!("nobody hears node{}", node + 1)
        }
        FaultKind::Reload {
            node,
            version,
            optional,
        } => format!(
            "HUP node{}, version {version}, {} groups",
            node + 1,
            super::schedule::BASE_GROUPS + optional
        ),
        kind => names(&kind.nodes()),
    }
}

/// The report as text.
pub fn text(report: &ChaosReport) -> String {
    let spec = &report.spec;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "chaos: seed {}, {} s, 5 nodes, {} base groups (+{} a reload may add), interval {} s, stale {} s, mature {} s",
        spec.seed,
        spec.duration,
        super::schedule::BASE_GROUPS,
        super::schedule::OPTIONAL_GROUPS,
        spec.interval,
        spec.stale,
        spec.mature
    );
    let _ = writeln!(
        out,
        "bound after each episode's last fault: stale + mature + 1 s = {:.1} s; replay: vippy-lab chaos --duration {} --seed {}",
        spec.bound(),
        spec.duration,
        spec.seed
    );
    let _ = writeln!(out, "\nfaults ({}):", report.ran.len());
    let _ = writeln!(out, "| # | episode | from s | to s | kind | target |");
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |");
    for (e, episode) in report.schedule.episodes.iter().enumerate() {
        for f in &episode.faults {
            if let Some(r) = report.ran.iter().find(|r| r.fault.id == f.id) {
                let _ = writeln!(
                    out,
                    "| {} | {e} | {:.2} | {:.2} | {} | {} |",
                    f.id,
                    r.began,
                    r.ended,
                    f.kind.name(),
                    target(&f.kind)
                );
            }
        }
    }
    let _ = writeln!(out, "\nviolations: {}", report.violations.len());
    for v in &report.violations {
        let _ = writeln!(
            out,
            "  seed {} at +{:.2} s (episode {}): {}",
            spec.seed, v.at, v.episode, v.what
        );
    }
    let _ = writeln!(
        out,
        "crashes (unexpected exits, panics): {}",
        report.crashes
    );
    let _ = writeln!(
        out,
        "daemon restarts: {} ({})",
        report.restarts.iter().sum::<usize>(),
        report
            .restarts
            .iter()
            .enumerate()
            .map(|(i, n)| format!("node{} {n}", i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let settled: Vec<f64> = report.settle.iter().flatten().copied().collect();
    let _ = writeln!(
        out,
        "settled (every invariant held, the last address change seen) after the last fault of each episode: {} of {} episodes, p50 {:.2} s, p90 {:.2} s, max {:.2} s",
        settled.len(),
        report.settle.len(),
        quantile(&settled, 0.5),
        quantile(&settled, 0.9),
        settled.iter().copied().fold(0.0, f64::max)
    );
    let _ = writeln!(
        out,
        "\nclient-visible outage per fault kind (each VIP the fault's nodes held when it began; a reload: every VIP kept; seconds without a ping reply, less one 0.1 s interval, from the fault's start to its end + bound):"
    );
    let _ = writeln!(
        out,
        "| fault kind | faults | VIPs | with outage | p50 s | p90 s | max s |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
    for (kind, samples) in &report.outages {
        let faults = report
            .ran
            .iter()
            .filter(|r| r.fault.kind.name() == *kind)
            .count();
        let hit = samples.iter().filter(|&&s| s > 0.0).count();
        let _ = writeln!(
            out,
            "| {kind} | {faults} | {} | {hit} | {:.2} | {:.2} | {:.2} |",
            samples.len(),
            quantile(samples, 0.5),
            quantile(samples, 0.9),
            samples.iter().copied().fold(0.0, f64::max)
        );
    }
    let _ = writeln!(
        out,
        "\nchaos phase took {:.1} s; the daemons logged {} late timers (\"the core loop ran a timer … late\": starved by the machine, or resumed from SIGSTOP)",
        report.took, report.lags
    );
    out
}

/// The outage plot: one column of points per fault kind.
pub fn outage_svg(report: &ChaosReport, path: &Path) -> Result<()> {
    let title = format!(
        "Client-visible outage per fault kind (seed {}, {} s, bound {:.1} s)",
        report.spec.seed,
        report.spec.duration,
        report.spec.bound()
    );
    crate::plot::outage_svg(&report.outages, report.spec.bound(), &title, path)
}
