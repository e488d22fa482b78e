//! Bar charts as inline SVG, drawn on the server: readable without JavaScript, no
//! external asset, and text the browser lays out (so no font files on the server, which a
//! plotting crate needs to measure its labels). Each chart carries a `<title>` and a
//! description for screen readers; the page puts the same numbers in a table beside it.

use std::fmt::Write;

/// One series of a chart: its name, its colour, one value per category.
pub struct Series {
    pub name: &'static str,
    pub colour: &'static str,
    pub values: Vec<f64>,
}

/// How the series of a category are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// On top of one another (parts of a whole: jobs by outcome).
    Stacked,
    /// Side by side (measures of one thing: p50 and p95).
    Grouped,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 48.0;

/// Text for an SVG element's content or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// A round number at or above `max`, for the top of the axis.
fn axis_top(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= max {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// `value` as the axis and the bars' tooltips show it: whole numbers as they are, others
/// with the digits their size needs.
fn label(value: f64) -> String {
    if value.fract() == 0.0 || value.abs() >= 10.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.1}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A bar chart of `categories` (the x axis) and `series`, as an `<svg>` element.
pub fn bar_chart(
    title: &str,
    unit: &str,
    categories: &[String],
    series: &[Series],
    layout: Layout,
) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max = (0..categories.len())
        .map(|at| {
            let values = series
                .iter()
                .map(|s| s.values.get(at).copied().unwrap_or(0.0));
            match layout {
                Layout::Stacked => values.sum::<f64>(),
                Layout::Grouped => values.fold(0.0, f64::max),
            }
        })
        .fold(0.0, f64::max);
    let top = axis_top(max);
    let y = |value: f64| TOP + plot_h - value / top * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-labelledby=\"{id}-t\" class=\"chart\"><title id=\"{id}-t\">{t}</title>",
        id = chart_id(title),
        t = escape(title),
    );
    // The value axis: four steps and the unit.
    for step in 0..=4 {
        let value = top * f64::from(step) / 4.0;
        let at = y(value);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{at:.1}\" y2=\"{at:.1}\" stroke=\"#d0d7de\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"11\">{v}</text>",
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = at + 4.0,
            v = label(value),
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{LEFT}\" y=\"16\" font-size=\"12\">{}</text>",
        escape(unit)
    );
    let slot = plot_w / categories.len().max(1) as f64;
    let bar_w = (slot * 0.7).min(48.0);
    for (at, category) in categories.iter().enumerate() {
        let x0 = LEFT + slot * at as f64 + (slot - bar_w) / 2.0;
        let mut base = 0.0;
        for (index, s) in series.iter().enumerate() {
            let value = s.values.get(at).copied().unwrap_or(0.0);
            if value <= 0.0 {
                continue;
            }
            let (x, w, from) = match layout {
                Layout::Stacked => (x0, bar_w, base),
                Layout::Grouped => {
                    let w = bar_w / series.len() as f64;
                    (x0 + w * index as f64, w, 0.0)
                }
            };
            let (y_top, y_bottom) = (y(from + value), y(from));
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y_top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{c}\">\
                 <title>{cat}: {v} {name}</title></rect>",
                h = y_bottom - y_top,
                c = s.colour,
                cat = escape(category),
                v = label(value),
                name = escape(s.name),
            );
            if layout == Layout::Stacked {
                base += value;
            }
        }
        let _ = write!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" font-size=\"11\">{c}</text>",
            cx = x0 + bar_w / 2.0,
            ly = TOP + plot_h + 16.0,
            c = escape(category),
        );
    }
    // The legend, under the axis.
    let mut x = LEFT;
    for s in series {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{ly:.1}\" width=\"10\" height=\"10\" fill=\"{c}\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\">{n}</text>",
            ly = HEIGHT - 18.0,
            c = s.colour,
            tx = x + 14.0,
            ty = HEIGHT - 9.0,
            n = escape(s.name),
        );
        x += 24.0 + 7.0 * s.name.len() as f64;
    }
    svg.push_str("</svg>");
    svg
}

/// An id for the chart's title element, from its title.
fn chart_id(title: &str) -> String {
    title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_ends_on_a_round_number_above_the_largest_bar() {
        assert_eq!(axis_top(0.0), 1.0);
        assert_eq!(axis_top(3.0), 5.0);
        assert_eq!(axis_top(7.0), 10.0);
        assert_eq!(axis_top(12.0), 20.0);
        assert_eq!(axis_top(240.0), 250.0);
    }

    #[test]
    fn labels_keep_the_digits_their_size_needs() {
        assert_eq!(label(2.0), "2");
        assert_eq!(label(12.4), "12");
        assert_eq!(label(1.25), "1.2");
        assert_eq!(label(0.025), "0.025");
        assert_eq!(label(0.0004), "0");
    }

    #[test]
    fn stacked_bars_add_up_and_every_label_is_escaped() {
        let svg = bar_chart(
            "Jobs <per> day",
            "jobs",
            &["12-01".to_owned(), "12-02".to_owned()],
            &[
                Series {
                    name: "succeeded",
                    colour: "#1a7f37",
                    values: vec![2.0, 0.0],
                },
                Series {
                    name: "failed",
                    colour: "#cf222e",
                    values: vec![1.0, 3.0],
                },
            ],
            Layout::Stacked,
        );
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("<title id=\"jobs--per--day-t\">Jobs &lt;per&gt; day</title>"));
        assert!(svg.contains("<title>12-01: 2 succeeded</title>"));
        assert!(svg.contains("<title>12-02: 3 failed</title>"));
        // No bar for a zero.
        assert!(!svg.contains("12-02: 0 succeeded"));
        // The axis reaches the tallest stack (3 → 5).
        assert!(svg.contains(">5</text>"), "{svg}");
    }
}
