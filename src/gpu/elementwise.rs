//! Binding for `shaders/elementwise.wgsl`: fills, copies, residual adds, the ReLU mask, the
//! attention head permutes and the DLR parameter map (forward and backward), each with a
//! plain-loop oracle. One invocation per output element, so every result is bit-exact.

use super::grid::{check_len, fold_items};
use super::{GpuContext, GpuError, Kernel, Program, Result};

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    m: u32,
    b: u32,
    l: u32,
    h: u32,
    dh: u32,
    parts: u32,
    part: u32,
}

/// The element-wise operations on one `dst` (and maybe one `src`) of `n` elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `dst = 0`
    Zero,
    /// `dst = src`
    Copy,
    /// `dst += src`
    Add,
    /// `dst[i] += src[i mod m]`
    AddCyclic { m: usize },
    /// `dst = src > 0 ? dst : 0` (src: a ReLU's output, dst: its gradient)
    ReluMask,
}

impl Op {
    fn entry(self) -> &'static str {
        match self {
            Op::Zero => "fill_zero",
            Op::Copy => "copy_into",
            Op::Add => "add_into",
            Op::AddCyclic { .. } => "add_cyclic",
            Op::ReluMask => "relu_mask",
        }
    }
}

async fn launch(
    program: &mut Program,
    ctx: &GpuContext,
    entry: &'static str,
    label: &str,
    bind: &[(u32, wgpu::BufferSlice<'_>)],
    p: Params,
) -> Result<()> {
    let groups = fold_items(ctx, label, p.n as usize, 256)?;
    program
        .push(ctx, Kernel::Elementwise, entry, label, bind, Some((3, bytemuck::bytes_of(&p))), groups)
        .await
}

/// Record `op` over `n` elements of `dst` (`src` is ignored by `Zero`).
pub async fn record_elementwise(
    program: &mut Program,
    ctx: &GpuContext,
    op: Op,
    src: Option<wgpu::BufferSlice<'_>>,
    dst: wgpu::BufferSlice<'_>,
    n: usize,
    label: &str,
) -> Result<()> {
    let name = format!("{label} ({})", op.entry());
    if n == 0 {
        return Err(GpuError::Shape { op: name, detail: "no elements".into() });
    }
    let shape = format!("[{n}]");
    check_len(&name, "dst", dst, n, &shape)?;
    let mut p = Params { n: n as u32, ..Default::default() };
    if op == Op::Zero {
        return launch(program, ctx, op.entry(), &name, &[(2, dst)], p).await;
    }
    let src =
        src.ok_or_else(|| GpuError::Shape { op: name.clone(), detail: "needs a source buffer".into() })?;
    let want = match op {
        Op::AddCyclic { m: 0 } => {
            return Err(GpuError::Shape { op: name, detail: "cycle length m is 0".into() })
        }
        Op::AddCyclic { m } => {
            p.m = m as u32;
            m.min(n)
        }
        _ => n,
    };
    check_len(&name, "src", src, want, &shape)?;
    launch(program, ctx, op.entry(), &name, &[(0, src), (2, dst)], p).await
}

/// The head layout of a `[b, l, parts, h, dh]` activation (attention's packed q, k, v: parts 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heads {
    pub b: usize,
    pub l: usize,
    pub h: usize,
    pub dh: usize,
    pub parts: usize,
}

impl Heads {
    /// Elements of one part in `[b, h, l, dh]`.
    pub fn part_len(&self) -> usize {
        self.b * self.h * self.l * self.dh
    }

    fn params(&self, op: &str, part: usize) -> Result<Params> {
        let Heads { b, l, h, dh, parts } = *self;
        if self.part_len() == 0 || part >= parts {
            return Err(GpuError::Shape { op: op.into(), detail: format!("part {part} of {self:?}") });
        }
        Ok(Params {
            n: self.part_len() as u32,
            m: 0,
            b: b as u32,
            l: l as u32,
            h: h as u32,
            dh: dh as u32,
            parts: parts as u32,
            part: part as u32,
        })
    }
}

/// Record `dst [b, h, l, dh] = part `part` of src [b, l, parts, h, dh]`.
pub async fn record_split_heads(
    program: &mut Program,
    ctx: &GpuContext,
    src: wgpu::BufferSlice<'_>,
    dst: wgpu::BufferSlice<'_>,
    s: Heads,
    part: usize,
    label: &str,
) -> Result<()> {
    let p = s.params(label, part)?;
    check_len(label, "src", src, s.part_len() * s.parts, &format!("{s:?}"))?;
    check_len(label, "dst", dst, s.part_len(), &format!("{s:?}"))?;
    launch(program, ctx, "split_heads", label, &[(0, src), (2, dst)], p).await
}

/// Record `part `part` of dst [b, l, parts, h, dh] = src [b, h, l, dh]` (other parts untouched).
pub async fn record_merge_heads(
    program: &mut Program,
    ctx: &GpuContext,
    src: wgpu::BufferSlice<'_>,
    dst: wgpu::BufferSlice<'_>,
    s: Heads,
    part: usize,
    label: &str,
) -> Result<()> {
    let p = s.params(label, part)?;
    check_len(label, "src", src, s.part_len(), &format!("{s:?}"))?;
    check_len(label, "dst", dst, s.part_len() * s.parts, &format!("{s:?}"))?;
    launch(program, ctx, "merge_heads", label, &[(0, src), (2, dst)], p).await
}

/// Record the DLR map: `params` holds ν, θ, W_re, W_im (each `[dn]`, `stride` floats apart) →
/// `modes [4, dn]` = (Λ_re, Λ_im, W_re, W_im).
pub async fn record_dlr_modes(
    program: &mut Program,
    ctx: &GpuContext,
    params: wgpu::BufferSlice<'_>,
    modes: wgpu::BufferSlice<'_>,
    dn: usize,
    stride: usize,
    label: &str,
) -> Result<()> {
    check_dlr(label, dn, stride)?;
    check_len(label, "params", params, 3 * stride + dn, &format!("4 x [{dn}] at stride {stride}"))?;
    check_len(label, "modes", modes, 4 * dn, &format!("[4, {dn}]"))?;
    let p = Params { n: dn as u32, m: stride as u32, ..Default::default() };
    launch(program, ctx, "dlr_modes", label, &[(0, params), (2, modes)], p).await
}

/// Record the DLR map's backward: `d_params` (same layout as `params`) from `d_modes [4, dn]`.
#[allow(clippy::too_many_arguments)]
pub async fn record_dlr_modes_backward(
    program: &mut Program,
    ctx: &GpuContext,
    params: wgpu::BufferSlice<'_>,
    d_modes: wgpu::BufferSlice<'_>,
    d_params: wgpu::BufferSlice<'_>,
    dn: usize,
    stride: usize,
    label: &str,
) -> Result<()> {
    check_dlr(label, dn, stride)?;
    let shape = format!("4 x [{dn}] at stride {stride}");
    check_len(label, "params", params, 3 * stride + dn, &shape)?;
    check_len(label, "d_params", d_params, 3 * stride + dn, &shape)?;
    check_len(label, "d_modes", d_modes, 4 * dn, &format!("[4, {dn}]"))?;
    let p = Params { n: dn as u32, m: stride as u32, ..Default::default() };
    launch(program, ctx, "dlr_modes_bwd", label, &[(0, params), (1, d_modes), (2, d_params)], p).await
}

fn check_dlr(op: &str, dn: usize, stride: usize) -> Result<()> {
    if dn == 0 || stride < dn {
        return Err(GpuError::Shape { op: op.into(), detail: format!("{dn} modes at a stride of {stride}") });
    }
    Ok(())
}

/// The oracle for `record_elementwise`.
pub fn elementwise_reference(op: Op, src: &[f32], dst: &mut [f32]) {
    for i in 0..dst.len() {
        dst[i] = match op {
            Op::Zero => 0.0,
            Op::Copy => src[i],
            Op::Add => dst[i] + src[i],
            Op::AddCyclic { m } => dst[i] + src[i % m],
            Op::ReluMask => {
                if src[i] > 0.0 {
                    dst[i]
                } else {
                    0.0
                }
            }
        };
    }
}

/// The oracle for the permutes: part `part` of `[b, l, parts, h, dh]` as `[b, h, l, dh]`.
pub fn split_heads_reference(src: &[f32], s: Heads, part: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(s.part_len());
    for b in 0..s.b {
        for hh in 0..s.h {
            for t in 0..s.l {
                let base = ((b * s.l + t) * s.parts + part) * s.h * s.dh + hh * s.dh;
                out.extend_from_slice(&src[base..base + s.dh]);
            }
        }
    }
    out
}

/// The oracle for `record_dlr_modes_backward` (f64): returns `(modes, d_params)` for the
/// packed `params` and `d_modes`.
pub fn dlr_modes_reference(
    params: &[f32],
    d_modes: &[f32],
    dn: usize,
    stride: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (mut modes, mut dp) = (vec![0f64; 4 * dn], vec![0f64; 3 * stride + dn]);
    for i in 0..dn {
        let (nu, th) = (params[i] as f64, params[stride + i] as f64);
        let r = (-nu.exp()).exp();
        let (lr, li) = (r * th.cos(), r * th.sin());
        modes[i] = lr;
        modes[dn + i] = li;
        modes[2 * dn + i] = params[2 * stride + i] as f64;
        modes[3 * dn + i] = params[3 * stride + i] as f64;
        let (gr, gi) = (d_modes[i] as f64, d_modes[dn + i] as f64);
        dp[i] = -nu.exp() * (gr * lr + gi * li);
        dp[stride + i] = gi * lr - gr * li;
        dp[2 * stride + i] = d_modes[2 * dn + i] as f64;
        dp[3 * stride + i] = d_modes[3 * dn + i] as f64;
    }
    (modes, dp)
}
