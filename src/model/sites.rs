//! Named activation sites: the places in a forward pass where `steer` may read or replace an
//! activation. A model's `forward_sites` calls the hook at every site, in order, with the
//! activation `[batch, seq, width]`, and continues with whatever the hook returns; the plain
//! `forward` is the same pass with the identity hook (so it stays bit-identical). No state
//! lives in the model: interventions are an argument of the pass.
//!
//! Names follow TransformerLens: `blocks.{l}.resid_pre` (the residual stream entering block
//! `l`), `blocks.{l}.mixer.heads` (the token mixer's per-head outputs, heads side by side,
//! before the output projection: Transformers), `blocks.{l}.mixer.out` (what the mixer adds
//! to the stream — for the DLR its recurrence output `y`, which feeds the MLP),
//! `blocks.{l}.resid_mid` (Transformers), `blocks.{l}.mlp.out` (what the MLP adds) and
//! `blocks.{l}.resid_post`.

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
