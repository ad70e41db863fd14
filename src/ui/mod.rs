//! The Leptos app: shell, pages and widgets. Components only wire signals to the plain
//! types below them (`engine::Trainer`, `engine::history`, `core::config::FIELDS`).
//! Imports everything; imported by nothing.

mod chart;
mod controls;
mod experiments;
mod field;
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

impl Page {
    /// The page a link opens (`page=gallery|experiments|results`; the lab otherwise).
    fn from_query(query: &[(String, String)]) -> Self {
        let is = |name: &str| query.iter().any(|(k, v)| k == "page" && v == name);
        if is("gallery") {
            Page::Gallery
        } else if is("experiments") {
            Page::Experiments
        } else if is("results") {
            Page::Results
        } else {
            Page::Lab
        }
    }
}

/// The page's link after the gate, with what the app must say about it.
struct Opening {
    /// The link's pairs (empty when the gate refused it).
    query: Vec<(String, String)>,
    /// Warnings about the link, or why it was refused.
    notes: Vec<String>,
    /// How long the gate took, in ms (`data-link-ms` on the top bar: the hostile-link test reads it).
    gate_ms: String,
}

impl Opening {
    /// Every link passes the gate first (`core::share::decode`, through `browser::url`): sizes
    /// capped, a compressed link expanded, app keys checked. A refused link opens the default
    /// lab and says why.
    fn read() -> Self {
        let gate_start = crate::browser::now_ms();
        let (query, note) = match crate::browser::url::read_link() {
            Ok(link) => (link.pairs, (!link.warnings.is_empty()).then(|| link.warnings.join(" "))),
            Err(e) => (Vec::new(), Some(format!("{e}. The default lab opened instead."))),
        };
        let gate_ms = format!("{:.2}", crate::browser::now_ms() - gate_start);
        Opening { query, notes: note.into_iter().collect(), gate_ms }
    }

    /// The last value of `key`, if the link has one.
    fn last(&self, key: &str) -> Option<&str> {
        self.query.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The run environment the link asks for (`budget`, `backend`, `lose_gpu_at`); a bad
    /// value is noted and its default kept. In force before the form validates.
    fn run_env(&mut self) -> RunEnv {
        let mut env = RunEnv::default();
        if let Some(v) = self.last("budget") {
            match crate::core::config::parse_budget_mib(v) {
                Ok(mib) => env = env.with_budget_mib(mib),
                Err(e) => self.notes.push(format!("budget: {}", e.message)),
            }
        }
        if let Some(v) = self.last("backend") {
            match BackendPref::parse(v) {
                Ok(p) => env.backend = p,
                Err(e) => self.notes.push(format!("backend: {e}")),
            }
        }
        if let Some(v) = self.last("lose_gpu_at") {
            match v.parse::<usize>() {
                Ok(n) => env.lose_gpu_at = Some(n).filter(|&n| n > 0),
                Err(_) => self.notes.push(format!("lose_gpu_at: '{v}' is not a step number")),
            }
        }
        env
    }
}

/// The state of every page, built from the link (each page reads only its own link).
#[derive(Clone, Copy)]
struct Pages {
    page: RwSignal<Page>,
    form: controls::FormState,
    lab: run::Lab,
    steer: steering::SteerState,
    gallery: gallery::GalleryState,
    experiments: experiments::ExperimentState,
}

impl Pages {
    fn from_opening(o: &Opening, env: RunEnv) -> Self {
        let page = Page::from_query(&o.query);
        let only = |p: Page| if page == p { &o.query[..] } else { &[] };
        let form = controls::FormState::from_query(if page == Page::Gallery { &[] } else { &o.query }, env);
        let lab = run::Lab::new(form);
        // The views' state from the link (`views=1`, `vseed=N`), before they are drawn.
        lab.views_open.set(matches!(o.last("views"), Some("1" | "true")));
        if let Some(seed) = o.last("vseed").and_then(|v| v.trim().parse::<u64>().ok()) {
            lab.view_seed.set(seed);
        }
        let task = form.task.get_untracked();
        let steer_query =
            if matches!(page, Page::Gallery | Page::Experiments) { &[][..] } else { &o.query[..] };
        Pages {
            page: RwSignal::new(page),
            form,
            lab,
            steer: steering::SteerState::from_query(steer_query, &task),
            gallery: gallery::GalleryState::from_query(only(Page::Gallery), &task),
            experiments: experiments::ExperimentState::from_query(only(Page::Experiments), form.env),
        }
    }

    /// Show the lab, with the form's run in the address bar.
    fn to_lab(self) {
        self.page.set(Page::Lab);
        if let Ok((cfg, plan)) = self.form.parse() {
            let _ = crate::browser::url::replace_query(&plan.share_pairs(&cfg));
        }
    }

    /// The gallery's "Train on this task": replace any run under way with the new task.
    fn train_from_gallery(self) {
        let lab = self.lab;
        if lab.is_active() {
            lab.reset();
        }
        let fitted = self.form.fit_batch();
        self.to_lab();
        lab.start();
        if let (Some(b), true) = (fitted, lab.is_active()) {
            lab.message.set(Some(format!("Batch reduced to {b} so this task fits the memory budget.")));
        }
    }
}

#[component]
fn App() -> impl IntoView {
    let mut opening = Opening::read();
    // A study participant sees only the study (no lab, no training worker).
    if opening.query.iter().any(|(k, v)| k == "page" && v == "study") {
        return view! { <study::StudyPage/> }.into_any();
    }
    let env = opening.run_env();
    let pages = Pages::from_opening(&opening, env);
    let autorun = matches!(opening.last("autorun"), Some("1" | "true"));
    match pages.page.get_untracked() {
        Page::Experiments if autorun => {
            pages.experiments.start(&pages.form);
        }
        Page::Gallery => {}
        _ if autorun => {
            pages.lab.start();
        }
        _ => {}
    }
    // After any autorun start (which clears the notice).
    if !opening.notes.is_empty() {
        pages.lab.message.set(Some(opening.notes.join("; ")));
    }
    let hidden = share::Hidden::from_query(&opening.query);
    let page = pages.page;
    let shown = move |p: Page| move || if page.get() == p { "block" } else { "none" };
    view! {
        <TopBar pages=pages hidden=hidden.clone() gate_ms=opening.gate_ms/>
        {hidden.embed.then(|| view! { <share::OpenFull/> })}
        <LabPage lab=pages.lab steer=pages.steer hidden=hidden shown=Signal::derive(move || page.get() == Page::Lab)/>
        <main class="gallery-page" style:display=shown(Page::Gallery)>
            <gallery::Gallery lab=pages.lab state=pages.gallery on_train=Callback::new(move |_| pages.train_from_gallery())/>
        </main>
        <main class="experiments-page" style:display=shown(Page::Experiments)>
            <experiments::Experiments state=pages.experiments form=pages.form/>
        </main>
        <main class="results-page" style:display=shown(Page::Results)>
            <results::Results/>
        </main>
    }
    .into_any()
}

/// The top bar: the page tabs (each writes its page's state into the address bar), the task
/// and model in words, "Copy link" and the version.
#[component]
fn TopBar(pages: Pages, hidden: share::Hidden, gate_ms: String) -> impl IntoView {
    let (page, form, status) = (pages.page, pages.form, pages.lab.status);
    let task_title = move || crate::tasks::find(&form.task.get()).map(|i| i.title).unwrap_or("?");
    let on = move |p: Page| move || page.get() == p;
    view! {
        <header class="topbar" style:display=hidden.display("topbar", "") data-link-ms=gate_ms>
            <h1>"interlab"</h1>
            <nav class="tabs">
                <button data-testid="nav-lab" class:active=on(Page::Lab) on:click=move |_| pages.to_lab()>"Sequence lab"</button>
                <button data-testid="nav-gallery" class:active=on(Page::Gallery)
                    on:click=move |_| { page.set(Page::Gallery); pages.gallery.write_url(); }>"Task gallery"</button>
                <button data-testid="nav-experiments" class:active=on(Page::Experiments)
                    on:click=move |_| { page.set(Page::Experiments); pages.experiments.write_url(&form); }>"Experiments"</button>
                <button data-testid="nav-results" class:active=on(Page::Results)
                    on:click=move |_| { page.set(Page::Results); let _ = crate::browser::url::replace_query(&[("page".into(), "results".into())]); }>"Study results"</button>
            </nav>
            <span class="tagline">{move || format!("{} · {}", task_title(), controls::model_title(&form.model.get()))}</span>
            <share::CopyLink backend=Signal::derive(move || status.with(|s| s.backend))/>
            <span class="version">{format!("v{}", crate::VERSION)}</span>
        </header>
    }
}

/// The lab page: the form and GPU panel beside the run bar, charts, model views, steering
/// and the machine-readable status; a checkpoint or run bundle dropped on it opens.
#[component]
fn LabPage(
    lab: run::Lab,
    steer: steering::SteerState,
    hidden: share::Hidden,
    shown: Signal<bool>,
) -> impl IntoView {
    let gpu = gpu_panel::GpuState::detect();
    let status = lab.status;
    let no_sidebar = hidden.hides("controls") && hidden.hides("gpu");
    view! {
        <main class="layout" class:nosidebar=no_sidebar style:display=move || if shown.get() { "grid" } else { "none" }
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
            <aside class="sidebar" style:display=if no_sidebar { "none" } else { "" }>
                <div style:display=hidden.display("controls", "")><controls::ConfigForm lab=lab/></div>
                <div style:display=hidden.display("gpu", "")><gpu_panel::GpuPanel state=gpu/></div>
            </aside>
            <section class="content">
                <div style:display=hidden.display("runbar", "")><run::RunBar lab=lab/></div>
                <div class="charts" style:display=hidden.display("charts", "")><RunCharts history=lab.history/></div>
                <div style:display=hidden.display("views", "")><views::Views lab=lab/></div>
                <div style:display=hidden.display("steer", "")><steering::SteerPanel lab=lab state=steer/></div>
                <details class="automation" style:display=hidden.display("status", "")>
                    <summary>"Machine-readable status"</summary>
                    <pre data-testid="run-status">{move || status.with(RunStatus::to_json)}</pre>
                </details>
            </section>
        </main>
    }
}

/// The run's curves: training loss, and accuracy (classification) or held-out error
/// (regression).
#[component]
fn RunCharts(history: RwSignal<History>) -> impl IntoView {
    let line = |name: &str, color: &'static str, points: &[(f64, f64)]| Series {
        name: name.into(),
        color,
        points: downsample(points, CHART_POINTS),
    };
    let loss_series =
        Signal::derive(move || history.with(|h| vec![line("training loss", "#d1495b", &h.loss)]));
    let regression = Signal::derive(move || history.with(|h| h.regression));
    let metric_series = Signal::derive(move || {
        history.with(|h: &History| {
            if h.regression {
                vec![line("held-out MSE", "#00798c", &h.eval_mse)]
            } else {
                vec![
                    line("training batch", "#66a182", &h.accuracy),
                    line("held-out", "#00798c", &h.eval_accuracy),
                    line("held-out exact match", "#edae49", &h.eval_exact),
                ]
            }
        })
    });
    view! {
        <LineChart title="Loss" x_label="step" y_label="training loss" series=loss_series testid="loss-chart"/>
        <Show when=move || !regression.get() fallback=move || view! {
            <LineChart title="Held-out error" x_label="step" y_label="mean squared error" series=metric_series testid="mse-chart"/>
        }>
            <LineChart title="Accuracy on scored targets" x_label="step" y_label="accuracy (fraction)" series=metric_series
                y_range=(0.0, 1.0) testid="accuracy-chart"/>
        </Show>
    }
}

/// The backend a run shows until its worker has decided (`engine::backend::choose`).
pub(crate) const TRAINING_BACKEND: Backend = Backend::Cpu;
