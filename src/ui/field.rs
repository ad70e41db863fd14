//! `Field`: one labelled text input with its help line and, when invalid, its error — the
//! one input row of the lab form (`controls`) and the task gallery (`gallery`). The error is a
//! signal the caller derives from its own validation; the field never tracks errors itself.

use leptos::prelude::*;

/// A labelled text input with help text and an error line.
///
/// The `<input>` gets `id`, `data-testid=testid` and `aria-invalid`; the error line (shown only
/// while `error` is `Some`) gets `data-testid=error_testid` and `role="alert"`, and the row the
/// class `invalid`.
#[component]
pub fn Field(
    /// The input's element id (the label points at it).
    #[prop(into)]
    id: String,
    /// The input's `data-testid`.
    #[prop(into)]
    testid: String,
    /// The error line's `data-testid`.
    #[prop(into)]
    error_testid: String,
    /// The label text.
    label: &'static str,
    /// The help line under the input (what the value means, its range).
    #[prop(into)]
    help: String,
    /// The text shown in the input (kept as typed, so a bad value stays beside its error).
    #[prop(into)]
    value: Signal<String>,
    /// Called with the new text on every edit.
    #[prop(into)]
    on_input: Callback<String>,
    /// Why the current text is invalid, or None.
    #[prop(into)]
    error: Signal<Option<String>>,
    /// Whether the input is read-only for now (e.g. while a run trains); default never.
    #[prop(into, default = false.into())]
    disabled: Signal<bool>,
) -> impl IntoView {
    let invalid = move || error.with(Option::is_some);
    view! {
        <div class="field" class:invalid=invalid>
            <label for=id.clone()>{label}</label>
            <input id=id type="text" data-testid=testid
                prop:value=move || value.get()
                disabled=move || disabled.get()
                aria-invalid=move || if invalid() { "true" } else { "false" }
                on:input=move |ev| on_input.run(event_target_value(&ev))/>
            <small class="help">{help}</small>
            <Show when=invalid>
                <small class="error" role="alert" data-testid=error_testid.clone()>{move || error.get().unwrap_or_default()}</small>
            </Show>
        </div>
    }
}

/// The message for `key` in a list of field errors (the first one), if any.
pub fn error_for(errors: &[crate::core::FieldError], key: &str) -> Option<String> {
    errors.iter().find(|e| e.field == key).map(|e| e.message.clone())
}
