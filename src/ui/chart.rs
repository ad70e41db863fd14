//! A small SVG line chart with axes, ticks, axis labels and a legend. Pure rendering: it
//! reads the series signal and draws; it owns no state.

use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

const W: f64 = 460.0;
const H: f64 = 240.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

/// "Nice" tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= target as f64)
        .unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 10.0 {
        format!("{:.0}", v)
    } else {
        let s = format!("{:.2}", v);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A legend entry that fits its 136 px column (the full name is the element's tooltip).
fn legend_label(name: &str) -> String {
    const MAX: usize = 22;
    if name.chars().count() <= MAX {
        name.to_string()
    } else {
        format!("{}…", name.chars().take(MAX - 1).collect::<String>())
    }
}

/// `y_range`: fixed axis range (e.g. 0..1 for accuracy); `None` fits the data.
#[component]
pub fn LineChart(
    title: &'static str,
    x_label: &'static str,
    y_label: &'static str,
    series: Signal<Vec<Series>>,
    #[prop(optional)] y_range: Option<(f64, f64)>,
    testid: &'static str,
) -> impl IntoView {
    let body = move || {
        let all = series.get();
        let pts: Vec<(f64, f64)> =
            all.iter().flat_map(|s| s.points.iter().copied()).filter(|p| p.1.is_finite()).collect();
        let x_max = pts.iter().map(|p| p.0).fold(1.0f64, f64::max);
        let (y_lo, y_hi) = y_range.unwrap_or_else(|| {
            let lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
            let hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            if lo.is_finite() && hi > lo {
                (lo.min(0.0), hi * 1.05)
            } else {
                (0.0, 1.0)
            }
        });
        let sx = move |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
        let sy = move |y: f64| TOP + (1.0 - (y - y_lo) / (y_hi - y_lo)) * (H - TOP - BOTTOM);
        let y_ticks = ticks(y_lo, y_hi, 5)
            .into_iter()
            .map(|t| {
                let y = sy(t);
                view! {
                    <line x1=LEFT x2={W - RIGHT} y1=y y2=y class="grid"/>
                    <text x={LEFT - 6.0} y={y + 4.0} text-anchor="end" class="tick">{fmt_tick(t)}</text>
                }
            })
            .collect_view();
        let x_ticks = ticks(0.0, x_max, 5)
            .into_iter()
            .map(|t| {
                let x = sx(t);
                view! {
                    <line x1=x x2=x y1={H - BOTTOM} y2={H - BOTTOM + 4.0} class="axis"/>
                    <text x=x y={H - BOTTOM + 16.0} text-anchor="middle" class="tick">{fmt_tick(t)}</text>
                }
            })
            .collect_view();
        let paths = all
            .iter()
            .map(|s| {
                let d: String = s
                    .points
                    .iter()
                    .filter(|p| p.1.is_finite())
                    .enumerate()
                    .map(|(i, &(x, y))| format!("{}{:.1},{:.1}", if i == 0 { "M" } else { "L" }, sx(x), sy(y.clamp(y_lo, y_hi))))
                    .collect();
                // A lone point draws no line: mark it so a single evaluation still shows.
                let lone = s.points.iter().filter(|p| p.1.is_finite()).count() == 1;
                let dot = s.points.iter().find(|p| p.1.is_finite()).filter(|_| lone).map(|&(x, y)| {
                    view! { <circle cx=format!("{:.1}", sx(x)) cy=format!("{:.1}", sy(y.clamp(y_lo, y_hi))) r="3" fill=s.color class="point"/> }
                });
                view! { <path d=d stroke=s.color class="series" data-series=s.name.clone()/>{dot} }
            })
            .collect_view();
        let legend = all
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let x = W - RIGHT - 150.0;
                let y = TOP + 12.0 + 16.0 * i as f64;
                view! {
                    <rect x=x y={y - 8.0} width="10" height="10" fill=s.color/>
                    <text x={x + 14.0} y={y + 1.0} class="legend">{legend_label(&s.name)}<title>{s.name.clone()}</title></text>
                }
            })
            .collect_view();
        view! {
            {y_ticks}
            {x_ticks}
            <line x1=LEFT x2=LEFT y1=TOP y2={H - BOTTOM} class="axis"/>
            <line x1=LEFT x2={W - RIGHT} y1={H - BOTTOM} y2={H - BOTTOM} class="axis"/>
            <text x={(LEFT + W - RIGHT) / 2.0} y={H - 6.0} text-anchor="middle" class="axis-label">{x_label}</text>
            <text x="14" y={(TOP + H - BOTTOM) / 2.0} text-anchor="middle" class="axis-label"
                transform=format!("rotate(-90 14 {})", (TOP + H - BOTTOM) / 2.0)>{y_label}</text>
            {paths}
            {legend}
        }
    };
    view! {
        <figure class="chart" data-testid=testid>
            <figcaption>{title}</figcaption>
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=title>{body}</svg>
        </figure>
    }
}
