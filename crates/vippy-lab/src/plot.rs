//! The attack bench's plot: who held each group over time while the flood
//! ran, with each kind's flood shaded. SVG through plotters without a font
//! backend: text goes into the SVG as `<text>` for the viewer to lay out,
//! so building needs no system fonts and no -dev packages.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;

use crate::bench_attack::AttackReport;

/// Writes the ownership plot of `report` to `path`.
pub fn ownership_svg(report: &AttackReport, path: &Path) -> Result<()> {
    let end = report
        .samples
        .last()
        .map_or(1.0, |s| s.at.as_secs_f64())
        .max(1.0);
    let nodes = report.nodes as f64;
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    let draw = |e| anyhow::anyhow!("drawing {}: {e:?}", path.display());
    root.fill(&WHITE).map_err(draw)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "VIP ownership during the flood ({} groups, {} datagrams per kind)",
                report.groups, report.options.per_kind
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..end, -0.5..nodes + 1.5)
        .map_err(draw)?;
    let node_count = report.nodes;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("seconds since the watch began")
        .y_labels(node_count + 3)
        .y_label_formatter(&move |y| {
            let at = y.round() as i64;
            if (y - at as f64).abs() > 0.01 {
                String::new()
            } else if at == 0 {
                "no holder".into()
            } else if at as usize <= node_count {
                format!("node{at}")
            } else if at as usize == node_count + 1 {
                "two or more".into()
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(draw)?;
    // Each kind's flood, shaded and numbered as in the table.
    for (n, o) in report.outcomes.iter().enumerate() {
        let (a, b) = (o.window.0.as_secs_f64(), o.window.1.as_secs_f64());
        let shade = if n % 2 == 0 {
            RGBColor(255, 228, 196)
        } else {
            RGBColor(255, 244, 214)
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, -0.5), (b.max(a + end / 400.0), nodes + 1.5)],
                shade.filled(),
            )))
            .map_err(draw)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{}", n + 1),
                (a, nodes + 1.35),
                ("sans-serif", 13),
            )))
            .map_err(draw)?;
    }
    // One line per group; groups are spread a little within a node's row
    // so that lines on the same holder stay apart.
    for g in 0..report.groups {
        let offset = (g as f64 - report.groups as f64 / 2.0) * 0.05;
        let colour = Palette99::pick(g).to_rgba();
        let points = report.samples.iter().map(|s| {
            let holders = &s.holders[g];
            let y = match holders.len() {
                0 => 0.0,
                1 => holders[0] as f64 + 1.0,
                _ => nodes + 1.0,
            };
            (s.at.as_secs_f64(), y + offset)
        });
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(draw)?
            .label(format!("group {g}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(draw)?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The chaos run's outage plot: for each fault kind (a column), every
/// affected VIP's client-visible outage as a point, its median as a bar,
/// and the settle bound as a dashed line.
pub fn outage_svg(rows: &[(&str, Vec<f64>)], bound: f64, title: &str, path: &Path) -> Result<()> {
    let top = rows
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .fold(bound, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (1100, 480)).into_drawing_area();
    let draw = |e| anyhow::anyhow!("drawing {}: {e:?}", path.display());
    root.fill(&WHITE).map_err(draw)?;
    let columns = rows.len();
    let names: Vec<String> = rows.iter().map(|(n, _)| (*n).to_string()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..columns as f64 - 0.5, 0.0..top)
        .map_err(draw)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(columns)
        .x_label_formatter(&move |x| {
            let at = x.round();
            if (x - at).abs() > 0.01 || at < 0.0 {
                return String::new();
            }
            names.get(at as usize).cloned().unwrap_or_default()
        })
        .y_desc("seconds without a reply")
        .draw()
        .map_err(draw)?;
    for (c, (_, samples)) in rows.iter().enumerate() {
        let colour = Palette99::pick(c).to_rgba();
        let n = samples.len().max(1) as f64;
        chart
            .draw_series(samples.iter().enumerate().map(|(i, &s)| {
                // Spread the points across the column so they stay apart.
                let x = c as f64 - 0.3 + 0.6 * (i as f64 + 0.5) / n;
                Circle::new((x, s), 3, colour.filled())
            }))
            .map_err(draw)?;
        let median = super::chaos::invariants::quantile(samples, 0.5);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(c as f64 - 0.35, median), (c as f64 + 0.35, median)],
                BLACK.stroke_width(2),
            )))
            .map_err(draw)?;
    }
    chart
        .draw_series(DashedLineSeries::new(
            vec![(-0.5, bound), (columns as f64 - 0.5, bound)],
            6,
            4,
            RED.stroke_width(1),
        ))
        .map_err(draw)?
        .label(format!("bound {bound:.1} s"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(draw)?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
