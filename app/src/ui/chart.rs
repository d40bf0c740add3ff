//! Charts drawn with plotters into SVG text: the server draws the first paint, the browser
//! redraws the same chart as events arrive.
//!
//! Every chart is drawn [`WIDTH`] units wide and shown at the column's width (CSS scales the
//! SVG by its `viewBox`), at most 36rem: text of [`LABEL_FONT`] is then at least 12 px on a
//! 390 px phone (350 px of column) and about 20 px on a desktop. Legends sit in a strip
//! under the plot, never over the data; each chart has one metric on its value axis.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::ml::metrics::RegressionFit;
use crate::model::job::{JobEvent, JobEventRecord};

/// One named line of points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 5] =
    [RGBColor(15, 95, 89), RGBColor(200, 90, 20), RGBColor(60, 80, 170), RGBColor(150, 40, 110), RGBColor(100, 100, 100)];

/// The colour of series `i`: the palette, then hues a golden angle apart, so no two series of
/// one chart share a colour however many there are.
fn colour(i: usize) -> RGBColor {
    if let Some(c) = COLOURS.get(i) {
        return *c;
    }
    let (r, g, b) = HSLColor((i as f64 * 0.618_034).fract(), 0.65, 0.38).rgb();
    RGBColor(r, g, b)
}

/// The drawing's width in SVG units (see the module's note on sizes).
pub const WIDTH: u32 = 480;
/// The size of axis, legend and cell text as plotters takes it: plotters writes `font-size`
/// as this ÷ 1.24 (21 → 16.9 SVG units, 12.4 px on a phone, 20 px on a desktop).
pub const LABEL_FONT: u32 = 21;
const TITLE_FONT: u32 = 24;
const PLOT_HEIGHT: u32 = 300;
const LEGEND_ROW: u32 = 26;
/// About how wide one character of [`LABEL_FONT`] text is, to shorten what would not fit.
const CHAR: u32 = 10;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn std::error::Error>>;

/// How a legend entry shows its series.
#[derive(Clone, Copy)]
enum Mark {
    Line,
    Block,
}

/// Entries per row of the legend strip of `names` (two when every name is short, else one)
/// and its rows (none for fewer than two names: a title names a lone series).
fn legend_layout(names: &[&str]) -> (usize, u32) {
    if names.len() < 2 {
        return (1, 0);
    }
    let per_row = if names.iter().all(|n| n.chars().count() <= 18) { 2 } else { 1 };
    (per_row, names.len().div_ceil(per_row) as u32)
}

/// The legend strip's height for `names`.
fn legend_height(names: &[&str]) -> u32 {
    match legend_layout(names).1 {
        0 => 0,
        rows => rows * LEGEND_ROW + 8,
    }
}

/// `text` cut to `width` units of [`LABEL_FONT`] text, with an ellipsis when cut.
fn fit(text: &str, width: u32) -> String {
    let most = (width / CHAR).max(2) as usize;
    if text.chars().count() <= most {
        return text.to_owned();
    }
    let cut: String = text.chars().take(most - 1).collect();
    format!("{cut}…")
}

fn font(h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", LABEL_FONT).into_font().color(&BLACK).pos(Pos::new(h, v))
}

/// The legend strip: a mark in the series' colour and its name, one or two a row.
fn draw_legend(area: &Area, names: &[&str], colours: &[RGBColor], mark: Mark) -> Drawn {
    let (per_row, rows) = legend_layout(names);
    if rows == 0 {
        return Ok(());
    }
    let column = (WIDTH as i32 - 16) / per_row as i32;
    for (i, (name, c)) in names.iter().zip(colours).enumerate() {
        let (row, col) = ((i / per_row) as i32, (i % per_row) as i32);
        let (x, y) = (16 + col * column, 8 + row * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2);
        match mark {
            // A thick stroke, no point: a chart's circles are its data points only.
            Mark::Line => area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(5)))?,
            Mark::Block => area.draw(&Rectangle::new([(x, y - 7), (x + 24, y + 7)], c.filled()))?,
        }
        area.draw(&Text::new(fit(name, column as u32 - 40), (x + 32, y), font(HPos::Left, VPos::Center)))?;
    }
    Ok(())
}

/// Draws with `draw` on a white [`WIDTH`] × `height` SVG; an empty string if plotters fails
/// (the page then shows the figures' table alone).
fn svg(height: u32, draw: impl FnOnce(&Area) -> Drawn) -> String {
    let mut out = String::new();
    let drawn = (|| -> Drawn {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    if drawn.is_err() {
        return String::new();
    }
    out
}

/// An axis label: whole numbers as such, others with two decimals at most (none from 10 up).
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 || v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// An SVG line chart with points; empty series draw empty axes.
pub fn line_chart(title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> String {
    lines(title, x_desc, y_desc, series, None)
}

/// A line chart of scores (accuracy or R²): the y axis ends at 1, the best a score can be, and
/// starts at 0 or at the lowest score if one is negative (R² can be).
pub fn score_chart(title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> String {
    lines(title, x_desc, y_desc, series, Some(1.0))
}

/// The score axis: 0 (or the lowest, below it, with a margin) to `top`.
fn score_range(lowest: f64, top: f64) -> (f64, f64) {
    (if lowest < 0.0 { lowest - 0.05 * (top - lowest) } else { 0.0 }, top)
}

fn lines(title: &str, x_desc: &str, y_desc: &str, series: &[Series], top: Option<f64>) -> String {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1) = points().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (mut y0, mut y1) = points().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-9 {
        (x0, x1) = (x0 - 1.0, x1 + 1.0);
    }
    let (y0, y1) = match top {
        Some(top) => score_range(y0, top),
        // A flat line (one job, one version) still gets a readable scale around its value.
        None => {
            let pad = ((y1 - y0) * 0.1).max(0.05 * y0.abs().max(y1.abs()).max(1.0));
            (y0 - pad, y1 + pad)
        }
    };
    // Folds, epochs and versions are whole numbers: label whole numbers only then.
    let whole = points().all(|p| (p.0 - p.0.round()).abs() < 1e-9);
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let colours: Vec<RGBColor> = (0..series.len()).map(colour).collect();
    svg(PLOT_HEIGHT + legend_height(&names), |root| {
        let (plot, legend) = root.split_vertically(PLOT_HEIGHT);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", TITLE_FONT))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let ticks = if whole { ((x1 - x0).round() as usize + 1).clamp(2, 8) } else { 6 };
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(ticks)
            .y_labels(8)
            .x_label_formatter(&|x| if whole { format!("{x:.0}") } else { number(*x) })
            .y_label_formatter(&|y| number(*y))
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (s, c) in series.iter().zip(&colours) {
            chart.draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))?;
            chart.draw_series(s.points.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
        }
        draw_legend(&legend, &names, &colours, Mark::Line)
    })
}

/// One search candidate's cross-validated score: the mean over its folds, the lowest and the
/// highest fold.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateScore {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

/// Each candidate's fold scores from a job's events, in candidate order; a candidate still
/// being scored has the mean of its folds so far.
pub fn candidate_scores(events: &[JobEventRecord]) -> Vec<CandidateScore> {
    let mut folds: Vec<Vec<f64>> = Vec::new();
    for e in events {
        if let JobEvent::Fold { trial, score, .. } = &e.event {
            if folds.len() <= *trial {
                folds.resize(*trial + 1, Vec::new());
            }
            folds[*trial].push(*score);
        }
    }
    folds
        .iter()
        .filter(|f| !f.is_empty())
        .map(|f| CandidateScore {
            mean: f.iter().sum::<f64>() / f.len() as f64,
            low: f.iter().copied().fold(f64::MAX, f64::min),
            high: f.iter().copied().fold(f64::MIN, f64::max),
        })
        .collect()
}

/// The best candidate: the highest mean, the first of equals (as training picks).
pub fn best_candidate(scores: &[CandidateScore]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in scores.iter().enumerate() {
        if best.is_none_or(|(_, b)| c.mean > b) {
            best = Some((i, c.mean));
        }
    }
    best.map(|(i, _)| i)
}

/// A search's candidates side by side: each one's mean score over the folds as a point and a
/// bar from its lowest to its highest fold, the best in its own colour; the axis ends at 1.
pub fn candidates_chart(y_desc: &str, scores: &[CandidateScore]) -> String {
    let n = scores.len().max(1);
    let best = best_candidate(scores);
    let (y0, y1) = score_range(scores.iter().map(|c| c.low).fold(0.0, f64::min), 1.0);
    let (plain, winner) = (COLOURS[0], COLOURS[1]);
    let names = ["mean; bar from lowest to highest fold", "the best candidate (highest mean)"];
    svg(PLOT_HEIGHT + legend_height(&names), |root| {
        let (plot, legend) = root.split_vertically(PLOT_HEIGHT);
        let mut chart = ChartBuilder::on(&plot)
            .caption("Score per candidate", ("sans-serif", TITLE_FONT))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(0.5f64..n as f64 + 0.5, y0..y1)?;
        // Candidate numbers, thinned so that they never touch (about 30 units each).
        let step = n.div_ceil(12);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("candidate")
            .y_desc(y_desc)
            .x_labels(0)
            .y_labels(6)
            .y_label_formatter(&|y| number(*y))
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, c) in scores.iter().enumerate() {
            let x = i as f64 + 1.0;
            let ink = if Some(i) == best { winner } else { plain };
            // The spread: a line from the lowest to the highest fold, with a cap at each end.
            let spread =
                [vec![(x, c.low), (x, c.high)], vec![(x - 0.15, c.low), (x + 0.15, c.low)], vec![(x - 0.15, c.high), (x + 0.15, c.high)]];
            chart.draw_series(spread.into_iter().map(|p| PathElement::new(p, ink.stroke_width(2))))?;
            chart.draw_series(std::iter::once(Circle::new((x, c.mean), if Some(i) == best { 8 } else { 5 }, ink.filled())))?;
            if i % step == 0 || Some(i) == best {
                let (px, py) = chart.backend_coord(&(x, y0));
                plot.draw(&Text::new((i + 1).to_string(), (px, py + 6), font(HPos::Center, VPos::Top)))?;
            }
        }
        draw_legend(&legend, &names, &[plain, winner], Mark::Line)
    })
}

/// How a heat map's axis is labelled: a name under (or beside) each cell, or numbers at the
/// cells' edges (every few, so that they never touch).
enum Ticks<'a> {
    Names(&'a [String]),
    Edges(&'a [f64]),
}

/// A heat map. `cells[x][y]` (y counted from the bottom) is a count and its share (0–1) that
/// shades the cell; counts are written in their cells; `diagonal` draws the line y = x.
struct HeatMap<'a> {
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    x_ticks: Ticks<'a>,
    y_ticks: Ticks<'a>,
    cells: Vec<Vec<(u64, f64)>>,
    diagonal: bool,
    /// Writes 0 in empty cells (a confusion matrix's zeros are figures too).
    zeros: bool,
}

fn heat_map(h: HeatMap) -> String {
    let nx = h.cells.len().max(1);
    let ny = h.cells.first().map_or(1, Vec::len).max(1);
    let left = if matches!(h.y_ticks, Ticks::Names(_)) { 130 } else { 64 };
    svg(WIDTH, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(h.title, ("sans-serif", TITLE_FONT))
            .margin(12)
            .x_label_area_size(56)
            .y_label_area_size(left)
            .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .x_desc(h.x_desc)
            .y_desc(h.y_desc)
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .draw()?;
        let (ax, _) = chart.backend_coord(&(0.0, 0.0));
        let (bx, _) = chart.backend_coord(&(1.0, 0.0));
        let cell = (bx - ax).max(1) as u32;
        for (x, column) in h.cells.iter().enumerate() {
            for (y, (_, share)) in column.iter().enumerate() {
                let share = share.clamp(0.0, 1.0);
                let shade = RGBColor((255.0 - share * 240.0) as u8, (255.0 - share * 160.0) as u8, (255.0 - share * 166.0) as u8);
                let (x, y) = (x as f64, y as f64);
                chart.draw_series(std::iter::once(Rectangle::new([(x, y), (x + 1.0, y + 1.0)], shade.filled())))?;
            }
        }
        // The line under the counts, so that it never hides one.
        if h.diagonal {
            chart.draw_series(LineSeries::new([(0.0, 0.0), (nx as f64, ny as f64)], COLOURS[1].stroke_width(2)))?;
        }
        for (x, column) in h.cells.iter().enumerate() {
            for (y, (count, share)) in column.iter().enumerate() {
                let (x, y) = (x as f64, y as f64);
                let text = count.to_string();
                // Empty cells stay blank where no count is expected of every cell.
                if text.len() as u32 * CHAR <= cell && (*count > 0 || h.zeros) {
                    let ink = if *share > 0.5 { WHITE } else { BLACK };
                    let style = ("sans-serif", LABEL_FONT).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
                    chart.draw_series(std::iter::once(Text::new(text, (x + 0.5, y + 0.5), style)))?;
                }
            }
        }
        match h.x_ticks {
            Ticks::Names(names) => {
                for (i, name) in names.iter().enumerate() {
                    let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
                    root.draw(&Text::new(fit(name, cell), (px, py + 6), font(HPos::Center, VPos::Top)))?;
                }
            }
            Ticks::Edges(edges) => {
                let labels = edge_labels(edges);
                let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32 * CHAR + 12;
                for (i, l) in labels.iter().enumerate().step_by(widest.div_ceil(cell).max(1) as usize) {
                    let (px, py) = chart.backend_coord(&(i as f64, 0.0));
                    root.draw(&Text::new(l.clone(), (px, py + 6), font(HPos::Center, VPos::Top)))?;
                }
            }
        }
        match h.y_ticks {
            Ticks::Names(names) => {
                for (i, name) in names.iter().enumerate() {
                    let (px, py) = chart.backend_coord(&(0.0, i as f64 + 0.5));
                    root.draw(&Text::new(fit(name, left - 36), (px - 6, py), font(HPos::Right, VPos::Center)))?;
                }
            }
            Ticks::Edges(edges) => {
                let labels = edge_labels(edges);
                for (i, l) in labels.iter().enumerate().step_by(LEGEND_ROW.div_ceil(cell).max(1) as usize) {
                    let (px, py) = chart.backend_coord(&(0.0, i as f64));
                    root.draw(&Text::new(fit(l, left - 12), (px - 6, py), font(HPos::Right, VPos::Center)))?;
                }
            }
        }
        Ok(())
    })
}

/// Bin edges written with one number of decimals for all, enough to tell neighbours apart.
fn edge_labels(edges: &[f64]) -> Vec<String> {
    let step = edges.windows(2).map(|w| (w[1] - w[0]).abs()).fold(f64::MAX, f64::min);
    let decimals = if step >= 1.0 || !step.is_finite() { 0 } else { (-step.log10()).ceil() as usize };
    edges.iter().map(|e| format!("{e:.decimals$}")).collect()
}

/// The confusion matrix as a heat map: rows the true class (the first on top), columns the
/// predicted class, each cell shaded by its share of the row and labelled with its count.
pub fn confusion_chart(labels: &[String], confusion: &[Vec<usize>]) -> String {
    let k = labels.len();
    // cells[predicted][from the bottom]: true class t is drawn at k − 1 − t.
    let cells: Vec<Vec<(u64, f64)>> = (0..k)
        .map(|p| {
            (0..k)
                .map(|y| {
                    let row = confusion.get(k - 1 - y);
                    let total = row.map_or(0, |r| r.iter().sum::<usize>()).max(1) as f64;
                    let n = row.and_then(|r| r.get(p)).copied().unwrap_or(0);
                    (n as u64, n as f64 / total)
                })
                .collect()
        })
        .collect();
    let bottom_up: Vec<String> = labels.iter().rev().cloned().collect();
    heat_map(HeatMap {
        title: "Confusion matrix",
        x_desc: "predicted",
        y_desc: "true",
        x_ticks: Ticks::Names(labels),
        y_ticks: Ticks::Names(&bottom_up),
        cells,
        diagonal: false,
        zeros: true,
    })
}

/// Predicted against actual values (out of fold) as a heat map of rows per cell, with the line
/// where they are equal: a good regression has its rows on the line.
pub fn fit_chart(fit: &RegressionFit) -> String {
    let most = fit.counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let bins = fit.edges.len().saturating_sub(1);
    // counts[actual][predicted]: actual across, predicted up.
    let cells: Vec<Vec<(u64, f64)>> = (0..bins)
        .map(|a| {
            (0..bins)
                .map(|p| {
                    let n = fit.counts.get(a).and_then(|r| r.get(p)).copied().unwrap_or(0);
                    (n, n as f64 / most)
                })
                .collect()
        })
        .collect();
    heat_map(HeatMap {
        title: "Predicted against actual",
        x_desc: "actual",
        y_desc: "predicted",
        x_ticks: Ticks::Edges(&fit.edges),
        y_ticks: Ticks::Edges(&fit.edges),
        cells,
        diagonal: true,
        zeros: false,
    })
}

/// A histogram of `counts` between `edges`.
pub fn histogram(title: &str, x_desc: &str, edges: &[f64], counts: &[u64]) -> String {
    let (x0, x1) = match (edges.first(), edges.last()) {
        (Some(a), Some(b)) if b > a => (*a, *b),
        _ => (0.0, 1.0),
    };
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    svg(PLOT_HEIGHT, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", TITLE_FONT))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, 0f64..most as f64 * 1.05)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(x_desc)
            .y_desc("rows")
            .x_labels(6)
            .y_labels((most as usize + 1).min(6))
            .x_label_formatter(&|x| number(*x))
            .y_label_formatter(&|y| if (y - y.round()).abs() < 1e-9 { format!("{y:.0}") } else { String::new() })
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .light_line_style(WHITE)
            .draw()?;
        let bars = edges.windows(2).zip(counts).map(|(e, n)| Rectangle::new([(e[0], 0.0), (e[1], *n as f64)], COLOURS[0].filled()));
        chart.draw_series(bars)?;
        // The bars' edges, in white, so that neighbours stay apart.
        let outlines = edges.windows(2).zip(counts).map(|(e, n)| Rectangle::new([(e[0], 0.0), (e[1], *n as f64)], WHITE.stroke_width(1)));
        chart.draw_series(outlines)?;
        Ok(())
    })
}

/// The residuals (prediction − actual, out of fold) of a regression as a histogram: centred
/// on 0 when the model is not biased.
pub fn residual_chart(fit: &RegressionFit) -> String {
    histogram("Residuals (predicted − actual)", "residual", &fit.residual_edges, &fit.residual_counts)
}

/// One named set of bar heights, one per group.
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
}

/// Bars in groups, one group per name in `groups` (written under it, every few when they would
/// touch), one bar per series in each; the y axis runs from 0 to `y_max`. `whole` labels whole
/// numbers only (counts).
pub fn grouped_bars(title: &str, y_desc: &str, groups: &[String], series: &[BarSeries], y_max: f64, whole: bool) -> String {
    let k = groups.len().max(1);
    let y_max = if y_max > 0.0 { y_max } else { 1.0 };
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let colours: Vec<RGBColor> = (0..series.len()).map(colour).collect();
    svg(PLOT_HEIGHT + legend_height(&names), |root| {
        let (plot, legend) = root.split_vertically(PLOT_HEIGHT);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", TITLE_FONT))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..k as f64, 0f64..y_max)?;
        let label = |v: &f64| match whole {
            true if (v - v.round()).abs() < 1e-9 => format!("{v:.0}"),
            true => String::new(),
            false => number(*v),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(if whole { (y_max as usize + 1).min(6) } else { 6 })
            .y_label_formatter(&label)
            .y_desc(y_desc)
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .light_line_style(if whole { WHITE } else { RGBColor(235, 235, 235) })
            .draw()?;
        // The bars of a group share the middle 80 % of its unit of the axis.
        let bar = 0.8 / series.len().max(1) as f64;
        for (m, (s, c)) in series.iter().zip(&colours).enumerate() {
            let bars = s.values.iter().enumerate().map(|(i, v)| {
                let x = i as f64 + 0.1 + m as f64 * bar;
                Rectangle::new([(x, 0.0), (x + bar * 0.9, v.clamp(0.0, y_max))], c.filled())
            });
            chart.draw_series(bars)?;
        }
        // Names under the groups, in pixels: plotters places numeric ticks where it likes.
        let (ax, _) = chart.backend_coord(&(0.0, 0.0));
        let (bx, _) = chart.backend_coord(&(1.0, 0.0));
        let unit = (bx - ax).max(1) as u32;
        let longest = groups.iter().map(|g| g.chars().count()).max().unwrap_or(1) as u32;
        let step = ((longest * CHAR + 8).div_ceil(unit)).max(1) as usize;
        for (i, g) in groups.iter().enumerate().step_by(step) {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            plot.draw(&Text::new(fit(g, unit * step as u32), (x, y + 8), font(HPos::Center, VPos::Top)))?;
        }
        draw_legend(&legend, &names, &colours, Mark::Block)
    })
}

/// Precision, recall and F1 of each class as grouped bars, the class names under each group.
pub fn per_class_chart(report: &crate::ml::metrics::ClassificationReport) -> String {
    type Pick = fn(&crate::ml::metrics::ClassMetrics) -> f64;
    let measures: [(&str, Pick); 3] = [("precision", |c| c.precision), ("recall", |c| c.recall), ("F1", |c| c.f1)];
    let groups: Vec<String> = report.per_class.iter().map(|c| c.label.clone()).collect();
    let series: Vec<BarSeries> = measures
        .iter()
        .map(|(name, pick)| BarSeries { name: (*name).to_owned(), values: report.per_class.iter().map(pick).collect() })
        .collect();
    grouped_bars("Precision, recall and F1 per class", "score", &groups, &series, 1.0, false)
}

/// Training loss per step (DQN epochs), one line per fit (each fold, then the final fit).
pub fn losses(events: &[JobEventRecord]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    let mut current: Option<(usize, Option<usize>)> = None;
    for e in events {
        if let JobEvent::Step { trial, fold, done, loss: Some(loss), .. } = &e.event {
            if current != Some((*trial, *fold)) {
                current = Some((*trial, *fold));
                let name = match fold {
                    Some(f) => format!("fold {}", f + 1),
                    None => "final fit".to_owned(),
                };
                out.push(Series { name, points: Vec::new() });
            }
            if let Some(s) = out.last_mut() {
                s.points.push((*done as f64, *loss));
            }
        }
    }
    // Many folds make an unreadable legend: keep the last four fits.
    let skip = out.len().saturating_sub(4);
    out.into_iter().skip(skip).collect()
}

/// The score of every cross-validation fold of one candidate (a job that searches nothing).
pub fn fold_scores(events: &[JobEventRecord]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for e in events {
        if let JobEvent::Fold { trial, fold, score, .. } = &e.event {
            while out.len() <= *trial {
                out.push(Series { name: format!("candidate {}", out.len() + 1), points: Vec::new() });
            }
            out[*trial].points.push(((fold + 1) as f64, *score));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_svg_with_its_title_and_legend() {
        let s = line_chart(
            "Score per fold",
            "fold",
            "accuracy",
            &[
                Series { name: "candidate 1".into(), points: vec![(1.0, 0.9), (2.0, 0.95)] },
                Series { name: "candidate 2".into(), points: vec![(1.0, 0.8), (2.0, 0.85)] },
            ],
        );
        assert!(s.starts_with("<svg") && s.contains("Score per fold") && s.contains("candidate 1"), "{s}");
        assert!(s.contains("<circle"), "points are drawn");
        assert!(line_chart("Empty", "x", "y", &[]).starts_with("<svg"));
        let labels = vec!["a".to_owned(), "b".to_owned()];
        let c = confusion_chart(&labels, &[vec![5, 1], vec![0, 7]]);
        assert!(c.contains("Confusion matrix"), "{c}");
        for n in ["5", "1", "0", "7"] {
            assert!(c.lines().any(|l| l.trim() == n), "the count {n} is written in its cell");
        }
        assert!(c.matches("<rect").count() >= 4);
        assert!(confusion_chart(&labels[..1], &[vec![3]]).starts_with("<svg"), "one class draws too");
    }

    /// A numeric attribute of an SVG element's text (NaN if missing).
    fn attr(tag: &str, name: &str) -> f64 {
        let at = tag.find(&format!(" {name}=\"")).map(|i| i + name.len() + 3).unwrap_or(0);
        tag[at..].split('"').next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
    }

    /// `(x, y, text)` of a `<text>`; `(x, width)` of a `<rect>`.
    type Texts = Vec<(f64, f64, String)>;
    type Rects = Vec<(f64, f64)>;

    /// Every `<text>` and every `<rect>` in a plotters SVG.
    fn layout(svg: &str) -> (Texts, Rects) {
        let texts = svg
            .split("<text")
            .skip(1)
            .map(|t| {
                let body = t.split_once('>').map(|(_, b)| b.split("</text>").next().unwrap_or("").trim().to_owned()).unwrap_or_default();
                (attr(t, "x"), attr(t, "y"), body)
            })
            .collect();
        let rects = svg.split("<rect").skip(1).map(|r| (attr(r, "x"), attr(r, "width"))).collect();
        (texts, rects)
    }

    #[test]
    fn class_names_and_counts_sit_at_the_centres_of_their_cells() {
        let labels = vec!["alpha".to_owned(), "beta".to_owned(), "gamma".to_owned()];
        let c = confusion_chart(&labels, &[vec![11, 0, 0], vec![0, 12, 0], vec![0, 0, 13]]);
        let (texts, rects) = layout(&c);
        let cells: Vec<f64> = rects.iter().filter(|r| r.1 < 300.0).map(|r| r.0 + r.1 / 2.0).collect();
        assert_eq!(cells.len(), 9, "one rectangle per cell besides the background: {rects:?}");
        let mut columns: Vec<f64> = Vec::new();
        for x in cells {
            if !columns.iter().any(|c| (c - x).abs() < 0.5) {
                columns.push(x);
            }
        }
        columns.sort_by(f64::total_cmp);
        for ((name, count), centre) in labels.iter().zip(["11", "12", "13"]).zip(columns) {
            // Column i: its class name (the lowest text of that name) and the diagonal count.
            let lowest = texts.iter().filter(|t| &t.2 == name).max_by(|a, b| a.1.total_cmp(&b.1)).expect("the class is named");
            assert!((lowest.0 - centre).abs() < 1.5, "{name} at x={} but its column's centre is {centre}", lowest.0);
            let n = texts.iter().find(|t| t.2 == count).expect("the count is written");
            assert!((n.0 - centre).abs() < 1.5, "{count} at x={} but its cell's centre is {centre}", n.0);
        }
    }

    #[test]
    fn per_class_bars_have_the_heights_of_their_scores_and_the_groups_are_named() {
        // "cat": precision 1, recall 0.5; "dog": precision 2/3, recall 1.
        let labels = vec!["cat".to_owned(), "dog".to_owned()];
        let report = crate::ml::metrics::classification(&labels, &[0, 0, 1, 1], &[0, 1, 1, 1], None).unwrap();
        let svg = per_class_chart(&report);
        let (texts, _) = layout(&svg);
        assert!(texts.iter().any(|t| t.2 == "cat") && texts.iter().any(|t| t.2 == "dog"), "{texts:?}");
        // Bars, in drawing order: precision of cat, dog; recall of cat, dog; F1 of cat, dog.
        let bars: Vec<f64> = svg.split("<rect").skip(2).map(|r| attr(r, "height")).filter(|h| *h > 20.0).take(6).collect();
        let unit = bars[0];
        let expected = [1.0, 2.0 / 3.0, 0.5, 1.0, 2.0 / 3.0, 0.8];
        for (b, e) in bars.iter().zip(expected) {
            assert!((b / unit - e).abs() < 0.02, "bars {bars:?} against {expected:?}");
        }
    }

    #[test]
    fn the_legend_sits_under_the_plot_and_colours_do_not_repeat() {
        // Eight candidates climbing to the top right corner, where a legend used to go.
        let series: Vec<Series> = (0..8)
            .map(|c| Series {
                name: format!("candidate {}", c + 1),
                points: (1..=5).map(|i| (i as f64, 0.1 * i as f64 + 0.05 * c as f64)).collect(),
            })
            .collect();
        let svg = score_chart("Score per fold", "fold", "score", &series);
        let lowest_point = svg.split("<circle").skip(1).take(40).map(|c| attr(c, "cy")).fold(f64::MIN, f64::max);
        let text = |t: &str| t.split('>').nth(1).and_then(|t| t.split('<').next()).map(str::trim).unwrap_or_default().to_owned();
        let first_name = svg.split("<text").find(|t| text(t) == "candidate 1").expect("a legend entry");
        assert!(attr(first_name, "y") > lowest_point, "the legend is under every point");
        let strokes: std::collections::HashSet<&str> =
            svg.split("<polyline").skip(1).filter_map(|p| p.split("stroke=\"").nth(1)?.split('"').next()).collect();
        assert!(strokes.len() >= 8, "eight lines, eight colours: {strokes:?}");
    }

    #[test]
    fn a_score_axis_runs_from_0_to_1() {
        let svg =
            score_chart("Score per fold", "fold", "accuracy", &[Series { name: "one".into(), points: vec![(1.0, 0.9), (2.0, 0.95)] }]);
        let labels: Vec<&str> = svg.split("<text").filter_map(|t| Some(t.split('>').nth(1)?.split('<').next()?.trim())).collect();
        assert!(labels.contains(&"1.0") || labels.contains(&"1"), "{labels:?}");
        assert!(!labels.iter().any(|l| l.parse::<f64>().is_ok_and(|v| v > 1.0 && v < 1.5)), "nothing above 1: {labels:?}");
        // R² can be negative: the axis goes below 0 to show it.
        let r2 = score_chart("R²", "fold", "R²", &[Series { name: "one".into(), points: vec![(1.0, -0.4), (2.0, 0.3)] }]);
        assert!(r2.split("<text").any(|t| t.split('>').nth(1).is_some_and(|t| t.trim().starts_with("-0."))), "a negative label");
    }

    /// Every chart this module draws, from small made-up figures.
    fn every_chart() -> Vec<(&'static str, String)> {
        let labels: Vec<String> = ["setosa", "versicolor", "virginica"].map(String::from).to_vec();
        let report = crate::ml::metrics::classification(&labels, &[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0], None).unwrap();
        let fit = RegressionFit::of(&[1.0, 2.0, 3.0, 4.0, 50.0], &[1.5, 2.0, 2.5, 5.0, 40.0]).unwrap();
        let scores = vec![CandidateScore { mean: 0.8, low: 0.7, high: 0.9 }, CandidateScore { mean: 0.9, low: 0.85, high: 0.95 }];
        let days: Vec<String> = (1..=14).map(|d| format!("2026-11-{d:02}")).collect();
        let jobs =
            vec![BarSeries { name: "succeeded".into(), values: vec![2.0; 14] }, BarSeries { name: "failed".into(), values: vec![1.0; 14] }];
        vec![
            (
                "lines",
                score_chart(
                    "Scores",
                    "version",
                    "accuracy",
                    &[
                        Series { name: "a long name of a line, on two datasets".into(), points: vec![(1.0, 0.5)] },
                        Series { name: "b".into(), points: vec![(1.0, 0.7)] },
                    ],
                ),
            ),
            (
                "epsilon",
                score_chart("Score against privacy", "ε", "accuracy", &[Series { name: "x".into(), points: vec![(0.5, 0.5), (1.5, 0.7)] }]),
            ),
            ("candidates", candidates_chart("accuracy", &scores)),
            ("confusion", confusion_chart(&labels, &report.confusion)),
            ("per class", per_class_chart(&report)),
            ("fit", fit_chart(&fit)),
            ("residuals", residual_chart(&fit)),
            ("days", grouped_bars("Jobs per day", "jobs", &days, &jobs, 3.0, true)),
        ]
    }

    #[test]
    fn every_chart_is_drawn_at_one_width_and_no_text_is_smaller_than_the_label_font() {
        for (name, svg) in every_chart() {
            assert!(svg.starts_with(&format!("<svg width=\"{WIDTH}\"")), "{name}: {}", &svg[..svg.len().min(80)]);
            assert!(svg.contains(&format!("viewBox=\"0 0 {WIDTH} ")), "{name} scales with its column");
            let sizes: Vec<f64> = svg.split("<text").skip(1).map(|t| attr(t, "font-size")).collect();
            assert!(!sizes.is_empty(), "{name} writes text");
            // 12 px when the drawing is shown 350 px wide (a 390 px phone's column).
            let smallest = 12.0 * WIDTH as f64 / 350.0;
            assert!(sizes.iter().all(|f| *f >= smallest), "{name}: font sizes {sizes:?}, none under {smallest}");
        }
    }

    #[test]
    fn texts_of_an_axis_never_overlap() {
        // Fourteen dates under fourteen groups: only every few are written, none touching.
        let (_, svg) = every_chart().into_iter().find(|c| c.0 == "days").unwrap();
        let (texts, _) = layout(&svg);
        let mut dates: Vec<(f64, usize)> = texts.iter().filter(|t| t.2.starts_with("2026-")).map(|t| (t.0, t.2.chars().count())).collect();
        dates.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(dates.len() >= 3, "some days are named: {dates:?}");
        for w in dates.windows(2) {
            let room = (w[0].1 + w[1].1) as f64 / 2.0 * CHAR as f64;
            assert!(w[1].0 - w[0].0 >= room, "{w:?} overlap");
        }
    }

    #[test]
    fn the_best_candidate_is_marked_and_every_candidate_has_its_spread() {
        let scores = vec![
            CandidateScore { mean: 0.8, low: 0.7, high: 0.9 },
            CandidateScore { mean: 0.93, low: 0.9, high: 0.96 },
            CandidateScore { mean: 0.93, low: 0.8, high: 1.0 },
        ];
        assert_eq!(best_candidate(&scores), Some(1), "the first of equals, as training picks");
        let svg = candidates_chart("accuracy", &scores);
        let circles: Vec<(f64, String)> = svg
            .split("<circle")
            .skip(1)
            .map(|c| (attr(c, "r"), c.split("fill=\"").nth(1).and_then(|f| f.split('"').next()).unwrap_or("").to_owned()))
            .collect();
        assert_eq!(circles.len(), 3, "{circles:?}");
        assert!(circles[1].0 > circles[0].0 && circles[1].0 > circles[2].0, "the best is larger: {circles:?}");
        assert!(circles[1].1 != circles[0].1 && circles[0].1 == circles[2].1, "and in its own colour: {circles:?}");
        // Three spreads of three strokes each (the line and its two caps).
        assert!(svg.matches("<polyline").count() >= 9);
        // Fold events give the same figures.
        let events: Vec<JobEventRecord> = [(0, 0.7), (0, 0.9), (1, 0.9), (1, 0.96)]
            .iter()
            .enumerate()
            .map(|(i, (t, s))| JobEventRecord {
                seq: i as u64 + 1,
                at: String::new(),
                event: JobEvent::Fold { trial: *t, fold: i % 2, folds: 2, score: *s },
            })
            .collect();
        let got = candidate_scores(&events);
        assert_eq!(got.len(), 2);
        assert!((got[0].mean - 0.8).abs() < 1e-12 && got[1].low == 0.9 && got[1].high == 0.96);
    }

    #[test]
    fn a_confusion_matrix_has_one_row_and_one_column_per_class_and_no_more() {
        let labels: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let m: Vec<Vec<usize>> = (0..4).map(|i| (0..4).map(|j| usize::from(i == j) * 5).collect()).collect();
        let svg = confusion_chart(&labels, &m);
        let cells: Vec<(f64, f64, f64, f64)> =
            svg.split("<rect").skip(2).map(|r| (attr(r, "x"), attr(r, "y"), attr(r, "width"), attr(r, "height"))).collect();
        assert_eq!(cells.len(), 16);
        let (left, right) = cells.iter().fold((f64::MAX, f64::MIN), |(a, b), c| (a.min(c.0), b.max(c.0 + c.2)));
        let (top, bottom) = cells.iter().fold((f64::MAX, f64::MIN), |(a, b), c| (a.min(c.1), b.max(c.1 + c.3)));
        // The cells fill the plot: from the names' margin to the right margin, under the title
        // to above the predicted names (no empty fifth row or column).
        assert!(right - left > (WIDTH - 130 - 24 - 8) as f64, "cells span {left}..{right}");
        assert!((bottom - top) - (right - left) < 2.0 * (right - left) / 4.0, "square-ish cells: {top}..{bottom}");
        let (texts, _) = layout(&svg);
        let axis_x = texts.iter().find(|t| t.2 == "predicted").map(|t| t.1).unwrap();
        assert!(bottom < axis_x, "the cells end above the axis description");
        // Row 1 (top) is "a", its diagonal count written in the top-left cell.
        let a = texts.iter().filter(|t| t.2 == "a").min_by(|x, y| x.0.total_cmp(&y.0)).unwrap();
        assert!((a.1 - (top + (bottom - top) / 8.0)).abs() < 3.0, "a's row is the first: {a:?}, top {top}");
    }

    #[test]
    fn predicted_against_actual_counts_rows_per_cell_and_draws_the_line_of_equality() {
        let fit = RegressionFit::of(&[0.0, 0.0, 10.0], &[0.0, 0.0, 10.0]).unwrap();
        let svg = fit_chart(&fit);
        let (texts, _) = layout(&svg);
        assert!(texts.iter().any(|t| t.2 == "2"), "two rows in the first cell");
        assert!(texts.iter().any(|t| t.2 == "actual") && texts.iter().any(|t| t.2 == "predicted"));
        assert!(texts.iter().any(|t| t.2 == "0") && texts.iter().any(|t| t.2 == "10"), "the edges are numbered");
        assert!(svg.contains("<polyline"), "the line y = x");
        let residuals = residual_chart(&fit);
        assert!(residuals.contains("Residuals"));
    }
}
