//! The session's outputs: the final table (default, expert, best found: time and ratio to the
//! expert), `best.mapper`, `history.jsonl` (one line per iteration), `report.md` (table, best
//! mapper, per-optimizer results, settings) and `best_so_far.svg` (best-so-far score per
//! iteration, one line per optimizer run, drawn with plotters).

use crate::confirm::{spread_text, Confirmation};
use crate::session::{IterationRecord, SessionResult};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Files written by [`write_outputs`].
pub const OUTPUT_FILES: [&str; 4] = [
    "best.mapper",
    "history.jsonl",
    "report.md",
    "best_so_far.svg",
];

fn ratio(r: &SessionResult, t: Option<f64>) -> String {
    match (r.reference_s, t) {
        (Some(e), Some(t)) if t > 0.0 => format!("{:.3}x", e / t),
        _ => "-".into(),
    }
}

fn time(t: Option<f64>) -> String {
    t.map_or("-".into(), format_time)
}

/// A duration with four significant digits in s, ms or us.
pub fn format_time(t: f64) -> String {
    if t >= 1.0 {
        format!("{t:.3} s")
    } else if t >= 1e-3 {
        format!("{:.3} ms", t * 1e3)
    } else {
        format!("{:.3} us", t * 1e6)
    }
}

/// Rows of the final table: (mapper, seed, status, time, ratio to the expert); `seed` marks the
/// baselines every optimizer starts from, and a best row whose record is one of them.
pub fn table_rows(r: &SessionResult) -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    let et = r.expert.outcome.time_s();
    let dt = r.default.outcome.time_s();
    rows.push([
        "default".into(),
        "seed".into(),
        r.default.outcome.class().into(),
        time(dt),
        ratio(r, dt),
    ]);
    rows.push([
        "expert".into(),
        "seed".into(),
        r.expert.outcome.class().into(),
        time(et),
        ratio(r, et),
    ]);
    for run in &r.runs_by_optimizer {
        let b = run.best();
        rows.push([
            format!("best ({})", run.optimizer),
            if b.is_some_and(|b| b.seed) {
                "seed".into()
            } else {
                String::new()
            },
            b.map_or("no valid mapper".to_string(), |b| {
                format!("iteration {}", b.iteration)
            }),
            time(b.and_then(|b| b.time_s)),
            ratio(r, b.and_then(|b| b.time_s)),
        ]);
    }
    rows
}

/// The final table as aligned text.
pub fn table(r: &SessionResult) -> String {
    let header = ["mapper", "seed", "status", "time", "vs expert"];
    let rows = table_rows(r);
    let mut w = header.map(str::len);
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut s = String::new();
    let line = |cells: [&str; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {:>w4$}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        )
    };
    s.push_str(&line(header));
    for row in &rows {
        s.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    s.push_str(SEED_NOTE);
    s.push('\n');
    s
}

/// What the `seed` marks mean.
pub const SEED_NOTE: &str = "seed: every optimizer run starts from the same two seeds, the \
     expert and the runtime default (as expressed in the search space); a best row marked seed \
     found nothing better than a seed";

/// Rows of the confirmation table: (candidate, seed, median ratio, spread, verdict).
pub fn confirmation_rows(r: &SessionResult) -> Vec<[String; 5]> {
    let Some(c) = &r.confirmation else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for x in &c.candidates {
        rows.push([
            x.label(),
            if x.seed { "seed".into() } else { String::new() },
            x.median().map_or("-".into(), |m| format!("{m:.3}x")),
            spread_text(x.spread()),
            match &x.failure {
                Some(f) => format!("failed ({f})"),
                None => x.verdict.text().to_string(),
            },
        ]);
    }
    rows
}

/// The heading line of the confirmation: rounds, baseline and what the ratios compare.
pub fn confirmation_heading(c: &Confirmation) -> String {
    let b = &c.baseline;
    format!(
        "confirmation: {} round(s), each running the {b} and every candidate once (the {b} first in odd rounds, last in even ones); ratio = {}; \
         median and spread (min-max) over the rounds; a gain counts if the whole spread is above \
         1.0 and the median at least {:.1}% above it",
        c.rounds,
        if c.by_throughput {
            format!("candidate throughput / {b} throughput (the work differed between mappers)")
        } else {
            format!("{b} time / candidate time")
        },
        c.min_gain * 100.0,
    )
}

/// The confirmation as aligned text (empty if it did not run).
pub fn confirmation_table(r: &SessionResult) -> String {
    let Some(c) = &r.confirmation else {
        return String::new();
    };
    let mut s = format!(
        "{}
",
        confirmation_heading(c)
    );
    let header = ["candidate", "seed", "median", "spread", "verdict"];
    let rows = confirmation_rows(r);
    let mut w = header.map(str::len);
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            w[i] = w[i].max(cell.len());
        }
    }
    let line = |c: [&str; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {}\n",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        )
    };
    s.push_str(&line(header));
    for row in &rows {
        s.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    for n in &c.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let _ = writeln!(s, "{}", c.summary());
    s
}

/// The markdown report.
pub fn markdown(r: &SessionResult, settings: &[(String, String)], best_text: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Tuning report: `{}` on `{}` (size {})\n",
        r.app, r.machine, r.size
    );
    let _ = writeln!(
        s,
        "| mapper | seed | status | time | vs expert |\n|---|---|---|---:|---:|"
    );
    for row in table_rows(r) {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    let _ = writeln!(s, "\n{}.\n", capitalize(SEED_NOTE));
    if r.runs == 1 {
        let _ = writeln!(
            s,
            "Each mapper was run once{}.",
            if crate::target::is_simulated(&r.machine) {
                " (simulated machine: times are deterministic)"
            } else {
                ""
            }
        );
    } else {
        let _ = writeln!(s, "Each time is the median of {} runs.", r.runs);
    }
    for n in &r.notes {
        let _ = writeln!(s, "\n{n}");
    }
    if let Some(c) = &r.confirmation {
        let _ = writeln!(s, "\n## Confirmed result\n");
        let _ = writeln!(s, "{}.\n", capitalize(&confirmation_heading(c)));
        let _ = writeln!(
            s,
            "| candidate | seed | median | spread | verdict |\n|---|---|---:|---:|---|"
        );
        for row in confirmation_rows(r) {
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        let _ = writeln!(s);
        for n in &c.notes {
            let _ = writeln!(s, "Note: {n}\n");
        }
        let _ = writeln!(s, "**{}.**", capitalize(&c.summary()));
    } else {
        let _ = writeln!(
            s,
            "\nNo confirmation step ran: best.mapper holds the best search score, unconfirmed."
        );
    }
    let _ = writeln!(s, "\n## Optimizer runs\n");
    let _ = writeln!(
        s,
        "| optimizer | iterations | valid | best score | best at |\n|---|---:|---:|---:|---:|"
    );
    for run in &r.runs_by_optimizer {
        let valid = run.records.iter().filter(|x| x.score > 0.0).count();
        let b = run.best();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            run.optimizer,
            run.records.len(),
            valid,
            b.map_or("-".into(), |b| format!("{:.3}", b.score)),
            b.map_or("-".into(), |b| if b.seed {
                format!("{} (seed)", b.iteration)
            } else {
                b.iteration.to_string()
            })
        );
    }
    let _ = writeln!(s, "\n![best so far](best_so_far.svg)\n");
    let _ = writeln!(s, "## Best mapper\n\n```text\n{}```\n", best_text);
    let _ = writeln!(s, "## Settings\n");
    for (k, v) in settings {
        let _ = writeln!(s, "- {k}: {v}");
    }
    s
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The text `best.mapper` holds: the confirmed winner; the expert if the confirmation found no
/// gain beyond noise; without a confirmation, the best search score (or the expert with a note
/// if nothing ran).
pub fn best_mapper_text(r: &SessionResult) -> String {
    let expert = || {
        r.expert
            .canonical
            .clone()
            .unwrap_or_else(|| r.expert.mapper.clone())
    };
    if let Some(c) = &r.confirmation {
        if let Some(w) = c.winner() {
            let mut t = w.mapper.clone();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            return t;
        }
        if c.baseline == "expert" {
            return format!(
                "# No gain beyond noise over the expert mapper ({} round(s)); this is the expert mapper.\n{}",
                c.rounds,
                expert()
            );
        }
    }
    match r.best() {
        Some(b) => {
            let mut t = b.mapper.clone();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            t
        }
        None => format!(
            "# No candidate ran successfully; this is the expert mapper.\n{}",
            r.expert
                .canonical
                .clone()
                .unwrap_or_else(|| r.expert.mapper.clone())
        ),
    }
}

/// Draws the best-so-far curves as SVG.
pub fn plot_svg(r: &SessionResult, path: &Path) -> Result<(), String> {
    let max_iter = r
        .runs_by_optimizer
        .iter()
        .map(|x| x.records.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let max_score = r
        .runs_by_optimizer
        .iter()
        .flat_map(|x| x.records.iter().map(|y| y.best_so_far))
        .fold(1.0f64, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("cannot draw {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} on {}: best-so-far score (expert = 1)", r.app, r.machine),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..max_iter as f64, 0f64..max_score)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("iteration")
        .y_desc("score")
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 1.0), (max_iter as f64, 1.0)],
            BLACK.mix(0.4),
        ))
        .map_err(|e| err(&e))?
        .label("expert")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.4)));
    for (i, run) in r.runs_by_optimizer.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64)> = run
            .records
            .iter()
            .map(|x| (x.iteration as f64, x.best_so_far))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(run.optimizer.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Writes every output file into `dir` (each atomically); returns their paths.
pub fn write_outputs(
    r: &SessionResult,
    dir: &Path,
    settings: &[(String, String)],
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Each file is written next to its place and renamed over it, so a run killed while
    // writing leaves the previous complete file.
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let p = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &p))
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        Ok(p)
    };
    let best = best_mapper_text(r);
    let mut out = vec![write("best.mapper", &best)?];
    let mut hist = String::new();
    for run in &r.runs_by_optimizer {
        for rec in &run.records {
            let line = serde_json::to_string::<IterationRecord>(rec)
                .map_err(|e| format!("cannot encode history: {e}"))?;
            hist.push_str(&line);
            hist.push('\n');
        }
    }
    out.push(write("history.jsonl", &hist)?);
    out.push(write("report.md", &markdown(r, settings, &best))?);
    let svg = dir.join("best_so_far.svg");
    let tmp = dir.join(".best_so_far.svg.tmp");
    plot_svg(r, &tmp)?;
    std::fs::rename(&tmp, &svg).map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
    out.push(svg);
    Ok(out)
}
