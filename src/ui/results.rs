//! The researcher's view (`?page=results`, "Study results" in the top bar): load many
//! exported files (trial CSV, event CSV or JSON, from the participants' downloads or
//! `interlab study simulate`), see per condition n, accuracy, give-up rate, advice-follow
//! rate, harmful-choice rate and mean RT with 95% CIs and the between-condition test, drawn
//! as estimate-with-interval plots, and download the table. The numbers are
//! `study::analyze`'s, the same as `interlab study analyze FILES...`. A participant found in
//! two files is loaded once (the later file is refused, by name).

use std::collections::BTreeSet;

use leptos::prelude::*;

use crate::browser;
use crate::study::analyze::{self, MetricRow, TrialRecord};

#[derive(Clone, Default)]
struct Loaded {
    files: Vec<(String, usize, usize)>,
    records: Vec<TrialRecord>,
}

fn fmt(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "–".into()
    }
}

/// One metric's conditions as estimate ± interval on a shared axis.
fn plot(metric: &str, rows: &[&MetricRow]) -> impl IntoView {
    const W: f64 = 360.0;
    let h = 22.0 * rows.len() as f64 + 24.0;
    let hi = if metric == "mean_rt_ms" {
        rows.iter().map(|r| r.ci_high).filter(|x| x.is_finite()).fold(1.0, f64::max)
    } else {
        1.0
    };
    let x = move |v: f64| 120.0 + (W - 130.0) * (v / hi).clamp(0.0, 1.0);
    let marks = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let y = 16.0 + 22.0 * i as f64;
            view! {
                <text x="4" y=format!("{}", y + 4.0) class="label">{r.condition.clone()}</text>
                <line x1=format!("{:.1}", x(r.ci_low)) x2=format!("{:.1}", x(r.ci_high)) y1=format!("{y}") y2=format!("{y}") class="ci"/>
                <circle cx=format!("{:.1}", x(r.estimate)) cy=format!("{y}") r="4" class="est"/>
            }
        })
        .collect_view();
    view! {
        <figure class="chart results-plot" data-testid="results-plot">
            <figcaption>{format!("{metric} (95% CI; axis 0 to {})", fmt(hi, if hi > 10.0 { 0 } else { 1 }))}</figcaption>
            <svg viewBox=format!("0 0 {W} {h}") role="img" aria-label=format!("{metric} by condition")>
                <line x1="120" x2="120" y1="0" y2=format!("{h}") class="axis"/>
                {marks}
            </svg>
        </figure>
    }
}

#[component]
pub fn Results() -> impl IntoView {
    let loaded = RwSignal::new(Loaded::default());
    let errors = RwSignal::new(Vec::<String>::new());
    let on_files = move |ev: leptos::ev::Event| {
        browser::spawn(async move {
            match browser::read_chosen_texts(&ev).await {
                Err(e) => errors.set(vec![e]),
                Ok(files) => {
                    let mut errs = Vec::new();
                    loaded.update(|l| {
                        for (name, text) in files {
                            match analyze::load_any(&text, &name) {
                                Err(e) => errs.push(e.to_string()),
                                Ok(recs) => {
                                    let seen: BTreeSet<&str> = l.records.iter().map(|r| r.participant.as_str()).collect();
                                    if let Some(p) = recs.iter().find(|r| seen.contains(r.participant.as_str())) {
                                        errs.push(format!("{name}: participant '{}' is already loaded from another file; load each participant once", p.participant));
                                        continue;
                                    }
                                    let people = recs.iter().map(|r| r.participant.as_str()).collect::<BTreeSet<_>>().len();
                                    l.files.push((name, people, recs.len()));
                                    l.records.extend(recs);
                                }
                            }
                        }
                    });
                    errors.set(errs);
                }
            }
        })
    };
    let table = Memo::new(move |_| loaded.with(|l| analyze::analyze(&l.records)));
    let download = move |_| {
        let csv = analyze::analysis_csv(&table.get_untracked());
        if let Err(e) = browser::download("interlab-study-analysis.csv", csv.as_bytes(), "text/csv") {
            errors.set(vec![e]);
        }
    };
    view! {
        <section class="panel results" data-testid="results">
            <h2>"Study results"</h2>
            <p class="muted">"Load the participants' exports (trial CSV, event CSV or JSON; several at once). Per condition: accuracy, give-up, advice-follow and harmful-choice rates with Wilson 95% intervals and a chi-square test across conditions; mean response time (mean of participant means) with a t interval and a permutation test. The same table as "<code>"interlab study analyze FILES..."</code>"."</p>
            <label class="button">"Load exports"
                <input type="file" multiple accept=".csv,.json" data-testid="results-files" class="hidden-file" on:change=on_files/>
            </label>
            <button data-testid="results-clear" on:click=move |_| { loaded.set(Loaded::default()); errors.set(Vec::new()); }>"Clear"</button>
            <button data-testid="results-download" disabled=move || loaded.with(|l| l.records.is_empty()) on:click=download>"Download table (CSV)"</button>
            <ul class="errors">{move || errors.get().into_iter().map(|e| view! { <li class="error" role="alert" data-testid="results-error">{e}</li> }).collect_view()}</ul>
            <ul>{move || loaded.with(|l| l.files.iter().map(|(n, p, t)| view! { <li data-testid="results-file">{format!("{n}: {p} participants, {t} trials")}</li> }).collect_view())}</ul>
            <table class="numbers" data-testid="results-table">
                <thead><tr><th>"metric"</th><th>"condition"</th><th>"participants"</th><th>"n"</th><th>"estimate"</th><th>"95% CI"</th><th>"test"</th><th>"p"</th></tr></thead>
                <tbody>{move || table.get().into_iter().map(|r| view! {
                    <tr data-testid="results-row" data-metric=r.metric data-condition=r.condition.clone() data-estimate=format!("{}", r.estimate) data-p=format!("{}", r.p_value) data-n=r.n.to_string()>
                        <td>{r.metric}</td><td>{r.condition.clone()}</td><td>{r.n_participants}</td><td>{r.n}</td>
                        <td>{fmt(r.estimate, 3)}</td><td>{format!("{} – {}", fmt(r.ci_low, 3), fmt(r.ci_high, 3))}</td>
                        <td>{format!("{} {}", r.test, fmt(r.statistic, 2))}</td><td>{fmt(r.p_value, 4)}</td>
                    </tr>
                }).collect_view()}</tbody>
            </table>
            <div class="charts">{move || {
                let rows = table.get();
                let metrics: Vec<&'static str> = rows.iter().map(|r| r.metric).collect::<BTreeSet<_>>().into_iter().collect();
                metrics.into_iter().map(|m| plot(m, &rows.iter().filter(|r| r.metric == m).collect::<Vec<_>>())).collect_view()
            }}</div>
        </section>
    }
}
