//! The puzzle screen: a sequence from the task suite cut at a scored position; the
//! participant picks the answer there. By condition the in-tab model's advice is absent,
//! available on request (`study-ask`), or shown from the start (`study-advice`); a give-up
//! button (`study-give-up`) appears after the protocol's delay. Answers are `study-answer-{c}`.

use std::rc::Rc;

use leptos::prelude::*;

use super::session::Session;
use super::{advice, Screen, StudyUi};
use crate::study::assign::PlannedTrial;
use crate::study::protocol::{AdviceMode, Puzzle};
use crate::study::puzzle::Advice;
use crate::study::record::{self, PuzzleEnd, PuzzleShown};

fn says(a: &Advice, label: &str) -> String {
    format!("The AI suggests: {label} ({:.0}% sure)", 100.0 * a.confidence)
}

/// The advice logged for trial `index` (shown with it, or asked for before a reload).
fn logged_advice(s: &Session, index: usize) -> Option<Advice> {
    s.rows()
        .iter()
        .rev()
        .take_while(|r| r.trial_index == Some(index) || r.trial_index.is_none())
        .find(|r| r.kind == crate::study::events::EventKind::AdviceShown && r.trial_index == Some(index))
        .map(|r| Advice {
            answer: r.data.get("answer").and_then(|v| v.as_u64()).unwrap_or(0) as u32,
            confidence: r.data.get("confidence").and_then(|v| v.as_f64()).unwrap_or(0.0),
            misleading: r.data.get("misleading").and_then(|v| v.as_bool()).unwrap_or(false),
        })
}

/// "Ask the AI": get the model's advice, show it and log the request and the advice (or the error).
fn ask_for_advice(
    ui: StudyUi,
    s: Rc<Session>,
    pt: PlannedTrial,
    z: Puzzle,
    requested: RwSignal<bool>,
    shown_advice: RwSignal<Option<Advice>>,
) {
    ui.saving.set(true);
    crate::browser::spawn(async move {
        let at = s.t_ms();
        match advice::advise(&s, &pt, &z).await {
            Ok(a) => {
                requested.set(true);
                shown_advice.set(Some(a));
                ui.log(vec![record::advice_requested(&pt, at), record::advice(&pt, &a, s.t_ms())]);
            }
            Err(e) => {
                ui.error.set(Some(format!("The AI could not answer: {e}")));
                ui.log(vec![crate::study::events::Event::new(
                    crate::study::events::EventKind::Error,
                    record::tag(&pt),
                    at,
                )
                .with("message", e)]);
            }
        }
        ui.saving.set(false);
    });
}

pub fn screen(ui: StudyUi, s: Rc<Session>, pt: PlannedTrial, z: Puzzle, next: Screen) -> AnyView {
    let inst = match advice::instance(&pt, &z) {
        Ok(i) => i,
        Err(e) => return view! { <p class="error" data-testid="study-unsupported">{e}</p> }.into_any(),
    };
    let labels = advice::answer_labels(&z.task, inst.classes);
    let label = {
        let labels = labels.clone();
        move |c: u32| labels.get(c as usize).cloned().unwrap_or_else(|| c.to_string())
    };
    let mode = advice::mode(&s, &z);
    // Advice shown with the trial was recorded by `begin`; read it back from the log.
    let shown_advice = RwSignal::new(logged_advice(&s, pt.index));
    // The advice could not be made (e.g. the model's file failed its sha256 check).
    let advice_error = s
        .rows()
        .iter()
        .rev()
        .find(|r| r.kind == crate::study::events::EventKind::Error && r.trial_index == Some(pt.index))
        .and_then(|r| r.data.get("message").and_then(|m| m.as_str()).map(String::from));
    // Asked for before a reload: still asked for.
    let requested = RwSignal::new(s.rows().iter().any(|r| {
        r.kind == crate::study::events::EventKind::AdviceRequested && r.trial_index == Some(pt.index)
    }));
    let give_up = RwSignal::new(false);
    if let Some(ms) = z.give_up_after_ms {
        crate::browser::spawn(async move {
            crate::browser::sleep_ms(ms.min(u32::MAX as u64) as u32).await;
            give_up.try_set(true);
        });
    }
    let state = {
        let z = z.clone();
        move || PuzzleShown {
            mode,
            requested: requested.get_untracked(),
            advice: shown_advice.get_untracked(),
            steering_scale: z.steering_scale,
            give_up_offered: z.give_up_after_ms.is_some(),
        }
    };
    let ask = {
        let (s, pt, z) = (s.clone(), pt.clone(), z.clone());
        move |_| ask_for_advice(ui, s.clone(), pt.clone(), z.clone(), requested, shown_advice)
    };
    let answers = (0..inst.classes)
        .map(|c| {
            let (s, pt, inst, next) = (s.clone(), pt.clone(), inst.clone(), next.clone());
            view! { <button data-testid=format!("study-answer-{c}") disabled=move || ui.saving.get()
                on:click=move |_| ui.finish(record::puzzle(&pt, &inst, &state(), PuzzleEnd::Answer(c), s.rt_ms(), s.t_ms()), next.clone())>{label(c)}</button> }
        })
        .collect_view();
    let quit = {
        let (s, pt, inst, next) = (s.clone(), pt.clone(), inst.clone(), next.clone());
        move |_| {
            ui.finish(
                record::puzzle(&pt, &inst, &state(), PuzzleEnd::GaveUp, s.rt_ms(), s.t_ms()),
                next.clone(),
            )
        }
    };
    let tokens = inst.tokens.iter().enumerate().map(|(t, tok)| view! { <span class="tok" class:scored=t == inst.query_position><span class="in">{tok.clone()}</span></span> }).collect_view();
    view! {
        <section class="trial puzzle" data-advice-mode=mode.name()>
            <p data-testid="study-prompt">"Which answer belongs at the highlighted position?"</p>
            <div class="tokens" data-testid="study-puzzle">{tokens}</div>
            <button data-testid="study-ask" style:display=move || if mode == AdviceMode::OnRequest && shown_advice.with(Option::is_none) { "inline-block" } else { "none" }
                disabled=move || ui.saving.get() on:click=ask>"Ask the AI"</button>
            {move || shown_advice.get().map(|a| view! { <p class="advice" data-testid="study-advice" data-answer=a.answer.to_string()>{says(&a, &label(a.answer))}</p> })}
            {advice_error.map(|e| view! { <p class="error" data-testid="study-advice-error">{format!("The AI is not available for this question ({e}). Please answer on your own.")}</p> })}
            <div class="options">{answers}</div>
            <button data-testid="study-give-up" style:display=move || if give_up.get() { "inline-block" } else { "none" }
                disabled=move || ui.saving.get() on:click=quit>"Give up on this one"</button>
        </section>
    }
    .into_any()
}
