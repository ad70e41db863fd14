//! Binding for `shaders/gemm.wgsl`: C = op(A) · op(B) for linear layers, forward and backward,
//! reading transposed operands in place (`Aᵀ·B` for weight gradients, `A·Bᵀ` for input
//! gradients), optionally accumulating into C, with a fused bias + ReLU epilogue and a
//! strided leading batch dimension. Must not import candle (parity lives in the tests).

use super::{GpuContext, GpuError, Kernel, Program, Result};

/// Output tile edge of one workgroup (must match TILE in the shader).
const TILE: u32 = 64;

const TRANS_A: u32 = 1;
const TRANS_B: u32 = 2;
const ACCUMULATE: u32 = 4;
const RELU: u32 = 8;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    k: u32,
    n: u32,
    flags: u32,
    batch: u32,
    stride_a: u32,
    stride_b: u32,
    stride_c: u32,
}

/// One gemm: per batch `C[M, N] (+)= op(A)[M, K] · op(B)[K, N] (+ bias[N]) (then ReLU)`.
/// Build with `Gemm::new(m, k, n)` and the builder methods; the defaults are a single plain
/// `C = A · B` with A stored `[M, K]` and B stored `[K, N]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// A is stored `[K, M]` (use Aᵀ): weight gradients `dW = Xᵀ · dY`.
    pub trans_a: bool,
    /// B is stored `[N, K]` (use Bᵀ): input gradients `dX = dY · Wᵀ`.
    pub trans_b: bool,
    /// `C = C + op(A)·op(B) (+ bias)` instead of overwriting C.
    pub accumulate: bool,
    /// `max(·, 0)` after bias and accumulation.
    pub relu: bool,
    /// Number of independent products (workgroups along z).
    pub batch: usize,
    /// f32 elements between consecutive batches of A, B, C (0 broadcasts A or B).
    pub stride_a: usize,
    pub stride_b: usize,
    pub stride_c: usize,
}

impl Gemm {
    pub fn new(m: usize, k: usize, n: usize) -> Gemm {
        Gemm {
            m,
            k,
            n,
            trans_a: false,
            trans_b: false,
            accumulate: false,
            relu: false,
            batch: 1,
            stride_a: m * k,
            stride_b: k * n,
            stride_c: m * n,
        }
    }
    pub fn trans_a(self, on: bool) -> Gemm {
        Gemm { trans_a: on, ..self }
    }
    pub fn trans_b(self, on: bool) -> Gemm {
        Gemm { trans_b: on, ..self }
    }
    pub fn accumulate(self, on: bool) -> Gemm {
        Gemm { accumulate: on, ..self }
    }
    pub fn relu(self, on: bool) -> Gemm {
        Gemm { relu: on, ..self }
    }
    /// `batch` products, batches `stride_*` f32s apart (densely packed: `m*k`, `k*n`, `m*n`).
    pub fn batched(self, batch: usize, stride_a: usize, stride_b: usize, stride_c: usize) -> Gemm {
        Gemm { batch, stride_a, stride_b, stride_c, ..self }
    }

    /// f32s each buffer must hold: the last batch's offset plus one matrix.
    pub fn lens(&self) -> (usize, usize, usize) {
        let last = self.batch.saturating_sub(1);
        (
            last * self.stride_a + self.m * self.k,
            last * self.stride_b + self.k * self.n,
            last * self.stride_c + self.m * self.n,
        )
    }

    /// Multiply-adds of the whole product (for GFLOP/s: twice this).
    pub fn macs(&self) -> u64 {
        (self.batch * self.m * self.k * self.n) as u64
    }

    /// A short name for labels and errors: `gemm[b×]MxKxN[ ta][ tb][ acc][ relu]`.
    pub fn describe(&self) -> String {
        let mut s = if self.batch > 1 {
            format!("gemm {}x[{}x{}x{}]", self.batch, self.m, self.k, self.n)
        } else {
            format!("gemm {}x{}x{}", self.m, self.k, self.n)
        };
        for (on, tag) in
            [(self.trans_a, " aT"), (self.trans_b, " bT"), (self.accumulate, " acc"), (self.relu, " relu")]
        {
            if on {
                s.push_str(tag);
            }
        }
        s
    }

    fn check(&self, op: &str) -> Result<()> {
        let shape = || {
            format!(
                "{} (a {}, b {})",
                self.describe(),
                if self.trans_a { "[K, M]" } else { "[M, K]" },
                if self.trans_b { "[N, K]" } else { "[K, N]" }
            )
        };
        if self.m == 0 || self.k == 0 || self.n == 0 || self.batch == 0 {
            return Err(GpuError::Shape { op: op.into(), detail: format!("empty shape: {}", shape()) });
        }
        if self.batch > 1 && self.stride_c < self.m * self.n {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!(
                    "stride_c {} < M·N = {}: batches of C would overlap in {}",
                    self.stride_c,
                    self.m * self.n,
                    shape()
                ),
            });
        }
        let (la, lb, lc) = self.lens();
        if [la, lb, lc].iter().any(|&l| l > u32::MAX as usize) {
            return Err(GpuError::Shape { op: op.into(), detail: format!("{} indexes past u32", shape()) });
        }
        Ok(())
    }
}

/// Record `c (+)= op(a) · op(b) (+ bias)` into `program`. `bias` (f32[N]) selects the
/// `gemm_bias` entry point. Buffers must hold at least `spec.lens()` f32s.
pub async fn record_gemm(
    program: &mut Program,
    ctx: &GpuContext,
    spec: &Gemm,
    a: wgpu::BufferSlice<'_>,
    b: wgpu::BufferSlice<'_>,
    bias: Option<wgpu::BufferSlice<'_>>,
    c: wgpu::BufferSlice<'_>,
) -> Result<()> {
    let op = "gemm";
    spec.check(op)?;
    let (la, lb, lc) = spec.lens();
    let mut need = vec![("a", a, la), ("b", b, lb), ("c", c, lc)];
    if let Some(bias) = bias {
        need.push(("bias", bias, spec.n));
    }
    for (name, buf, want) in need {
        if buf.size() < (want * 4) as u64 {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!(
                    "buffer {name} holds {} f32s, {} needs {want}",
                    buf.size() / 4,
                    spec.describe()
                ),
            });
        }
    }
    let flags = (spec.trans_a as u32 * TRANS_A)
        | (spec.trans_b as u32 * TRANS_B)
        | (spec.accumulate as u32 * ACCUMULATE)
        | (spec.relu as u32 * RELU);
    let params = Params {
        m: spec.m as u32,
        k: spec.k as u32,
        n: spec.n as u32,
        flags,
        batch: spec.batch as u32,
        stride_a: spec.stride_a as u32,
        stride_b: spec.stride_b as u32,
        stride_c: spec.stride_c as u32,
    };
    let groups = [(spec.n as u32).div_ceil(TILE), (spec.m as u32).div_ceil(TILE), spec.batch as u32];
    let label = spec.describe();
    let params = Some((4, bytemuck::bytes_of(&params)));
    match bias {
        None => {
            program.push(ctx, Kernel::Gemm, "gemm", &label, &[(0, a), (1, b), (3, c)], params, groups).await
        }
        Some(bias) => {
            program
                .push(
                    ctx,
                    Kernel::Gemm,
                    "gemm_bias",
                    &label,
                    &[(0, a), (1, b), (2, bias), (3, c)],
                    params,
                    groups,
                )
                .await
        }
    }
}

/// Run one gemm on the GPU and read C back (one-shot: upload, record, submit, read).
/// `c0` is C's initial value (needed with `accumulate`; zeros if `None`).
pub async fn gemm(
    ctx: &GpuContext,
    spec: &Gemm,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    c0: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let op = "gemm";
    spec.check(op)?;
    let (la, lb, lc) = spec.lens();
    let lens_ok = a.len() == la
        && b.len() == lb
        && bias.is_none_or(|x| x.len() == spec.n)
        && c0.is_none_or(|x| x.len() == lc);
    if !lens_ok {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!(
                "{}: a has {} values (want {la}), b {} (want {lb}), bias {:?} (want {}), c0 {:?} (want {lc})",
                spec.describe(),
                a.len(),
                b.len(),
                bias.map(|x| x.len()),
                spec.n,
                c0.map(|x| x.len())
            ),
        });
    }
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let a_buf = ctx.upload_f32(op, "gemm.a", a)?; // [batch, M, K] or [batch, K, M]
    let b_buf = ctx.upload_f32(op, "gemm.b", b)?; // [batch, K, N] or [batch, N, K]
    let bias_buf = bias.map(|x| ctx.upload_f32(op, "gemm.bias", x)).transpose()?; // [N]
    let c_buf = match c0 {
        Some(x) => ctx.upload_f32(op, "gemm.c", x)?, // [batch, M, N]
        None => ctx.output_f32(op, "gemm.c", lc)?,
    };
    if let Some(e) = scope.pop().await {
        return Err(GpuError::Device { op: format!("{op} allocate"), detail: e.to_string() });
    }
    let mut program = Program::new();
    record_gemm(
        &mut program,
        ctx,
        spec,
        a_buf.slice(..),
        b_buf.slice(..),
        bias_buf.as_ref().map(|b| b.slice(..)),
        c_buf.slice(..),
    )
    .await?;
    program.submit(ctx)?;
    ctx.read_f32(&c_buf, lc).await
}

/// The slow, obvious oracle: loops summing k in increasing order in f64, then the epilogue
/// in the shader's order (bias, accumulate, ReLU). `c0` as in `gemm`.
pub fn gemm_reference(
    spec: &Gemm,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    c0: Option<&[f32]>,
) -> Vec<f32> {
    let (m, k, n) = (spec.m, spec.k, spec.n);
    let (_, _, lc) = spec.lens();
    let mut c = c0.map(|x| x.to_vec()).unwrap_or_else(|| vec![0f32; lc]);
    for z in 0..spec.batch {
        let (oa, ob, oc) = (z * spec.stride_a, z * spec.stride_b, z * spec.stride_c);
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for p in 0..k {
                    let av = if spec.trans_a { a[oa + p * m + i] } else { a[oa + i * k + p] };
                    let bv = if spec.trans_b { b[ob + j * k + p] } else { b[ob + p * n + j] };
                    s += av as f64 * bv as f64;
                }
                if let Some(bias) = bias {
                    s += bias[j] as f64;
                }
                if spec.accumulate {
                    s += c[oc + i * n + j] as f64;
                }
                if spec.relu {
                    s = s.max(0.0);
                }
                c[oc + i * n + j] = s as f32;
            }
        }
    }
    c
}
