//! The steering panel's reports: the direction (norms, cosine across layers), the live
//! example, the scale sweep beside its random band with percentiles and p-values, the probe
//! heat map with its read-out along positions, and the patching heat map with heads and the
//! sweep's time. Each offers its numbers as a file (CSV, or JSON for the direction).

use leptos::prelude::*;

use super::chart::{LineChart, Series};
use super::run::Lab;
use super::steering::SteerState;
use crate::browser;
use crate::engine::steering::Op;

/// Save `text` as `interlab-<what>-<task>-s<seed>-v<version>.<ext>` for the lab's run.
fn save(lab: Lab, state: SteerState, what: &str, ext: &str, text: &str, mime: &str) {
    if let Err(e) = browser::download(&lab.export_name(what, ext), text.as_bytes(), mime) {
        state.error.set(Some(e));
    }
}

/// White → teal for `t` in 0..1; red for negative `t` (down to -1).
fn heat(t: f64) -> String {
    let t = if t.is_finite() { t.clamp(-1.0, 1.0) } else { 0.0 };
    let mix = |lo: f64, hi: f64, w: f64| (lo + (hi - lo) * w) as u8;
    let (r, g, b) = if t >= 0.0 {
        (mix(255.0, 0.0, t), mix(255.0, 121.0, t), mix(255.0, 140.0, t))
    } else {
        (mix(255.0, 209.0, -t), mix(255.0, 73.0, -t), mix(255.0, 91.0, -t))
    };
    format!("background: rgb({r},{g},{b})")
}

/// A heat map as a table: one row per site, one cell per column; `value` maps to a colour.
fn heat_table(
    testid: &'static str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
    colour: impl Fn(f64) -> f64,
) -> impl IntoView {
    let head = cols.iter().map(|c| view! { <th>{c.clone()}</th> }).collect_view();
    let body = rows
        .iter()
        .zip(values)
        .map(|(r, vals)| {
            let cells = vals.iter().zip(cols).map(|(v, c)| view! { <td style=heat(colour(*v)) title=format!("{r} @ {c}: {v:.3}") data-v=format!("{v}")></td> }).collect_view();
            view! { <tr><th class="row">{r.clone()}</th>{cells}</tr> }
        })
        .collect_view();
    view! { <div class="heat-wrap"><table class="heat" data-testid=testid><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table></div> }
}

pub fn direction(lab: Lab, state: SteerState) -> impl IntoView {
    move || {
        state.direction.with(|d| {
            d.as_ref().map(|d| {
                let json = d.direction.to_json();
                let site = d.direction.site.clone();
                let cos = (!d.layers.is_empty()).then(|| {
                    let short: Vec<String> = d.layers.iter().map(|l| l.replace("blocks.", "L").replace(".resid", " resid")).collect();
                    heat_table("steer-cosines", &short, &short, &d.cosines, |c| c)
                });
                view! {
                    <section class="steer-report" data-testid="steer-direction-report" data-norm=format!("{}", d.norm)>
                        <h3>{format!("Direction at {site}")}</h3>
                        <p>{format!("‖direction‖ = {:.3}; typical activation norm there {:.3} (ratio {:.2}). {}", d.norm, d.typical_norm, d.norm / d.typical_norm.max(1e-30), d.direction.recipe)}</p>
                        <p class="muted">{format!("A: {} · B: {} · at step {}", d.a, d.b, state.at_step.get_untracked())}</p>
                        {cos.map(|c| view! { <p class="muted">"Cosine between the directions the same recipe gives at each layer:"</p>{c} })}
                        <p class="muted">{format!("Norms per layer: {}", d.layers.iter().zip(&d.layer_norms).map(|(l, n)| format!("{l} {n:.3}")).collect::<Vec<_>>().join(", "))}</p>
                        <button data-testid="steer-download-direction" on:click=move |_| save(lab, state, "direction", "json", &json, "application/json")>"Save direction (JSON)"</button>
                    </section>
                }
            })
        })
    }
}

pub fn example(lab: Lab, state: SteerState) -> impl IntoView {
    let range = move || {
        state.spec.with(|s| {
            let v: Vec<f32> = s.scales.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            let lo = v.iter().cloned().fold(0.0f32, f32::min);
            let hi = v.iter().cloned().fold(1.0f32, f32::max);
            (lo, hi)
        })
    };
    let on_scale = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        state.spec.update(|s| s.scale = v);
        state.send(&lab, Op::Example);
    };
    let body = move || {
        state.example.with(|e| {
            e.as_ref().map(|e| {
                let cols = (0..e.tokens.len())
                    .map(|t| {
                        let scored = e.scored.get(t).copied().unwrap_or(false);
                        let (b, s) = (e.base[t].clone(), e.steered[t].clone());
                        let changed = scored && b != s;
                        let hit = scored && e.toward.get(t).is_some_and(|a| *a == s);
                        view! {
                            <span class="tok" class:scored=scored class:changed=changed class:hit=hit>
                                <span class="in">{e.tokens[t].clone()}</span>
                                <span class="out">{if scored { b } else { "·".into() }}</span>
                                <span class="steered">{if scored { s } else { "·".into() }}</span>
                                <span class="feat">{if scored { e.toward.get(t).cloned().unwrap_or_default() } else { String::new() }}</span>
                            </span>
                        }
                    })
                    .collect_view();
                let scored = e.scored.iter().filter(|&&x| x).count().max(1);
                let hits = (0..e.tokens.len()).filter(|&t| e.scored[t] && e.toward.get(t).is_some_and(|a| *a == e.steered[t])).count();
                view! {
                    <p class="muted">{format!("scale {} adds a vector of norm {:.3}. Rows: input, unsteered prediction, steered prediction{}.", e.scale, e.added_norm, if e.toward.is_empty() { "" } else { ", set A's answer" })}</p>
                    <div class="tokens" data-testid="steer-example-tokens" data-toward=format!("{}", hits as f64 / scored as f64)>{cols}</div>
                }
            })
        })
    };
    view! {
        <section class="steer-report" data-testid="steer-example">
            <h3>"Live example (held-out set B)"</h3>
            <div class="view-controls">
                <label for="steer-scale">"scale"</label>
                <input id="steer-scale" data-testid="steer-scale" type="range" step="0.05" min=move || range().0 max=move || range().1
                    prop:value=move || state.spec.with(|s| s.scale.clone()) on:change=on_scale/>
                <span data-testid="steer-scale-value">{move || state.spec.with(|s| s.scale.clone())}</span>
                <label for="steer-example-index">"example"</label>
                <input id="steer-example-index" type="number" min="0" data-testid="steer-example-index" prop:value=move || state.spec.with(|s| s.example.clone())
                    on:change=move |ev| { state.spec.update(|s| s.example = event_target_value(&ev)); state.send(&lab, Op::Example); }/>
                <button data-testid="steer-example-show" on:click=move |_| state.send(&lab, Op::Example)>"Show"</button>
            </div>
            {body}
        </section>
    }
}

pub fn sweep(lab: Lab, state: SteerState) -> impl IntoView {
    let series = Signal::derive(move || {
        state.sweep.with(|r| {
            let Some(r) = r else { return Vec::new() };
            let s = &r.result;
            let xs: Vec<f64> = s.scales.iter().map(|&x| x as f64).collect();
            let stat = |f: &dyn Fn(&[f64]) -> f64| -> Vec<(f64, f64)> {
                xs.iter()
                    .enumerate()
                    .map(|(j, &x)| (x, f(&s.random.iter().map(|row| row[j]).collect::<Vec<_>>())))
                    .collect()
            };
            vec![
                Series {
                    name: "random max".into(),
                    color: "#c9d1d6",
                    points: stat(&|v| v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)),
                },
                Series {
                    name: "random mean".into(),
                    color: "#8d96a3",
                    points: stat(&|v| v.iter().sum::<f64>() / v.len().max(1) as f64),
                },
                Series {
                    name: "random min".into(),
                    color: "#c9d1d6",
                    points: stat(&|v| v.iter().cloned().fold(f64::INFINITY, f64::min)),
                },
                Series {
                    name: "concept direction".into(),
                    color: "#d1495b",
                    points: xs.iter().zip(&s.effect).map(|(&x, &y)| (x, y)).collect(),
                },
            ]
        })
    });
    move || {
        state.sweep.with(|r| {
            r.as_ref().map(|r| {
                let s = &r.result;
                let csv = s.to_csv();
                let rows = (0..s.scales.len())
                    .map(|j| {
                        let rand: Vec<f64> = s.random.iter().map(|row| row[j]).collect();
                        let mean = rand.iter().sum::<f64>() / rand.len().max(1) as f64;
                        view! {
                            <tr data-testid="sweep-row" data-scale=format!("{}", s.scales[j]) data-effect=format!("{}", s.effect[j]) data-random-mean=format!("{mean}")
                                data-p=format!("{}", s.p_value[j]) data-percentile=format!("{}", s.percentile[j])>
                                <td>{format!("{}", s.scales[j])}</td><td>{format!("{:.3}", s.effect[j])}</td><td>{format!("{mean:.3}")}</td>
                                <td>{format!("{:.0}%", 100.0 * s.percentile[j])}</td><td>{format!("{:.4}", s.p_value[j])}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <section class="steer-report" data-testid="steer-sweep-report">
                        <h3>{format!("Scale sweep at {} against {} random directions", s.site, s.random.len())}</h3>
                        <p class="muted">{format!("Effect: {} on {} held-out sequences. Scale 1 adds a vector of norm {:.3} (typical activation norm {:.3}). Percentile: share of random directions of equal norm the direction beats; p: one-sided paired sign-flip test per sequence against the random directions' mean.", r.metric, r.n, r.unit_norm, r.typical_norm)}</p>
                        <div class="charts"><LineChart title="Effect vs scale (grey: random directions' min, mean, max)" x_label="scale" y_label="effect" series=series testid="steer-sweep-chart"/></div>
                        <table class="numbers"><thead><tr><th>"scale"</th><th>"effect"</th><th>"random mean"</th><th>"percentile"</th><th>"p"</th></tr></thead><tbody>{rows}</tbody></table>
                        <button data-testid="steer-download-sweep" on:click=move |_| save(lab, state, "sweep", "csv", &csv, "text/csv")>"Download sweep (CSV)"</button>
                    </section>
                }
            })
        })
    }
}

pub fn probe(lab: Lab, state: SteerState) -> impl IntoView {
    let readout = Signal::derive(move || {
        state.probe.with(|r| {
            let Some(r) = r else { return Vec::new() };
            let pts = |v: &[f64]| v.iter().enumerate().map(|(t, &y)| (t as f64, y)).collect();
            vec![
                Series { name: "held-out set A".into(), color: "#d1495b", points: pts(&r.readout_a) },
                Series { name: "held-out set B".into(), color: "#00798c", points: pts(&r.readout_b) },
            ]
        })
    });
    move || {
        state.probe.with(|r| {
            r.as_ref().map(|r| {
                let csv = r.to_csv();
                let cols: Vec<String> = r.positions.iter().map(usize::to_string).collect();
                view! {
                    <section class="steer-report" data-testid="steer-probe-report" data-pooled=format!("{}", r.pooled_accuracy) data-cosine=format!("{}", r.cosine)>
                        <h3>{format!("Linear probes: {} (held-out accuracy per site × position; chance 0.5)", if r.labels == "sets" { "set A or set B?" } else { "random labels (control)" })}</h3>
                        {heat_table("steer-probe-heat", &r.sites, &cols, &r.accuracy, |a| (a - 0.5) * 2.0)}
                        <p>{format!("Pooled probe at {} over the chosen positions: held-out accuracy {:.3}; cosine with the steering direction {:.3}.", r.site, r.pooled_accuracy, r.cosine)}</p>
                        <div class="charts"><LineChart title="Pooled probe's reading along the context" x_label="position" y_label="P(set A)" series=readout y_range=(0.0, 1.0) testid="steer-readout-chart"/></div>
                        <button data-testid="steer-download-probe" on:click=move |_| save(lab, state, "probes", "csv", &csv, "text/csv")>"Download probes (CSV)"</button>
                    </section>
                }
            })
        })
    }
}

pub fn patch(lab: Lab, state: SteerState) -> impl IntoView {
    move || {
        state.patch.with(|r| {
            r.as_ref().map(|r| {
                let csv = r.to_csv();
                let p = &r.result;
                let cols: Vec<String> = (0..p.restored.first().map_or(0, Vec::len)).map(|t| t.to_string()).collect();
                let heads = (!r.heads.is_empty()).then(|| {
                    let layers: Vec<String> = (0..r.heads.len()).map(|l| format!("layer {l}")).collect();
                    let hcols: Vec<String> = (0..r.heads[0].len()).map(|h| format!("head {h}")).collect();
                    view! {
                        <p class="muted">"Each head's output patched from the clean run (all positions):"</p>
                        {heat_table("steer-head-heat", &layers, &hcols, &r.heads, |x| x)}
                        <p class="muted">"The clean run with one head zeroed, on the same scale (1: unharmed, 0: as corrupted):"</p>
                        {heat_table("steer-ablation-heat", &layers, &hcols, &r.ablation, |x| x)}
                    }
                });
                view! {
                    <section class="steer-report" data-testid="steer-patch-report">
                        <h3>"Activation patching: fraction of the clean metric restored"</h3>
                        <p class="muted">{format!("Metric: {}; clean (set A) {:.3}, corrupted (set B) {:.3}; {} sequences each.", r.metric, p.clean, p.corrupt, r.sequences)}</p>
                        <p data-testid="patch-time" data-ms=format!("{}", r.ms) data-runs=format!("{}", p.runs)>
                            {format!("{} sites × {} positions: {} forward passes in {:.0} ms.", p.sites.len(), cols.len(), p.runs, r.ms)}</p>
                        {heat_table("steer-patch-heat", &p.sites, &cols, &p.restored, |x| x)}
                        {heads}
                        <button data-testid="steer-download-patch" on:click=move |_| save(lab, state, "patching", "csv", &csv, "text/csv")>"Download patching (CSV)"</button>
                    </section>
                }
            })
        })
    }
}
