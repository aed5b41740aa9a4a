//! SVG charts drawn with plotters: grouped bars (with optional 95% error bars and value labels)
//! and Pareto panels (bars sorted descending with a cumulative-percentage line).
//!
//! The SVG backend cannot measure text, so layout reserves room from an estimate of the
//! rendered width (`text_width`), labels are wrapped rather than cut, and legends sit in a
//! strip of their own above the plot, where they cannot hide a bar.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One series of a grouped bar chart: a value per group (`None`: no bar).
#[derive(Debug, Clone)]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<Option<f64>>,
    /// `(low, high)` per group, drawn as error bars.
    pub intervals: Option<Vec<(f64, f64)>>,
}

/// One Pareto panel: categories sorted by value, descending.
#[derive(Debug, Clone)]
pub struct ParetoPanel {
    pub title: String,
    /// `(category, value)`, any order.
    pub bars: Vec<(String, f64)>,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const GRID: RGBColor = RGBColor(225, 225, 225);
const FONT: &str = "sans-serif";
/// plotters renders a font of size `s` at `s / 1.24` pixels.
const FONT_SCALE: f64 = 1.24;

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// An estimate of the rendered width in pixels of `text` at plotters font size `size`
/// (DejaVu Sans, the usual `sans-serif`, averages about 0.6 em per character).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * 0.6 * size / FONT_SCALE
}

fn px(value: f64) -> u32 {
    // Chart sizes are small positive numbers; the cast cannot truncate meaningfully.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a clamped pixel size"
    )]
    let px = value.clamp(0.0, 10_000.0).round() as u32;
    px
}

fn ipx(value: f64) -> i32 {
    i32::try_from(px(value)).unwrap_or(i32::MAX)
}

/// Splits a label into lines of at most `width` characters at spaces (a word longer than
/// `width` gets a line of its own); at most `max_lines`, the last one ending in `…` if cut.
pub(crate) fn wrap(label: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in label.split(' ').filter(|w| !w.is_empty()) {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

/// A value as a bar label: whole numbers without decimals, small ones with two.
fn value_label(value: f64, percent: bool) -> String {
    if percent {
        format!("{value:.1}%")
    } else if (value - value.round()).abs() < 1e-9 || value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Axis tick text without needless decimals.
fn tick_label(value: f64, step: f64) -> String {
    if step >= 1.0 || value == 0.0 {
        format!("{value:.0}")
    } else if step >= 0.1 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A legend strip: a coloured square and the name of each series, centred.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    entries: &[(String, RGBColor)],
) -> DrawResult<()> {
    let size = 14.0;
    let widths: Vec<f64> = entries
        .iter()
        .map(|(name, _)| 18.0 + text_width(name, size) + 16.0)
        .collect();
    let total: f64 = widths.iter().sum();
    let (w, h) = area.dim_in_pixel();
    let mut x = (f64::from(w) - total).max(0.0) / 2.0;
    let y = ipx(f64::from(h) / 2.0);
    let style = TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for ((name, color), width) in entries.iter().zip(&widths) {
        let x0 = ipx(x);
        area.draw(&Rectangle::new(
            [(x0, y - 6), (x0 + 12, y + 6)],
            color.filled(),
        ))?;
        area.draw(&Text::new(name.clone(), (x0 + 18, y), style.clone()))?;
        x += width;
    }
    Ok(())
}

/// A grouped bar chart as an SVG document. Group labels may hold `\n` for a second line;
/// `y_max: Some(100.0)` marks a percentage chart.
pub fn grouped_bars(
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[BarSeries],
    y_max: Option<f64>,
) -> String {
    let label_chars = groups
        .iter()
        .flat_map(|g| g.lines())
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let bars_width = 24.0 + 30.0 * series.len().min(16) as f64;
    let label_width = text_width(&"x".repeat(label_chars), 14.0) + 16.0;
    let per_group = bars_width.max(label_width);
    let width = (110.0 + groups.len().min(64) as f64 * per_group).clamp(520.0, 1600.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (px(width), 440)).into_drawing_area();
        // Drawing into a String cannot fail for I/O reasons; a layout error leaves a partial chart.
        let _ = draw_grouped_bars(&root, title, y_label, groups, series, y_max);
        let _ = root.present();
    }
    svg
}

fn draw_grouped_bars(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[BarSeries],
    y_max: Option<f64>,
) -> DrawResult<()> {
    root.fill(&WHITE)?;
    let root = root.margin(8, 0, 0, 0).titled(title, (FONT, 20))?;
    let root = if series.len() > 1 {
        let (legend, rest) = root.split_vertically(28);
        let entries: Vec<(String, RGBColor)> = series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), PALETTE[i % PALETTE.len()]))
            .collect();
        draw_legend(&legend, &entries)?;
        rest
    } else {
        root
    };
    let percent = y_max == Some(100.0);
    let values = || {
        series.iter().flat_map(|s| {
            s.values
                .iter()
                .flatten()
                .copied()
                .chain(s.intervals.iter().flatten().map(|(_, high)| *high))
        })
    };
    let data_max = values().fold(0.0_f64, f64::max);
    let whole = values().all(|v| (v - v.round()).abs() < 1e-9);
    // Room above the tallest bar for its value label.
    let top = match y_max {
        Some(max) => max * 1.08,
        None if whole => (data_max * 1.12).ceil().max(data_max + 1.0),
        None if data_max > 0.0 => data_max * 1.15,
        None => 1.0,
    };
    let labels = if whole && y_max.is_none() && top <= 12.0 {
        px(top) as usize + 1
    } else {
        8
    };
    let step = top / (labels.max(2) - 1) as f64;
    let group_count = groups.len().max(1) as f64;
    let lines = groups.iter().map(|g| g.lines().count()).max().unwrap_or(1);
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .margin_top(4)
        .x_label_area_size(14 + 18 * u32::try_from(lines).unwrap_or(2))
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..group_count, 0.0..top)?;
    let format_tick = |v: &f64| {
        if percent && *v > 100.0 {
            String::new()
        } else {
            tick_label(*v, step)
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(labels)
        .y_label_formatter(&format_tick)
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .y_label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .y_desc(y_label)
        .draw()?;
    let slot = 0.8 / series.len().max(1) as f64;
    let value_style =
        TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (si, s) in series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let x_of = |gi: usize| gi as f64 + 0.1 + si as f64 * slot;
        chart.draw_series(s.values.iter().enumerate().filter_map(|(gi, v)| {
            v.map(|v| {
                Rectangle::new(
                    [(x_of(gi), 0.0), (x_of(gi) + slot * 0.92, v)],
                    color.filled(),
                )
            })
        }))?;
        if let Some(intervals) = &s.intervals {
            chart.draw_series(intervals.iter().zip(&s.values).enumerate().filter_map(
                |(gi, ((low, high), v))| {
                    v.map(|_| {
                        let x = x_of(gi) + slot * 0.46;
                        PathElement::new(vec![(x, *low), (x, *high)], BLACK.stroke_width(1))
                    })
                },
            ))?;
            for (gi, ((low, high), v)) in intervals.iter().zip(&s.values).enumerate() {
                if v.is_none() {
                    continue;
                }
                let (x, _) = chart.backend_coord(&(x_of(gi) + slot * 0.46, 0.0));
                for end in [low, high] {
                    let (_, y) = chart.backend_coord(&(0.0, *end));
                    root.draw(&PathElement::new(
                        vec![
                            (x - 6 - root_x(&root), y - root_y(&root)),
                            (x + 6 - root_x(&root), y - root_y(&root)),
                        ],
                        BLACK.stroke_width(1),
                    ))?;
                }
            }
        }
        for (gi, v) in s.values.iter().enumerate() {
            let Some(value) = v else { continue };
            let above = s
                .intervals
                .as_ref()
                .and_then(|i| i.get(gi))
                .map_or(*value, |(_, high)| high.max(*value));
            let (label_x, label_y) = chart.backend_coord(&(x_of(gi) + slot * 0.46, above));
            root.draw(&Text::new(
                value_label(*value, percent),
                (label_x - root_x(&root), label_y - root_y(&root) - 4),
                value_style.clone(),
            ))?;
        }
    }
    let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, group) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        for (line_no, line) in group.lines().enumerate() {
            let dy = 8 + 18 * i32::try_from(line_no).unwrap_or(0);
            root.draw(&Text::new(
                line.to_owned(),
                (x - root_x(&root), y - root_y(&root) + dy),
                style.clone(),
            ))?;
        }
    }
    Ok(())
}

/// Backend coordinates are absolute; an area draws relative to its own corner.
fn root_x(area: &DrawingArea<SVGBackend<'_>, Shift>) -> i32 {
    area.get_base_pixel().0
}

fn root_y(area: &DrawingArea<SVGBackend<'_>, Shift>) -> i32 {
    area.get_base_pixel().1
}

/// Characters per line of a Pareto bar label, and lines at most.
const PARETO_LABEL_CHARS: usize = 22;
const PARETO_LABEL_LINES: usize = 2;
const PARETO_LABEL_SIZE: f64 = 13.0;

/// Pareto panels in a grid (one per model), bars = normalised error rate, line = cumulative %.
pub fn pareto_panels(title: &str, y_label: &str, panels: &[ParetoPanel]) -> String {
    let columns = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(columns).max(1);
    let widest = panels.iter().map(|p| p.bars.len()).max().unwrap_or(1);
    let panel_width = (150.0 + widest as f64 * 40.0).max(560.0);
    let panel_height = 300.0 + text_width(&"x".repeat(PARETO_LABEL_CHARS), PARETO_LABEL_SIZE);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(
            &mut svg,
            (
                px(panel_width * columns as f64),
                px(50.0 + panel_height * rows.min(64) as f64),
            ),
        )
        .into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(titled) = root.margin(8, 0, 0, 0).titled(title, (FONT, 22)) else {
            return String::new();
        };
        let (legend, grid) = titled.split_vertically(26);
        let _ = draw_legend(
            &legend,
            &[
                (y_label.to_owned(), PALETTE[0]),
                (
                    "cumulative % of the model's failures".to_owned(),
                    PALETTE[3],
                ),
            ],
        );
        let areas = grid.split_evenly((rows, columns));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            let _ = draw_pareto(area, y_label, panel);
        }
        let _ = root.present();
    }
    svg
}

fn draw_pareto(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    y_label: &str,
    panel: &ParetoPanel,
) -> DrawResult<()> {
    let mut bars = panel.bars.clone();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: f64 = bars.iter().map(|b| b.1).sum();
    let n = bars.len().max(1) as f64;
    let top = bars.first().map_or(1.0, |b| b.1 * 1.12).max(0.01);
    let label_area = text_width(&"x".repeat(PARETO_LABEL_CHARS), PARETO_LABEL_SIZE) + 16.0;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 18))
        .margin(10)
        .x_label_area_size(px(label_area))
        .y_label_area_size(60)
        .right_y_label_area_size(60)
        .build_cartesian_2d(0.0..n, 0.0..top)?
        .set_secondary_coord(0.0..n, 0.0..100.0);
    let step = top / 7.0;
    let format_tick = |v: &f64| tick_label(*v, step);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_label_formatter(&format_tick)
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .y_label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .y_desc(y_label)
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_labels(6)
        .y_label_formatter(&|v: &f64| format!("{v:.0}%"))
        .label_style((FONT, 13))
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
        Rectangle::new(
            [(i as f64 + 0.12, 0.0), (i as f64 + 0.88, *v)],
            PALETTE[0].filled(),
        )
    }))?;
    let mut cumulative = 0.0;
    let points: Vec<(f64, f64)> = bars
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            cumulative += v;
            (
                i as f64 + 0.5,
                if total > 0.0 {
                    cumulative * 100.0 / total
                } else {
                    0.0
                },
            )
        })
        .collect();
    chart.draw_secondary_series(LineSeries::new(points.clone(), PALETTE[3].stroke_width(2)))?;
    chart.draw_secondary_series(
        points
            .iter()
            .map(|p| Circle::new(*p, 3, PALETTE[3].filled())),
    )?;
    let style = TextStyle::from((FONT, PARETO_LABEL_SIZE).into_font())
        .pos(Pos::new(HPos::Right, VPos::Center))
        .transform(FontTransform::Rotate270);
    let (base_x, base_y) = area.get_base_pixel();
    let line_height = 15;
    for (i, (name, _)) in bars.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        let lines = wrap(name, PARETO_LABEL_CHARS, PARETO_LABEL_LINES);
        let count = i32::try_from(lines.len()).unwrap_or(1);
        for (line_no, line) in lines.into_iter().enumerate() {
            // Rotated lines stack left to right, centred under the bar.
            let offset = (2 * i32::try_from(line_no).unwrap_or(0) - (count - 1)) * line_height / 2;
            area.draw(&Text::new(
                line,
                (x - base_x + offset, y - base_y + 6),
                style.clone(),
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_wrap_at_spaces_and_say_when_cut() {
        assert_eq!(
            wrap("Sensor / Hardware Constant Not Declared", 22, 2),
            ["Sensor / Hardware", "Constant Not Declared"]
        );
        assert_eq!(wrap("short", 22, 2), ["short"]);
        assert_eq!(wrap("a b c d e f", 3, 2), ["a b", "c d…"]);
    }

    #[test]
    fn value_labels_drop_needless_decimals() {
        assert_eq!(value_label(3.0, false), "3");
        assert_eq!(value_label(253.72, false), "254");
        assert_eq!(value_label(26.47, true), "26.5%");
        assert_eq!(value_label(0.6667, false), "0.67");
    }
}
