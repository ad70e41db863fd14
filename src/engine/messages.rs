//! The messages between the page and the training worker, so both sides share one definition
//! and the protocol is testable natively. A message crosses as its *wire* form: JSON text
//! (serde) for the small control fields, and, for the bulk bytes of a checkpoint or run bundle,
//! the raw bytes beside it (the browser layer moves them as a transferred `ArrayBuffer`; they
//! are never encoded into the JSON).

use serde::{Deserialize, Serialize};

use crate::core::TrainConfig;

use super::backend::BackendInfo;
use super::env::RunEnv;
use super::inspect::ModelView;
use super::steering::{SteerOutcome, SteerProgress, SteerRequest};
use super::{ChunkReport, EvalStats, RunState};

/// Page → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum ToWorker {
    /// Build a new run (replacing any other) and train it.
    Start {
        run: u64,
        config: TrainConfig,
        /// The page's run environment (budget, backend preference, diagnostics), so both
        /// sides plan the run the same way.
        #[serde(default)]
        env: RunEnv,
    },
    Resume {
        run: u64,
    },
    Pause {
        run: u64,
    },
    /// Send the run's weights back as a checkpoint (`FromWorker::checkpoint`), or, with
    /// `bundle`, the whole run as a bundle (`engine::bundle`).
    Export {
        run: u64,
        #[serde(default)]
        bundle: Option<BundleRequest>,
    },
    /// Replace any run with one rebuilt from checkpoint or run-bundle bytes, evaluated and
    /// paused. The bytes travel beside the JSON (`into_wire`), not inside it.
    Load {
        run: u64,
        #[serde(skip)]
        checkpoint: Vec<u8>,
    },
    /// Send the model's view of example `seed` back (`FromWorker::view`).
    Inspect {
        run: u64,
        seed: u64,
    },
    /// A steering request on the run's current weights (`FromWorker::steer`).
    Steer {
        run: u64,
        request: SteerRequest,
    },
    /// Drop the run.
    Reset,
}

/// What the page adds to a run bundle: its metrics (`bundle::metrics_csv`) and share link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleRequest {
    pub metrics_csv: String,
    pub link: String,
}

pub use super::history::StepPoint;
pub use super::metrics::finite_or_null;

/// Worker → page, after every chunk and on every state change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FromWorker {
    pub run: u64,
    pub state: RunState,
    pub steps: Vec<StepPoint>,
    /// A finished held-out evaluation: (step, its numbers).
    pub eval: Option<(usize, EvalStats)>,
    pub error: Option<String>,
    /// A checkpoint or run bundle (safetensors bytes), in reply to `ToWorker::Export`; it
    /// travels beside the JSON (`into_wire`), not inside it.
    #[serde(skip)]
    pub checkpoint: Option<Vec<u8>>,
    /// The model's internals on one example, in reply to `ToWorker::Inspect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<ModelView>,
    /// With an evaluation of a recurrent model, per layer: min, median, max of |λ|, then median
    /// and max of |arg λ| (`inspect::spectrum_summary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spectrum: Option<Vec<[f32; 5]>>,
    /// Where the run trains (sent once it is decided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendInfo>,
    /// The GPU was lost: (why, the step the CPU continues from); later steps are redone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fell_back: Option<(String, usize)>,
    /// A steering request's result, in reply to `ToWorker::Steer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steer: Option<SteerOutcome>,
    /// Progress of a steering request under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steer_progress: Option<SteerProgress>,
}

/// A message as it crosses between page and worker: JSON text, and the bulk bytes (if any)
/// that travel beside it.
pub type Wire = (String, Option<Vec<u8>>);

impl ToWorker {
    /// Split into JSON text and the bytes that travel beside it (a `Load`'s checkpoint).
    pub fn into_wire(self) -> Wire {
        let (msg, bytes) = match self {
            ToWorker::Load { run, checkpoint } => {
                (ToWorker::Load { run, checkpoint: Vec::new() }, Some(checkpoint))
            }
            other => (other, None),
        };
        (serde_json::to_string(&msg).expect("ToWorker serialises"), bytes)
    }

    /// Rebuild from the wire; a `Load` without bytes, or bytes beside any other message, is an
    /// error.
    pub fn from_wire((text, bytes): Wire) -> Result<Self, String> {
        let mut msg: ToWorker =
            serde_json::from_str(&text).map_err(|e| format!("bad message to worker: {e}"))?;
        match (&mut msg, bytes) {
            (ToWorker::Load { checkpoint, .. }, Some(b)) => *checkpoint = b,
            (ToWorker::Load { .. }, None) => {
                return Err("bad message to worker: 'load' came without its checkpoint bytes".into())
            }
            (_, Some(_)) => {
                return Err("bad message to worker: bytes came with a message that takes none".into())
            }
            (_, None) => {}
        }
        Ok(msg)
    }
}

impl FromWorker {
    /// A state change with no new numbers.
    pub fn state(run: u64, state: RunState, error: Option<String>) -> Self {
        FromWorker {
            run,
            state,
            steps: Vec::new(),
            eval: None,
            error,
            checkpoint: None,
            view: None,
            spectrum: None,
            backend: None,
            fell_back: None,
            steer: None,
            steer_progress: None,
        }
    }

    /// The update for one chunk of work: its steps, a finished evaluation, and the state the
    /// run is in after it (running, done, or error).
    pub fn from_report(run: u64, r: &ChunkReport) -> Self {
        let state = if r.error.is_some() {
            RunState::Error
        } else if r.done {
            RunState::Done
        } else {
            RunState::Running
        };
        FromWorker {
            run,
            state,
            steps: r
                .steps
                .iter()
                .map(|s| StepPoint { step: s.step, loss: s.loss, accuracy: s.accuracy })
                .collect(),
            eval: r.eval,
            error: r.error.clone(),
            checkpoint: None,
            view: None,
            spectrum: r.spectrum.clone(),
            backend: None,
            fell_back: r.fell_back.clone(),
            steer: None,
            steer_progress: None,
        }
    }

    /// Split into JSON text and the bytes that travel beside it (an exported checkpoint).
    pub fn into_wire(mut self) -> Wire {
        let bytes = self.checkpoint.take();
        (serde_json::to_string(&self).expect("FromWorker serialises"), bytes)
    }

    /// Rebuild from the wire: bytes beside the JSON are the exported checkpoint.
    pub fn from_wire((text, bytes): Wire) -> Result<Self, String> {
        let mut msg: FromWorker =
            serde_json::from_str(&text).map_err(|e| format!("bad message from worker: {e}"))?;
        msg.checkpoint = bytes;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::env::BackendPref;

    #[test]
    fn messages_round_trip_and_bad_text_is_an_error() {
        let m = ToWorker::Start {
            run: 3,
            config: TrainConfig::default(),
            env: RunEnv { budget_bytes: 2048 << 20, backend: BackendPref::Gpu, lose_gpu_at: Some(7) },
        };
        assert_eq!(ToWorker::from_wire(m.clone().into_wire()).unwrap(), m);
        let f = FromWorker {
            run: 3,
            state: RunState::Running,
            steps: vec![StepPoint { step: 1, loss: 2.0, accuracy: Some(0.5) }],
            eval: Some((1, EvalStats { loss: 1.0, accuracy: Some(0.25), exact_match: Some(0.0), mse: None })),
            error: None,
            checkpoint: None,
            view: Some(ModelView {
                step: 4,
                seed: 9,
                tokens: vec!["a".into()],
                attention: vec![vec![vec![1.0]]],
                ..ModelView::default()
            }),
            spectrum: Some(vec![[0.5, 0.7, 0.9, 0.1, 0.3]]),
            backend: Some(BackendInfo {
                gpu: true,
                adapter: Some("SwiftShader".into()),
                reason: "backend=gpu".into(),
            }),
            fell_back: Some(("lost".into(), 50)),
            steer: Some(crate::engine::steering::SteerOutcome {
                op: crate::engine::steering::Op::Patch,
                reply: Err("no sites".into()),
                direction: None,
            }),
            steer_progress: Some(crate::engine::steering::SteerProgress {
                what: "x".into(),
                done: 1,
                total: 2,
            }),
        };
        let s = ToWorker::Steer {
            run: 3,
            request: crate::engine::steering::SteerRequest {
                op: crate::engine::steering::Op::Sweep,
                spec: Default::default(),
                direction: Some("{}".into()),
            },
        };
        assert_eq!(ToWorker::from_wire(s.clone().into_wire()).unwrap(), s);
        assert_eq!(FromWorker::from_wire(f.clone().into_wire()).unwrap(), f);
        assert!(ToWorker::from_wire(("{\"cmd\":\"fly\"}".into(), None)).unwrap_err().contains("bad message"));
        // A diverged (NaN / infinite) loss still makes a readable message.
        let bad = FromWorker {
            steps: vec![StepPoint { step: 2, loss: f64::INFINITY, accuracy: None }],
            eval: Some((
                2,
                EvalStats { loss: f64::NAN, accuracy: None, exact_match: None, mse: Some(f64::NAN) },
            )),
            ..f
        };
        let back = FromWorker::from_wire(bad.into_wire()).unwrap();
        assert!(back.steps[0].loss.is_nan() && back.eval.unwrap().1.loss.is_nan());
    }

    #[test]
    fn checkpoint_bytes_travel_beside_the_json_not_inside_it() {
        // 64 KiB that would be ~87 KiB of base64 if they were encoded into the text.
        let bytes: Vec<u8> = (0..65536u32).map(|i| (i * 7 + 3) as u8).collect();
        let load = ToWorker::Load { run: 5, checkpoint: bytes.clone() };
        let (text, beside) = load.clone().into_wire();
        assert!(text.len() < 64, "the JSON carries only the control fields: {text}");
        assert_eq!(beside.as_deref(), Some(&bytes[..]));
        assert_eq!(ToWorker::from_wire((text.clone(), beside)).unwrap(), load);
        assert!(ToWorker::from_wire((text, None)).unwrap_err().contains("without its checkpoint bytes"));
        assert!(ToWorker::from_wire((ToWorker::Reset.into_wire().0, Some(vec![1])))
            .unwrap_err()
            .contains("takes none"));

        let mut reply = FromWorker::state(5, RunState::Paused, None);
        reply.checkpoint = Some(bytes.clone());
        let (text, beside) = reply.clone().into_wire();
        assert!(text.len() < 200, "the JSON carries only the control fields: {text}");
        assert_eq!(beside.as_deref(), Some(&bytes[..]));
        assert_eq!(FromWorker::from_wire((text, beside)).unwrap(), reply);
    }
}
