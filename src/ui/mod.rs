//! The Leptos app: shell, pages and widgets. Components only wire signals to the plain
//! types below them (`engine::Trainer`, `engine::history`, `core::config::FIELDS`).
//! Imports everything; imported by nothing.

mod chart;
mod controls;
mod experiments;
mod gallery;
mod gpu_panel;
mod image;
mod results;
mod run;
mod share;
mod steer_views;
mod steering;
mod study;
mod views;

use leptos::prelude::*;

use crate::engine::history::{downsample, History};
use crate::engine::{Backend, BackendPref, RunEnv, RunStatus};
use chart::{LineChart, Series};

/// Mount the app on `<body>`.
pub fn mount() {
    leptos::mount::mount_to_body(App);
}

/// Points kept per chart line.
const CHART_POINTS: usize = 400;

/// Which page is shown; both stay mounted so a run keeps going while the gallery is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    Lab,
    Gallery,
    Experiments,
    Results,
}

/// The run environment a link asks for (`budget`, `backend`, `lose_gpu_at`); a bad value is
/// reported in `errors` and its default kept.
fn run_env_from_query(query: &[(String, String)], errors: &mut Vec<String>) -> RunEnv {
    let mut env = RunEnv::default();
    let last = |key: &str| query.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    if let Some(v) = last("budget") {
        match crate::core::config::parse_budget_mib(v) {
            Ok(mib) => env = env.with_budget_mib(mib),
            Err(e) => errors.push(format!("budget: {}", e.message)),
        }
    }
    if let Some(v) = last("backend") {
        match BackendPref::parse(v) {
            Ok(p) => env.backend = p,
            Err(e) => errors.push(format!("backend: {e}")),
        }
    }
    if let Some(v) = last("lose_gpu_at") {
        match v.parse::<usize>() {
            Ok(n) => env.lose_gpu_at = Some(n).filter(|&n| n > 0),
            Err(_) => errors.push(format!("lose_gpu_at: '{v}' is not a step number")),
        }
    }
    env
}

#[component]
fn App() -> impl IntoView {
    // Every link passes the gate first (`core::share::decode`): sizes capped, a compressed
    // link expanded, app keys checked. A refused link opens the default lab and says why.
    let gate_start = crate::browser::now_ms();
    let (query, link_note) =
        match crate::core::share::decode(&crate::browser::url::raw_query_pairs(), crate::VERSION) {
            Ok(link) => (link.pairs, (!link.warnings.is_empty()).then(|| link.warnings.join(" "))),
            Err(e) => (Vec::new(), Some(format!("{e}. The default lab opened instead."))),
        };
    // How long the gate took (`data-link-ms` on the top bar: the hostile-link test reads it).
    let gate_ms = format!("{:.2}", crate::browser::now_ms() - gate_start);
    let hidden = share::Hidden::from_query(&query);
    // A study participant sees only the study (no lab, no training worker).
    if query.iter().any(|(k, v)| k == "page" && v == "study") {
        return view! { <study::StudyPage/> }.into_any();
    }
    let autorun = query.iter().any(|(k, v)| k == "autorun" && (v == "1" || v == "true"));
    let on_gallery = query.iter().any(|(k, v)| k == "page" && v == "gallery");
    let on_experiments = query.iter().any(|(k, v)| k == "page" && v == "experiments");
    let on_results = query.iter().any(|(k, v)| k == "page" && v == "results");
    let mut option_errors: Vec<String> = link_note.into_iter().collect();
    // The run environment (budget, backend, diagnostics) is in force before the form validates.
    let env = run_env_from_query(&query, &mut option_errors);
    let form = controls::FormState::from_query(if on_gallery { &[] } else { &query }, env);
    let exp_state = experiments::ExperimentState::from_query(if on_experiments { &query } else { &[] }, env);
    let lab = run::Lab::new(form);
    // The views' state from the link (`views=1`, `vseed=N`), before they are drawn.
    let last = |k: &str| query.iter().rev().find(|(q, _)| q == k).map(|(_, v)| v.clone());
    lab.views_open.set(matches!(last("views").as_deref(), Some("1" | "true")));
    if let Some(seed) = last("vseed").and_then(|v| v.trim().parse::<u64>().ok()) {
        lab.view_seed.set(seed);
    }
    let steer_state = steering::SteerState::from_query(
        if on_gallery || on_experiments { &[] } else { &query },
        &form.task.get_untracked(),
    );
    let gallery_state =
        gallery::GalleryState::from_query(if on_gallery { &query } else { &[] }, &form.task.get_untracked());
    let page = RwSignal::new(if on_gallery {
        Page::Gallery
    } else if on_experiments {
        Page::Experiments
    } else if on_results {
        Page::Results
    } else {
        Page::Lab
    });
    let gpu = gpu_panel::GpuState::detect();

    if autorun && on_experiments {
        exp_state.start(&form);
    } else if autorun && !on_gallery {
        lab.start();
    }
    // After any autorun start (which clears the notice).
    if !option_errors.is_empty() {
        lab.message.set(Some(option_errors.join("; ")));
    }
    let to_lab = move || {
        page.set(Page::Lab);
        if let Ok((cfg, plan)) = form.parse() {
            let _ = crate::browser::url::replace_query(&plan.share_pairs(&cfg));
        }
    };
    // The gallery's "Train on this task": replace any run under way with the new task.
    let on_train = Callback::new(move |_| {
        if lab.is_active() {
            lab.reset();
        }
        let fitted = form.fit_batch();
        to_lab();
        lab.start();
        if let (Some(b), true) = (fitted, lab.is_active()) {
            lab.message.set(Some(format!("Batch reduced to {b} so this task fits the memory budget.")));
        }
    });

    let status = lab.status;
    let history = lab.history;
    let loss_series = Signal::derive(move || {
        history.with(|h: &History| {
            vec![Series {
                name: "training loss".into(),
                color: "#d1495b",
                points: downsample(&h.loss, CHART_POINTS),
            }]
        })
    });
    let regression = Signal::derive(move || history.with(|h| h.regression));
    let metric_series = Signal::derive(move || {
        history.with(|h: &History| {
            if h.regression {
                vec![Series {
                    name: "held-out MSE".into(),
                    color: "#00798c",
                    points: downsample(&h.eval_mse, CHART_POINTS),
                }]
            } else {
                vec![
                    Series {
                        name: "training batch".into(),
                        color: "#66a182",
                        points: downsample(&h.accuracy, CHART_POINTS),
                    },
                    Series {
                        name: "held-out".into(),
                        color: "#00798c",
                        points: downsample(&h.eval_accuracy, CHART_POINTS),
                    },
                    Series {
                        name: "held-out exact match".into(),
                        color: "#edae49",
                        points: downsample(&h.eval_exact, CHART_POINTS),
                    },
                ]
            }
        })
    });
    let task_title = move || crate::tasks::find(&form.task.get()).map(|i| i.title).unwrap_or("?");

    view! {
        <header class="topbar" style:display=hidden.display("topbar", "") data-link-ms=gate_ms>
            <h1>"interlab"</h1>
            <nav class="tabs">
                <button data-testid="nav-lab" class:active=move || page.get() == Page::Lab on:click=move |_| to_lab()>"Sequence lab"</button>
                <button data-testid="nav-gallery" class:active=move || page.get() == Page::Gallery
                    on:click=move |_| { page.set(Page::Gallery); gallery_state.write_url(); }>"Task gallery"</button>
                <button data-testid="nav-experiments" class:active=move || page.get() == Page::Experiments
                    on:click=move |_| { page.set(Page::Experiments); exp_state.write_url(&form); }>"Experiments"</button>
                <button data-testid="nav-results" class:active=move || page.get() == Page::Results
                    on:click=move |_| { page.set(Page::Results); let _ = crate::browser::url::replace_query(&[("page".into(), "results".into())]); }>"Study results"</button>
            </nav>
            <span class="tagline">{move || format!("{} · {}", task_title(), controls::model_title(&form.model.get()))}</span>
            <share::CopyLink backend=Signal::derive(move || status.with(|s| s.backend))/>
            <span class="version">{format!("v{}", crate::VERSION)}</span>
        </header>
        {hidden.embed.then(|| view! { <share::OpenFull/> })}
        <main class="layout" class:nosidebar=hidden.hides("controls") && hidden.hides("gpu") style:display=move || if page.get() == Page::Lab { "grid" } else { "none" }
            on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default()
            on:drop=move |ev: leptos::ev::DragEvent| {
                // A run bundle or weights dropped on the lab opens like "Open weights or run".
                ev.prevent_default();
                crate::browser::spawn(async move {
                    match crate::browser::read_dropped_file(&ev).await {
                        Ok(Some((name, bytes))) => lab.load_checkpoint(&name, bytes),
                        Ok(None) => {}
                        Err(e) => lab.message.set(Some(e)),
                    }
                });
            }>
            <aside class="sidebar" style:display=if hidden.hides("controls") && hidden.hides("gpu") { "none" } else { "" }>
                <div style:display=hidden.display("controls", "")><controls::ConfigForm lab=lab/></div>
                <div style:display=hidden.display("gpu", "")><gpu_panel::GpuPanel state=gpu/></div>
            </aside>
            <section class="content">
                <div style:display=hidden.display("runbar", "")><run::RunBar lab=lab/></div>
                <div class="charts" style:display=hidden.display("charts", "")>
                    <LineChart title="Loss" x_label="step" y_label="training loss" series=loss_series testid="loss-chart"/>
                    <Show when=move || !regression.get() fallback=move || view! {
                        <LineChart title="Held-out error" x_label="step" y_label="mean squared error" series=metric_series testid="mse-chart"/>
                    }>
                        <LineChart title="Accuracy on scored targets" x_label="step" y_label="accuracy (fraction)" series=metric_series
                            y_range=(0.0, 1.0) testid="accuracy-chart"/>
                    </Show>
                </div>
                <div style:display=hidden.display("views", "")><views::Views lab=lab/></div>
                <div style:display=hidden.display("steer", "")><steering::SteerPanel lab=lab state=steer_state/></div>
                <details class="automation" style:display=hidden.display("status", "")>
                    <summary>"Machine-readable status"</summary>
                    <pre data-testid="run-status">{move || status.with(RunStatus::to_json)}</pre>
                </details>
            </section>
        </main>
        <main class="gallery-page" style:display=move || if page.get() == Page::Gallery { "block" } else { "none" }>
            <gallery::Gallery lab=lab state=gallery_state on_train=on_train/>
        </main>
        <main class="experiments-page" style:display=move || if page.get() == Page::Experiments { "block" } else { "none" }>
            <experiments::Experiments state=exp_state form=form/>
        </main>
        <main class="results-page" style:display=move || if page.get() == Page::Results { "block" } else { "none" }>
            <results::Results/>
        </main>
    }
    .into_any()
}

/// The backend a run shows until its worker has decided (`engine::backend::choose`).
pub(crate) const TRAINING_BACKEND: Backend = Backend::Cpu;
