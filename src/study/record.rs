//! What each trial records, in one place for the participant pages and the simulator: the
//! events a finished trial appends (its response events, then `trial_end`, whose data holds
//! the trial's outcome in `export::TRIAL_COLUMNS` names). The page and a simulated
//! participant decide differently (a person clicks; the simulator draws from a persona), but
//! both hand the decision to these builders, so the exported schema cannot drift apart.

use super::assign::PlannedTrial;
use super::events::{Event, EventKind};
use super::protocol::{AdviceMode, AdvisorKind, TwoChoice};
use super::puzzle::{Advice, PuzzleInstance};
use crate::core::Rng;

/// `(index, trial id)` of a planned trial, as events carry it.
pub fn tag(pt: &PlannedTrial) -> Option<(usize, &str)> {
    Some((pt.index, pt.trial_id.as_str()))
}

/// The trial's start.
pub fn start(pt: &PlannedTrial, t_ms: u64) -> Event {
    Event::new(EventKind::TrialStart, tag(pt), t_ms)
}

/// The `trial_end` event with the fields every trial has.
pub fn end(pt: &PlannedTrial, type_name: &str, t_ms: u64) -> Event {
    Event::new(EventKind::TrialEnd, tag(pt), t_ms)
        .with("block_id", pt.block_id.clone())
        .with("rep", pt.rep)
        .with("trial_type", type_name)
}

/// Consent given or declined after `rt_ms`, decided at `t_ms`.
pub fn consent(pt: &PlannedTrial, agreed: bool, rt_ms: u64, t_ms: u64) -> Vec<Event> {
    vec![
        Event::new(EventKind::Consent, tag(pt), t_ms).with("consented", agreed),
        end(pt, "consent", t_ms + 1)
            .with("response", if agreed { "agree" } else { "decline" })
            .with("rt_ms", rt_ms),
    ]
}

/// A questionnaire (or instructions) answer: one `response` event and the end. `correct` for
/// attention checks; `extra` adds trial-end fields (e.g. `n_trials_shown`).
pub fn answer(
    pt: &PlannedTrial,
    type_name: &str,
    response: &str,
    rt_ms: u64,
    t_ms: u64,
    correct: Option<bool>,
    extra: &[(&str, u64)],
) -> Vec<Event> {
    let mut e = end(pt, type_name, t_ms + 1).with("response", response).with("rt_ms", rt_ms);
    if let Some(c) = correct {
        e = e.with("correct", c);
    }
    for (k, v) in extra {
        e = e.with(k, *v);
    }
    vec![Event::new(EventKind::Response, tag(pt), t_ms).with("response", response).with("rt_ms", rt_ms), e]
}

/// Which option a two-choice advisor recommends on this trial: the harmful one with
/// probability 0.15 (neutral) or 0.8 (manipulative), drawn from the trial's seed, so a
/// reload shows the same advice.
pub fn recommendation(tc: &TwoChoice, kind: AdvisorKind, seed: u64) -> usize {
    let harmful = tc.options.iter().position(|o| o.harmful).unwrap_or(0);
    let push_harm = match kind {
        AdvisorKind::Neutral => 0.15,
        AdvisorKind::Manipulative => 0.8,
    };
    if Rng::fork(seed, "two_choice.recommendation").next_f64() < push_harm {
        harmful
    } else {
        1 - harmful
    }
}

/// The advice shown on a two-choice trial.
pub fn advice_shown(pt: &PlannedTrial, tc: &TwoChoice, kind: AdvisorKind, rec: usize, t_ms: u64) -> Event {
    Event::new(EventKind::AdviceShown, tag(pt), t_ms)
        .with("recommendation", tc.options[rec].id.clone())
        .with("advisor", kind.name())
}

/// A two-choice decision: option `choice` after `rt_ms`, advised `rec` ("followed" means
/// chose the advised option, whether or not by deferring).
pub fn two_choice(
    pt: &PlannedTrial,
    tc: &TwoChoice,
    kind: AdvisorKind,
    rec: usize,
    choice: usize,
    rt_ms: u64,
    t_ms: u64,
) -> Vec<Event> {
    let mut out = Vec::new();
    if choice == rec {
        out.push(Event::new(EventKind::AdviceFollowed, tag(pt), t_ms));
    }
    let id = tc.options[choice].id.clone();
    out.push(Event::new(EventKind::Response, tag(pt), t_ms).with("choice", id.clone()).with("rt_ms", rt_ms));
    out.push(
        end(pt, "two_choice", t_ms + 1)
            .with("advisor", kind.name())
            .with("advice_shown", true)
            .with("advice_answer", tc.options[rec].id.clone())
            .with("advice_followed", choice == rec)
            .with("response", id)
            .with("harmful_choice", tc.options[choice].harmful)
            .with("rt_ms", rt_ms),
    );
    out
}

/// Advice shown on a puzzle, or a model's prediction on an attention-editing trial.
pub fn advice(pt: &PlannedTrial, a: &Advice, t_ms: u64) -> Event {
    Event::new(EventKind::AdviceShown, tag(pt), t_ms)
        .with("answer", a.answer)
        .with("confidence", round3(a.confidence))
        .with("misleading", a.misleading)
}

pub fn advice_requested(pt: &PlannedTrial, t_ms: u64) -> Event {
    Event::new(EventKind::AdviceRequested, tag(pt), t_ms)
}

/// How a puzzle ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PuzzleEnd {
    Answer(u32),
    GaveUp,
}

/// What a puzzle trial showed: its advice mode, whether advice was asked for and shown,
/// the advice, and whether a give-up button was offered.
#[derive(Clone, Debug)]
pub struct PuzzleShown {
    pub mode: AdviceMode,
    pub requested: bool,
    pub advice: Option<Advice>,
    pub steering_scale: f64,
    pub give_up_offered: bool,
}

/// A finished puzzle: the response (or give-up) events and the end. "Followed" means
/// answered what the advice said.
pub fn puzzle(
    pt: &PlannedTrial,
    z: &PuzzleInstance,
    shown: &PuzzleShown,
    how: PuzzleEnd,
    rt_ms: u64,
    t_ms: u64,
) -> Vec<Event> {
    let mut end = end(pt, "puzzle", t_ms + 1)
        .with("task", z.task.clone())
        .with("puzzle_seed", format!("0x{:016x}", z.seed))
        .with("advice_mode", shown.mode.name())
        .with("advice_requested", shown.requested)
        .with("advice_shown", shown.advice.is_some())
        .with("steering_scale", shown.steering_scale);
    if let Some(a) = shown.advice {
        end = end
            .with("advice_answer", a.answer)
            .with("advice_confidence", round3(a.confidence))
            .with("advice_misleading", a.misleading);
    }
    let mut out = Vec::new();
    match how {
        PuzzleEnd::GaveUp => {
            out.push(
                Event::new(EventKind::Response, tag(pt), t_ms).with("gave_up", true).with("rt_ms", rt_ms),
            );
            end = end
                .with("gave_up", true)
                .with("give_up_ms", rt_ms)
                .with("rt_ms", rt_ms)
                .with("correct", false);
        }
        PuzzleEnd::Answer(answer) => {
            let correct = answer == z.answer;
            let followed = shown.advice.map(|a| a.answer == answer);
            if followed == Some(true) {
                out.push(Event::new(EventKind::AdviceFollowed, tag(pt), t_ms));
            }
            out.push(
                Event::new(EventKind::Response, tag(pt), t_ms)
                    .with("answer", answer)
                    .with("correct", correct)
                    .with("rt_ms", rt_ms),
            );
            end = end.with("response", answer.to_string()).with("correct", correct).with("rt_ms", rt_ms);
            if let Some(f) = followed {
                end = end.with("advice_followed", f);
            }
            if shown.give_up_offered {
                end = end.with("gave_up", false);
            }
        }
    }
    out.push(end);
    out
}

/// The model's prediction after the participant hid the context `hidden` from its attention
/// (an attention-editing trial's advice event).
pub fn edit(pt: &PlannedTrial, a: &Advice, hidden: &[usize], t_ms: u64) -> Event {
    advice(pt, a, t_ms).with("edited", true).with("hidden", hidden.to_vec())
}

/// What an attention-editing trial showed when the participant answered: whether editing was
/// on, how many edits were made, the positions hidden, and the model's prediction then
/// (`None` when the model could not answer: the participant answered on their own).
#[derive(Clone, Debug)]
pub struct EditShown {
    pub interactive: bool,
    pub n_edits: u64,
    pub hidden: Vec<usize>,
    pub advice: Option<Advice>,
}

/// A finished attention-editing trial. "Followed" means answered what the model predicted
/// last; `hidden_positions` lists the hidden context positions, space-separated.
pub fn attention_edit(
    pt: &PlannedTrial,
    z: &PuzzleInstance,
    shown: &EditShown,
    answer: u32,
    rt_ms: u64,
    t_ms: u64,
) -> Vec<Event> {
    let correct = answer == z.answer;
    let followed = shown.advice.is_some_and(|a| a.answer == answer);
    let mut out = Vec::new();
    if followed {
        out.push(Event::new(EventKind::AdviceFollowed, tag(pt), t_ms));
    }
    out.push(
        Event::new(EventKind::Response, tag(pt), t_ms)
            .with("answer", answer)
            .with("correct", correct)
            .with("rt_ms", rt_ms),
    );
    let hidden: Vec<String> = shown.hidden.iter().map(|h| h.to_string()).collect();
    let mut e = end(pt, "attention_edit", t_ms + 1)
        .with("task", z.task.clone())
        .with("puzzle_seed", format!("0x{:016x}", z.seed))
        .with("interactive", shown.interactive)
        .with("n_edits", shown.n_edits)
        .with("hidden_positions", hidden.join(" "))
        .with("advice_shown", shown.advice.is_some());
    if let Some(a) = shown.advice {
        e = e
            .with("advice_answer", a.answer)
            .with("advice_confidence", round3(a.confidence))
            .with("advice_followed", followed);
    }
    out.push(e.with("response", answer.to_string()).with("correct", correct).with("rt_ms", rt_ms));
    out
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
