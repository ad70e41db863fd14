//! One screen per trial type, and the completion screen. Each turns the participant's action
//! into events through `study::record` (the same builders the simulator uses) and hands them
//! to `StudyUi::finish`, which saves them before the next screen appears. Consent and
//! instruction text is rendered by `study::markdown` (all HTML escaped).
//!
//! Automation hooks (`data-testid`): `study-consent-text`, `study-agree`, `study-decline`,
//! `study-instructions`, `study-continue`, `study-prompt`, `study-advice` (two-choice advice),
//! `study-option-{i}` (two-choice options), `study-likert-{n}` (1-based), `study-choice-{i}`
//! (multiple choice and attention checks), `study-text` + `study-submit` (free text),
//! `study-trace` (trace view rows), `study-unsupported`; puzzles and attention editing name
//! theirs in `puzzle` and `attention_edit`; and on completion `study-code`,
//! `study-redirect`, `study-download-trials`, `study-download-events`, `study-download-json`.

use std::rc::Rc;

use leptos::prelude::*;

use super::session::Session;
use super::{Screen, StudyUi};
use crate::browser;
use crate::study::protocol::{AdvisorKind, TrialKind};
use crate::study::{markdown, record};

pub fn trial(ui: StudyUi, s: Rc<Session>, i: usize) -> impl IntoView {
    let pt = s.plan.trials[i].clone();
    let kind = pt.trial(&s.protocol).kind.clone();
    let busy = move || ui.saving.get();
    let next = ui.after(i);
    match kind {
        TrialKind::Consent => {
            let html = markdown::render(&s.protocol.consent);
            let (a, b) = (s.clone(), s.clone());
            let (pa, pb) = (pt.clone(), pt.clone());
            let next_a = next.clone();
            view! {
                <section class="trial consent">
                    <div class="markdown" data-testid="study-consent-text" inner_html=html></div>
                    <button data-testid="study-agree" disabled=busy on:click=move |_| ui.finish(record::consent(&pa, true, a.rt_ms(), a.t_ms()), next_a.clone())>"I agree to take part"</button>
                    <button data-testid="study-decline" disabled=busy on:click=move |_| ui.finish(record::consent(&pb, false, b.rt_ms(), b.t_ms()), Screen::Declined)>"I do not agree"</button>
                </section>
            }
            .into_any()
        }
        TrialKind::Instructions { pages } => {
            let html: String = pages
                .iter()
                .filter_map(|id| s.protocol.instructions.iter().find(|p| p.id == *id))
                .map(|p| markdown::render(&p.text))
                .collect();
            view! {
                <section class="trial instructions">
                    <div class="markdown" data-testid="study-instructions" inner_html=html></div>
                    <button data-testid="study-continue" disabled=busy on:click=move |_| ui.finish(record::answer(&pt, "instructions", "continue", s.rt_ms(), s.t_ms(), None, &[]), next.clone())>"Continue"</button>
                </section>
            }
            .into_any()
        }
        TrialKind::TwoChoice(tc) => {
            let kind = tc.advisor.resolve(&s.plan.assignment.levels()).unwrap_or(AdvisorKind::Neutral);
            let rec = record::recommendation(&tc, kind, pt.seed);
            let advice = format!("The advisor recommends: {}", tc.options[rec].label);
            let buttons = (0..tc.options.len())
                .map(|c| {
                    let (s, pt, tc, next) = (s.clone(), pt.clone(), tc.clone(), next.clone());
                    let label = tc.options[c].label.clone();
                    view! { <button data-testid=format!("study-option-{c}") disabled=busy on:click=move |_| ui.finish(record::two_choice(&pt, &tc, kind, rec, c, s.rt_ms(), s.t_ms()), next.clone())>{label}</button> }
                })
                .collect_view();
            view! {
                <section class="trial two-choice">
                    <p data-testid="study-prompt">{tc.prompt.clone()}</p>
                    <p class="advice" data-testid="study-advice">{advice}</p>
                    <div class="options">{buttons}</div>
                </section>
            }
            .into_any()
        }
        TrialKind::Likert { prompt, points, labels } => {
            let buttons = (1..=points)
                .map(|n| {
                    let (s, pt, next) = (s.clone(), pt.clone(), next.clone());
                    let label = labels.get(n as usize - 1).cloned().unwrap_or_else(|| n.to_string());
                    view! { <button data-testid=format!("study-likert-{n}") disabled=busy on:click=move |_| ui.finish(record::answer(&pt, "likert", &n.to_string(), s.rt_ms(), s.t_ms(), None, &[]), next.clone())>{label}</button> }
                })
                .collect_view();
            view! { <section class="trial likert"><p data-testid="study-prompt">{prompt}</p><div class="options">{buttons}</div></section> }.into_any()
        }
        TrialKind::MultipleChoice { prompt, options } => {
            choices(ui, s, pt, next, "multiple_choice", prompt, options, None).into_any()
        }
        TrialKind::AttentionCheck { prompt, options, correct } => {
            choices(ui, s, pt, next, "attention_check", prompt, options, Some(correct)).into_any()
        }
        TrialKind::FreeText { prompt, max_len } => {
            let text = RwSignal::new(String::new());
            view! {
                <section class="trial free-text">
                    <p data-testid="study-prompt">{prompt}</p>
                    <textarea data-testid="study-text" maxlength=max_len.to_string() prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                    <small class="muted">{move || format!("{} of {max_len} characters", text.with(|t| t.chars().count()))}</small>
                    <button data-testid="study-submit" disabled=busy on:click=move |_| {
                        let t: String = text.get_untracked().chars().take(max_len).collect();
                        ui.finish(record::answer(&pt, "free_text", &t, s.rt_ms(), s.t_ms(), None, &[]), next.clone())
                    }>"Submit"</button>
                </section>
            }
            .into_any()
        }
        TrialKind::TraceView => trace_view(ui, s, pt, next),
        TrialKind::Puzzle(z) => super::puzzle::screen(ui, s, pt, z, next),
        TrialKind::AttentionEdit(ae) => super::attention_edit::screen(ui, s, pt, ae, next),
    }
}

/// What the participant has done so far, one line per trial, then "Continue".
fn trace_view(ui: StudyUi, s: Rc<Session>, pt: crate::study::assign::PlannedTrial, next: Screen) -> AnyView {
    let busy = move || ui.saving.get();
    let rows = s.rows();
    let trials = crate::study::export::trial_rows(&rows);
    let col = |name: &str| crate::study::export::TRIAL_COLUMNS.iter().position(|c| *c == name).unwrap_or(0);
    let (ty, resp, rt) = (col("trial_type"), col("response"), col("rt_ms"));
    let shown = trials.len() as u64;
    let list = trials.into_iter().map(|r| view! { <li data-testid="study-trace">{format!("{}: {} ({} ms)", r[ty], if r[resp].is_empty() { "—" } else { &r[resp] }, r[rt])}</li> }).collect_view();
    view! {
        <section class="trial trace">
            <p>"What you have done so far in this study:"</p>
            <ol>{list}</ol>
            <button data-testid="study-continue" disabled=busy on:click=move |_| ui.finish(record::answer(&pt, "trace_view", "viewed", s.rt_ms(), s.t_ms(), None, &[("n_trials_shown", shown)]), next.clone())>"Continue"</button>
        </section>
    }
    .into_any()
}

#[allow(clippy::too_many_arguments)]
fn choices(
    ui: StudyUi,
    s: Rc<Session>,
    pt: crate::study::assign::PlannedTrial,
    next: Screen,
    type_name: &'static str,
    prompt: String,
    options: Vec<String>,
    correct: Option<usize>,
) -> impl IntoView {
    let buttons = options
        .into_iter()
        .enumerate()
        .map(|(c, label)| {
            let (s, pt, next) = (s.clone(), pt.clone(), next.clone());
            view! { <button data-testid=format!("study-choice-{c}") disabled=move || ui.saving.get()
                on:click=move |_| ui.finish(record::answer(&pt, type_name, &c.to_string(), s.rt_ms(), s.t_ms(), correct.map(|k| k == c), &[]), next.clone())>{label}</button> }
        })
        .collect_view();
    view! { <section class="trial choices"><p data-testid="study-prompt">{prompt}</p><div class="options">{buttons}</div></section> }
}

pub fn done(ui: StudyUi) -> impl IntoView {
    let Some(s) = ui.session.get_value() else { return view! { <p>"…"</p> }.into_any() };
    let code = s.protocol.completion.code.clone();
    let redirect = s.protocol.completion.redirect_url(&s.params);
    let save = move |name: String, text: String, mime: &'static str| {
        if let Err(e) = browser::download(&name, text.as_bytes(), mime) {
            ui.error.set(Some(e));
        }
    };
    let (s1, s2, s3) = (s.clone(), s.clone(), s.clone());
    let (n1, n2, n3) = (s.file_name("trials", "csv"), s.file_name("events", "csv"), s.file_name("", "json"));
    let saved = s.saves();
    let upload = s.upload.clone().map(|u| {
        let s = s.clone();
        let state = u.state;
        let retry = move |_| u.clone().sync(s.clone());
        view! {
            <p data-testid="study-upload" data-state=move || state.with(|x| x.name())>{move || match state.get() {
                super::upload::UploadState::Sending => "Sending a copy of your data to the researcher…".to_string(),
                super::upload::UploadState::Sent(n) => format!("A copy of your data ({n} events) reached the researcher."),
                super::upload::UploadState::Failed(e) => format!("The researcher's server could not be reached ({e}). Your data is safe in this browser: try again, or download it below."),
            }}</p>
            <button data-testid="study-upload-retry" style:display=move || if state.with(|x| matches!(x, super::upload::UploadState::Failed(_))) { "inline-block" } else { "none" } on:click=retry>"Try sending again"</button>
        }
    });
    view! {
        <section class="trial done">
            <p>"Thank you — your answers are saved."</p>
            <p>"Your completion code: "<strong data-testid="study-code">{code}</strong></p>
            <p><a data-testid="study-redirect" href=redirect.clone() rel="noopener noreferrer">"Return to the study platform"</a></p>
            <Show when=move || !saved>
                <p class="notice">"This browser did not keep your data: download it now and send it to the researcher."</p>
            </Show>
            {upload}
            <p class="muted">"Your data:"</p>
            <button data-testid="study-download-trials" on:click=move |_| save(n1.clone(), s1.trials_csv(), "text/csv")>"Trials (CSV)"</button>
            <button data-testid="study-download-events" on:click=move |_| save(n2.clone(), s2.events_csv(), "text/csv")>"Events (CSV)"</button>
            <button data-testid="study-download-json" on:click=move |_| save(n3.clone(), s3.json(), "application/json")>"Everything (JSON)"</button>
        </section>
    }
    .into_any()
}
