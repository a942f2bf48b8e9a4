//! The HTML report: one self-contained file (no scripts, no network) with
//! the summary table, latency over time (per-second p50, p99 and max) and
//! the percentile curve, both drawn as inline SVG from the [`Report`].

use std::fmt::Write as _;

use super::report::{Report, ms};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
/// Room for the axes' labels.
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 20.0;
const RIGHT: f64 = 20.0;

/// One line of a chart.
struct Line<'a> {
    name: &'a str,
    color: &'a str,
    points: Vec<(f64, f64)>,
}

/// The whole HTML page.
pub(crate) fn page(r: &Report) -> String {
    let mut rows = String::new();
    let c = &r.requests;
    let mut row = |k: &str, v: String| {
        let _ = write!(
            rows,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(&v)
        );
    };
    row("scenario", r.scenario.to_owned());
    row("target", r.target.clone());
    row(
        "pacing",
        match r.rate {
            Some(rate) => format!("open loop, {rate} req/s, cap {}", r.concurrency),
            None => format!("closed loop, {} workers", r.concurrency),
        },
    );
    row("connections", r.connections.to_string());
    if let Some(intended) = c.intended {
        row("intended", intended.to_string());
    }
    row("sent / completed", format!("{} / {}", c.sent, c.completed));
    row(
        "ok / expected / errors",
        format!("{} / {} / {}", c.ok, c.expected, c.errors),
    );
    row(
        "timeouts / delayed / not sent",
        format!("{} / {} / {}", c.timeouts, c.delayed, c.not_sent),
    );
    row("duration", format!("{:.3} s", r.duration_s));
    row("throughput", format!("{:.1} req/s", r.throughput_rps));
    for (label, us) in r.latency_us.rows() {
        row(&format!("latency {label}"), format!("{} ms", ms(us)));
    }
    row(
        "client CPU",
        format!(
            "user {:.3} s, system {:.3} s, {:.1} µs/request",
            r.cpu.user_s, r.cpu.system_s, r.cpu.per_request_us
        ),
    );
    for (status, count) in &r.errors_by_status {
        row(&format!("error {status}"), count.to_string());
    }
    for (status, count) in &r.expected_by_status {
        row(&format!("expected {status}"), count.to_string());
    }

    let at = |f: fn(&super::record::Interval) -> u64| {
        r.series
            .iter()
            .map(|s| (s.end_s, f(s) as f64 / 1000.0))
            .collect::<Vec<_>>()
    };
    let over_time = chart(
        "seconds into the run",
        &[
            Line {
                name: "p50",
                color: "#1f77b4",
                points: at(|s| s.p50_us),
            },
            Line {
                name: "p99",
                color: "#ff7f0e",
                points: at(|s| s.p99_us),
            },
            Line {
                name: "max",
                color: "#d62728",
                points: at(|s| s.max_us),
            },
        ],
        None,
    );
    // x = how many nines: 0 at p0, 1 at p90, 2 at p99, ...
    let nines = |p: f64| (-(1.0 - p / 100.0).max(1e-6).log10()).min(6.0);
    let curve = chart(
        "percentile",
        &[Line {
            name: "latency",
            color: "#2ca02c",
            points: r
                .percentiles
                .iter()
                .map(|p| (nines(p.percentile), p.latency_us as f64 / 1000.0))
                .collect(),
        }],
        Some(&[
            (0.0, "0%"),
            (1.0, "90%"),
            (2.0, "99%"),
            (3.0, "99.9%"),
            (4.0, "99.99%"),
            (5.0, "99.999%"),
        ]),
    );
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>meshctl load: {scenario}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ padding: 2px 12px; text-align: left; }}
th {{ font-weight: normal; color: #555; }} svg {{ background: #fafafa; }}
</style></head><body>
<h1>meshctl load: {scenario}</h1>
<table>{rows}</table>
<h2>Latency over time (ms)</h2>
{over_time}
<h2>Latency by percentile (ms)</h2>
{curve}
</body></html>
"#,
        scenario = escape(r.scenario),
    )
}

/// An SVG line chart of `lines` (y in ms) with axes and a legend.
fn chart(x_label: &str, lines: &[Line<'_>], x_ticks: Option<&[(f64, &str)]>) -> String {
    let all = || lines.iter().flat_map(|l| l.points.iter().copied());
    let x_max = all().map(|p| p.0).fold(1.0_f64, f64::max);
    let x_min = all()
        .map(|p| p.0)
        .fold(x_max, f64::min)
        .min(if x_ticks.is_some() { 0.0 } else { 1.0 });
    let y_max = nice(all().map(|p| p.1).fold(0.0_f64, f64::max));
    let span = (x_max - x_min).max(1e-9);
    let x = |v: f64| LEFT + (v - x_min) / span * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| HEIGHT - BOTTOM - v / y_max * (HEIGHT - BOTTOM - TOP);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-size="11">"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="#888"/>"##,
        b = HEIGHT - BOTTOM,
        r = WIDTH - RIGHT,
    );
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{r}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{v}</text>"##,
            py = y(v),
            r = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = y(v) + 4.0,
            v = trim(v),
        );
    }
    let ticks: Vec<(f64, String)> = match x_ticks {
        Some(ticks) => ticks.iter().map(|&(v, l)| (v, l.to_owned())).collect(),
        None => (0..=5)
            .map(|i| x_min + span * f64::from(i) / 5.0)
            .map(|v| (v, trim(v.round())))
            .collect(),
    };
    for (v, label) in ticks.iter().filter(|(v, _)| *v <= x_max + 1e-9) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(*v),
            HEIGHT - BOTTOM + 16.0,
            escape(label)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 6.0,
        escape(x_label)
    );
    for (i, line) in lines.iter().enumerate() {
        let points: Vec<String> = line
            .points
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{p}"/><text x="{lx}" y="{ly}" fill="{c}">{n}</text>"#,
            c = line.color,
            p = points.join(" "),
            lx = LEFT + 10.0 + 60.0 * i as f64,
            ly = TOP + 4.0,
            n = escape(line.name),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A round axis maximum at or above `v`.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let step = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * step)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * step)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_and_text_is_escaped() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(7.3), 10.0);
        assert_eq!(nice(21.0), 25.0);
        assert_eq!(nice(1000.0), 1000.0);
        assert_eq!(trim(2.500), "2.5");
        assert_eq!(escape("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
        let svg = chart(
            "x",
            &[Line {
                name: "p<50",
                color: "#000",
                points: vec![(1.0, 2.0), (2.0, 4.0)],
            }],
            None,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("p&lt;50") && svg.contains("<polyline"));
    }
}
