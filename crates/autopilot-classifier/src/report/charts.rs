//! SVG charts drawn with plotters: grouped bars (with optional 95% error bars) and Pareto
//! panels (bars sorted descending with a cumulative-percentage line).

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

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let mut s: String = label.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// A grouped bar chart as an SVG document.
pub fn grouped_bars(
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[BarSeries],
    y_max: Option<f64>,
) -> String {
    let mut svg = String::new();
    let per_group = 40 + 24 * series.len().min(16);
    let width =
        u32::try_from((160 + groups.len().min(64) * per_group).clamp(520, 1400)).unwrap_or(1400);
    {
        let root = SVGBackend::with_string(&mut svg, (width, 420)).into_drawing_area();
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
    let data_max = series
        .iter()
        .flat_map(|s| {
            s.values
                .iter()
                .flatten()
                .copied()
                .chain(s.intervals.iter().flatten().map(|(_, high)| *high))
        })
        .fold(0.0_f64, f64::max);
    let top = y_max.unwrap_or(if data_max > 0.0 { data_max * 1.15 } else { 1.0 });
    let n = groups.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..n, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_label)
        .draw()?;
    let k = series.len().max(1) as f64;
    let slot = 0.8 / k;
    for (si, s) in series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let bars = s.values.iter().enumerate().filter_map(|(gi, v)| {
            v.map(|v| {
                let x0 = gi as f64 + 0.1 + si as f64 * slot;
                Rectangle::new([(x0, 0.0), (x0 + slot * 0.92, v)], color.filled())
            })
        });
        chart
            .draw_series(bars)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        if let Some(intervals) = &s.intervals {
            let bars =
                intervals
                    .iter()
                    .zip(&s.values)
                    .enumerate()
                    .filter_map(|(gi, ((low, high), v))| {
                        v.map(|v| {
                            let x = gi as f64 + 0.1 + si as f64 * slot + slot * 0.46;
                            ErrorBar::new_vertical(x, *low, v, *high, BLACK.stroke_width(1), 8)
                        })
                    });
            chart.draw_series(bars)?;
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    let style =
        TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, group) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(short(group, 22), (x, y + 8), style.clone()))?;
    }
    Ok(())
}

/// One Pareto panel: categories sorted by value, descending.
#[derive(Debug, Clone)]
pub struct ParetoPanel {
    pub title: String,
    /// `(category, value)`, any order.
    pub bars: Vec<(String, f64)>,
}

/// Pareto panels in a grid (one per model), bars = normalised error rate, line = cumulative %.
pub fn pareto_panels(title: &str, y_label: &str, panels: &[ParetoPanel]) -> String {
    let mut svg = String::new();
    let columns = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(columns).max(1);
    {
        let root = SVGBackend::with_string(
            &mut svg,
            (
                560 * u32::try_from(columns).unwrap_or(2),
                40 + 420 * u32::try_from(rows.min(64)).unwrap_or(64),
            ),
        )
        .into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(titled) = root.titled(title, ("sans-serif", 20)) else {
            return String::new();
        };
        let areas = titled.split_evenly((rows, columns));
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
    let top = bars.first().map_or(1.0, |b| b.1 * 1.15).max(0.01);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(110)
        .y_label_area_size(56)
        .right_y_label_area_size(48)
        .build_cartesian_2d(0.0..n, 0.0..top)?
        .set_secondary_coord(0.0..n, 0.0..100.0);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_label)
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("cumulative %")
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
    let style = TextStyle::from(("sans-serif", 11).into_font())
        .pos(Pos::new(HPos::Right, VPos::Center))
        .transform(FontTransform::Rotate270);
    // Backend coordinates are absolute; the panel draws relative to its own corner.
    let (base_x, base_y) = area.get_base_pixel();
    for (i, (name, _)) in bars.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        area.draw(&Text::new(
            short(name, 24),
            (x - base_x, y - base_y + 6),
            style.clone(),
        ))?;
    }
    Ok(())
}
