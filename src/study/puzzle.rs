//! Sequence puzzles from the task suite, and the AI advisor abstraction.
//!
//! A puzzle is one generated sequence of a `crate::tasks` task, cut at its last scored
//! position: the participant sees the tokens up to there and names the next answer
//! (continue a pattern, recall a key's value, sort a list). `Advisor` is what gives advice
//! on it: the simulator uses `OracleAdvisor` (right with a set probability), wrapped in
//! `Misleading` for the misleading condition; the tab plugs its in-tab model in from the
//! UI layer by implementing the same trait.

use super::error::StudyError;
use super::protocol::TaskSpec;
use crate::core::Rng;
use crate::tasks::{self, Output};

/// One puzzle a participant solves.
#[derive(Clone, Debug, PartialEq)]
pub struct PuzzleInstance {
    pub task: String,
    pub seed: u64,
    /// Input token labels shown, up to and including the query position.
    pub tokens: Vec<String>,
    /// Token ids of the same positions.
    pub token_ids: Vec<u32>,
    pub query_position: usize,
    /// The correct answer's class id.
    pub answer: u32,
    /// Number of possible answers (classes `0..classes`).
    pub classes: u32,
}

/// Build the puzzle of `spec` fixed by `seed`.
pub fn make_puzzle(spec: &TaskSpec, seed: u64) -> Result<PuzzleInstance, StudyError> {
    let task = tasks::build(&spec.name, spec.params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| StudyError::Input(format!("task '{}': {e}", spec.name)))?;
    let shape = task.shape();
    let classes = match shape.output {
        Output::Classes { channels: 1, classes } => classes as u32,
        _ => return Err(StudyError::Input(format!("task '{}' is not a one-channel token task", spec.name))),
    };
    let batch = task.generate(seed, 1);
    let row = batch.row(0);
    let q = row.mask.iter().rposition(|&m| m > 0.0).ok_or_else(|| {
        StudyError::Input(format!("task '{}' produced a sequence with no scored position", spec.name))
    })?;
    let token_ids = row.inputs[..=q].to_vec();
    Ok(PuzzleInstance {
        task: spec.name.clone(),
        seed,
        tokens: token_ids.iter().map(|&t| task.token_label(t)).collect(),
        token_ids,
        query_position: q,
        answer: row.targets[q],
        classes,
    })
}

/// A wrong answer for `p`, uniformly among the others (the answer itself when there is
/// only one class).
pub fn wrong_answer(p: &PuzzleInstance, rng: &mut Rng) -> u32 {
    if p.classes <= 1 {
        return p.answer;
    }
    (p.answer + 1 + rng.below(p.classes as u64 - 1) as u32) % p.classes
}

/// One piece of advice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Advice {
    pub answer: u32,
    /// The advisor's stated confidence in `answer` (0..=1).
    pub confidence: f64,
    /// True when this advice was deliberately wrong (misleading condition).
    pub misleading: bool,
}

/// Anything that advises on a puzzle: the simulator's oracle or the in-tab model.
pub trait Advisor {
    fn advise(&mut self, puzzle: &PuzzleInstance) -> Advice;
}

/// Right with probability `accuracy`, otherwise a uniformly wrong answer; confidence is
/// higher when right (a calibrated-looking advisor).
pub struct OracleAdvisor {
    pub rng: Rng,
    pub accuracy: f64,
}

impl Advisor for OracleAdvisor {
    fn advise(&mut self, p: &PuzzleInstance) -> Advice {
        let right = self.rng.next_f64() < self.accuracy;
        let answer = if right { p.answer } else { wrong_answer(p, &mut self.rng) };
        let base = if right { 0.75 } else { 0.45 };
        let confidence = (base + 0.2 * self.rng.next_f64()).min(1.0);
        Advice { answer, confidence, misleading: false }
    }
}

/// Wraps an advisor: with probability `rate` the advice is replaced by a wrong answer
/// stated with high confidence (the "wrong policy" of a misleading condition).
pub struct Misleading<A: Advisor> {
    pub inner: A,
    pub rate: f64,
    pub rng: Rng,
}

impl<A: Advisor> Advisor for Misleading<A> {
    fn advise(&mut self, p: &PuzzleInstance) -> Advice {
        let honest = self.inner.advise(p);
        if self.rng.next_f64() < self.rate {
            Advice {
                answer: wrong_answer(p, &mut self.rng),
                confidence: 0.8 + 0.15 * self.rng.next_f64(),
                misleading: true,
            }
        } else {
            honest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> TaskSpec {
        TaskSpec { name: name.into(), params: vec![] }
    }

    #[test]
    fn puzzles_are_seeded_and_answerable() {
        let a = make_puzzle(&spec("mqar"), 3).unwrap();
        let b = make_puzzle(&spec("mqar"), 3).unwrap();
        assert_eq!(a, b);
        assert!(a.answer < a.classes && a.tokens.len() == a.query_position + 1);
        let differs = (4..20).any(|s| make_puzzle(&spec("mqar"), s).unwrap() != a);
        assert!(differs);
    }

    #[test]
    fn oracle_accuracy_and_misleading_rate_hold() {
        let p = make_puzzle(&spec("sort"), 1).unwrap();
        let mut o = OracleAdvisor { rng: Rng::new(1), accuracy: 0.7 };
        let right = (0..4000).filter(|_| o.advise(&p).answer == p.answer).count() as f64 / 4000.0;
        assert!((right - 0.7).abs() < 0.03, "{right}");
        let mut m = Misleading {
            inner: OracleAdvisor { rng: Rng::new(2), accuracy: 1.0 },
            rate: 0.25,
            rng: Rng::new(3),
        };
        let wrong = (0..4000).filter(|_| m.advise(&p).answer != p.answer).count() as f64 / 4000.0;
        assert!((wrong - 0.25).abs() < 0.03, "{wrong}");
    }
}
