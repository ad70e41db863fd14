//! The steering panel ("Steering & interpretability" under the lab's charts): pick a site and
//! two input sets, build the concept direction, steer one example live with a scale slider,
//! sweep the scale against random directions, probe every site × position, patch every
//! site × position and head. Requests run in the training worker on the run's current weights
//! (`engine::steering`); the spec lives in the link (`st_*` keys, `steer=<op>` runs that
//! analysis once the linked run has trained). The reports are drawn by `steer_views`.

use leptos::prelude::*;

use super::run::Lab;
use super::steer_views;
use crate::browser;
use crate::engine::flagship::{self, FlagshipConfig};
use crate::engine::steering::{
    self, DirectionReport, ExampleReport, Op, PatchReport, ProbeReport, SteerOutcome, SteerReply,
    SteerRequest, SteerSpec, SweepReport,
};
use crate::engine::RunState;

#[derive(Clone, Copy)]
pub struct SteerState {
    pub spec: RwSignal<SteerSpec>,
    pub open: RwSignal<bool>,
    /// The request under way, if any.
    pub busy: RwSignal<Option<Op>>,
    pub error: RwSignal<Option<String>>,
    pub direction: RwSignal<Option<DirectionReport>>,
    pub example: RwSignal<Option<ExampleReport>>,
    pub sweep: RwSignal<Option<SweepReport>>,
    pub probe: RwSignal<Option<ProbeReport>>,
    pub patch: RwSignal<Option<PatchReport>>,
    /// A saved direction (file name, JSON) used instead of sets A and B.
    pub loaded: RwSignal<Option<(String, String)>>,
    /// The training step the last result was computed at.
    pub at_step: RwSignal<usize>,
    /// Run once the linked run is trained (`steer=<op>`).
    pending: StoredValue<Option<Op>, LocalStorage>,
    /// The latest request asked for while another ran (e.g. the slider moved on).
    queued: StoredValue<Option<Op>, LocalStorage>,
}

impl SteerState {
    /// The spec from a link's `st_*` keys over the task's defaults; `steer=<op>` opens the
    /// panel and runs `op` when the run is done.
    pub fn from_query(query: &[(String, String)], task: &str) -> Self {
        let op = query.iter().rev().find(|(k, _)| k == "steer").map(|(_, v)| v.clone());
        let pending = op.as_deref().and_then(Op::parse);
        SteerState {
            spec: RwSignal::new(SteerSpec::from_pairs(task, query)),
            open: RwSignal::new(op.is_some()),
            busy: RwSignal::new(None),
            error: RwSignal::new(match op.as_deref() {
                Some(o) if o != "open" && Op::parse(o).is_none() => {
                    Some(format!("steer: '{o}' is not one of open, direction, example, sweep, probe, patch"))
                }
                _ => None,
            }),
            direction: RwSignal::new(None),
            example: RwSignal::new(None),
            sweep: RwSignal::new(None),
            probe: RwSignal::new(None),
            patch: RwSignal::new(None),
            loaded: RwSignal::new(None),
            at_step: RwSignal::new(0),
            pending: StoredValue::new_local(pending),
            queued: StoredValue::new_local(None),
        }
    }

    /// Ask the worker for `op` (or queue it behind the request under way).
    pub fn send(&self, lab: &Lab, op: Op) {
        if let Err(e) = self.spec.with_untracked(SteerSpec::parse) {
            return self.error.set(Some(e));
        }
        if self.busy.get_untracked().is_some() {
            self.queued.set_value(Some(op));
            return;
        }
        let request = SteerRequest {
            op,
            spec: self.spec.get_untracked(),
            direction: self.loaded.get_untracked().map(|(_, j)| j),
        };
        if lab.steer(request) {
            self.busy.set(Some(op));
            self.error.set(None);
        } else {
            self.error.set(Some("Train or load a model first: steering works on the run's weights.".into()));
        }
    }

    fn receive(&self, lab: &Lab, o: SteerOutcome) {
        self.busy.set(None);
        self.at_step.set(lab.status.get_untracked().step);
        if let Some(d) = o.direction {
            self.direction.set(Some(d));
        }
        match o.reply {
            Err(e) => self.error.set(Some(format!("{}: {e}", o.op.name()))),
            Ok(reply) => {
                self.error.set(None);
                match reply {
                    SteerReply::Direction(_) => {}
                    SteerReply::Example(e) => self.example.set(Some(e)),
                    SteerReply::Sweep(s) => self.sweep.set(Some(s)),
                    SteerReply::Probe(p) => self.probe.set(Some(p)),
                    SteerReply::Patch(p) => self.patch.set(Some(p)),
                }
                if o.op != Op::Example {
                    self.write_url(lab, o.op);
                }
            }
        }
        if let Some(next) = self.queued.try_update_value(Option::take).flatten() {
            self.send(lab, next);
        }
    }

    /// Put the spec (what differs from the task's defaults) and the last analysis in the link.
    fn write_url(&self, lab: &Lab, op: Op) {
        let base = SteerSpec::from_pairs(&lab.form.task.get_untracked(), &[]);
        let mut pairs: Vec<(String, String)> = browser::url::query_pairs()
            .into_iter()
            .filter(|(k, _)| k != "steer" && !k.starts_with(crate::core::share::APP_PREFIX))
            .collect();
        pairs.extend(self.spec.with_untracked(|s| s.to_pairs(&base)));
        pairs.push(("steer".into(), op.name().into()));
        let _ = browser::url::replace_query(&pairs);
    }

    /// The flagship preset: train Copy-or-Reverse, then sweep its task direction.
    fn flagship(&self, lab: &Lab) {
        if lab.is_active() {
            lab.reset();
        }
        let cfg = FlagshipConfig::default();
        lab.form.set_task("copy_reverse", &flagship::train_config(cfg.steps, cfg.seed).task_params);
        lab.form.show(&flagship::train_config(cfg.steps, cfg.seed));
        self.spec.set(flagship::spec(&cfg));
        self.loaded.set(None);
        self.pending.set_value(Some(Op::Sweep));
        self.open.set(true);
        lab.start();
    }
}

/// One text field of the spec.
fn text(state: SteerState, key: &'static str, label: &'static str, help: &'static str) -> impl IntoView {
    let id = format!("steer-{}", key.trim_start_matches("st_"));
    view! {
        <label class="steer-field" title=help>
            <span>{label}</span>
            <input type="text" data-testid=id.clone() id=id prop:value=move || state.spec.with(|s| s.get(key).cloned().unwrap_or_default())
                on:input=move |ev| state.spec.update(|s| if let Some(f) = s.get_mut(key) { *f = event_target_value(&ev) })/>
        </label>
    }
}

/// One choice of the spec.
fn choice(
    state: SteerState,
    key: &'static str,
    label: &'static str,
    options: Signal<Vec<(String, String)>>,
) -> impl IntoView {
    let id = format!("steer-{}", key.trim_start_matches("st_"));
    let current = move || state.spec.with(|s| s.get(key).cloned().unwrap_or_default());
    view! {
        <label class="steer-field">
            <span>{label}</span>
            <select data-testid=id.clone() id=id on:change=move |ev| state.spec.update(|s| if let Some(f) = s.get_mut(key) { *f = event_target_value(&ev) })>
                {move || options.get().into_iter().map(|(v, text)| { let sel = v == current(); view! { <option value=v.clone() selected=sel>{text}</option> } }).collect_view()}
            </select>
        </label>
    }
}

fn fixed(opts: &[(&str, &str)]) -> Signal<Vec<(String, String)>> {
    let v: Vec<(String, String)> = opts.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    Signal::derive(move || v.clone())
}

#[component]
pub fn SteerPanel(lab: Lab, state: SteerState) -> impl IntoView {
    // Results arrive through the lab; a linked analysis runs once its run is trained.
    Effect::new(move |_| {
        if let Some(o) = lab.steer.get() {
            state.receive(&lab, o);
        }
    });
    Effect::new(move |_| {
        if lab.status.with(|s| s.state) == RunState::Done {
            if let Some(op) = state.pending.try_update_value(Option::take).flatten() {
                state.send(&lab, op);
            }
        }
    });
    let sites = Signal::derive(move || {
        let names = lab.form.parse().map(|(cfg, _)| steering::site_names(&cfg)).unwrap_or_default();
        names.into_iter().map(|n| (n.clone(), n)).collect::<Vec<_>>()
    });
    let busy = move || state.busy.get().is_some();
    let act = move |op: Op| move |_| state.send(&lab, op);
    let progress = move || {
        let p = lab.steer_progress.get();
        match (state.busy.get(), p) {
            (Some(_), Some(p)) => format!("{} ({} of {})…", p.what, p.done + 1, p.total),
            (Some(op), None) => format!("{}…", op.name()),
            _ => String::new(),
        }
    };
    let on_file = move |ev: leptos::ev::Event| {
        browser::spawn(async move {
            match browser::read_chosen_file(&ev).await {
                Ok(Some((name, bytes))) => {
                    state.loaded.set(Some((name, String::from_utf8_lossy(&bytes).into_owned())));
                    state.send(&lab, Op::Direction);
                }
                Ok(None) => {}
                Err(e) => state.error.set(Some(e)),
            }
        })
    };
    view! {
        <details class="panel steering" data-testid="steering" prop:open=move || state.open.get()
            on:toggle=move |ev| state.open.set(browser::details_open(&ev))>
            <summary>"Steering & interpretability"</summary>
            <p class="muted">"Build a concept direction — mean activation on set A minus mean on set B at a site — then add it to set B's held-out inputs at a scale, against random directions of the same norm; probe every site and position for A-vs-B; patch each site and position of B (corrupted) from A (clean). Sets: "
                <code>"mode=reverse"</code>" (the run's task with parameters changed), "<code>"task=NAME, key=value"</code>", or "<code>"tokens: 3 4 5 | 6 7 8"</code>"."</p>
            <div class="steer-form">
                {choice(state, "st_site", "site", sites)}
                {text(state, "st_pos", "positions", "where the direction is measured and added: all, lastK, P, or A..B")}
                {text(state, "st_a", "set A", "the concept's inputs: key=value over the run's task, task=NAME, or tokens: …")}
                {text(state, "st_b", "set B", "the baseline's inputs (steered, and patched as the corrupted run)")}
                {text(state, "st_n", "sequences per set", "2..=1024")}
                {text(state, "st_seed", "seed", "set A is drawn with it, set B with seed + 1, the held-out sets with seed + 1000003")}
                {choice(state, "st_method", "direction", fixed(&[("mean", "difference of means"), ("pc1", "PC1 of paired differences")]))}
                {choice(state, "st_unit", "scale unit", fixed(&[("norm", "typical activation norm"), ("direction", "the direction as measured")]))}
                {text(state, "st_scales", "scales", "comma-separated multiples of the unit")}
                {text(state, "st_random", "random directions", "at least 20, of the direction's norm")}
                {choice(state, "st_metric", "effect", fixed(&[("toward_a", "answers as set A's task (flip rate)"), ("changed", "prediction changed")]))}
                {choice(state, "st_labels", "probe labels", fixed(&[("sets", "set A vs set B"), ("random", "random (control)")]))}
            </div>
            <div class="steer-actions">
                <button data-testid="steer-direction" disabled=busy on:click=act(Op::Direction)>"Build direction"</button>
                <button data-testid="steer-sweep" disabled=busy on:click=act(Op::Sweep)>"Sweep scale"</button>
                <button data-testid="steer-probe" disabled=busy on:click=act(Op::Probe)>"Probe"</button>
                <button data-testid="steer-patch" disabled=busy on:click=act(Op::Patch)>"Patch"</button>
                <button data-testid="steer-flagship" disabled=busy on:click=move |_| state.flagship(&lab)
                    title="train Copy-or-Reverse (a task token picks the task), then sweep its task direction">"Flagship: copy → reverse"</button>
                <label class="button" title="use a direction saved from this model">"Load direction"
                    <input type="file" accept=".json" data-testid="steer-load-direction" class="hidden-file" on:change=on_file/>
                </label>
                <Show when=move || state.loaded.with(Option::is_some)>
                    <span class="muted">{move || state.loaded.with(|l| l.as_ref().map(|(n, _)| format!("using {n}")))}</span>
                    <button on:click=move |_| state.loaded.set(None)>"Use sets A and B"</button>
                </Show>
            </div>
            <p class="muted" data-testid="steer-progress" aria-live="polite">{progress}</p>
            <Show when=move || state.error.with(Option::is_some)>
                <p class="error" role="alert" data-testid="steer-error">{move || state.error.get().unwrap_or_default()}</p>
            </Show>
            {steer_views::direction(lab, state)}
            {steer_views::example(lab, state)}
            {steer_views::sweep(lab, state)}
            {steer_views::probe(lab, state)}
            {steer_views::patch(lab, state)}
        </details>
    }
}
