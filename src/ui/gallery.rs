//! The task gallery: pick a task, change its parameters, see one generated example (tokens
//! with scored positions highlighted; regression signals as lines; images as pixels with
//! their label mask), regenerate with a new seed, measure generation speed, and send the
//! task to training. The example is also exposed as JSON in `data-testid="task-example"`.
//! Its state lives in the URL (`page=gallery&task=..&<params>&gseed=..`).

use leptos::prelude::*;

use super::chart::{LineChart, Series};
use super::controls::{range_hint, task_select, task_texts};
use super::field::{error_for, Field};
use super::image::bmp_data_url;
use super::run::Lab;
use crate::browser;
use crate::core::FieldError;
use crate::tasks::{self, bench, Example, Output, Task};

/// Positions drawn as token cells (longer sequences show their start and say so).
const MAX_CELLS: usize = 384;
/// Largest example (inputs + features + targets) written out as JSON in the page; a 256x256
/// Pathfinder image is 131K numbers. Bigger ones name the CLI command that prints them.
const MAX_JSON_NUMBERS: usize = 1 << 18;

#[derive(Clone, Copy)]
pub struct GalleryState {
    pub task: RwSignal<String>,
    pub texts: RwSignal<Vec<(String, String)>>,
    pub seed: RwSignal<u64>,
    pub bench: RwSignal<Vec<serde_json::Value>>,
    pub bench_running: RwSignal<bool>,
}

impl GalleryState {
    pub fn from_query(query: &[(String, String)], default_task: &str) -> Self {
        let task = query
            .iter()
            .rev()
            .find(|(k, _)| k == "task")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| default_task.into());
        let seed =
            query.iter().rev().find(|(k, _)| k == "gseed").and_then(|(_, v)| v.parse().ok()).unwrap_or(1);
        GalleryState {
            texts: RwSignal::new(task_texts(&task, query)),
            task: RwSignal::new(task),
            seed: RwSignal::new(seed),
            bench: RwSignal::new(Vec::new()),
            bench_running: RwSignal::new(false),
        }
    }

    fn build(&self) -> Result<Box<dyn Task>, Vec<FieldError>> {
        let texts = self.texts.get();
        tasks::build(&self.task.get(), texts.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| e.errors)
    }

    /// Write the gallery's state into the URL so the view can be shared.
    pub fn write_url(&self) {
        let mut pairs = vec![
            ("page".to_string(), "gallery".to_string()),
            ("task".to_string(), self.task.get_untracked()),
        ];
        pairs.extend(self.texts.get_untracked());
        pairs.push(("gseed".into(), self.seed.get_untracked().to_string()));
        let _ = browser::url::replace_query(&pairs);
    }

    /// Time every generation case of `tasks::bench` (about 0.5 s each), yielding between them.
    fn run_bench(self) {
        let state = self;
        if state.bench_running.get_untracked() {
            return;
        }
        state.bench_running.set(true);
        state.bench.set(Vec::new());
        browser::spawn(async move {
            for case in bench::CASES {
                browser::yield_now().await;
                match bench::run_case(case, 500.0, &browser::now_ms) {
                    Ok(r) => state.bench.update(|v| v.push(r.to_json())),
                    Err(e) => state.bench.update(|v| v.push(serde_json::json!({ "error": e }))),
                }
            }
            state.bench_running.set(false);
        });
    }
}

/// Token cells: input label on top, target(s) below, scored cells highlighted.
fn token_cells(task: &dyn Task, ex: &Example) -> impl IntoView {
    let b = &ex.batch;
    let (c, f) = (b.channels, b.features);
    let scored = ex.scored_positions();
    (0..b.seq_len.min(MAX_CELLS))
        .map(|p| {
            let input = task.token_label(b.inputs[p]);
            let feat = (f > 0).then(|| format!("{:+.2}", b.features_data[p * f]));
            let targets: Vec<String> = (0..c)
                .map(|ch| {
                    let i = p * c + ch;
                    if b.mask[i] <= 0.0 {
                        "·".into()
                    } else if ex.output.is_regression() {
                        format!("{:+.2}", b.values[i])
                    } else {
                        task.class_label(b.targets[i])
                    }
                })
                .collect();
            view! {
                <div class="tok" class:scored=scored[p] title=format!("position {p}")>
                    <span class="in">{input}</span>
                    {feat.map(|v| view! { <span class="feat">{v}</span> })}
                    {targets.into_iter().map(|t| view! { <span class="out">{t}</span> }).collect_view()}
                </div>
            }
        })
        .collect_view()
}

/// Input and label-mask images for an image task.
fn image_view(ex: &Example, w: usize, h: usize) -> impl IntoView {
    let b = &ex.batch;
    let input = bmp_data_url(w, h, |x, y| match b.inputs[y * w + x] {
        0 => [255, 255, 255],
        1 => [90, 90, 90],
        _ => [0, 0, 0],
    });
    let mask = bmp_data_url(w, h, |x, y| {
        let i = y * w + x;
        match (b.targets[i], b.inputs[i]) {
            (1, _) => [209, 73, 91],
            (_, 0) => [255, 255, 255],
            _ => [200, 200, 200],
        }
    });
    view! {
        <div class="images">
            <figure><img src=input alt="input image" data-testid="example-image"/><figcaption>"input"</figcaption></figure>
            <figure><img src=mask alt="label mask" data-testid="example-mask"/><figcaption>"label (red = scored class 1)"</figcaption></figure>
        </div>
    }
}

/// Regression tasks: the first input feature and every target channel over position.
fn signal_view(ex: &Example) -> impl IntoView {
    let b = ex.batch.clone();
    let series = Signal::derive(move || {
        const COLORS: [&str; 4] = ["#d1495b", "#66a182", "#edae49", "#2e4057"];
        let (l, f, c) = (b.seq_len, b.features, b.channels);
        let mut out = Vec::new();
        if f > 0 {
            out.push(Series {
                name: "input feature 0".into(),
                color: "#8d99ae",
                points: (0..l).map(|p| (p as f64, b.features_data[p * f] as f64)).collect(),
            });
        }
        for ch in 0..c.min(4) {
            let pts = (0..l)
                .filter(|&p| b.mask[p * c + ch] > 0.0)
                .map(|p| (p as f64, b.values[p * c + ch] as f64))
                .collect();
            out.push(Series {
                name: ["target 0", "target 1", "target 2", "target 3"][ch].into(),
                color: COLORS[ch],
                points: pts,
            });
        }
        out
    });
    view! { <LineChart title="Signal" x_label="position" y_label="value" series=series testid="example-signal"/> }
}

/// The current example: its cells, signal or images, and its JSON (or why there is none).
fn example_view(state: GalleryState) -> impl IntoView {
    move || {
        let task = match state.build() {
            Ok(t) => t,
            Err(es) => {
                let msg = es.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
                return view! { <p class="error" data-testid="gallery-invalid">{format!("No example: {msg}")}</p> }.into_any();
            }
        };
        let ex = Example::new(task.as_ref(), state.seed.get());
        let numbers = ex.batch.inputs.len() + ex.batch.features_data.len() + ex.batch.targets.len();
        let json = if numbers <= MAX_JSON_NUMBERS {
            ex.to_json()
        } else {
            let pairs: Vec<String> = ex.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "{{\"omitted\": \"{numbers} numbers is too large to show here; run: interlab tasks sample {} --example-seed {} {}\"}}",
                ex.task,
                ex.seed,
                pairs.join(" ")
            )
        };
        let l = ex.batch.seq_len;
        let body = match (task.image(), ex.output) {
            (Some((w, h)), _) => image_view(&ex, w, h).into_any(),
            (None, Output::Regression { .. }) => {
                view! { {signal_view(&ex)} <div class="tokens">{token_cells(task.as_ref(), &ex)}</div> }
                    .into_any()
            }
            (None, _) => view! { <div class="tokens">{token_cells(task.as_ref(), &ex)}</div> }.into_any(),
        };
        let shown = if l > MAX_CELLS && task.image().is_none() {
            format!("showing the first {MAX_CELLS} of {l} positions")
        } else {
            format!("{l} positions")
        };
        let legend = if task.image().is_some() {
            "each pixel is one token, row by row; the label image shows the targets"
        } else {
            "highlighted cells are scored; the lower line is the target"
        };
        view! {
            <p class="muted">{format!("{shown}, {} scored targets · {legend}", ex.batch.scored())}</p>
            {body}
            <details class="automation">
                <summary>"Example as JSON"</summary>
                <pre data-testid="task-example">{json}</pre>
            </details>
        }
        .into_any()
    }
}

#[component]
pub fn Gallery(lab: Lab, state: GalleryState, on_train: Callback<()>) -> impl IntoView {
    let built = Memo::new(move |_| state.build().map(|t| t.info().name));
    let errors = Signal::derive(move || built.get().err().unwrap_or_default());
    let param_rows = move || {
        let Ok(info) = tasks::find(&state.task.get()) else { return ().into_any() };
        info.params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let key = p.key;
                let value =
                    Signal::derive(move || state.texts.with(|t| t.get(i).map(|x| x.1.clone()).unwrap_or_default()));
                let on_input = move |v: String| {
                    state.texts.update(|t| {
                        if let Some(x) = t.get_mut(i) {
                            x.1 = v
                        }
                    });
                    state.write_url();
                };
                let error = Signal::derive(move || errors.with(|es| error_for(es, key)));
                view! {
                    <Field id=format!("g-{key}") testid=format!("gallery-param-{key}") error_testid=format!("gallery-error-{key}")
                        label=p.label help=range_hint(p) value=value on_input=on_input error=error/>
                }
            })
            .collect_view()
            .into_any()
    };
    let info = move || tasks::find(&state.task.get()).ok();
    let run_bench = move |_| state.run_bench();
    view! {
        <div class="gallery">
            <section class="panel gallery-controls">
                <h2>"Task gallery"</h2>
                <div class="field">
                    <label>"Task"</label>
                    {task_select("gallery-task", state.task.into(), move |t| {
                        state.texts.set(task_texts(&t, &[]));
                        state.task.set(t);
                        state.write_url();
                    }, Signal::derive(|| false))}
                </div>
                <p class="muted" data-testid="gallery-description">{move || info().map(|i| i.description).unwrap_or("")}</p>
                <p class="muted">"Source: "{move || info().map(|i| i.source).unwrap_or("")}</p>
                {param_rows}
                <div class="field">
                    <label for="g-seed">"Example seed"</label>
                    <input id="g-seed" type="text" data-testid="gallery-seed" prop:value=move || state.seed.get().to_string()
                        on:input=move |ev| if let Ok(s) = event_target_value(&ev).trim().parse() { state.seed.set(s); state.write_url(); }/>
                </div>
                <div class="buttons">
                    <button data-testid="gallery-reseed" on:click=move |_| { state.seed.update(|s| *s = s.wrapping_add(1)); state.write_url(); }>"New example"</button>
                    <button class="primary" data-testid="gallery-train" disabled=move || built.get().is_err()
                        on:click=move |_| {
                            lab.form.set_task(&state.task.get_untracked(), &state.texts.get_untracked());
                            on_train.run(());
                        }>"Train on this task"</button>
                </div>
                <div class="bench">
                    <button data-testid="gen-bench-run" disabled=move || state.bench_running.get() on:click=run_bench>"Measure generation speed"</button>
                    <pre data-testid="gen-bench" data-state=move || if state.bench_running.get() { "running" } else if state.bench.with(Vec::is_empty) { "idle" } else { "done" }>
                        {move || state.bench.with(|v| v.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n"))}
                    </pre>
                </div>
            </section>
            <section class="panel gallery-example" data-testid="gallery-view">{example_view(state)}</section>
        </div>
    }
}
