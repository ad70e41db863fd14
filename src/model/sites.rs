//! Named activation sites: the places in a forward pass where `steer` may read or replace an
//! activation. A model's `forward_sites` calls the hook at every site, in order, with the
//! activation `[batch, seq, width]`, and continues with whatever the hook returns; the plain
//! `forward` is the same pass with the identity hook (so it stays bit-identical). No state
//! lives in the model: interventions are an argument of the pass.
//!
//! Names are interlab's own, `blocks.{l}.KIND`, and mean the same place in every family:
//! `resid_pre` (the residual stream entering block `l`), `mixer.heads` (the token mixer's
//! per-head outputs, heads side by side in the last dimension — head `h` is columns
//! `h·dh..(h+1)·dh` — before the output projection: Transformers and the multi-head SSM),
//! `mixer.out` (the mixer's output — for Transformers, the multi-head SSM and LSTM/GRU what it
//! adds to the stream; for DLR/S4D the recurrence output `y`, which feeds the MLP and is not
//! added to the stream), `resid_mid` (Transformers and the multi-head SSM), `mlp.out` (what
//! the MLP adds; not in LSTM/GRU) and `resid_post`. Each family lists its kinds in its
//! `SITE_KINDS`. Several correspond to TransformerLens hook points (`hook_resid_pre`,
//! `attn.hook_z` as one `[d_model]` row, `hook_attn_out`, `hook_resid_mid`, `hook_mlp_out`,
//! `hook_resid_post`), but the names differ and there are no sites for embeddings, q/k/v,
//! attention scores or patterns, or MLP hidden units: `docs/steering.md` has the table.

use std::fmt;

use candle_core::Tensor;

use super::Result;

/// One site of one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site {
    pub layer: usize,
    /// `resid_pre`, `mixer.heads`, `mixer.out`, `resid_mid`, `mlp.out` or `resid_post`.
    pub kind: &'static str,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blocks.{}.{}", self.layer, self.kind)
    }
}

/// What a site holds: its name and the width of its last dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteInfo {
    pub name: String,
    pub layer: usize,
    pub kind: &'static str,
    pub width: usize,
}

/// Called at every site with `[batch, seq, width]`; returns the activation to continue with.
pub type Hook<'a> = dyn FnMut(Site, Tensor) -> Result<Tensor> + 'a;

/// The identity hook.
pub fn identity(_: Site, x: Tensor) -> Result<Tensor> {
    Ok(x)
}

/// The sites of `layers` blocks, each with `kinds` of `width` (in pass order).
pub fn list(layers: usize, kinds: &[&'static str], width: usize) -> Vec<SiteInfo> {
    (0..layers)
        .flat_map(|layer| {
            kinds.iter().map(move |&kind| SiteInfo {
                name: Site { layer, kind }.to_string(),
                layer,
                kind,
                width,
            })
        })
        .collect()
}
