//! The model views: attention maps per layer and head on a chosen example (Transformers), and
//! for linear recurrences the eigenvalues of Λ in the complex plane, |λ| over training, each
//! channel's convolution kernel and the state norm over time. The data comes from
//! `engine::inspect` (refreshed at every evaluation while the panel is open).

use leptos::prelude::*;

use super::chart::{LineChart, Series};
use super::image::bmp_data_url;
use super::run::Lab;
use crate::engine::history::History;
use crate::engine::inspect::ModelView;

pub const PALETTE: [&str; 8] =
    ["#00798c", "#d1495b", "#edae49", "#66a182", "#2e4057", "#8d96a3", "#9b5de5", "#f15bb5"];
/// Rendered size of one attention map, in CSS pixels.
const MAP_PX: usize = 220;

/// A `len × len` map as an image: white → teal, colour ∝ √weight so small weights show.
fn heatmap(map: &[f32], len: usize) -> String {
    bmp_data_url(len, len, |x, y| {
        let w = map[y * len + x].clamp(0.0, 1.0).sqrt();
        let mix = |lo: f32, hi: f32| (lo + (hi - lo) * w) as u8;
        [mix(255.0, 0.0), mix(255.0, 121.0), mix(255.0, 140.0)]
    })
}

fn attention_maps(v: &ModelView) -> impl IntoView {
    let len = v.len();
    v.attention
        .iter()
        .enumerate()
        .map(|(l, heads)| {
            let mixer = v.mixers.get(l).cloned().unwrap_or_default();
            let maps = heads
                .iter()
                .enumerate()
                .map(|(h, map)| {
                    let title = format!("layer {l} · head {h} ({mixer}): row = query position, column = key position");
                    view! {
                        <figure>
                            <img data-testid="attention-map" src=heatmap(map, len) width=MAP_PX height=MAP_PX alt=title.clone() title=title/>
                            <figcaption>{format!("L{l} H{h}")}</figcaption>
                        </figure>
                    }
                })
                .collect_view();
            view! { <div class="maps"><h3>{format!("Layer {l}: {mixer}")}</h3>{maps}</div> }
        })
        .collect_view()
}

/// Eigenvalues in the complex plane with the unit circle.
fn eigen_plot(v: &ModelView) -> impl IntoView {
    const S: f64 = 220.0;
    let c = S / 2.0;
    let r = S / 2.0 - 8.0;
    let dots = v
        .eigenvalues
        .iter()
        .enumerate()
        .flat_map(|(l, ev)| {
            ev.iter().map(move |&(m, p)| {
                let (x, y) = (c + r * (m * p.cos()) as f64, c - r * (m * p.sin()) as f64);
                view! { <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r="2" fill=PALETTE[l % 8] fill-opacity="0.7"/> }
            })
        })
        .collect_view();
    view! {
        <figure class="chart eigen" data-testid="eigen-plot">
            <figcaption>"Eigenvalues of Λ (colour = layer)"</figcaption>
            <svg viewBox=format!("0 0 {S} {S}") role="img" aria-label="eigenvalues in the complex plane">
                <circle cx=c cy=c r=r class="axis" fill="none"/>
                <line x1="0" x2=S y1=c y2=c class="grid"/>
                <line x1=c x2=c y1="0" y2=S class="grid"/>
                {dots}
            </svg>
        </figure>
    }
}

/// One line per row of `rows` (`"{name} {i}"`), y over the row's index.
fn lines(name: &str, rows: &[Vec<f32>]) -> Vec<Series> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| Series {
            name: format!("{name} {i}"),
            color: PALETTE[i % 8],
            points: row.iter().enumerate().map(|(t, &y)| (t as f64, y as f64)).collect(),
        })
        .collect()
}

/// The recurrent spectrum over training: for each of the first four layers, one line per
/// `(summary index, name)` of `inspect::spectrum_summary`; `color(layer, index)` picks the colour.
fn spectrum_lines(
    h: &History,
    quantiles: &[(usize, &str)],
    color: impl Fn(usize, usize) -> usize,
) -> Vec<Series> {
    let layers = h.spectrum.last().map_or(0, |s| s.1.len());
    let mut out = Vec::new();
    for l in 0..layers.min(4) {
        for &(q, name) in quantiles {
            let pts = h.spectrum.iter().filter_map(|(x, s)| s.get(l).map(|v| (*x, v[q] as f64))).collect();
            out.push(Series {
                name: format!("layer {l} {name}"),
                color: PALETTE[color(l, q) % 8],
                points: pts,
            });
        }
    }
    out
}

#[component]
pub fn Views(lab: Lab) -> impl IntoView {
    let view = lab.view;
    let history = lab.history;
    let seed_text = RwSignal::new(lab.view_seed.get_untracked().to_string());
    let show = move || match seed_text.get_untracked().trim().parse::<u64>() {
        Ok(s) => {
            lab.view_seed.set(s);
            crate::browser::url::set_key("vseed", Some(&s.to_string()));
            lab.inspect();
        }
        Err(_) => lab
            .message
            .set(Some(format!("example seed: '{}' is not a whole number ≥ 0", seed_text.get_untracked()))),
    };
    let on_toggle = move |ev: leptos::ev::Event| {
        let open = crate::browser::details_open(&ev);
        lab.views_open.set(open);
        crate::browser::url::set_key("views", open.then_some("1"));
        if open && view.get_untracked().is_none() && lab.is_active_or_done() {
            lab.inspect();
        }
    };
    let kernels = Signal::derive(move || {
        view.with(|v| {
            v.as_ref().and_then(|v| v.kernels.first()).map_or_else(Vec::new, |k| lines("channel", k))
        })
    });
    let norms = Signal::derive(move || {
        view.with(|v| v.as_ref().map_or_else(Vec::new, |v| lines("layer", &v.state_norms)))
    });
    let spectrum = Signal::derive(move || {
        history.with(|h| spectrum_lines(h, &[(2, "max"), (1, "median"), (0, "min")], |l, q| l * 3 + q))
    });
    let phases = Signal::derive(move || {
        history.with(|h| spectrum_lines(h, &[(4, "max"), (3, "median")], |l, q| l * 2 + q - 3))
    });
    let has = move |f: fn(&ModelView) -> bool| view.with(|v| v.as_ref().is_some_and(f));
    view! {
        <details class="panel views" data-testid="views" open=lab.views_open.get_untracked() on:toggle=on_toggle>
            <summary>"Model internals"</summary>
            <div class="view-controls">
                <label for="view-seed">"example seed"</label>
                <input id="view-seed" data-testid="view-seed" type="number" min="0" prop:value=move || seed_text.get()
                    on:input=move |ev| seed_text.set(event_target_value(&ev))/>
                <button data-testid="inspect" on:click=move |_| show()>"Show"</button>
                <span class="muted">{move || view.with(|v| match v {
                    Some(v) => format!("example {} at step {}: first {} positions; refreshed at every evaluation while open", v.seed, v.step, v.len()),
                    None => "start or load a run, then Show".into(),
                })}</span>
            </div>
            <Show when=move || has(|v| !v.is_empty())>
                <div class="tokens view-tokens" data-testid="view-tokens">
                    {move || view.with(|v| v.as_ref().map(|v| v.tokens.iter().map(|t| view! { <span class="tok">{t.clone()}</span> }).collect_view()))}
                </div>
            </Show>
            <Show when=move || has(|v| !v.attention.is_empty())>
                <p class="muted">"Mixing weights per layer and head: row t shows how much position t takes from each earlier position (colour ∝ √weight)."</p>
                <div class="attention">{move || view.with(|v| v.as_ref().map(attention_maps))}</div>
            </Show>
            <Show when=move || has(|v| !v.eigenvalues.is_empty())>
                <div class="charts">
                    {move || view.with(|v| v.as_ref().map(eigen_plot))}
                    <LineChart title="|λ| over training (min, median, max per layer)" x_label="step" y_label="|λ|" series=spectrum y_range=(0.0, 1.0) testid="spectrum-chart"/>
                    <LineChart title="|arg λ| over training (median, max per layer)" x_label="step" y_label="|arg λ| (radians)" series=phases testid="phase-chart"/>
                    <LineChart title="Convolution kernels, layer 0" x_label="lag" y_label="K[lag]" series=kernels testid="kernel-chart"/>
                    <LineChart title="State norm over time" x_label="position" y_label="‖x_t‖" series=norms testid="state-norm-chart"/>
                </div>
            </Show>
            <Show when=move || view.with(|v| v.as_ref().is_some_and(|v| v.attention.is_empty() && v.eigenvalues.is_empty()))>
                <p class="muted">"This model family has neither mixing weights nor a linear recurrence to show."</p>
            </Show>
        </details>
    }
}
