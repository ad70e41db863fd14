//! The configuration form, generated from `core::config::FIELDS`: one input per row, its
//! unit/help text, and the inline error for that field.

use leptos::prelude::*;

use super::run::Lab;
use crate::core::config::{format_field, FIELDS};
use crate::core::{ConfigError, FieldError, TrainConfig};

/// The text in each input (kept as typed, so a bad value stays visible beside its error)
/// and the current errors.
#[derive(Clone, Copy)]
pub struct FormState {
    pub texts: RwSignal<Vec<String>>,
    pub errors: RwSignal<Vec<FieldError>>,
}

impl FormState {
    /// Start from the defaults overridden by the URL's config keys; bad URL values are kept
    /// in their inputs and reported.
    pub fn from_query(query: &[(String, String)]) -> Self {
        let defaults = TrainConfig::default();
        let texts: Vec<String> = FIELDS
            .iter()
            .map(|f| query.iter().rev().find(|(k, _)| k == f.key).map(|(_, v)| v.clone()).unwrap_or_else(|| format_field(f, &defaults)))
            .collect();
        let state = FormState { texts: RwSignal::new(texts), errors: RwSignal::new(Vec::new()) };
        if let Err(e) = state.parse() {
            state.errors.set(e.errors);
        }
        state
    }

    /// Parse and validate the form through the shared table.
    pub fn parse(&self) -> Result<TrainConfig, ConfigError> {
        let texts = self.texts.get_untracked();
        TrainConfig::from_pairs(FIELDS.iter().zip(texts.iter()).map(|(f, t)| (f.key, t.as_str())))
    }

    /// Show a parsed config in the inputs.
    pub fn show(&self, cfg: &TrainConfig) {
        self.texts.set(FIELDS.iter().map(|f| format_field(f, cfg)).collect());
    }
}

#[component]
pub fn ConfigForm(lab: Lab) -> impl IntoView {
    let form = lab.form;
    let running = lab.is_running();
    let rows = FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let key = f.key;
            let err = move || form.errors.with(|es| es.iter().find(|e| e.field == key).map(|e| e.message.clone()));
            let id = format!("cfg-{key}");
            view! {
                <div class="field" class:invalid=move || err().is_some()>
                    <label for=id.clone()>{f.label}</label>
                    <input id=id type="text" inputmode="decimal" data-testid=format!("cfg-{key}")
                        prop:value=move || form.texts.with(|t| t[i].clone())
                        disabled=move || running.get()
                        aria-invalid=move || if err().is_some() { "true" } else { "false" }
                        on:input=move |ev| {
                            let v = event_target_value(&ev);
                            form.texts.update(|t| t[i] = v);
                            form.errors.set(match form.parse() { Ok(_) => Vec::new(), Err(e) => e.errors });
                        }/>
                    <small class="help">{f.help}</small>
                    <Show when=move || err().is_some()>
                        <small class="error" role="alert" data-testid=format!("error-{key}")>{move || err().unwrap_or_default()}</small>
                    </Show>
                </div>
            }
        })
        .collect_view();
    let estimate = move || match form.parse() {
        Ok(cfg) => format!(
            "{} parameters · ~{} MiB of {} MiB budget",
            cfg.param_count(),
            cfg.estimated_bytes().div_ceil(1024 * 1024),
            crate::core::config::MEMORY_BUDGET_BYTES / (1024 * 1024)
        ),
        Err(e) => format!("{} field(s) need attention", e.errors.len()),
    };
    view! {
        <form class="config" on:submit=|ev| ev.prevent_default()>
            <h2>"Run configuration"</h2>
            {rows}
            <p class="estimate" data-testid="estimate">{move || { form.texts.track(); estimate() }}</p>
        </form>
    }
}
