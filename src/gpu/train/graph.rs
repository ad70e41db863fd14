//! Recording one training step as a `gpu::Program`: the parts every model family shares
//! (embedding in, LayerNorm + head + loss out, residual bookkeeping) and a small `Recorder`
//! that allocates activations once and binds parameter / gradient tensors by name out of the
//! flat buffers. The families' blocks are in `transformer.rs` and `dlr.rs`.

use super::super::cross_entropy::{
    record_cross_entropy, record_mse, CrossEntropyBuffers, MseBuffers, STATS_LEN,
};
use super::super::elementwise::{record_elementwise, Op};
use super::super::embedding::record_embedding;
use super::super::embedding::record_embedding_backward;
use super::super::gemm::{record_gemm, Gemm};
use super::super::layer_norm::{partial_len, record_layer_norm, record_layer_norm_backward, LayerNormGrads};
use super::super::reduce::{col_sum_scratch_len, record_col_sum, ReduceOpts};
use super::super::split_k::{record_weight_grad, scratch_lens};
use super::super::{GpuContext, Program};

use super::e;
use super::layout::Layout;

pub type R<T> = std::result::Result<T, String>;

/// Sizes of one step: `n = b·l` rows of width `d`.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub b: usize,
    pub l: usize,
    pub d: usize,
    pub vocab: usize,
    pub features: usize,
    /// Head width (classes · channels, or channels).
    pub out: usize,
    /// Outputs per position (each a classification or a number).
    pub channels: usize,
    pub loss: Loss,
}

/// What the head is trained on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Masked cross-entropy over `classes` per channel (and accuracy).
    CrossEntropy { classes: usize },
    /// Masked mean squared error.
    Mse,
}

impl Dims {
    pub fn n(&self) -> usize {
        self.b * self.l
    }

    /// Scored entries: `n · channels`.
    pub fn scored(&self) -> usize {
        self.n() * self.channels
    }
}

/// The per-step inputs, rewritten with `queue.write_buffer` before each submission.
pub struct Inputs {
    pub tokens: wgpu::Buffer,           // [n] u32
    pub features: Option<wgpu::Buffer>, // [n, features]
    pub targets: wgpu::Buffer,          // [n·c] u32 (classification) or f32 values (regression)
    pub mask: wgpu::Buffer,             // [n·c]
}

pub struct Recorder<'a> {
    pub ctx: &'a GpuContext,
    pub program: Program,
    pub layout: &'a Layout,
    pub params: &'a wgpu::Buffer,
    pub grads: &'a wgpu::Buffer,
    pub keep: Vec<wgpu::Buffer>,
    /// Bytes of activations and scratch allocated so far.
    pub bytes: u64,
    /// Split-K scratch `(partials, reduce scratch)` by size, shared by the products of one shape.
    pub split_scratch: Vec<((usize, usize), (wgpu::Buffer, wgpu::Buffer))>,
}

impl<'a> Recorder<'a> {
    /// A zeroed storage buffer of `len` floats, kept alive with the program.
    pub fn buf(&mut self, label: &str, len: usize) -> R<wgpu::Buffer> {
        let b = self.ctx.output_f32("GPU engine", label, len).map_err(e)?;
        self.bytes += b.size();
        self.keep.push(b.clone());
        Ok(b)
    }

    /// Parameter `name` as a binding.
    pub fn p(&self, name: &str) -> R<wgpu::BufferSlice<'a>> {
        Ok(self.params.slice(self.layout.bytes(name)?))
    }

    /// The gradient of parameter `name` as a binding.
    pub fn g(&self, name: &str) -> R<wgpu::BufferSlice<'a>> {
        Ok(self.grads.slice(self.layout.bytes(name)?))
    }

    pub async fn gemm(
        &mut self,
        spec: Gemm,
        a: wgpu::BufferSlice<'_>,
        b: wgpu::BufferSlice<'_>,
        c: wgpu::BufferSlice<'_>,
    ) -> R<()> {
        record_gemm(&mut self.program, self.ctx, &spec, a, b, None, c).await.map_err(e)
    }

    /// The weight gradient `dW [m, n] = aᵀ·b` (`a [k, m]`, `b [k, n]`, k = tokens) into
    /// parameter `w`'s gradient slot, split along k where that fills the GPU better.
    pub async fn weight_grad(
        &mut self,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        w: &str,
        m: usize,
        k: usize,
        n: usize,
    ) -> R<()> {
        let lens = scratch_lens(m, k, n);
        let scratch = if lens.0 == 0 {
            None
        } else if let Some((_, bufs)) = self.split_scratch.iter().find(|(l, _)| *l == lens) {
            Some(bufs.clone())
        } else {
            let bufs = (self.buf("splitk.partials", lens.0)?, self.buf("splitk.scratch", lens.1)?);
            self.split_scratch.push((lens, bufs.clone()));
            Some(bufs)
        };
        let dw = self.g(w)?;
        let s = [scratch.as_ref().map(|x| x.0.slice(..)), scratch.as_ref().map(|x| x.1.slice(..))];
        record_weight_grad(&mut self.program, self.ctx, a.slice(..), b.slice(..), dw, s, m, k, n)
            .await
            .map_err(e)
    }

    pub async fn ew(
        &mut self,
        op: Op,
        src: Option<wgpu::BufferSlice<'_>>,
        dst: wgpu::BufferSlice<'_>,
        n: usize,
        label: &str,
    ) -> R<()> {
        record_elementwise(&mut self.program, self.ctx, op, src, dst, n, label).await.map_err(e)
    }

    /// `y = LN(x)·g` with its saved statistics; returns `(y, mean, rstd)`.
    pub async fn layer_norm(
        &mut self,
        label: &str,
        x: &wgpu::Buffer,
        gain: &str,
        rows: usize,
        d: usize,
    ) -> R<[wgpu::Buffer; 3]> {
        let (y, mean, rstd) = (self.buf(label, rows * d)?, self.buf(label, rows)?, self.buf(label, rows)?);
        let g = self.p(gain)?;
        record_layer_norm(
            &mut self.program,
            self.ctx,
            x.slice(..),
            g,
            y.slice(..),
            mean.slice(..),
            rstd.slice(..),
            rows,
            d,
        )
        .await
        .map_err(e)?;
        Ok([y, mean, rstd])
    }

    /// LayerNorm backward: the gain's gradient into its slot; `dx` overwritten.
    #[allow(clippy::too_many_arguments)]
    pub async fn layer_norm_backward(
        &mut self,
        x: &wgpu::Buffer,
        gain: &str,
        dy: &wgpu::Buffer,
        stats: &[wgpu::Buffer; 3],
        dx: &wgpu::Buffer,
        rows: usize,
        d: usize,
    ) -> R<()> {
        let partial = self.buf("ln.partial", partial_len(rows, d))?;
        let out = LayerNormGrads { dx: dx.slice(..), dg: self.g(gain)?, partial: partial.slice(..) };
        let g = self.p(gain)?;
        record_layer_norm_backward(
            &mut self.program,
            self.ctx,
            x.slice(..),
            g,
            dy.slice(..),
            stats[1].slice(..),
            stats[2].slice(..),
            out,
            rows,
            d,
        )
        .await
        .map_err(e)
    }
}

/// `x0 [n, d]` = token embeddings (+ features · wfe) (+ wpe broadcast over the batch).
pub async fn embed_forward(r: &mut Recorder<'_>, io: &Inputs, dm: Dims, positions: bool) -> R<wgpu::Buffer> {
    let (n, d) = (dm.n(), dm.d);
    let x0 = r.buf("x0", n * d)?;
    let wte = r.p("wte.weight")?;
    record_embedding(&mut r.program, r.ctx, io.tokens.slice(..), wte, x0.slice(..), n, dm.vocab, d)
        .await
        .map_err(e)?;
    if let Some(f) = &io.features {
        let wfe = r.p("wfe.weight")?;
        r.gemm(Gemm::new(n, dm.features, d).accumulate(true), f.slice(..), wfe, x0.slice(..)).await?;
        // [n, d] += [n, f]·[f, d]
    }
    if positions {
        let wpe = r.p("wpe.weight")?;
        r.ew(Op::AddCyclic { m: dm.l * d }, Some(wpe), x0.slice(..), n * d, "x0 += wpe").await?;
    }
    Ok(x0)
}

/// Gradients of the embedding parameters from `dx0 [n, d]`.
pub async fn embed_backward(
    r: &mut Recorder<'_>,
    io: &Inputs,
    dm: Dims,
    dx0: &wgpu::Buffer,
    positions: bool,
) -> R<()> {
    let (n, d) = (dm.n(), dm.d);
    let dwte = r.g("wte.weight")?;
    record_embedding_backward(
        &mut r.program,
        r.ctx,
        io.tokens.slice(..),
        dx0.slice(..),
        dwte,
        n,
        dm.vocab,
        d,
        false,
    )
    .await
    .map_err(e)?;
    if let Some(f) = &io.features {
        r.weight_grad(f, dx0, "wfe.weight", dm.features, n, d).await?; // [f, d] = Fᵀ·dx0
    }
    if positions {
        // d wpe[t, :] = Σ_b dx0[b, t, :]: column sums of dx0 seen as [b, l·d].
        let scratch = r.buf("wpe.scratch", col_sum_scratch_len(dm.b, dm.l * d))?;
        let dwpe = r.g("wpe.weight")?;
        record_col_sum(
            &mut r.program,
            r.ctx,
            dx0.slice(..),
            scratch.slice(..),
            dwpe,
            dm.b,
            dm.l * d,
            ReduceOpts::default(),
        )
        .await
        .map_err(e)?;
    }
    Ok(())
}

/// What `head_and_loss` leaves: the gradient reaching the residual stream (training only)
/// and the per-entry correct flags `[n·c]` (classification only; for exact match).
pub struct HeadOut {
    pub dx: Option<wgpu::Buffer>,
    pub correct: Option<wgpu::Buffer>,
}

/// The final LayerNorm, the head and the loss, then (when `train`) their backward into
/// `dx [n, d]`, the gradient reaching the residual stream's last value `x`. The loss
/// statistics land in `stats` (`[mean loss, correct, Σ mask, max(Σ mask, 1)]`).
pub async fn head_and_loss(
    r: &mut Recorder<'_>,
    io: &Inputs,
    dm: Dims,
    x: &wgpu::Buffer,
    stats: &wgpu::Buffer,
    train: bool,
) -> R<HeadOut> {
    let (n, d, out) = (dm.n(), dm.d, dm.out);
    let ln = r.layer_norm("ln_f", x, "ln_f.weight", n, d).await?;
    let logits = r.buf("logits", n * out)?;
    let w = r.p("lm_head.weight")?;
    r.gemm(Gemm::new(n, d, out), ln[0].slice(..), w, logits.slice(..)).await?; // [n, out]
    let dlogits = r.buf("dlogits", n * out)?;
    let rows = dm.scored();
    let row_loss = r.buf("row_loss", rows)?;
    let mut flags = None;
    match dm.loss {
        Loss::CrossEntropy { classes } => {
            let correct = r.buf("correct", rows)?;
            flags = Some(correct.clone());
            let b = CrossEntropyBuffers {
                logits: logits.slice(..),
                targets: io.targets.slice(..),
                mask: io.mask.slice(..),
                d_logits: dlogits.slice(..),
                row_loss: row_loss.slice(..),
                correct: correct.slice(..),
                stats: stats.slice(..),
            };
            record_cross_entropy(&mut r.program, r.ctx, b, rows, classes).await.map_err(e)?;
        }
        Loss::Mse => {
            r.ew(Op::Zero, None, stats.slice(..), STATS_LEN, "stats = 0").await?;
            let b = MseBuffers {
                pred: logits.slice(..),
                values: io.targets.slice(..),
                mask: io.mask.slice(..),
                d_pred: dlogits.slice(..),
                elem_loss: row_loss.slice(..),
                stats: stats.slice(..),
            };
            record_mse(&mut r.program, r.ctx, b, rows).await.map_err(e)?;
        }
    }
    if !train {
        return Ok(HeadOut { dx: None, correct: flags });
    }
    r.weight_grad(&ln[0], &dlogits, "lm_head.weight", d, n, out).await?; // [d, out] = xfᵀ·dlogits
    let w = r.p("lm_head.weight")?;
    let dxf = r.buf("dxf", n * d)?;
    r.gemm(Gemm::new(n, out, d).trans_b(true), dlogits.slice(..), w, dxf.slice(..)).await?; // [n, d] = dlogits·Wᵀ
    let dx = r.buf("dres", n * d)?;
    r.layer_norm_backward(x, "ln_f.weight", &dxf, &ln, &dx, n, d).await?;
    Ok(HeadOut { dx: Some(dx), correct: flags })
}

/// `x_out = x_in + h · w` (`h [n, k]`, `w [k, d]`): the residual add of a branch.
#[allow(clippy::too_many_arguments)]
pub async fn residual(
    r: &mut Recorder<'_>,
    label: &str,
    x_in: &wgpu::Buffer,
    h: &wgpu::Buffer,
    w: &str,
    n: usize,
    k: usize,
    d: usize,
) -> R<wgpu::Buffer> {
    let x_out = r.buf(label, n * d)?;
    r.ew(Op::Copy, Some(x_in.slice(..)), x_out.slice(..), n * d, label).await?;
    let w = r.p(w)?;
    r.gemm(Gemm::new(n, k, d).accumulate(true), h.slice(..), w, x_out.slice(..)).await?; // [n, d] += [n, k]·[k, d]
    Ok(x_out)
}

/// The backward of `residual`'s matmul for upstream `dres [n, d]`: `dW = hᵀ·dres` into
/// the weight's slot and `dh = dres · Wᵀ` (returned, `[n, k]`).
#[allow(clippy::too_many_arguments)]
pub async fn residual_backward(
    r: &mut Recorder<'_>,
    label: &str,
    dres: &wgpu::Buffer,
    h: &wgpu::Buffer,
    w: &str,
    n: usize,
    k: usize,
    d: usize,
) -> R<wgpu::Buffer> {
    r.weight_grad(h, dres, w, k, n, d).await?; // [k, d] = hᵀ·dres
    let dh = r.buf(label, n * k)?;
    let wv = r.p(w)?;
    r.gemm(Gemm::new(n, d, k).trans_b(true), dres.slice(..), wv, dh.slice(..)).await?; // [n, k]
    Ok(dh)
}

/// The MLP `relu(x · c_fc) · c_proj` added to the stream, given its normalised input `xn`:
/// returns `(hidden, x_out)`.
pub async fn mlp_forward(
    r: &mut Recorder<'_>,
    p: &str,
    x_in: &wgpu::Buffer,
    xn: &wgpu::Buffer,
    n: usize,
    d: usize,
    hidden: usize,
) -> R<(wgpu::Buffer, wgpu::Buffer)> {
    let h = r.buf(&format!("{p}.hidden"), n * hidden)?;
    let w = r.p(&format!("{p}.mlp.c_fc.weight"))?;
    r.gemm(Gemm::new(n, d, hidden).relu(true), xn.slice(..), w, h.slice(..)).await?; // [n, hidden]
    let x_out =
        residual(r, &format!("{p}.x_out"), x_in, &h, &format!("{p}.mlp.c_proj.weight"), n, hidden, d).await?;
    Ok((h, x_out))
}

/// The MLP's backward: weight gradients into their slots, returns `d xn [n, d]`.
#[allow(clippy::too_many_arguments)]
pub async fn mlp_backward(
    r: &mut Recorder<'_>,
    p: &str,
    dres: &wgpu::Buffer,
    xn: &wgpu::Buffer,
    h: &wgpu::Buffer,
    n: usize,
    d: usize,
    hidden: usize,
) -> R<wgpu::Buffer> {
    let dh = residual_backward(
        r,
        &format!("{p}.dhidden"),
        dres,
        h,
        &format!("{p}.mlp.c_proj.weight"),
        n,
        hidden,
        d,
    )
    .await?;
    r.ew(Op::ReluMask, Some(h.slice(..)), dh.slice(..), n * hidden, "relu'").await?;
    let fc = format!("{p}.mlp.c_fc.weight");
    r.weight_grad(xn, &dh, &fc, d, n, hidden).await?; // [d, hidden] = xnᵀ·dh
    let dxn = r.buf(&format!("{p}.dxn"), n * d)?;
    let w = r.p(&fc)?;
    r.gemm(Gemm::new(n, hidden, d).trans_b(true), dh.slice(..), w, dxn.slice(..)).await?; // [n, d]
    Ok(dxn)
}
