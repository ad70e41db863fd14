//! Simulated participants: a seeded stand-in for a person, per trial type, so a whole study
//! runs with no human (jsPsych's `simulate` mode). Each participant has traits drawn from
//! their id (skill, speed, reliance on advice, persistence); each trial's behaviour comes
//! from a stream forked from the trial's own seed, so a run resumed after a "reload" at any
//! trial produces exactly the events an uninterrupted run would.
//!
//! Built-in effects, so the analysis has something to find: reliance on advice earlier in
//! the sequence lowers unaided skill and persistence later (assistance → persistence);
//! people follow advisors, so a manipulative advisor raises harmful choices.

use serde_json::Value;

use super::assign::{plan, Plan, PlannedTrial};
use super::error::StudyError;
use super::events::{Context, Event, EventKind, EventRow, Log, Stamper};
use super::protocol::*;
use super::puzzle::{make_puzzle, wrong_answer, Advisor, Misleading, OracleAdvisor};
use super::record;
use crate::core::Rng;

/// Knobs of the simulated population.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOptions {
    /// Seed of the participants' behaviour (the protocol's seed fixes assignment and trials).
    pub seed: u64,
    /// Share of participants who decline consent (default 0.03).
    pub decline_rate: f64,
    /// Chance of a blur/focus pair or a visibility change inside a trial (default 0.05).
    pub distraction_rate: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions { seed: 0, decline_rate: 0.03, distraction_rate: 0.05 }
    }
}

/// A participant's stable traits.
#[derive(Clone, Debug)]
struct Persona {
    /// Probability of solving a puzzle unaided.
    skill: f64,
    /// Multiplier on response times.
    speed: f64,
    /// Tendency to ask for and follow advice (0..1).
    reliance: f64,
    /// Base probability of giving up a hard puzzle when the option is there.
    quit: f64,
    /// Probability of choosing the harmful option on their own.
    harm_prior: f64,
}

impl Persona {
    fn new(rng: &mut Rng) -> Self {
        Persona {
            skill: 0.45 + 0.4 * rng.next_f64(),
            speed: (0.25 * rng.normal() as f64).exp(),
            reliance: 0.3 + 0.6 * rng.next_f64(),
            quit: 0.05 + 0.2 * rng.next_f64(),
            harm_prior: 0.15 + 0.3 * rng.next_f64(),
        }
    }
}

/// Participant ids like Prolific's (24 hex digits), fixed by `seed`, all distinct.
pub fn participant_ids(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::fork(seed, "participant-ids");
    let mut out: Vec<String> = Vec::with_capacity(n);
    while out.len() < n {
        let id = format!("{:016x}{:08x}", rng.next_u64(), rng.next_u64() as u32);
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The context stamped on a participant's rows.
pub fn context(p: &Protocol, plan: &Plan) -> Context {
    let session = format!(
        "{:016x}",
        Rng::fork(p.metadata.seed, &format!("session\u{1f}{}", plan.participant)).next_u64()
    );
    Context {
        study_id: p.metadata.id.clone(),
        participant: plan.participant.clone(),
        session,
        condition: plan.assignment.label(),
        backend: "simulated".into(),
        model_hash: p.models.first().map(|m| m.sha256.clone()).unwrap_or_default(),
    }
}

/// Run one participant from the start, or from `resume_from` (their log so far, as after a
/// reload: a `reload` event is logged and the first unfinished trial runs again).
pub fn simulate_participant(
    p: &Protocol,
    participant: &str,
    opts: &SimOptions,
    resume_from: Option<&Log>,
) -> Result<Log, StudyError> {
    let plan = plan(p, participant);
    let ctx = context(p, &plan);
    let mut log = resume_from.cloned().unwrap_or_default();
    let res = log.resume();
    if let Some(c) = &res.condition {
        if *c != ctx.condition {
            return Err(StudyError::Log(format!(
                "log has condition '{c}' but the assignment gives '{}'",
                ctx.condition
            )));
        }
    }
    let mut stamper = Stamper::resumed(ctx, &res);
    let mut persona_rng = Rng::fork(opts.seed, &format!("persona\u{1f}{participant}"));
    let persona = Persona::new(&mut persona_rng);
    let mut t = res.last_t_ms;
    if !log.rows().is_empty() {
        t += 1500;
        log.append(
            stamper.stamp(Event::new(EventKind::Reload, None, t).with("resumed_at_trial", res.next_trial)),
        )?;
    }
    if res.declined || res.completed {
        return Ok(log);
    }
    for pt in &plan.trials[res.next_trial.min(plan.trials.len())..] {
        let mut rng = Rng::fork(opts.seed ^ pt.seed, "sim-trial");
        let events = run_trial(p, &plan, pt, &persona, opts, &mut rng, t + 400)?;
        let declined = events
            .iter()
            .any(|e| e.kind == EventKind::Consent && e.data.get("consented") == Some(&Value::Bool(false)));
        for ev in events {
            t = t.max(ev.t_ms);
            log.append(stamper.stamp(ev))?;
        }
        if declined {
            return Ok(log);
        }
    }
    t += 300;
    log.append(
        stamper.stamp(Event::new(EventKind::Completion, None, t).with("code", p.completion.code.clone())),
    )?;
    Ok(log)
}

/// Run `n` participants (ids from `participant_ids(opts.seed, n)`).
pub fn simulate_study(p: &Protocol, n: usize, opts: &SimOptions) -> Result<Vec<Log>, StudyError> {
    participant_ids(opts.seed, n).iter().map(|id| simulate_participant(p, id, opts, None)).collect()
}

/// A log-normal response time around `base_ms`.
fn rt(rng: &mut Rng, persona: &Persona, base_ms: f64) -> u64 {
    (base_ms * persona.speed * (0.35 * rng.normal() as f64).exp()).round().max(150.0) as u64
}

/// Share of earlier puzzle trials in the plan that came with advice (exposure to AI help).
fn assisted_share(
    p: &Protocol,
    plan: &Plan,
    upto: usize,
    levels: &std::collections::BTreeMap<String, String>,
) -> f64 {
    let (mut puzzles, mut assisted) = (0.0, 0.0);
    for pt in &plan.trials[..upto] {
        if let TrialKind::Puzzle(z) = &pt.trial(p).kind {
            puzzles += 1.0;
            if z.advice.resolve(levels).is_some_and(|m| m != AdviceMode::None) {
                assisted += 1.0;
            }
        }
    }
    if puzzles > 0.0 {
        assisted / puzzles
    } else {
        0.0
    }
}

/// Free text that exercises CSV quoting: commas, quotes, newlines, non-ASCII.
const PHRASES: &[&str] = &[
    "I followed the pattern",
    "the advice, mostly",
    "keys \"k3\" then v7",
    "unsure\nguessed",
    "ça dépend",
    "no comment",
];

fn run_trial(
    p: &Protocol,
    plan: &Plan,
    pt: &PlannedTrial,
    persona: &Persona,
    opts: &SimOptions,
    rng: &mut Rng,
    t0: u64,
) -> Result<Vec<Event>, StudyError> {
    let trial = pt.trial(p);
    let tr = Some((pt.index, pt.trial_id.as_str()));
    let levels = plan.assignment.levels();
    let mut evs = vec![record::start(pt, t0)];
    if rng.next_f64() < opts.distraction_rate {
        let at = t0 + 200 + rng.below(2000);
        evs.push(Event::new(EventKind::Blur, tr, at));
        evs.push(Event::new(EventKind::Visibility, tr, at + 1).with("state", "hidden"));
        evs.push(Event::new(EventKind::Visibility, tr, at + 2000).with("state", "visible"));
        evs.push(Event::new(EventKind::Focus, tr, at + 2001));
    }
    let last = |evs: &Vec<Event>| evs.iter().map(|e| e.t_ms).max().unwrap_or(t0);
    match &trial.kind {
        TrialKind::Consent => {
            let yes = rng.next_f64() >= opts.decline_rate;
            let r = rt(rng, persona, 9000.0);
            evs.extend(record::consent(pt, yes, r, (t0 + r).max(last(&evs))));
            Ok(evs)
        }
        TrialKind::Instructions { pages } => {
            let r = rt(rng, persona, 7000.0 * pages.len() as f64);
            evs.extend(record::answer(
                pt,
                "instructions",
                "continue",
                r,
                (t0 + r).max(last(&evs)),
                None,
                &[],
            ));
            Ok(evs)
        }
        TrialKind::Puzzle(z) => {
            let mode = z.advice.resolve(&levels).unwrap_or(AdviceMode::None);
            let exposure =
                if mode == AdviceMode::None { assisted_share(p, plan, pt.index, &levels) } else { 0.0 };
            let skill = (persona.skill - 0.25 * exposure).clamp(0.05, 0.98);
            let quit = (persona.quit + 0.25 * exposure).min(0.9);
            let puzzle = make_puzzle(&z.task, pt.seed)?;
            let mut advisor = Misleading {
                inner: OracleAdvisor { rng: Rng::fork(pt.seed, "advisor"), accuracy: z.advice_accuracy },
                rate: if mode == AdviceMode::Misleading { z.mislead_rate } else { 0.0 },
                rng: Rng::fork(pt.seed, "mislead"),
            };
            let requested = mode == AdviceMode::OnRequest && rng.next_f64() < persona.reliance;
            let shown = matches!(mode, AdviceMode::Always | AdviceMode::Misleading) || requested;
            let advice = shown.then(|| advisor.advise(&puzzle));
            let mut at = t0 + rt(rng, persona, 1500.0);
            if requested {
                evs.push(record::advice_requested(pt, at));
                at += 250;
            }
            if let Some(a) = advice {
                evs.push(record::advice(pt, &a, at));
            }
            let shown = record::PuzzleShown {
                mode,
                requested,
                advice,
                steering_scale: z.steering_scale,
                give_up_offered: z.give_up_after_ms.is_some(),
            };
            let gives_up = z.give_up_after_ms.is_some()
                && advice.is_none()
                && rng.next_f64() < quit * (1.0 - skill) * 2.0;
            let (how, r) = if let (true, Some(after)) = (gives_up, z.give_up_after_ms) {
                (record::PuzzleEnd::GaveUp, after + rt(rng, persona, 4000.0))
            } else {
                let follows =
                    advice.is_some_and(|a| rng.next_f64() < persona.reliance * (0.5 + 0.5 * a.confidence));
                let answer = match advice {
                    Some(a) if follows => a.answer,
                    _ if rng.next_f64() < skill => puzzle.answer,
                    _ => wrong_answer(&puzzle, rng),
                };
                (record::PuzzleEnd::Answer(answer), rt(rng, persona, if follows { 3500.0 } else { 6000.0 }))
            };
            evs.extend(record::puzzle(pt, &puzzle, &shown, how, r, (t0 + r).max(last(&evs))));
            Ok(evs)
        }
        TrialKind::AttentionEdit(ae) => {
            let interactive = ae.interactive.resolve(&levels).unwrap_or(false);
            let puzzle = make_puzzle(&ae.task, pt.seed)?;
            let mut model = OracleAdvisor { rng: Rng::fork(pt.seed, "model"), accuracy: 0.7 };
            let mut a = model.advise(&puzzle);
            let edits = if interactive { 1 + rng.below(6) } else { 0 };
            let mut at = t0 + 600;
            evs.push(record::advice(pt, &a, at));
            // Each edit toggles one context position (never the query's own).
            let mut hidden: Vec<usize> = Vec::new();
            for _ in 0..edits {
                at += rt(rng, persona, 1200.0);
                let pos = rng.below(puzzle.query_position.max(1) as u64) as usize;
                match hidden.iter().position(|&h| h == pos) {
                    Some(i) => {
                        hidden.remove(i);
                    }
                    None => hidden.push(pos),
                }
                hidden.sort_unstable();
                a = model.advise(&puzzle);
                evs.push(record::edit(pt, &a, &hidden, at));
            }
            let follows = rng.next_f64() < persona.reliance * (0.5 + 0.5 * a.confidence);
            let answer = if follows {
                a.answer
            } else if rng.next_f64() < persona.skill {
                puzzle.answer
            } else {
                wrong_answer(&puzzle, rng)
            };
            let r = (at - t0) + rt(rng, persona, 3000.0);
            let shown = record::EditShown { interactive, n_edits: edits, hidden, advice: Some(a) };
            evs.extend(record::attention_edit(pt, &puzzle, &shown, answer, r, (t0 + r).max(last(&evs))));
            Ok(evs)
        }
        TrialKind::TwoChoice(tc) => {
            let kind = tc.advisor.resolve(&levels).unwrap_or(AdvisorKind::Neutral);
            let harmful = tc.options.iter().position(|o| o.harmful).unwrap_or(0);
            let rec = record::recommendation(tc, kind, pt.seed);
            evs.push(record::advice_shown(pt, tc, kind, rec, t0 + 500));
            let follows = rng.next_f64() < 0.35 + 0.5 * persona.reliance;
            let choice = if follows {
                rec
            } else if rng.next_f64() < persona.harm_prior {
                harmful
            } else {
                1 - harmful
            };
            let r = rt(rng, persona, 8000.0);
            evs.extend(record::two_choice(pt, tc, kind, rec, choice, r, (t0 + r).max(last(&evs))));
            Ok(evs)
        }
        TrialKind::Likert { points, .. } => {
            let pick = 1 + rng.below(*points as u64);
            let r = rt(rng, persona, 4000.0);
            Ok(answer(evs, pt, "likert", r, t0, &pick.to_string(), (None, &[])))
        }
        TrialKind::MultipleChoice { options, .. } => {
            let pick = rng.below(options.len() as u64);
            let r = rt(rng, persona, 4000.0);
            Ok(answer(evs, pt, "multiple_choice", r, t0, &pick.to_string(), (None, &[])))
        }
        TrialKind::FreeText { max_len, .. } => {
            let text: String =
                PHRASES[rng.below(PHRASES.len() as u64) as usize].chars().take(*max_len).collect();
            let r = rt(rng, persona, 4000.0);
            Ok(answer(evs, pt, "free_text", r, t0, &text, (None, &[])))
        }
        TrialKind::AttentionCheck { options, correct, .. } => {
            let pick = if rng.next_f64() < 0.95 { *correct } else { (*correct + 1) % options.len() };
            let r = rt(rng, persona, 4000.0);
            Ok(answer(evs, pt, "attention_check", r, t0, &pick.to_string(), (Some(pick == *correct), &[])))
        }
        TrialKind::TraceView => {
            let r = rt(rng, persona, 4000.0);
            Ok(answer(evs, pt, "trace_view", r, t0, "viewed", (None, &[("n_trials_shown", pt.index as u64)])))
        }
    }
}

/// A questionnaire answer after response time `r` (`record::answer`); `tail` holds the
/// attention check's correctness and extra trial-end fields.
fn answer(
    mut evs: Vec<Event>,
    pt: &PlannedTrial,
    type_name: &str,
    r: u64,
    t0: u64,
    response: &str,
    tail: (Option<bool>, &[(&str, u64)]),
) -> Vec<Event> {
    let at = (t0 + r).max(evs.iter().map(|e| e.t_ms).max().unwrap_or(t0));
    evs.extend(record::answer(pt, type_name, response, r, at, tail.0, tail.1));
    evs
}

/// The rows of every log, for exports.
pub fn all_rows(logs: &[Log]) -> Vec<&EventRow> {
    logs.iter().flat_map(|l| l.rows()).collect()
}
