//! Line charts drawn with plotters into SVG text: the server draws the first paint, the
//! browser redraws the same chart as events arrive.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::job::{JobEvent, JobEventRecord};

/// One named line of points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 5] =
    [RGBColor(15, 95, 89), RGBColor(200, 90, 20), RGBColor(60, 80, 170), RGBColor(150, 40, 110), RGBColor(100, 100, 100)];

/// The colour of series `i`: the palette, then hues a golden angle apart, so no two series of
/// one chart share a colour however many candidates a search has.
fn colour(i: usize) -> RGBColor {
    if let Some(c) = COLOURS.get(i) {
        return *c;
    }
    let (r, g, b) = HSLColor((i as f64 * 0.618_034).fract(), 0.65, 0.38).rgb();
    RGBColor(r, g, b)
}

/// The share of a ~220 px plot a legend of `lines` entries takes (about 16 px a line), kept
/// free above the data so that the legend never hides it.
fn legend_share(lines: usize) -> f64 {
    ((lines * 16 + 20) as f64 / 220.0).min(0.6)
}

/// Chart text, in SVG units: a chart is drawn 640 units wide and shown at most that wide, so
/// on a 390 px phone (about 350 px of column) these render at 11–13 px.
const TITLE_FONT: u32 = 22;
const LABEL_FONT: u32 = 17;
const PLOT_HEIGHT: u32 = 320;
/// Legend entries per row, and a row's height, in the strip under the plot.
const LEGEND_PER_ROW: usize = 2;
const LEGEND_ROW: u32 = 26;

/// An SVG line chart with points; empty series draw empty axes.
pub fn line_chart(title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> String {
    lines(title, x_desc, y_desc, series, None)
}

/// A line chart of scores (accuracy or R²): the y axis ends at 1, the best a score can be, and
/// starts at 0 or at the lowest score if one is negative (R² can be).
pub fn score_chart(title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> String {
    lines(title, x_desc, y_desc, series, Some(1.0))
}

fn lines(title: &str, x_desc: &str, y_desc: &str, series: &[Series], top: Option<f64>) -> String {
    let mut svg = String::new();
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
        // Scores: 0 (or the lowest, below it) to 1, with a margin under a negative lowest.
        Some(top) => (if y0 < 0.0 { y0 - 0.05 * (top - y0) } else { 0.0 }, top),
        // A flat line (one job, one version) still gets a readable scale around its value.
        None => {
            let pad = ((y1 - y0) * 0.1).max(0.05 * y0.abs().max(y1.abs()).max(1.0));
            (y0 - pad, y1 + pad)
        }
    };
    // A legend only when there is more than one line (the title names a lone one), under the
    // plot, never over the data.
    let legend_rows = if series.len() > 1 { series.len().div_ceil(LEGEND_PER_ROW) as u32 } else { 0 };
    let height = PLOT_HEIGHT + legend_rows * LEGEND_ROW + if legend_rows > 0 { 8 } else { 0 };
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (640, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_vertically(PLOT_HEIGHT);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", TITLE_FONT))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        // Folds and epochs are whole numbers: label whole numbers only.
        let ticks = ((x1 - x0).round() as usize + 1).clamp(2, 10);
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(ticks)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            let c = colour(i);
            chart.draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))?;
            chart.draw_series(s.points.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
        }
        let font = ("sans-serif", LABEL_FONT).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, s) in series.iter().enumerate().filter(|_| legend_rows > 0) {
            let (row, col) = ((i / LEGEND_PER_ROW) as i32, (i % LEGEND_PER_ROW) as i32);
            let (x, y) = (76 + col * 280, 8 + row * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2);
            // A thick stroke, no point: a chart's circles are its data points only.
            legend.draw(&PathElement::new(vec![(x, y), (x + 24, y)], colour(i).stroke_width(5)))?;
            let name: String = s.name.chars().take(30).collect();
            legend.draw(&Text::new(name, (x + 32, y), font.clone()))?;
        }
        root.present()?;
        Ok(())
    })();
    if drawn.is_err() {
        return String::new();
    }
    svg
}

/// The confusion matrix as a heat map: rows the true class, columns the predicted class, each
/// cell shaded by its share of the row and labelled with its count.
pub fn confusion_chart(labels: &[String], confusion: &[Vec<usize>]) -> String {
    let k = labels.len().max(1);
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let side = (60 * k as u32 + 160).min(640);
        let root = SVGBackend::with_string(&mut svg, (side, side)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Confusion matrix", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(96)
            // Segmented axes put each class name under the centre of its cell.
            .build_cartesian_2d((0..k).into_segmented(), (0..k).into_segmented())?;
        let name = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < k => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        // Rows are drawn top-down, so the true class of row `t` sits at `k - 1 - t`.
        let row_name = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < k => name(&SegmentValue::CenterOf(k - 1 - i)),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("true")
            .x_labels(k)
            .y_labels(k)
            .x_label_formatter(&name)
            .y_label_formatter(&row_name)
            .draw()?;
        let centred = Pos::new(HPos::Center, VPos::Center);
        for (t, row) in confusion.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            for (p, n) in row.iter().enumerate() {
                let share = *n as f64 / total;
                let shade = RGBColor((255.0 - share * 240.0) as u8, (255.0 - share * 160.0) as u8, (255.0 - share * 166.0) as u8);
                let y = k - 1 - t;
                let cell = [(SegmentValue::Exact(p), SegmentValue::Exact(y)), (SegmentValue::Exact(p + 1), SegmentValue::Exact(y + 1))];
                chart.draw_series(std::iter::once(Rectangle::new(cell, shade.filled())))?;
                let ink = if share > 0.5 { WHITE } else { BLACK };
                let font = ("sans-serif", 16).into_font().color(&ink).pos(centred);
                chart.draw_series(std::iter::once(Text::new(
                    n.to_string(),
                    (SegmentValue::CenterOf(p), SegmentValue::CenterOf(y)),
                    font,
                )))?;
            }
        }
        root.present()?;
        Ok(())
    })();
    if drawn.is_err() {
        return String::new();
    }
    svg
}

/// One named set of bar heights, one per group.
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
}

/// Bars in groups, one group per name in `groups` (written under it), one bar per series in
/// each; the y axis runs from 0 to `y_max`. `whole` labels whole numbers only (counts).
pub fn grouped_bars(title: &str, y_desc: &str, groups: &[String], series: &[BarSeries], y_max: f64, whole: bool) -> String {
    let k = groups.len().max(1);
    let y_max = if y_max > 0.0 { y_max } else { 1.0 };
    let top = y_max / (1.0 - legend_share(series.len()));
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let width = (110 * k as u32 + 140).clamp(360, 900);
        let root = SVGBackend::with_string(&mut svg, (width, 300)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..k as f64, 0f64..top)?;
        let label = |v: &f64| {
            let shown = *v <= y_max + 1e-9 && (!whole || (v - v.round()).abs() < 1e-9);
            match (shown, whole) {
                (false, _) => String::new(),
                (true, true) => format!("{v:.0}"),
                (true, false) => format!("{v:.1}"),
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(if whole { (y_max as usize + 1).min(11) } else { 11 })
            .y_label_formatter(&label)
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        // The bars of a group share the middle 80 % of its unit of the axis.
        let bar = 0.8 / series.len().max(1) as f64;
        for (m, s) in series.iter().enumerate() {
            let colour = COLOURS[m % COLOURS.len()];
            let bars = s.values.iter().enumerate().map(|(i, v)| {
                let x = i as f64 + 0.1 + m as f64 * bar;
                Rectangle::new([(x, 0.0), (x + bar * 0.9, v.clamp(0.0, y_max))], colour.filled())
            });
            chart
                .draw_series(bars)?
                .label(s.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()?;
        }
        // Names under the groups, in pixels: plotters places numeric ticks where it likes.
        let font = ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, g) in groups.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(g.clone(), (x, y + 8), font.clone()))?;
        }
        root.present()?;
        Ok(())
    })();
    if drawn.is_err() {
        return String::new();
    }
    svg
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

/// The score of every cross-validation fold, one line per search candidate.
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
}
