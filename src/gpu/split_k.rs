//! Weight gradients `C[M, N] = Aᵀ·B` with a long shared dimension K (= batch·seq tokens) and
//! a small output (M, N = the layer's widths). The plain gemm gives each 64×64 output tile to
//! one workgroup, so a 128×384 gradient uses 12 workgroups that each walk all of K — on the
//! H200 that ran at 29–38 GFLOP/s against 420–470 for the other products. Split-K cuts K into
//! S equal chunks: a strided batch of S gemms (`gemm.wgsl`, batch stride Kc·M for A, Kc·N
//! for B) writes S partial products into scratch, then a fixed-order column sum
//! (`reduce.wgsl`) adds them. Both kernels are deterministic, so the result repeats bit for
//! bit; it differs from the unsplit sum only by rounding order. No new shader.

use super::gemm::{record_gemm, Gemm};
use super::reduce::{col_sum_scratch_len, record_col_sum, ReduceOpts};
use super::{GpuContext, GpuError, Program, Result};

/// Output tiles below which splitting pays (fewer workgroups than a GPU has cores to fill).
const MIN_TILES: usize = 32;
/// Shortest K chunk worth a workgroup.
const MIN_CHUNK: usize = 256;
/// Workgroups to aim for.
const TARGET_GROUPS: usize = 256;

/// The split factor for `Aᵀ·B` of `[K, M]ᵀ·[K, N]`: 1 (no split) unless the output has few
/// tiles and K is long; always a divisor of K, so the chunks are equal.
pub fn split_for(m: usize, k: usize, n: usize) -> usize {
    let tiles = m.div_ceil(64) * n.div_ceil(64);
    if tiles >= MIN_TILES || k < 2 * MIN_CHUNK {
        return 1;
    }
    let target = TARGET_GROUPS.div_ceil(tiles).min(k / MIN_CHUNK).max(1);
    (1..=target).rev().find(|s| k.is_multiple_of(*s)).unwrap_or(1)
}

/// Scratch f32s `record_weight_grad` needs: `(partials, reduce scratch)`; (0, 0) when it
/// does not split.
pub fn scratch_lens(m: usize, k: usize, n: usize) -> (usize, usize) {
    match split_for(m, k, n) {
        1 => (0, 0),
        s => (s * m * n, col_sum_scratch_len(s, m * n)),
    }
}

/// Record `c[M, N] = aᵀ·b` (`a` `[K, M]`, `b` `[K, N]`), split along K when `split_for` says
/// so (then `partials` and `scratch` must hold `scratch_lens`; otherwise they are unused).
#[allow(clippy::too_many_arguments)]
pub async fn record_weight_grad(
    program: &mut Program,
    ctx: &GpuContext,
    a: wgpu::BufferSlice<'_>,
    b: wgpu::BufferSlice<'_>,
    c: wgpu::BufferSlice<'_>,
    [partials, scratch]: [Option<wgpu::BufferSlice<'_>>; 2],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    let s = split_for(m, k, n);
    if s == 1 {
        return record_gemm(program, ctx, &Gemm::new(m, k, n).trans_a(true), a, b, None, c).await;
    }
    let (Some(partials), Some(scratch)) = (partials, scratch) else {
        return Err(GpuError::Shape {
            op: "weight_grad".into(),
            detail: format!("[{k}, {m}]ᵀ·[{k}, {n}] splits {s} ways and needs scratch buffers"),
        });
    };
    let kc = k / s;
    let spec = Gemm::new(m, kc, n).trans_a(true).batched(s, kc * m, kc * n, m * n);
    record_gemm(program, ctx, &spec, a, b, None, partials).await?;
    record_col_sum(program, ctx, partials, scratch, c, s, m * n, ReduceOpts::default()).await
}
