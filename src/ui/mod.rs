//! The Leptos app: shell, pages and widgets. Components only wire signals to the plain
//! types below them (`engine::Trainer`, `engine::history`, `core::config::FIELDS`).
//! Imports everything; imported by nothing.

mod chart;
mod controls;
mod gpu_panel;
mod run;

use leptos::prelude::*;

use crate::engine::history::{downsample, History};
use crate::engine::{Backend, RunStatus};
use chart::{LineChart, Series};

/// Mount the app on `<body>`.
pub fn mount() {
    leptos::mount::mount_to_body(App);
}

/// Points kept per chart line.
const CHART_POINTS: usize = 400;

#[component]
fn App() -> impl IntoView {
    let query = crate::browser::url::query_pairs();
    let autorun = query.iter().any(|(k, v)| k == "autorun" && (v == "1" || v == "true"));
    let form = controls::FormState::from_query(&query);
    let lab = run::Lab::new(form);
    let gpu = gpu_panel::GpuState::detect();

    if autorun {
        lab.start();
    }

    let status = lab.status;
    let history = lab.history;
    let loss_series = Signal::derive(move || {
        history.with(|h: &History| {
            vec![Series { name: "training loss", color: "#d1495b", points: downsample(&h.loss, CHART_POINTS) }]
        })
    });
    let acc_series = Signal::derive(move || {
        history.with(|h: &History| {
            vec![
                Series { name: "training batch", color: "#66a182", points: downsample(&h.accuracy, CHART_POINTS) },
                Series { name: "held-out", color: "#00798c", points: downsample(&h.eval_accuracy, CHART_POINTS) },
            ]
        })
    });

    view! {
        <header class="topbar">
            <h1>"interlab"</h1>
            <span class="tagline">"sequence lab · MQAR · causal Transformer"</span>
            <span class="version">{format!("v{}", crate::VERSION)}</span>
        </header>
        <main class="layout">
            <aside class="sidebar">
                <controls::ConfigForm lab=lab/>
                <gpu_panel::GpuPanel state=gpu/>
            </aside>
            <section class="content">
                <run::RunBar lab=lab/>
                <div class="charts">
                    <LineChart title="Loss" x_label="step" y_label="cross-entropy (nats)" series=loss_series testid="loss-chart"/>
                    <LineChart title="Query accuracy" x_label="step" y_label="accuracy (fraction)" series=acc_series
                        y_range=(0.0, 1.0) testid="accuracy-chart"/>
                </div>
                <details class="automation">
                    <summary>"Machine-readable status"</summary>
                    <pre data-testid="run-status">{move || status.with(RunStatus::to_json)}</pre>
                </details>
            </section>
        </main>
    }
}

/// Backend the training loop uses in this build: the CPU (candle in wasm). The GPU training
/// engine is separate work; the panel shows the adapter and the kernel self-check.
pub(crate) const TRAINING_BACKEND: Backend = Backend::Cpu;
