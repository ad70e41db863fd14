//! The in-tab model's advice on a puzzle: the study's model (loaded while consent is on
//! screen, sha256-checked) predicts the answer at the puzzle's position; its probability is
//! the stated confidence. In the misleading condition, a seeded share (`mislead_rate`) of
//! trials gives the model's runner-up answer with the top answer's confidence instead — a
//! wrong policy applied to a real model's output.

use super::session::Session;
use crate::core::Rng;
use crate::engine::advisor::top_two;
use crate::study::assign::PlannedTrial;
use crate::study::protocol::{AdviceMode, Puzzle};
use crate::study::puzzle::{make_puzzle, Advice, PuzzleInstance};

/// The answer buttons' labels of a puzzle task with `classes` answers.
pub fn answer_labels(spec: &crate::study::protocol::TaskSpec, classes: u32) -> std::sync::Arc<Vec<String>> {
    let task =
        crate::tasks::build(&spec.name, spec.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))).ok();
    std::sync::Arc::new(
        (0..classes)
            .map(|c| task.as_ref().map(|t| t.class_label(c)).unwrap_or_else(|| c.to_string()))
            .collect(),
    )
}

pub fn mode(s: &Session, z: &Puzzle) -> AdviceMode {
    z.advice.resolve(&s.plan.assignment.levels()).unwrap_or(AdviceMode::None)
}

/// Whether this trial's advice is the misleading one (seeded by the trial).
pub fn misleads(z: &Puzzle, mode: AdviceMode, seed: u64) -> bool {
    mode == AdviceMode::Misleading && Rng::fork(seed, "study.mislead").next_f64() < z.mislead_rate
}

pub fn instance(pt: &PlannedTrial, z: &Puzzle) -> Result<PuzzleInstance, String> {
    make_puzzle(&z.task, pt.seed).map_err(|e| e.to_string())
}

/// The model's advice on trial `pt`.
pub async fn advise(s: &Session, pt: &PlannedTrial, z: &Puzzle) -> Result<Advice, String> {
    let name =
        z.model.as_deref().ok_or_else(|| format!("trial '{}' has advice but no model", pt.trial_id))?;
    let adv = s.advisor(name).await?;
    adv.check_task(&z.task.name, &z.task.params)?;
    let inst = instance(pt, z)?;
    let probs = adv.predict(&inst.token_ids, inst.query_position)?;
    let (top, second) = top_two(&probs);
    Ok(if misleads(z, mode(s, z), pt.seed) {
        Advice { answer: second as u32, confidence: probs[top], misleading: true }
    } else {
        Advice { answer: top as u32, confidence: probs[top], misleading: false }
    })
}

/// Advice shown with the trial (always / misleading), computed before it appears.
pub async fn upfront(s: &Session, pt: &PlannedTrial, z: &Puzzle) -> Result<Option<Advice>, String> {
    match mode(s, z) {
        AdviceMode::Always | AdviceMode::Misleading => advise(s, pt, z).await.map(Some),
        _ => Ok(None),
    }
}
