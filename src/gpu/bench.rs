//! Matmul throughput on the device the lab got (`interlab gpu-bench`): each case records one
//! launch into a `Program` over buffers allocated once, submits it once to warm up, then
//! times `reps` submissions and a blocking wait for the queue to drain. Native only (it
//! blocks on `device.poll`); the numbers go in issue 5's benchmark table.

use std::time::Instant;

use super::gemm::{record_gemm, Gemm};
use super::matmul::record_matmul;
use super::{GpuContext, GpuError, Program, Result};

/// One benchmark shape.
#[derive(Clone, Debug)]
pub struct BenchCase {
    /// What the shape is in the models, e.g. "qkv fwd".
    pub role: &'static str,
    pub spec: Gemm,
    /// Fused bias epilogue (`gemm_bias`).
    pub bias: bool,
    /// Time the original `matmul.wgsl` kernel instead of `gemm.wgsl` (plain A·B only).
    pub legacy: bool,
    /// A weight gradient Aᵀ·B through `split_k::record_weight_grad` (the engine's path).
    pub split: bool,
}

/// What one case measured.
#[derive(Clone, Debug)]
pub struct BenchResult {
    pub case: BenchCase,
    pub reps: usize,
    /// Wall time of all reps, submission to completion.
    pub seconds: f64,
}

impl BenchResult {
    pub fn ms_per_rep(&self) -> f64 {
        self.seconds * 1e3 / self.reps as f64
    }
    pub fn gflops(&self) -> f64 {
        2.0 * self.case.spec.macs() as f64 * self.reps as f64 / self.seconds / 1e9
    }
}

fn case(role: &'static str, spec: Gemm) -> BenchCase {
    BenchCase { role, spec, bias: false, legacy: false, split: false }
}

/// The square `size³` product (both kernels), then the Transformer's real shapes at
/// d_model 128, 4 heads of 32, MLP 512, sequence 256, `batch` sequences (32 in the issue's
/// benchmark: 8192 tokens): forward, weight gradients (Aᵀ·B) and input gradients (A·Bᵀ), and
/// the per-head attention products.
pub fn default_cases(size: usize, batch: usize) -> Vec<BenchCase> {
    let t = batch * 256; // tokens
    let (bh, s, dh) = (batch * 4, 256, 32); // batch·heads, sequence, head dim
    vec![
        BenchCase { legacy: true, ..case("square, matmul.wgsl", Gemm::new(size, size, size)) },
        case("square", Gemm::new(size, size, size)),
        case("qkv fwd  x·Wqkv", Gemm::new(t, 128, 384)),
        BenchCase { bias: true, ..case("mlp up fwd relu(x·W1+b)", Gemm::new(t, 128, 512).relu(true)) },
        case("mlp down fwd h·W2", Gemm::new(t, 512, 128)),
        case("qkv dW  xᵀ·dY", Gemm::new(128, t, 384).trans_a(true)),
        BenchCase { split: true, ..case("qkv dW  split-K", Gemm::new(128, t, 384).trans_a(true)) },
        case("qkv dX  dY·Wᵀ", Gemm::new(t, 384, 128).trans_b(true)),
        case("mlp down dW += hᵀ·dY", Gemm::new(512, t, 128).trans_a(true).accumulate(true)),
        BenchCase { split: true, ..case("mlp down dW  split-K", Gemm::new(512, t, 128).trans_a(true)) },
        case("mlp up dX  dH·W1ᵀ", Gemm::new(t, 512, 128).trans_b(true)),
        case("attn scores Q·Kᵀ", Gemm::new(s, dh, s).trans_b(true).batched(bh, s * dh, s * dh, s * s)),
        case("attn out P·V", Gemm::new(s, s, dh).batched(bh, s * s, s * dh, s * dh)),
    ]
}

/// Allocate, record, warm up, then time `reps` submissions of the recorded program.
pub async fn bench_case(ctx: &GpuContext, case: &BenchCase, reps: usize) -> Result<BenchResult> {
    let op = "gpu-bench";
    let spec = &case.spec;
    let (la, lb, lc) = spec.lens();
    let a = ctx.output_f32(op, "bench.a", la)?;
    let b = ctx.output_f32(op, "bench.b", lb)?;
    let c = ctx.output_f32(op, "bench.c", lc)?;
    let bias = if case.bias { Some(ctx.output_f32(op, "bench.bias", spec.n)?) } else { None };
    let mut program = Program::new();
    let (pl, sl) = super::split_k::scratch_lens(spec.m, spec.k, spec.n);
    let (partials, scratch) =
        (ctx.output_f32(op, "bench.partials", pl)?, ctx.output_f32(op, "bench.scratch", sl)?);
    if case.legacy {
        record_matmul(&mut program, ctx, a.slice(..), b.slice(..), c.slice(..), spec.m, spec.k, spec.n)
            .await?;
    } else if case.split {
        let s = [Some(partials.slice(..)), Some(scratch.slice(..))];
        super::split_k::record_weight_grad(
            &mut program,
            ctx,
            a.slice(..),
            b.slice(..),
            c.slice(..),
            s,
            spec.m,
            spec.k,
            spec.n,
        )
        .await?;
    } else {
        record_gemm(
            &mut program,
            ctx,
            spec,
            a.slice(..),
            b.slice(..),
            bias.as_ref().map(|b| b.slice(..)),
            c.slice(..),
        )
        .await?;
    }
    let wait = || {
        ctx.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Device { op: op.into(), detail: e.to_string() })
    };
    program.submit(ctx)?;
    wait()?;
    let start = Instant::now();
    for _ in 0..reps.max(1) {
        program.submit(ctx)?;
    }
    wait()?;
    Ok(BenchResult { case: case.clone(), reps: reps.max(1), seconds: start.elapsed().as_secs_f64() })
}

/// One printable line: role, kernel and shape, reps, ms per rep, GFLOP/s.
pub fn format_line(r: &BenchResult) -> String {
    let s = &r.case.spec;
    let kernel = if r.case.legacy {
        format!("matmul {}x{}x{}", s.m, s.k, s.n)
    } else if r.case.split {
        format!("{} in {} chunks", s.describe(), super::split_k::split_for(s.m, s.k, s.n))
    } else {
        s.describe() + if r.case.bias { " bias" } else { "" }
    };
    format!(
        "{:<28} {:<34} reps {:>3}  {:>9.3} ms/rep  {:>8.2} GFLOP/s",
        r.case.role,
        kernel,
        r.reps,
        r.ms_per_rep(),
        r.gflops()
    )
}
