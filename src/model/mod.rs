//! Models, losses and the optimiser on the CPU through candle-core. Depends on `core` and
//! `tasks`; never on wgpu, leptos or web-sys. This is the reference the GPU path is checked
//! against, so it favours the plain, obvious formulation.

pub mod attention;
pub mod checkpoint;
mod cpu_op;
pub mod dlr;
pub mod dlr_kernel;
pub mod init;
pub mod io;
pub mod layer_norm;
pub mod loss;
pub mod mixers;
pub mod optim;
pub mod rnn;
pub mod ssm_heads;
pub mod transformer;

use std::fmt;

pub use loss::{masked_accuracy, masked_cross_entropy, masked_mse};

use candle_core::{Tensor, Var};

/// What the trainer needs from any sequence model family (Transformer and its mixer
/// variants, DLR / SSMs, the multi-head SSM, RNN baselines).
pub trait SeqModel {
    /// `tokens`: `[batch, seq]` u32; `features`: `[batch, seq, features]` f32 when the task
    /// has continuous inputs → head outputs `[batch * seq, out]`. Causal: position `t` sees
    /// positions `..=t` only.
    fn forward(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor>;
    /// Every parameter with its checkpoint name, in a fixed order.
    fn named_params(&self) -> Vec<(String, &Var)>;
    fn param_count(&self) -> usize {
        self.named_params().iter().map(|(_, v)| v.as_tensor().elem_count()).sum()
    }
}
pub use optim::{AdamW, Schedule};
pub use transformer::{Transformer, TransformerConfig};

/// The model layer's error: which op failed, with candle's message (which names shapes).
#[derive(Debug)]
pub struct ModelError {
    pub op: String,
    pub detail: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "model op '{}' failed: {}", self.op, self.detail)
    }
}

impl std::error::Error for ModelError {}

impl From<candle_core::Error> for ModelError {
    fn from(e: candle_core::Error) -> Self {
        ModelError { op: "candle".into(), detail: e.to_string() }
    }
}

pub type Result<T> = std::result::Result<T, ModelError>;

/// Attach an op name to a candle result.
pub(crate) trait Context<T> {
    fn op(self, name: &str) -> Result<T>;
}

impl<T> Context<T> for candle_core::Result<T> {
    fn op(self, name: &str) -> Result<T> {
        self.map_err(|e| ModelError { op: name.to_string(), detail: e.to_string() })
    }
}
