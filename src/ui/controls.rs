//! The run form: a task picker, the chosen task's parameters (from its `ParamSpec` table),
//! then the model/optimiser fields (from `core::config::FIELDS`). Every input shows its help
//! text and, when invalid, the error for that key; the whole form is checked by
//! `engine::plan`, so a bad task setting or an over-budget run is named before it starts.

use leptos::prelude::*;

use super::run::Lab;
use crate::core::config::{format_field, DEFAULT_TASK, FIELDS, MIXER_NAMES, MODEL_NAMES};
use crate::core::{ConfigError, FieldError, TrainConfig};
use crate::engine::{plan, Plan, RunEnv};
use crate::tasks::{self, ParamKind, ParamSpec};

/// The text in each input (kept as typed, so a bad value stays visible beside its error)
/// and the current errors.
#[derive(Clone, Copy)]
pub struct FormState {
    pub task: RwSignal<String>,
    /// `(key, text)` for the task's parameters, in its table's order.
    pub task_texts: RwSignal<Vec<(String, String)>>,
    /// Model family and the per-layer mixer list, as typed.
    pub model: RwSignal<String>,
    pub mixers: RwSignal<String>,
    /// Texts of the model fields, in `FIELDS` order.
    pub texts: RwSignal<Vec<String>>,
    pub errors: RwSignal<Vec<FieldError>>,
    /// The run environment from the link and the run bar (budget, backend preference).
    pub env: RwSignal<RunEnv>,
}

/// Default texts for a task's parameters, overridden by `given` where it has the key.
pub fn task_texts(task: &str, given: &[(String, String)]) -> Vec<(String, String)> {
    let Ok(info) = tasks::find(task) else { return Vec::new() };
    info.params
        .iter()
        .map(|p| {
            let text = given
                .iter()
                .rev()
                .find(|(k, _)| k == p.key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| p.format(p.default));
            (p.key.to_string(), text)
        })
        .collect()
}

impl FormState {
    /// Start from the defaults overridden by the URL; bad URL values are kept in their
    /// inputs and reported.
    pub fn from_query(query: &[(String, String)], env: RunEnv) -> Self {
        let defaults = TrainConfig::default();
        let task = query
            .iter()
            .rev()
            .find(|(k, _)| k == "task")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| DEFAULT_TASK.into());
        let texts: Vec<String> = FIELDS
            .iter()
            .map(|f| {
                query
                    .iter()
                    .rev()
                    .find(|(k, _)| k == f.key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| format_field(f, &defaults))
            })
            .collect();
        let text = |key: &str, default: &str| {
            query
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| default.into())
        };
        let state = FormState {
            model: RwSignal::new(text("model", &defaults.model)),
            mixers: RwSignal::new(text("mixers", &defaults.mixers)),
            task_texts: RwSignal::new(task_texts(&task, query)),
            task: RwSignal::new(task),
            texts: RwSignal::new(texts),
            errors: RwSignal::new(Vec::new()),
            env: RwSignal::new(env),
        };
        if let Err(e) = state.parse() {
            state.errors.set(e.errors);
        }
        state
    }

    /// Parse and check the whole form: model fields, task parameters, memory budget.
    pub fn parse(&self) -> Result<(TrainConfig, Plan), ConfigError> {
        let texts = self.texts.get_untracked();
        let task_texts = self.task_texts.get_untracked();
        let task = self.task.get_untracked();
        let (model, mixers) = (self.model.get_untracked(), self.mixers.get_untracked());
        let pairs = FIELDS
            .iter()
            .zip(texts.iter())
            .map(|(f, t)| (f.key, t.as_str()))
            .chain([("model", model.as_str()), ("mixers", mixers.as_str()), ("task", task.as_str())])
            .chain(task_texts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let cfg = match TrainConfig::from_pairs(pairs) {
            Ok(cfg) => cfg,
            Err(mut e) => {
                // Still check the task's parameters, so every bad field is marked at once.
                if let Err(te) = tasks::build(&task, task_texts.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                {
                    e.errors.extend(te.errors);
                }
                return Err(e);
            }
        };
        let p = plan(&cfg, &self.env.get_untracked())?;
        Ok((cfg, p))
    }

    /// Re-check after an edit and publish the errors.
    pub fn revalidate(&self) {
        self.errors.set(match self.parse() {
            Ok(_) => Vec::new(),
            Err(e) => e.errors,
        });
    }

    /// Switch to another task with the given parameter texts (missing ones at defaults).
    pub fn set_task(&self, task: &str, given: &[(String, String)]) {
        self.task.set(task.to_string());
        self.task_texts.set(task_texts(task, given));
        self.revalidate();
    }

    /// If the only problem is the memory budget, halve `batch` until the run fits; returns
    /// the new batch when that worked (the gallery's "Train on this task" uses this so a long
    /// task starts with a batch that fits instead of an error). When even batch 1 does not
    /// fit, the batch is left as it was and the budget error stays on the form.
    pub fn fit_batch(&self) -> Option<usize> {
        let i = FIELDS.iter().position(|f| f.key == "batch")?;
        let original = self.texts.with_untracked(|t| t[i].clone());
        let mut batch: usize = original.trim().parse().ok()?;
        let fits = loop {
            match self.parse() {
                Ok(_) => break true,
                Err(e) => {
                    let only_budget =
                        e.errors.iter().all(|f| f.field == "batch" && f.message.contains("budget"));
                    if !only_budget || batch <= 1 {
                        break false;
                    }
                    batch /= 2;
                    self.texts.update(|t| t[i] = batch.to_string());
                }
            }
        };
        let changed = self.texts.with_untracked(|t| t[i] != original);
        if changed && !fits {
            self.texts.update(|t| t[i] = original);
        }
        self.revalidate();
        (changed && fits).then_some(batch)
    }

    /// Show a parsed config in the inputs.
    pub fn show(&self, cfg: &TrainConfig) {
        self.model.set(cfg.model.clone());
        self.mixers.set(cfg.mixers.clone());
        self.texts.set(FIELDS.iter().map(|f| format_field(f, cfg)).collect());
    }
}

/// One labelled input with its help and error; `testid` is `cfg-<key>`.
fn field_row(
    key: &'static str,
    label: &'static str,
    help: String,
    value: Signal<String>,
    on_input: impl Fn(String) + 'static,
    errors: RwSignal<Vec<FieldError>>,
    disabled: Signal<bool>,
) -> impl IntoView {
    let err = move || errors.with(|es| es.iter().find(|e| e.field == key).map(|e| e.message.clone()));
    let id = format!("cfg-{key}");
    view! {
        <div class="field" class:invalid=move || err().is_some()>
            <label for=id.clone()>{label}</label>
            <input id=id type="text" data-testid=format!("cfg-{key}")
                prop:value=move || value.get()
                disabled=move || disabled.get()
                aria-invalid=move || if err().is_some() { "true" } else { "false" }
                on:input=move |ev| on_input(event_target_value(&ev))/>
            <small class="help">{help}</small>
            <Show when=move || err().is_some()>
                <small class="error" role="alert" data-testid=format!("error-{key}")>{move || err().unwrap_or_default()}</small>
            </Show>
        </div>
    }
}

/// The task picker, grouped by family; `testid` names the `<select>`.
pub fn task_select(
    testid: &'static str,
    value: Signal<String>,
    on_change: impl Fn(String) + 'static,
    disabled: Signal<bool>,
) -> impl IntoView {
    let groups = tasks::registry::FAMILIES
        .iter()
        .filter(|f| !f.is_empty())
        .map(|family| {
            let options = family
                .iter()
                .map(|info| view! { <option value=info.name selected=move || value.get() == info.name>{info.title}</option> })
                .collect_view();
            view! { <optgroup label=family[0].family>{options}</optgroup> }
        })
        .collect_view();
    view! {
        <select data-testid=testid prop:value=move || value.get() disabled=move || disabled.get()
            on:change=move |ev| on_change(event_target_value(&ev))>{groups}</select>
    }
}

/// Display name of a model family.
pub fn model_title(name: &str) -> &'static str {
    match name {
        "transformer" => "Transformer",
        "dlr" => "DLR (diagonal linear RNN)",
        "s4d" => "S4D (discretised DLR)",
        "mhssm" => "Multi-head SSM",
        "lstm" => "LSTM",
        "gru" => "GRU",
        _ => "?",
    }
}

/// A short description of a parameter's range for its help line.
pub fn range_hint(p: &ParamSpec) -> String {
    match p.kind {
        ParamKind::Choice(_) => format!("{} ({})", p.help, p.range_text()),
        _ => format!("{} [{}]", p.help, p.range_text()),
    }
}

#[component]
pub fn ConfigForm(lab: Lab) -> impl IntoView {
    let form = lab.form;
    let running = lab.is_running();
    let task_rows = move || {
        let task = form.task.get();
        let Ok(info) = tasks::find(&task) else { return ().into_any() };
        info.params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let value = Signal::derive(move || {
                    form.task_texts.with(|t| t.get(i).map(|x| x.1.clone()).unwrap_or_default())
                });
                field_row(
                    p.key,
                    p.label,
                    range_hint(p),
                    value,
                    move |v| {
                        form.task_texts.update(|t| {
                            if let Some(x) = t.get_mut(i) {
                                x.1 = v
                            }
                        });
                        form.revalidate();
                    },
                    form.errors,
                    running,
                )
            })
            .collect_view()
            .into_any()
    };
    let model_rows = FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let value = Signal::derive(move || form.texts.with(|t| t[i].clone()));
            field_row(
                f.key,
                f.label,
                f.help.to_string(),
                value,
                move |v| {
                    form.texts.update(|t| t[i] = v);
                    form.revalidate();
                },
                form.errors,
                running,
            )
        })
        .collect_view();
    let description = move || tasks::find(&form.task.get()).map(|i| i.description).unwrap_or("");
    let task_err =
        move || form.errors.with(|es| es.iter().find(|e| e.field == "task").map(|e| e.message.clone()));
    let model_err =
        move || form.errors.with(|es| es.iter().find(|e| e.field == "model").map(|e| e.message.clone()));
    let estimate = move || match form.parse() {
        Ok((cfg, p)) => format!(
            "{} parameters · ~{} MiB of {} MiB budget",
            cfg.param_count(p.dims),
            cfg.estimated_bytes(p.dims).div_ceil(1024 * 1024),
            form.env.with(RunEnv::budget_mib)
        ),
        Err(e) => format!("{} field(s) need attention", e.errors.len()),
    };
    view! {
        <form class="config" on:submit=|ev| ev.prevent_default()>
            <h2>"Task"</h2>
            <div class="field">
                <label for="cfg-task">"Task"</label>
                {task_select("cfg-task", form.task.into(), move |t| form.set_task(&t, &[]), running)}
                <small class="help">{description}</small>
                <Show when=move || task_err().is_some()>
                    <small class="error" role="alert" data-testid="error-task">{move || task_err().unwrap_or_default()}</small>
                </Show>
            </div>
            {task_rows}
            <h2>"Model and training"</h2>
            <div class="field">
                <label for="cfg-model">"Model"</label>
                <select id="cfg-model" data-testid="cfg-model" prop:value=move || form.model.get() disabled=move || running.get()
                    on:change=move |ev| { form.model.set(event_target_value(&ev)); form.revalidate(); }>
                    {MODEL_NAMES.iter().map(|m| view! { <option value=*m selected=move || form.model.get() == *m>{model_title(m)}</option> }).collect_view()}
                </select>
                <small class="help">"Transformer (per-layer mixers below), diagonal linear RNN, its discretised S4D variant, a multi-head SSM (one recurrence per head), or an LSTM / GRU"</small>
                <Show when=move || model_err().is_some()>
                    <small class="error" role="alert" data-testid="error-model">{move || model_err().unwrap_or_default()}</small>
                </Show>
            </div>
            {field_row(
                "mixers",
                "Mixers",
                format!("Transformer token mixer per layer, comma-separated; one name for all layers ({})", MIXER_NAMES.join(", ")),
                form.mixers.into(),
                move |v| { form.mixers.set(v); form.revalidate(); },
                form.errors,
                Signal::derive(move || running.get() || form.model.get() != "transformer"),
            )}
            {model_rows}
            <p class="estimate" data-testid="estimate">{move || { form.texts.track(); form.task_texts.track(); form.task.track(); form.model.track(); form.mixers.track(); estimate() }}</p>
        </form>
    }
}
