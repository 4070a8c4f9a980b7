//! Line plots into PNG files (plotters, with DejaVu Sans from the dejavu crate: no system
//! font is needed).

use plotters::prelude::*;
use std::path::Path;

/// One line of a plot: its legend, colour and points.
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
}

/// The colours of successive series.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(0, 0, 0),
];

/// Plot `series` against each other, log-log, into a PNG at `path`.
pub fn lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "the plot's font does not load".to_string())?;
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let (x0, x1) = all().fold((f64::MAX, 0f64), |(a, b), (x, _)| (a.min(x), b.max(x)));
    let (y0, y1) = all().fold((f64::MAX, 0f64), |(a, b), (_, y)| (a.min(y), b.max(y)));
    if !(x0 > 0.0 && y0 > 0.0 && x1.is_finite() && y1.is_finite()) {
        return Err("nothing positive to plot on log axes".into());
    }
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (x0 * 0.9..x1 * 1.1).log_scale(),
            ((y0 * 0.8).max(1e-3)..y1 * 1.25).log_scale(),
        )
        .map_err(|x| e(&x))?;
    c.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|x| e(&x))?;
    for s in series {
        let color = s.color;
        c.draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        c.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|x| e(&x))?;
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))
}
