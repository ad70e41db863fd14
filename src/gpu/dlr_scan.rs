//! Binding for `shaders/dlr_scan.wgsl`: the DLR recurrence `x_t = Λ x_{t−1} + u_t`,
//! `y_t = Re(Σ_n W_n x_t)` per channel, as a chunked parallel scan (forward and the
//! reverse-time adjoint), plus the f64 adjoint oracle. Layouts (row-major f32):
//! u, y, dy, du `[b, l, d]`; modes and grads `[4, d, n]` = (Λ_re, Λ_im, W_re, W_im) and their
//! gradients. `gpu` must not import `model`; the forward oracle is
//! `model::dlr::dlr_scan_reference`, which the tests call.

use super::{GpuContext, GpuError, Kernel, Program, Result};

const WG: u32 = 64;

/// Time steps per chunk when the caller has no preference: each chunk thread walks
/// `2·chunk·n` steps and the carry thread `l / chunk`, and `b·d·l/chunk` threads run at once.
pub const DEFAULT_CHUNK: usize = 64;

/// `u [b, l, d]` through `d` channels of `n` complex states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanShape {
    pub b: usize,
    pub l: usize,
    pub d: usize,
    pub n: usize,
}

impl ScanShape {
    /// Elements of u (= y, dy, du).
    pub fn len(&self) -> usize {
        self.b * self.l * self.d
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of chunks of `chunk` steps.
    pub fn chunks(&self, chunk: usize) -> usize {
        self.l.div_ceil(chunk)
    }

    /// f32s of `carry_x` / `carry_g` (`[b, chunks, d, n, 2]`).
    pub fn carry_len(&self, chunk: usize) -> usize {
        self.b * self.chunks(chunk) * self.d * self.n * 2
    }

    fn check(&self, op: &str, chunk: usize) -> Result<()> {
        let ScanShape { b, l, d, n } = *self;
        if b == 0 || l == 0 || d == 0 || n == 0 || chunk == 0 {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!("empty shape [b {b}, l {l}, d {d}, n {n}] or chunk {chunk}"),
            });
        }
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    b: u32,
    l: u32,
    d: u32,
    n: u32,
    chunk: u32,
    chunks: u32,
    _p: [u32; 2],
}

fn params(s: ScanShape, chunk: usize) -> Params {
    Params {
        b: s.b as u32,
        l: s.l as u32,
        d: s.d as u32,
        n: s.n as u32,
        chunk: chunk as u32,
        chunks: s.chunks(chunk) as u32,
        _p: [0; 2],
    }
}

fn check_buffers(
    op: &str,
    s: ScanShape,
    chunk: usize,
    bufs: &[(&str, wgpu::BufferSlice<'_>, usize)],
) -> Result<()> {
    for &(name, buf, want) in bufs {
        if buf.size() < (want * 4) as u64 {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!(
                    "buffer {name} holds {} f32s, {s:?} with chunk {chunk} needs {want}",
                    buf.size() / 4
                ),
            });
        }
    }
    Ok(())
}

fn groups(s: ScanShape, per_b: usize) -> [u32; 3] {
    [(per_b as u32).div_ceil(WG), s.b as u32, 1]
}

/// Record the forward scan: `y [b, l, d]` from `u [b, l, d]` and `modes [4, d, n]`.
/// `carry_x` (`s.carry_len(chunk)` f32s) is left holding each chunk's entry state, which
/// the backward pass reads.
#[allow(clippy::too_many_arguments)]
pub async fn record_dlr_scan_forward(
    program: &mut Program,
    ctx: &GpuContext,
    u: wgpu::BufferSlice<'_>,
    modes: wgpu::BufferSlice<'_>,
    carry_x: wgpu::BufferSlice<'_>,
    y: wgpu::BufferSlice<'_>,
    s: ScanShape,
    chunk: usize,
) -> Result<()> {
    let op = "dlr_scan_forward";
    s.check(op, chunk)?;
    check_buffers(
        op,
        s,
        chunk,
        &[
            ("u", u, s.len()),
            ("modes", modes, 4 * s.d * s.n),
            ("carry_x", carry_x, s.carry_len(chunk)),
            ("y", y, s.len()),
        ],
    )?;
    let p = params(s, chunk);
    let pb = Some((10, bytemuck::bytes_of(&p)));
    let (per_chunk, per_mode) = (groups(s, s.d * s.chunks(chunk)), groups(s, s.d * s.n));
    program
        .push(
            ctx,
            Kernel::DlrScan,
            "fwd_local",
            "dlr_scan.fwd_local",
            &[(0, u), (1, modes), (3, carry_x)],
            pb,
            per_chunk,
        )
        .await?;
    program
        .push(
            ctx,
            Kernel::DlrScan,
            "fwd_carry",
            "dlr_scan.fwd_carry",
            &[(1, modes), (3, carry_x)],
            pb,
            per_mode,
        )
        .await?;
    program
        .push(
            ctx,
            Kernel::DlrScan,
            "fwd_fixup",
            "dlr_scan.fwd_fixup",
            &[(0, u), (1, modes), (3, carry_x), (5, y)],
            pb,
            per_chunk,
        )
        .await
}

/// Record the backward scan: `du [b, l, d]` and `grads [4, d, n]` (dΛ_re, dΛ_im, dW_re,
/// dW_im, summed over the batch in a fixed order) from `dy`, the inputs and the forward's
/// `carry_x`. Scratch: `carry_g` (`s.carry_len(chunk)`), `scratch` (`2·b·d·l`) and `partials`
/// (`2·s.carry_len(chunk)`).
#[allow(clippy::too_many_arguments)]
pub async fn record_dlr_scan_backward(
    program: &mut Program,
    ctx: &GpuContext,
    [u, modes, dy, carry_x]: [wgpu::BufferSlice<'_>; 4],
    [carry_g, scratch, partials]: [wgpu::BufferSlice<'_>; 3],
    [du, grads]: [wgpu::BufferSlice<'_>; 2],
    s: ScanShape,
    chunk: usize,
) -> Result<()> {
    let op = "dlr_scan_backward";
    s.check(op, chunk)?;
    let (n, dn, c) = (s.len(), 4 * s.d * s.n, s.carry_len(chunk));
    let bufs = [
        ("u", u, n),
        ("modes", modes, dn),
        ("dy", dy, n),
        ("carry_x", carry_x, c),
        ("carry_g", carry_g, c),
        ("scratch", scratch, 2 * n),
        ("partials", partials, 2 * c),
        ("du", du, n),
        ("grads", grads, dn),
    ];
    check_buffers(op, s, chunk, &bufs)?;
    let p = params(s, chunk);
    let pb = Some((10, bytemuck::bytes_of(&p)));
    let (per_chunk, per_mode) = (groups(s, s.d * s.chunks(chunk)), groups(s, s.d * s.n));
    program
        .push(
            ctx,
            Kernel::DlrScan,
            "bwd_local",
            "dlr_scan.bwd_local",
            &[(1, modes), (2, dy), (4, carry_g)],
            pb,
            per_chunk,
        )
        .await?;
    program
        .push(
            ctx,
            Kernel::DlrScan,
            "bwd_carry",
            "dlr_scan.bwd_carry",
            &[(1, modes), (4, carry_g)],
            pb,
            per_mode,
        )
        .await?;
    let bind =
        [(0, u), (1, modes), (2, dy), (3, carry_x), (4, carry_g), (6, du), (7, scratch), (8, partials)];
    program.push(ctx, Kernel::DlrScan, "bwd_fixup", "dlr_scan.bwd_fixup", &bind, pb, per_chunk).await?;
    let reduce = [((s.d * s.n) as u32).div_ceil(WG), 1, 1];
    program
        .push(
            ctx,
            Kernel::DlrScan,
            "bwd_reduce",
            "dlr_scan.bwd_reduce",
            &[(8, partials), (9, grads)],
            pb,
            reduce,
        )
        .await
}

fn check_lens(op: &str, s: ScanShape, inputs: &[(&str, &[f32], usize)]) -> Result<()> {
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

/// One-shot forward: `y [b, l, d]`.
pub async fn dlr_scan(
    ctx: &GpuContext,
    u: &[f32],
    modes: &[f32],
    s: ScanShape,
    chunk: usize,
) -> Result<Vec<f32>> {
    let op = "dlr_scan_forward";
    s.check(op, chunk)?;
    check_lens(op, s, &[("u", u, s.len()), ("modes", modes, 4 * s.d * s.n)])?;
    let (ub, mb) = (ctx.upload_f32(op, "dlr_scan.u", u)?, ctx.upload_f32(op, "dlr_scan.modes", modes)?);
    let (cx, yb) = (
        ctx.output_f32(op, "dlr_scan.carry_x", s.carry_len(chunk))?,
        ctx.output_f32(op, "dlr_scan.y", s.len())?,
    );
    let mut program = Program::new();
    record_dlr_scan_forward(
        &mut program,
        ctx,
        ub.slice(..),
        mb.slice(..),
        cx.slice(..),
        yb.slice(..),
        s,
        chunk,
    )
    .await?;
    program.submit(ctx)?;
    ctx.read_f32(&yb, s.len()).await
}

/// One-shot forward + backward (one submission): `(y, du, grads [4, d, n])`.
pub async fn dlr_scan_backward(
    ctx: &GpuContext,
    u: &[f32],
    modes: &[f32],
    dy: &[f32],
    s: ScanShape,
    chunk: usize,
) -> Result<[Vec<f32>; 3]> {
    let op = "dlr_scan_backward";
    s.check(op, chunk)?;
    let (n, dn, c) = (s.len(), 4 * s.d * s.n, s.carry_len(chunk));
    check_lens(op, s, &[("u", u, n), ("modes", modes, dn), ("dy", dy, n)])?;
    let ins = [("dlr_scan.u", u), ("dlr_scan.modes", modes), ("dlr_scan.dy", dy)]
        .map(|(l, x)| ctx.upload_f32(op, l, x));
    let [ub, mb, dyb] = ins;
    let (ub, mb, dyb) = (ub?, mb?, dyb?);
    let outs = [
        ("dlr_scan.carry_x", c),
        ("dlr_scan.y", n),
        ("dlr_scan.carry_g", c),
        ("dlr_scan.scratch", 2 * n),
        ("dlr_scan.partials", 2 * c),
        ("dlr_scan.du", n),
        ("dlr_scan.grads", dn),
    ];
    let o = outs.map(|(l, len)| ctx.output_f32(op, l, len)).into_iter().collect::<Result<Vec<_>>>()?;
    let mut program = Program::new();
    record_dlr_scan_forward(
        &mut program,
        ctx,
        ub.slice(..),
        mb.slice(..),
        o[0].slice(..),
        o[1].slice(..),
        s,
        chunk,
    )
    .await?;
    record_dlr_scan_backward(
        &mut program,
        ctx,
        [ub.slice(..), mb.slice(..), dyb.slice(..), o[0].slice(..)],
        [o[2].slice(..), o[3].slice(..), o[4].slice(..)],
        [o[5].slice(..), o[6].slice(..)],
        s,
        chunk,
    )
    .await?;
    program.submit(ctx)?;
    Ok([ctx.read_f32(&o[1], n).await?, ctx.read_f32(&o[5], n).await?, ctx.read_f32(&o[6], dn).await?])
}

/// The slow, obvious adjoint in f64 (analytic, derived in the shader header): the forward
/// states stepped and stored, then `G_t = conj(Λ) G_{t+1} + dy_t conj(W)` in reverse time.
/// Returns `(du [b, l, d], grads [4, d, n])`.
pub fn dlr_scan_backward_reference(
    u: &[f32],
    modes: &[f32],
    dy: &[f32],
    s: ScanShape,
) -> (Vec<f64>, Vec<f64>) {
    let ScanShape { b, l, d, n } = s;
    let dn = d * n;
    let mul = |a: (f64, f64), z: (f64, f64)| (a.0 * z.0 - a.1 * z.1, a.0 * z.1 + a.1 * z.0);
    let (mut du, mut grads) = (vec![0f64; s.len()], vec![0f64; 4 * dn]);
    for bb in 0..b {
        for h in 0..d {
            for j in 0..n {
                let m = |k: usize| modes[k * dn + h * n + j] as f64;
                let (lam, w) = ((m(0), m(1)), (m(2), m(3)));
                let at = |t: usize| (bb * l + t) * d + h;
                let mut xs = vec![(0f64, 0f64); l + 1]; // xs[t + 1] = x_t, xs[0] = x_{−1} = 0
                for t in 0..l {
                    let lx = mul(lam, xs[t]);
                    xs[t + 1] = (lx.0 + u[at(t)] as f64, lx.1);
                }
                let mut g = (0f64, 0f64);
                for t in (0..l).rev() {
                    let gy = dy[at(t)] as f64;
                    let lg = mul((lam.0, -lam.1), g);
                    g = (lg.0 + gy * w.0, lg.1 - gy * w.1);
                    du[at(t)] += g.0;
                    let (xp, xt) = (xs[t], xs[t + 1]);
                    grads[h * n + j] += g.0 * xp.0 + g.1 * xp.1; // Re(G conj x_{t−1})
                    grads[dn + h * n + j] += g.1 * xp.0 - g.0 * xp.1; // Im(G conj x_{t−1})
                    grads[2 * dn + h * n + j] += gy * xt.0;
                    grads[3 * dn + h * n + j] -= gy * xt.1;
                }
            }
        }
    }
    (du, grads)
}
