//! Binding for `shaders/attention.wgsl`: causal softmax attention forward (fused or tiled) and
//! backward, and the `static` mixer (causal softmax of learned logits applied to v), with
//! plain f64 oracles. Tensors are row-major f32: q, k, v, out, dout `[b, h, l, dh]`,
//! lse `[b, h, l]` (attention) or `[h, l]` (static), static logits `[h, lmax, lmax]`.

use super::{GpuContext, GpuError, Kernel, Program, Result};

/// Threads per workgroup / query rows per tile (WG in the shader).
const WG: u32 = 64;
/// Largest head width the kernels keep in registers (MAX_DH in the shader).
pub const MAX_DH: usize = 64;
/// Longest row the fused forward keeps in workgroup memory (FUSED_MAX_L in the shader).
pub const FUSED_MAX_L: usize = 1024;
/// `Auto` picks the fused forward up to this length: it launches a workgroup per query row
/// (l·b·h of them), which fills the device for short sequences; the tiled path shares key
/// tiles between 64 query rows, which wins once rows are long.
pub const FUSED_AUTO_MAX_L: usize = 256;

/// Which forward kernel to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttnPath {
    /// Fused for `l ≤ FUSED_AUTO_MAX_L`, tiled above.
    Auto,
    /// One workgroup per query row, the whole row in workgroup memory (`l ≤ FUSED_MAX_L`).
    Fused,
    /// Online softmax over key tiles, one thread per query row (any `l`).
    Tiled,
}

/// `[b, h, l, dh]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnShape {
    pub b: usize,
    pub h: usize,
    pub l: usize,
    pub dh: usize,
}

impl AttnShape {
    /// Elements of q (= k, v, out).
    pub fn len(&self) -> usize {
        self.b * self.h * self.l * self.dh
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, op: &str) -> Result<()> {
        let AttnShape { b, h, l, dh } = *self;
        if b == 0 || h == 0 || l == 0 || dh == 0 {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!("empty shape [b {b}, h {h}, l {l}, dh {dh}]"),
            });
        }
        if dh > MAX_DH {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!("head width dh {dh} of [b {b}, h {h}, l {l}, dh {dh}] exceeds {MAX_DH}"),
            });
        }
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    b: u32,
    h: u32,
    l: u32,
    dh: u32,
    lmax: u32,
    _p: [u32; 3],
    scale: f32,
    _f: [f32; 3],
}

fn params(s: AttnShape, lmax: usize, scale: f32) -> Params {
    Params {
        b: s.b as u32,
        h: s.h as u32,
        l: s.l as u32,
        dh: s.dh as u32,
        lmax: lmax as u32,
        _p: [0; 3],
        scale,
        _f: [0.0; 3],
    }
}

/// Every `(name, buffer, f32s needed)` must hold at least that many values.
fn check_buffers(op: &str, s: AttnShape, bufs: &[(&str, wgpu::BufferSlice<'_>, usize)]) -> Result<()> {
    for &(name, buf, want) in bufs {
        if buf.size() < (want * 4) as u64 {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!("buffer {name} holds {} f32s, {s:?} needs {want}", buf.size() / 4),
            });
        }
    }
    Ok(())
}

/// Record `out = softmax(scale·q kᵀ + causal mask) v` and `lse` (per-row logsumexp of the
/// scaled scores, `[b, h, l]`) into `program`.
#[allow(clippy::too_many_arguments)]
pub async fn record_attention_forward(
    program: &mut Program,
    ctx: &GpuContext,
    q: wgpu::BufferSlice<'_>,
    k: wgpu::BufferSlice<'_>,
    v: wgpu::BufferSlice<'_>,
    out: wgpu::BufferSlice<'_>,
    lse: wgpu::BufferSlice<'_>,
    s: AttnShape,
    scale: f32,
    path: AttnPath,
) -> Result<()> {
    let op = "attention_forward";
    s.check(op)?;
    let n = s.len();
    check_buffers(
        op,
        s,
        &[("q", q, n), ("k", k, n), ("v", v, n), ("out", out, n), ("lse", lse, s.b * s.h * s.l)],
    )?;
    let fused = match path {
        AttnPath::Auto => s.l <= FUSED_AUTO_MAX_L,
        AttnPath::Fused if s.l > FUSED_MAX_L => {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!("fused path holds rows of at most {FUSED_MAX_L}, {s:?} has l {}", s.l),
            });
        }
        AttnPath::Fused => true,
        AttnPath::Tiled => false,
    };
    let p = params(s, 0, scale);
    let bh = (s.b * s.h) as u32;
    let bind = [(0, q), (1, k), (2, v), (5, out), (6, lse)];
    if fused {
        program
            .push(
                ctx,
                Kernel::Attention,
                "fwd_fused",
                "attention.fwd_fused",
                &bind,
                Some((12, bytemuck::bytes_of(&p))),
                [s.l as u32, bh, 1],
            )
            .await
    } else {
        let groups = [(s.l as u32).div_ceil(WG), bh, 1];
        program
            .push(
                ctx,
                Kernel::Attention,
                "fwd_tiled",
                "attention.fwd_tiled",
                &bind,
                Some((12, bytemuck::bytes_of(&p))),
                groups,
            )
            .await
    }
}

/// Record the backward pass: `dq, dk, dv` (`[b, h, l, dh]`) from the forward's `out` and
/// `lse`, the upstream `dout`, and a scratch `delta` (`[b, h, l]`).
#[allow(clippy::too_many_arguments)]
pub async fn record_attention_backward(
    program: &mut Program,
    ctx: &GpuContext,
    [q, k, v, out, dout, lse]: [wgpu::BufferSlice<'_>; 6],
    [delta, dq, dk, dv]: [wgpu::BufferSlice<'_>; 4],
    s: AttnShape,
    scale: f32,
) -> Result<()> {
    let op = "attention_backward";
    s.check(op)?;
    let (n, r) = (s.len(), s.b * s.h * s.l);
    let bufs = [
        ("q", q, n),
        ("k", k, n),
        ("v", v, n),
        ("out", out, n),
        ("dout", dout, n),
        ("lse", lse, r),
        ("delta", delta, r),
        ("dq", dq, n),
        ("dk", dk, n),
        ("dv", dv, n),
    ];
    check_buffers(op, s, &bufs)?;
    let p = params(s, 0, scale);
    let pb = Some((12, bytemuck::bytes_of(&p)));
    let groups = [(s.l as u32).div_ceil(WG), (s.b * s.h) as u32, 1];
    program
        .push(
            ctx,
            Kernel::Attention,
            "bwd_delta",
            "attention.bwd_delta",
            &[(3, dout), (5, out), (7, delta)],
            pb,
            groups,
        )
        .await?;
    program
        .push(
            ctx,
            Kernel::Attention,
            "bwd_dq",
            "attention.bwd_dq",
            &[(0, q), (1, k), (2, v), (3, dout), (6, lse), (7, delta), (8, dq)],
            pb,
            groups,
        )
        .await?;
    let bind = [(0, q), (1, k), (2, v), (3, dout), (6, lse), (7, delta), (9, dk), (10, dv)];
    program.push(ctx, Kernel::Attention, "bwd_dkdv", "attention.bwd_dkdv", &bind, pb, groups).await
}

fn check_static(op: &str, s: AttnShape, lmax: usize) -> Result<()> {
    s.check(op)?;
    if s.l > lmax {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("sequence length {} of {s:?} exceeds the logits' {lmax}", s.l),
        });
    }
    Ok(())
}

/// Record the static mixer: `lse [h, l]` of the causal rows of `logits [h, lmax, lmax]`, then
/// `out[b, h] = softmax(logits[h, :l, :l]) · v[b, h]`.
#[allow(clippy::too_many_arguments)]
pub async fn record_static_forward(
    program: &mut Program,
    ctx: &GpuContext,
    logits: wgpu::BufferSlice<'_>,
    v: wgpu::BufferSlice<'_>,
    out: wgpu::BufferSlice<'_>,
    lse: wgpu::BufferSlice<'_>,
    s: AttnShape,
    lmax: usize,
) -> Result<()> {
    let op = "static_mix_forward";
    check_static(op, s, lmax)?;
    let n = s.len();
    check_buffers(
        op,
        s,
        &[("logits", logits, s.h * lmax * lmax), ("v", v, n), ("out", out, n), ("lse", lse, s.h * s.l)],
    )?;
    let p = params(s, lmax, 1.0);
    let pb = Some((12, bytemuck::bytes_of(&p)));
    program
        .push(
            ctx,
            Kernel::Attention,
            "static_lse",
            "attention.static_lse",
            &[(4, logits), (6, lse)],
            pb,
            [s.l as u32, s.h as u32, 1],
        )
        .await?;
    let groups = [((s.l * s.dh) as u32).div_ceil(WG), (s.b * s.h) as u32, 1];
    program
        .push(
            ctx,
            Kernel::Attention,
            "static_fwd",
            "attention.static_fwd",
            &[(2, v), (4, logits), (5, out), (6, lse)],
            pb,
            groups,
        )
        .await
}

/// Record the static mixer's backward: `dv [b, h, l, dh]` and `dlogits [h, lmax, lmax]`
/// (summed over the batch in increasing b; zero outside the causal `l × l` block), from the
/// forward's `lse`.
#[allow(clippy::too_many_arguments)]
pub async fn record_static_backward(
    program: &mut Program,
    ctx: &GpuContext,
    [logits, v, dout, lse]: [wgpu::BufferSlice<'_>; 4],
    dv: wgpu::BufferSlice<'_>,
    dlogits: wgpu::BufferSlice<'_>,
    s: AttnShape,
    lmax: usize,
) -> Result<()> {
    let op = "static_mix_backward";
    check_static(op, s, lmax)?;
    let (n, m) = (s.len(), s.h * lmax * lmax);
    check_buffers(
        op,
        s,
        &[
            ("logits", logits, m),
            ("v", v, n),
            ("dout", dout, n),
            ("lse", lse, s.h * s.l),
            ("dv", dv, n),
            ("dlogits", dlogits, m),
        ],
    )?;
    let p = params(s, lmax, 1.0);
    let pb = Some((12, bytemuck::bytes_of(&p)));
    let groups = [((s.l * s.dh) as u32).div_ceil(WG), (s.b * s.h) as u32, 1];
    program
        .push(
            ctx,
            Kernel::Attention,
            "static_bwd_dv",
            "attention.static_bwd_dv",
            &[(3, dout), (4, logits), (6, lse), (10, dv)],
            pb,
            groups,
        )
        .await?;
    let bind = [(2, v), (3, dout), (4, logits), (6, lse), (11, dlogits)];
    program
        .push(
            ctx,
            Kernel::Attention,
            "static_bwd_dlogits",
            "attention.static_bwd_dlogits",
            &bind,
            pb,
            [lmax as u32, s.h as u32, 1],
        )
        .await
}

fn check_lens(op: &str, s: AttnShape, inputs: &[(&str, &[f32], usize)]) -> Result<()> {
    for &(name, x, want) in inputs {
        if x.len() != want {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!("{name} has {} values, {s:?} wants {want}", x.len()),
            });
        }
    }
    Ok(())
}

/// Upload `data` (or allocate `len` zeros when `data` is empty) inside the caller's scope.
fn buf(ctx: &GpuContext, op: &str, label: &str, data: &[f32], len: usize) -> Result<wgpu::Buffer> {
    if data.is_empty() {
        ctx.output_f32(op, label, len)
    } else {
        ctx.upload_f32(op, label, data)
    }
}

/// One-shot forward: `(out [b, h, l, dh], lse [b, h, l])`.
pub async fn attention(
    ctx: &GpuContext,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: AttnShape,
    scale: f32,
    path: AttnPath,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let op = "attention_forward";
    s.check(op)?;
    check_lens(op, s, &[("q", q, s.len()), ("k", k, s.len()), ("v", v, s.len())])?;
    let r = s.b * s.h * s.l;
    let [qb, kb, vb, ob, lb] =
        [("q", q, 0), ("k", k, 0), ("v", v, 0), ("out", &[][..], s.len()), ("lse", &[][..], r)]
            .map(|(n, d, len)| buf(ctx, op, n, d, len));
    let (qb, kb, vb, ob, lb) = (qb?, kb?, vb?, ob?, lb?);
    let mut program = Program::new();
    record_attention_forward(
        &mut program,
        ctx,
        qb.slice(..),
        kb.slice(..),
        vb.slice(..),
        ob.slice(..),
        lb.slice(..),
        s,
        scale,
        path,
    )
    .await?;
    program.submit(ctx)?;
    Ok((ctx.read_f32(&ob, s.len()).await?, ctx.read_f32(&lb, r).await?))
}

/// One-shot forward + backward (one submission): `(dq, dk, dv)`, each `[b, h, l, dh]`.
#[allow(clippy::too_many_arguments)]
pub async fn attention_backward(
    ctx: &GpuContext,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dout: &[f32],
    s: AttnShape,
    scale: f32,
    path: AttnPath,
) -> Result<[Vec<f32>; 3]> {
    let op = "attention_backward";
    s.check(op)?;
    let n = s.len();
    check_lens(op, s, &[("q", q, n), ("k", k, n), ("v", v, n), ("dout", dout, n)])?;
    let r = s.b * s.h * s.l;
    let e: &[f32] = &[];
    let specs = [
        ("q", q, 0),
        ("k", k, 0),
        ("v", v, 0),
        ("dout", dout, 0),
        ("out", e, n),
        ("lse", e, r),
        ("delta", e, r),
        ("dq", e, n),
        ("dk", e, n),
        ("dv", e, n),
    ];
    let b = specs.map(|(name, d, len)| buf(ctx, op, name, d, len)).into_iter().collect::<Result<Vec<_>>>()?;
    let mut program = Program::new();
    record_attention_forward(
        &mut program,
        ctx,
        b[0].slice(..),
        b[1].slice(..),
        b[2].slice(..),
        b[4].slice(..),
        b[5].slice(..),
        s,
        scale,
        path,
    )
    .await?;
    record_attention_backward(
        &mut program,
        ctx,
        [b[0].slice(..), b[1].slice(..), b[2].slice(..), b[4].slice(..), b[3].slice(..), b[5].slice(..)],
        [b[6].slice(..), b[7].slice(..), b[8].slice(..), b[9].slice(..)],
        s,
        scale,
    )
    .await?;
    program.submit(ctx)?;
    Ok([ctx.read_f32(&b[7], n).await?, ctx.read_f32(&b[8], n).await?, ctx.read_f32(&b[9], n).await?])
}

/// One-shot static mixer forward + backward (one submission): `(out, dv, dlogits)`.
pub async fn static_mix(
    ctx: &GpuContext,
    logits: &[f32],
    v: &[f32],
    dout: &[f32],
    s: AttnShape,
    lmax: usize,
) -> Result<[Vec<f32>; 3]> {
    let op = "static_mix";
    check_static(op, s, lmax)?;
    let (n, m) = (s.len(), s.h * lmax * lmax);
    check_lens(op, s, &[("logits", logits, m), ("v", v, n), ("dout", dout, n)])?;
    let e: &[f32] = &[];
    let specs = [
        ("logits", logits, 0),
        ("v", v, 0),
        ("dout", dout, 0),
        ("out", e, n),
        ("lse", e, s.h * s.l),
        ("dv", e, n),
        ("dlogits", e, m),
    ];
    let b = specs.map(|(name, d, len)| buf(ctx, op, name, d, len)).into_iter().collect::<Result<Vec<_>>>()?;
    let mut program = Program::new();
    record_static_forward(
        &mut program,
        ctx,
        b[0].slice(..),
        b[1].slice(..),
        b[3].slice(..),
        b[4].slice(..),
        s,
        lmax,
    )
    .await?;
    record_static_backward(
        &mut program,
        ctx,
        [b[0].slice(..), b[1].slice(..), b[2].slice(..), b[4].slice(..)],
        b[5].slice(..),
        b[6].slice(..),
        s,
        lmax,
    )
    .await?;
    program.submit(ctx)?;
    Ok([ctx.read_f32(&b[3], n).await?, ctx.read_f32(&b[5], n).await?, ctx.read_f32(&b[6], m).await?])
}

/// The slow, obvious oracle in f64: `(out [b, h, l, dh], lse [b, h, l])`.
pub fn attention_reference(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: AttnShape,
    scale: f32,
) -> (Vec<f32>, Vec<f32>) {
    let AttnShape { l, dh, .. } = s;
    let (mut out, mut lse) = (vec![0f32; s.len()], vec![0f32; s.b * s.h * l]);
    for bh in 0..s.b * s.h {
        let o = bh * l * dh;
        for i in 0..l {
            let sc: Vec<f64> = (0..=i)
                .map(|j| {
                    (0..dh).map(|d| q[o + i * dh + d] as f64 * k[o + j * dh + d] as f64).sum::<f64>()
                        * scale as f64
                })
                .collect();
            let m = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = sc.iter().map(|x| (x - m).exp()).sum();
            lse[bh * l + i] = (m + z.ln()) as f32;
            for d in 0..dh {
                out[o + i * dh + d] =
                    (0..=i).map(|j| (sc[j] - m).exp() / z * v[o + j * dh + d] as f64).sum::<f64>() as f32;
            }
        }
    }
    (out, lse)
}
