//! The status page's load graph: events per second over the last minutes,
//! one line per series, as inline SVG (no script, nothing loaded from
//! elsewhere).

use std::fmt::Write as _;

use crate::http::{HISTORY_INTERVAL, HISTORY_SLOTS};

/// One line of the graph.
pub(super) struct Series<'a> {
    /// Its name in the legend.
    pub(super) name: &'static str,
    /// Its stroke colour.
    pub(super) color: &'static str,
    /// Events per interval, oldest first (`RateHistory::per_interval`).
    pub(super) counts: &'a [u64],
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
/// Room for the axis labels: left, right, top, bottom.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// The graph of `series`, each point an interval's events per second.
pub(super) fn load_graph(series: &[Series<'_>]) -> String {
    let seconds = HISTORY_INTERVAL.as_secs_f64();
    let peak = series
        .iter()
        .flat_map(|s| s.counts.iter())
        .map(|&c| c as f64 / seconds)
        .fold(0.0, f64::max);
    let top = nice_ceiling(peak);
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let bottom = TOP + plot_h;
    let minutes =
        (HISTORY_INTERVAL * u32::try_from(HISTORY_SLOTS).unwrap_or(u32::MAX)).as_secs() / 60;
    let mut svg = String::with_capacity(8192);
    // No xmlns: inside HTML the parser puts <svg> in the SVG namespace.
    let _ = write!(
        svg,
        "<svg id=\"load\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" font-size=\"11\" font-family=\"sans-serif\">\n\
         <title>requests and faults per second, the last {minutes} minutes</title>\n"
    );
    // The frame, and grid lines with labels at 0, half and the top.
    let _ = writeln!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
    );
    for fraction in [0.0, 0.5, 1.0] {
        let y = bottom - plot_h * fraction;
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}/s</text>",
            LEFT + plot_w,
            LEFT - 4.0,
            y + 4.0,
            number(top * fraction)
        );
    }
    let half = minutes / 2;
    for (x, label) in [
        (LEFT, format!("-{minutes} min")),
        (LEFT + plot_w / 2.0, format!("-{half} min")),
        (LEFT + plot_w, "now".to_string()),
    ] {
        let _ = writeln!(
            svg,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            bottom + 16.0
        );
    }
    for (i, s) in series.iter().enumerate() {
        let step = plot_w / (s.counts.len().max(2) - 1) as f64;
        let points: Vec<String> = s
            .counts
            .iter()
            .enumerate()
            .map(|(j, &c)| {
                let rate = c as f64 / seconds;
                let y = bottom - plot_h * rate / top;
                format!("{:.1},{:.1}", LEFT + step * j as f64, y)
            })
            .collect();
        let _ = writeln!(
            svg,
            "<polyline class=\"series\" data-name=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
            s.name,
            s.color,
            points.join(" ")
        );
        // The legend, along the top.
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>",
            LEFT + 8.0 + 110.0 * i as f64,
            TOP + 14.0,
            s.color,
            s.name
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The smallest of 1, 2, 5 × 10^k at or above `peak` (at least 1), so the
/// axis reads in round numbers.
fn nice_ceiling(peak: f64) -> f64 {
    let mut top = 1.0;
    while top < peak {
        for step in [2.0, 2.5, 2.0] {
            top *= step;
            if top >= peak {
                return top;
            }
        }
    }
    top
}

/// An axis label: whole numbers plain, fractions with one decimal.
fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_top_is_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1.5), 2.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
    }

    #[test]
    fn every_interval_is_a_point() {
        let counts = vec![5; HISTORY_SLOTS];
        let svg = load_graph(&[Series {
            name: "requests",
            color: "#1f5f7a",
            counts: &counts,
        }]);
        let points = svg
            .split("points=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default();
        assert_eq!(points.split(' ').count(), HISTORY_SLOTS);
        // 5 per 5 s is 1/s: the top of the axis, so every point is at TOP.
        assert!(points.split(' ').all(|p| p.ends_with(",12.0")), "{points}");
        assert!(svg.contains(">1/s</text>"));
    }
}
