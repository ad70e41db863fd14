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
pub mod sites;
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
    /// `forward`, calling `hook` at every named site (see `sites`) and continuing with what it
    /// returns. Families without named sites say so.
    fn forward_sites(
        &self,
        _tokens: &Tensor,
        _features: Option<&Tensor>,
        _hook: &mut sites::Hook,
    ) -> Result<Tensor> {
        Err(ModelError {
            op: "forward_sites".into(),
            detail: "this model family has no named activation sites".into(),
        })
    }
    /// The named sites `forward_sites` visits, in order (empty when it has none).
    fn sites(&self) -> Vec<sites::SiteInfo> {
        Vec::new()
    }
    /// Attention editing: `forward` with the keys `s` where `!keep[s]` hidden from later
    /// queries in every layer → (head outputs `[b*l, out]`, each layer's weights
    /// `[b, h, l, l]`). Only softmax-attention Transformers have it.
    fn forward_key_mask(&self, _tokens: &Tensor, _keep: &[bool]) -> Result<(Tensor, Vec<Tensor>)> {
        Err(ModelError {
            op: "forward_key_mask".into(),
            detail: "this model family has no attention to edit".into(),
        })
    }
    /// Every parameter with its checkpoint name, in a fixed order.
    fn named_params(&self) -> Vec<(String, &Var)>;
    fn param_count(&self) -> usize {
        self.named_params().iter().map(|(_, v)| v.as_tensor().elem_count()).sum()
    }
    /// What the views show of the model on one input (see `Internals`); families without
    /// token-mixing weights or a recurrence leave those parts empty.
    fn internals(&self, _tokens: &Tensor, _features: Option<&Tensor>) -> Result<Internals> {
        Ok(Internals::default())
    }
    /// Eigenvalues `(|λ|, arg λ)` of every recurrent layer, all channels and states of a layer
    /// in one list; empty for families without a linear recurrence. Cheap (no forward pass).
    fn spectrum(&self) -> Vec<Vec<(f32, f32)>> {
        Vec::new()
    }
}

/// A model's internals on one batch, per layer, for the views.
#[derive(Debug, Default)]
pub struct Internals {
    /// Transformers: each layer's mixing weights `[b, h, l, l]` (row `t`: how much position
    /// `t` takes from each `s <= t`).
    pub mixing: Vec<Tensor>,
    /// Linear recurrences (DLR / SSMs): each layer's kernel and state norms.
    pub recurrence: Vec<Recurrence>,
}

/// One recurrent layer's view on a batch of length `l`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recurrence {
    /// Convolution kernel `K[c][t]` of each channel `c`, `t < l`.
    pub kernel: Vec<Vec<f32>>,
    /// `‖x_t‖` (2-norm over every channel's complex state) per sequence and time: `[b][l]`.
    pub state_norm: Vec<Vec<f32>>,
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
