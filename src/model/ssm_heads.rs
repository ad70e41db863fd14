//! A multi-head SSM (`model=mhssm`), after "How Many Heads Make an SSM?": token embedding
//! (+ features), no position embedding →
//! N × [x += c_proj(SSM-heads(LN₁(x)·c_v)); x += mlp(LN₂(x))] → LN → head `d → out`.
//!
//! Design. `d_model` is split into `H = heads` heads of width `p = d/H`. Head `h` is one
//! diagonal complex recurrence of `N = state` modes, `x_t = Λ_h ⊙ x_{t−1} + B_h v_t`,
//! `y_t = Re(C_h x_t)`, whose `Λ_h, B_h, C_h` are shared by all `p` channels of the head
//! (each channel runs its own copy of the state, as in Mamba-2's per-head scalar dynamics).
//! Unrolled, a head is one scalar causal kernel `k_h[τ] = Re Σ_n W_{h,n} Λ_{h,n}^τ`
//! (`W = C·B`) applied to a `p`-wide value vector: `y^h = T(k_h) · V W_v^h`, the SSM analogue
//! of an attention head (one mixing pattern × one value/output map). The block computes
//! `Σ_h T(k_h) X W_v^h W_o^h`, so H is exactly the number of independent lag operators one
//! layer can apply — the quantity the paper says must reach k for a map spanned by k lags.
//! The alternative read of "multi-head" (a scalar drive per head read out to `p` channels
//! through per-channel C) was not chosen: with H = 1 it squeezes the whole stream through one
//! scalar per layer, and each head spans up to `p` kernels, so H would not count lag
//! operators. Blocks are Transformer-shaped (a residual around the mixer with its value and
//! output projections, a second norm and residual around a 2× ReLU MLP as in the DLR block):
//! heads need `c_v` to read every channel and `c_proj` to write back, as attention heads do.
//!
//! The recurrence is a `DlrLayer` with H channels (direct parametrisation `Λ = exp(−exp(nu) +
//! i·theta)`, its init and its fused kernel op), so its kernel is `[H, L]` and the Toeplitz
//! stack `[H, L, L]` — d/H times smaller than the DLR's `[d, L, L]` — applied to all `b·p`
//! columns of a head in one batched matmul. Names: `wte.weight`, `wfe.weight`,
//! `h.{i}.ln_1.weight`, `h.{i}.ssm.{nu,theta,w_re,w_im}` `[H, N]`, `h.{i}.ssm.c_v.weight`,
//! `h.{i}.ssm.c_proj.weight` `[d, d]`, `h.{i}.ln_2.weight`, `h.{i}.mlp.c_fc.weight` `[d, 2d]`,
//! `h.{i}.mlp.c_proj.weight` `[2d, d]`, `ln_f.weight`, `lm_head.weight`; weights `[in, out]`.

use candle_core::{Tensor, Var};

use super::dlr_kernel::{toeplitz, DlrLayer, Modes};
use super::io::{Embed, Head};
use super::{init, layer_norm, Context, ModelError, Result};
use crate::core::Rng;

#[derive(Clone, Debug, PartialEq)]
pub struct MhSsmConfig {
    /// Input token ids `0..vocab`.
    pub vocab: usize,
    /// Continuous input channels per position (0: tokens only).
    pub features: usize,
    pub max_len: usize,
    pub layers: usize,
    pub d_model: usize,
    /// SSM heads per block; must divide `d_model`.
    pub heads: usize,
    /// Complex modes per head (N).
    pub state: usize,
    /// Head width: classes x channels (classification) or channels (regression).
    pub out: usize,
}

fn err(op: &str, detail: String) -> ModelError {
    ModelError { op: op.into(), detail }
}

struct Block {
    ln_1: Var,     // [d]
    ssm: DlrLayer, // H "channels" = heads, N states each
    c_v: Var,      // [d, d]
    c_proj: Var,   // [d, d]
    ln_2: Var,     // [d]
    c_fc: Var,     // [d, 2d]
    mlp_proj: Var, // [2d, d]
}

pub struct MhSsm {
    pub cfg: MhSsmConfig,
    embed: Embed,
    blocks: Vec<Block>,
    head: Head,
}

impl MhSsm {
    /// Fresh weights, fixed by `seed` (`Rng::fork(seed, "mhssm.init")`): N(0, 0.02²) matrices,
    /// both residual projections scaled by 1/√(2·layers), unit norm gains, recurrence as in
    /// `dlr_kernel`'s direct init (|Λ| in [0.5, 0.999], W ~ N(0, 1/N)).
    pub fn new(cfg: MhSsmConfig, seed: u64) -> Result<Self> {
        for (name, v) in [
            ("vocab", cfg.vocab),
            ("max_len", cfg.max_len),
            ("d_model", cfg.d_model),
            ("heads", cfg.heads),
            ("state", cfg.state),
            ("out", cfg.out),
        ] {
            if v == 0 {
                return Err(err("mhssm.new", format!("{name} must be at least 1 (config {cfg:?})")));
            }
        }
        if !cfg.d_model.is_multiple_of(cfg.heads) {
            return Err(err(
                "mhssm.new",
                format!("heads: d_model {} is not divisible by {} heads", cfg.d_model, cfg.heads),
            ));
        }
        let mut rng = Rng::fork(seed, "mhssm.init");
        let d = cfg.d_model;
        let std = 0.02f32;
        let proj_std = std / (2.0 * cfg.layers.max(1) as f32).sqrt();
        let embed = Embed::new(&mut rng, cfg.vocab, cfg.features, d, std)?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for _ in 0..cfg.layers {
            blocks.push(Block {
                ln_1: init::constant(&[d], 1.0)?,
                ssm: DlrLayer::new(&mut rng, cfg.heads, cfg.state, false)?,
                c_v: init::normal(&mut rng, &[d, d], std)?,
                c_proj: init::normal(&mut rng, &[d, d], proj_std)?,
                ln_2: init::constant(&[d], 1.0)?,
                c_fc: init::normal(&mut rng, &[d, 2 * d], std)?,
                mlp_proj: init::normal(&mut rng, &[2 * d, d], proj_std)?,
            });
        }
        let head = Head::new(&mut rng, d, cfg.out, std)?;
        Ok(MhSsm { cfg, embed, blocks, head })
    }

    fn block(&self, layer: usize) -> Result<&Block> {
        self.blocks.get(layer).ok_or_else(|| {
            err(
                "mhssm.layer",
                format!("layer {layer} out of range: the model has {} layers", self.blocks.len()),
            )
        })
    }

    /// Every head's kernel on its own channels: `v [b, l, d]` → `y [b, l, d]`,
    /// `y[., t, h·p + j] = Σ_{s ≤ t} k_h[t − s] · v[., s, h·p + j]`.
    fn heads_conv(&self, blk: &Block, v: &Tensor) -> Result<Tensor> {
        let (b, l, d) = v.dims3().op("mhssm.values")?;
        let (h, p) = (self.cfg.heads, d / self.cfg.heads);
        let t = toeplitz(&blk.ssm.kernel(l)?)?; // [h, l, l]
        let v = v.reshape((b, l, h, p))?.permute((2, 1, 0, 3))?.contiguous()?.reshape((h, l, b * p))?; // [h, l, b*p]
        let y = t.matmul(&v).op("mhssm.conv")?; // [h, l, b*p]
        Ok(y.reshape((h, l, b, p))?.permute((2, 1, 0, 3))?.contiguous()?.reshape((b, l, d))?)
        // [b, l, d]
    }

    /// `tokens`: `[batch, seq]` u32, `features`: `[batch, seq, features]` f32 (only when the
    /// model has continuous inputs) → head outputs `[batch * seq, out]`.
    pub fn forward(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor> {
        self.run(tokens, features, &mut super::sites::identity, |_, _| Ok(()))
    }

    /// The forward pass, calling `visit(layer, v)` with each block's values `v [b, l, d]`
    /// (what its heads' recurrences read).
    /// The forward pass, calling `hook` at every named site (`SITE_KINDS`) and
    /// `visit(layer, v)` with each block's values `v [b, l, d]`.
    fn run(
        &self,
        tokens: &Tensor,
        features: Option<&Tensor>,
        hook: &mut super::sites::Hook,
        mut visit: impl FnMut(usize, &Tensor) -> Result<()>,
    ) -> Result<Tensor> {
        let (b, l) = tokens.dims2().op("mhssm.forward.tokens")?;
        if b == 0 || l == 0 || l > self.cfg.max_len {
            return Err(err(
                "mhssm.forward",
                format!(
                    "tokens {:?} must be [batch, 1..={}] (the model's max_len)",
                    tokens.dims(),
                    self.cfg.max_len
                ),
            ));
        }
        let d = self.cfg.d_model;
        let mut x = self.embed.forward("mhssm", tokens, features)?; // [b, l, d]
        for (i, blk) in self.blocks.iter().enumerate() {
            let site = |kind| super::sites::Site { layer: i, kind };
            x = hook(site("resid_pre"), x)?; // [b, l, d]
            let u = layer_norm::layer_norm(&x, blk.ln_1.as_tensor())?.reshape((b * l, d))?; // [b*l, d]
            let v = u.matmul(blk.c_v.as_tensor()).op("mhssm.c_v")?.reshape((b, l, d))?; // [b, l, d]
            visit(i, &v)?;
            let y = hook(site("mixer.heads"), self.heads_conv(blk, &v)?)?.reshape((b * l, d))?; // [b*l, d] heads side by side
            let y = y.matmul(blk.c_proj.as_tensor()).op("mhssm.c_proj")?.reshape((b, l, d))?; // [b, l, d]
            x = (x + hook(site("mixer.out"), y)?)?;
            x = hook(site("resid_mid"), x)?;
            let u = layer_norm::layer_norm(&x, blk.ln_2.as_tensor())?.reshape((b * l, d))?; // [b*l, d]
            let h = u.matmul(blk.c_fc.as_tensor()).op("mhssm.mlp.c_fc")?.relu()?; // [b*l, 2d]
            x = (x + hook(
                site("mlp.out"),
                h.matmul(blk.mlp_proj.as_tensor()).op("mhssm.mlp.c_proj")?.reshape((b, l, d))?,
            )?)?; // [b, l, d]
            x = hook(site("resid_post"), x)?;
        }
        self.head.forward("mhssm", &x) // [b*l, out]
    }

    /// Block `layer`'s head mixing alone, on values `v [b, l, d]` (after `c_v`, before
    /// `c_proj`) → `[b, l, d]`: the training path (kernel + Toeplitz matmul).
    pub fn mix(&self, layer: usize, v: &Tensor) -> Result<Tensor> {
        let (_, l, d) = v.dims3().op("mhssm.mix")?;
        if d != self.cfg.d_model || l == 0 || l > self.cfg.max_len {
            return Err(err(
                "mhssm.mix",
                format!("v {:?} must be [batch, 1..={}, {}]", v.dims(), self.cfg.max_len, self.cfg.d_model),
            ));
        }
        self.heads_conv(self.block(layer)?, v)
    }

    /// Block `layer`'s recurrence per head in f64: `Λ` and `W = C·B`, `[heads][state]`.
    pub fn modes(&self, layer: usize) -> Result<Modes> {
        self.block(layer)?.ssm.modes()
    }

    /// Block `layer`'s kernels, one per head: `[heads][max_len]`.
    pub fn kernel(&self, layer: usize) -> Result<Vec<Vec<f32>>> {
        self.block(layer)?.ssm.kernel(self.cfg.max_len)?.to_vec2().op("mhssm.kernel")
    }

    /// Block `layer`'s eigenvalues `Λ` as `(magnitude, phase in (−π, π])`, `[heads][state]`
    /// (the Dlr's `[d][state]` with one row per head); empty when `layer` is out of range.
    pub fn eigenvalues(&self, layer: usize) -> Vec<Vec<(f32, f32)>> {
        self.modes(layer).map(|m| m.polar()).unwrap_or_default()
    }
}

/// The named sites of each block, in pass order (`model::sites`); `mixer.heads` holds each
/// head's recurrence output side by side (`d / heads` columns each) before `c_proj`.
pub const SITE_KINDS: &[&str] =
    &["resid_pre", "mixer.heads", "mixer.out", "resid_mid", "mlp.out", "resid_post"];

impl super::SeqModel for MhSsm {
    fn forward(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor> {
        MhSsm::forward(self, tokens, features)
    }

    fn forward_sites(
        &self,
        tokens: &Tensor,
        features: Option<&Tensor>,
        hook: &mut super::sites::Hook,
    ) -> Result<Tensor> {
        self.run(tokens, features, hook, |_, _| Ok(()))
    }

    fn sites(&self) -> Vec<super::sites::SiteInfo> {
        super::sites::list(self.cfg.layers, SITE_KINDS, self.cfg.d_model)
    }

    /// Each layer's per-head kernels over the input's length, and the norm of the whole state
    /// (every channel's copy of its head's modes), stepped by the f64 scan on the real values.
    fn internals(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<super::Internals> {
        let p = self.cfg.d_model / self.cfg.heads;
        let mut recurrence = Vec::with_capacity(self.blocks.len());
        self.run(tokens, features, &mut super::sites::identity, |i, v| {
            let heads = self.modes(i)?;
            // One row of modes per channel: channel c runs its head's (c / p) recurrence.
            let per_channel = Modes {
                lambda: (0..self.cfg.d_model).map(|c| heads.lambda[c / p].clone()).collect(),
                w: (0..self.cfg.d_model).map(|c| heads.w[c / p].clone()).collect(),
            };
            recurrence.push(super::dlr_kernel::recurrence_view(&per_channel, v, self.kernel(i)?)?);
            Ok(())
        })?;
        Ok(super::Internals { mixing: Vec::new(), recurrence })
    }

    fn spectrum(&self) -> Vec<Vec<(f32, f32)>> {
        (0..self.blocks.len()).map(|i| self.eigenvalues(i).into_iter().flatten().collect()).collect()
    }

    /// Every parameter with its name, in a fixed order (see the module doc).
    fn named_params(&self) -> Vec<(String, &Var)> {
        let mut out = self.embed.named();
        for (i, b) in self.blocks.iter().enumerate() {
            out.push((format!("h.{i}.ln_1.weight"), &b.ln_1));
            for (name, v) in b.ssm.named() {
                out.push((format!("h.{i}.ssm.{name}"), v));
            }
            out.push((format!("h.{i}.ssm.c_v.weight"), &b.c_v));
            out.push((format!("h.{i}.ssm.c_proj.weight"), &b.c_proj));
            out.push((format!("h.{i}.ln_2.weight"), &b.ln_2));
            out.push((format!("h.{i}.mlp.c_fc.weight"), &b.c_fc));
            out.push((format!("h.{i}.mlp.c_proj.weight"), &b.mlp_proj));
        }
        out.extend(self.head.named());
        out
    }
}
