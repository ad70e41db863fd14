//! The attention-editing screen (a CHM-Corr++ analogue): a puzzle from the task suite with
//! the in-tab model's prediction at the highlighted position and, shaded on each context
//! token, how much the model attends to it there. In the interactive condition each context
//! token is a toggle (`study-token-{t}`): a hidden token is masked out of the model's
//! attention in every layer (`Transformer::forward_key_mask`), and the prediction
//! (`study-prediction`) and shading update before the participant answers
//! (`study-answer-{c}`). In the static condition the same shading is a fixed explanation.
//! Every edit is saved (`record::edit`, with the hidden positions), so a reload restores the
//! edited view; the trial row holds the final hidden positions and the number of edits.

use std::rc::Rc;

use leptos::prelude::*;

use super::session::Session;
use super::{advice, Screen, StudyUi};
use crate::engine::advisor::top_two;
use crate::study::assign::PlannedTrial;
use crate::study::events::EventKind;
use crate::study::protocol::AttentionEdit;
use crate::study::puzzle::{make_puzzle, Advice};
use crate::study::record::{self, EditShown};

/// The model's prediction on trial `pt` with the context positions `hidden` masked out:
/// its advice and its attention over the positions.
pub async fn predict(
    s: &Session,
    pt: &PlannedTrial,
    ae: &AttentionEdit,
    hidden: &[usize],
) -> Result<(Advice, Vec<f64>), String> {
    let adv = s.advisor(&ae.model).await?;
    adv.check_task(&ae.task.name, &ae.task.params)?;
    let inst = make_puzzle(&ae.task, pt.seed).map_err(|e| e.to_string())?;
    let keep: Vec<bool> = (0..=inst.query_position).map(|t| !hidden.contains(&t)).collect();
    let e = adv.predict_edited(&inst.token_ids, inst.query_position, &keep)?;
    let top = top_two(&e.probs).0;
    Ok((Advice { answer: top as u32, confidence: e.probs[top], misleading: false }, e.attention))
}

/// The trial's saved state: the hidden positions and number of edits of its latest
/// prediction event (after a reload, the edited view comes back).
fn restored(s: &Session, index: usize) -> (Vec<usize>, u64) {
    let rows = s.rows();
    let shown: Vec<_> =
        rows.iter().filter(|r| r.kind == EventKind::AdviceShown && r.trial_index == Some(index)).collect();
    let edits =
        shown.iter().filter(|r| r.data.get("edited").and_then(|v| v.as_bool()) == Some(true)).count() as u64;
    let hidden = shown
        .last()
        .and_then(|r| r.data.get("hidden"))
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_u64()).map(|x| x as usize).collect())
        .unwrap_or_default();
    (hidden, edits)
}

/// The trial's state: hidden tokens, number of edits, the model's prediction with its
/// attention, and why the model failed (if it did).
type EditSignals =
    (RwSignal<Vec<usize>>, RwSignal<u64>, RwSignal<Option<(Advice, Vec<f64>)>>, RwSignal<Option<String>>);

/// A click on token `t`: hide it from the model (or show it again), predict anew, and log
/// the edit; a failed prediction leaves the tokens as they were and says why.
fn toggle_token(
    ui: StudyUi,
    (s, pt, ae): (Rc<Session>, PlannedTrial, AttentionEdit),
    t: usize,
    (hidden, n_edits, shown, failed): EditSignals,
) {
    let mut h = hidden.get_untracked();
    match h.iter().position(|&x| x == t) {
        Some(i) => {
            h.remove(i);
        }
        None => h.push(t),
    }
    h.sort_unstable();
    ui.saving.set(true);
    crate::browser::spawn(async move {
        match predict(&s, &pt, &ae, &h).await {
            Ok((a, att)) => {
                failed.set(None);
                hidden.set(h.clone());
                n_edits.update(|n| *n += 1);
                shown.set(Some((a, att)));
                ui.log(vec![record::edit(&pt, &a, &h, s.t_ms())]);
            }
            Err(e) => {
                failed.set(Some(e));
                ui.saving.set(false);
            }
        }
    });
}

pub fn screen(ui: StudyUi, s: Rc<Session>, pt: PlannedTrial, ae: AttentionEdit, next: Screen) -> AnyView {
    let inst = match make_puzzle(&ae.task, pt.seed) {
        Ok(i) => i,
        Err(e) => {
            return view! { <p class="error" data-testid="study-unsupported">{e.to_string()}</p> }.into_any()
        }
    };
    let interactive = ae.interactive.resolve(&s.plan.assignment.levels()).unwrap_or(false);
    let labels = advice::answer_labels(&ae.task, inst.classes);
    let (hidden0, edits0) = restored(&s, pt.index);
    let hidden = RwSignal::new(hidden0);
    let n_edits = RwSignal::new(edits0);
    let shown: RwSignal<Option<(Advice, Vec<f64>)>> = RwSignal::new(None);
    let failed: RwSignal<Option<String>> = RwSignal::new(None);
    {
        let (s, pt, ae) = (s.clone(), pt.clone(), ae.clone());
        crate::browser::spawn(async move {
            match predict(&s, &pt, &ae, &hidden.get_untracked()).await {
                Ok(p) => {
                    shown.try_set(Some(p));
                }
                Err(e) => {
                    failed.try_set(Some(e));
                }
            }
        });
    }
    let toggle = {
        let (s, pt, ae) = (s.clone(), pt.clone(), ae.clone());
        move |t: usize| {
            toggle_token(ui, (s.clone(), pt.clone(), ae.clone()), t, (hidden, n_edits, shown, failed))
        }
    };
    let q = inst.query_position;
    let tokens = inst
        .tokens
        .iter()
        .enumerate()
        .map(|(t, tok)| {
            let toggle = toggle.clone();
            let weight = move || shown.with(|p| p.as_ref().and_then(|(_, a)| a.get(t).copied()).unwrap_or(0.0));
            let is_hidden = move || hidden.with(|h| h.contains(&t));
            if t == q {
                return view! { <span class="tok scored" data-testid="study-query"><span class="in">{tok.clone()}</span><span class="out">"?"</span></span> }.into_any();
            }
            view! {
                <button class="tok edit" data-testid=format!("study-token-{t}") class:hidden=is_hidden
                    disabled=move || !interactive || ui.saving.get() || shown.with(Option::is_none)
                    data-attention=move || format!("{:.3}", weight())
                    style:background-color=move || format!("rgba(42, 127, 140, {:.2})", (weight() * 2.5).min(0.85))
                    title=move || if is_hidden() { "hidden from the model".to_string() } else { format!("the model attends {:.0}% here", 100.0 * weight()) }
                    on:click=move |_| toggle(t)>
                    <span class="in">{tok.clone()}</span>
                </button>
            }
            .into_any()
        })
        .collect_view();
    let answers = (0..inst.classes)
        .map(|c| {
            let (s, pt, inst, next, labels) = (s.clone(), pt.clone(), inst.clone(), next.clone(), labels.clone());
            let answer = move |_| {
                // Without a prediction (the model failed) the participant answers on their own.
                let advice = shown.get_untracked().map(|(a, _)| a);
                if advice.is_none() && failed.with_untracked(Option::is_none) {
                    return;
                }
                let state = EditShown { interactive, n_edits: n_edits.get_untracked(), hidden: hidden.get_untracked(), advice };
                ui.finish(record::attention_edit(&pt, &inst, &state, c, s.rt_ms(), s.t_ms()), next.clone());
            };
            view! { <button data-testid=format!("study-answer-{c}") disabled=move || ui.saving.get() || (shown.with(Option::is_none) && failed.with(Option::is_none)) on:click=answer>{labels[c as usize].clone()}</button> }
        })
        .collect_view();
    let says = move || {
        shown.get().map(|(a, _)| {
            let label = labels.get(a.answer as usize).cloned().unwrap_or_default();
            view! { <p class="advice" data-testid="study-prediction" data-answer=a.answer.to_string()>{format!("The model predicts: {label} ({:.0}% sure)", 100.0 * a.confidence)}</p> }
        })
    };
    let how = if interactive {
        "Shading shows where the model looks when it predicts the highlighted position. Click a token to hide it from the model (click again to show it); the prediction updates. Then give your own answer."
    } else {
        "Shading shows where the model looks when it predicts the highlighted position. Then give your own answer."
    };
    view! {
        <section class="trial attention-edit" data-interactive=interactive.to_string()>
            <p data-testid="study-prompt">{how}</p>
            <div class="tokens" data-testid="study-puzzle">{tokens}</div>
            {says}
            {move || failed.get().map(|e| view! { <p class="error" data-testid="study-advice-error">{format!("The model is not available for this question ({e}). Please answer on your own.")}</p> })}
            <p class="muted" data-testid="study-edits">{move || if interactive { format!("{} token(s) hidden, {} edit(s)", hidden.with(Vec::len), n_edits.get()) } else { String::new() }}</p>
            <div class="options">{answers}</div>
        </section>
    }
    .into_any()
}
