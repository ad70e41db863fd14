//! The GPU self-check: run each WGSL kernel on the device the lab got and compare it with
//! the candle CPU reference. The page runs it at start-up (its result is in
//! `data-testid="gpu-check"`), the CLI runs it with `interlab gpu-check`, and the native
//! tests run the same comparison on software Vulkan.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::core::Rng;
use crate::gpu::{matmul::matmul, GpuContext};

/// The shapes every matmul check covers: tiny, odd, one full tile, and tile + 1 edges.
pub const MATMUL_SHAPES: &[(usize, usize, usize)] = &[(1, 1, 1), (7, 13, 5), (64, 64, 64), (257, 129, 65)];

/// Allowed |gpu − cpu| ≤ MATMUL_ATOL + MATMUL_RTOL·|cpu| for inputs in [−1, 1]: both sides
/// are f32 with different summation orders (candle's gemm blocks K; the shader sums k in
/// order), so they differ by a few ulps of the partial sums.
pub const MATMUL_ATOL: f32 = 1e-5;
pub const MATMUL_RTOL: f32 = 1e-4;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapeCheck {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub max_abs_err: f32,
    pub ok: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GpuCheckReport {
    pub kernel: String,
    pub shapes: Vec<ShapeCheck>,
    pub passed: bool,
}

/// Uniform [−1, 1) inputs fixed by `seed`.
pub fn random_matrix(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
}

/// candle's CPU matmul, the reference for the kernel.
pub fn candle_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Result<Vec<f32>, String> {
    let dev = Device::Cpu;
    let ta = Tensor::from_vec(a.to_vec(), (m, k), &dev).map_err(|e| e.to_string())?;
    let tb = Tensor::from_vec(b.to_vec(), (k, n), &dev).map_err(|e| e.to_string())?;
    ta.matmul(&tb).and_then(|c| c.flatten_all()).and_then(|c| c.to_vec1()).map_err(|e| e.to_string())
}

/// Largest |x − y| and whether every element is within tolerance.
pub fn compare(gpu: &[f32], cpu: &[f32]) -> (f32, bool) {
    let mut max_err = 0f32;
    let mut ok = gpu.len() == cpu.len();
    for (&g, &c) in gpu.iter().zip(cpu) {
        let e = (g - c).abs();
        max_err = max_err.max(e);
        // Written negated on purpose: a NaN from the GPU must count as a mismatch.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(e <= MATMUL_ATOL + MATMUL_RTOL * c.abs()) {
            ok = false;
        }
    }
    (max_err, ok)
}

/// Run the matmul kernel over `MATMUL_SHAPES` against candle.
pub async fn check_matmul(ctx: &GpuContext) -> Result<GpuCheckReport, String> {
    let mut shapes = Vec::new();
    for (i, &(m, k, n)) in MATMUL_SHAPES.iter().enumerate() {
        let a = random_matrix(100 + i as u64, m * k);
        let b = random_matrix(200 + i as u64, k * n);
        let gpu = matmul(ctx, &a, &b, m, k, n).await.map_err(|e| e.to_string())?;
        let cpu = candle_matmul(&a, &b, m, k, n)?;
        let (max_abs_err, ok) = compare(&gpu, &cpu);
        shapes.push(ShapeCheck { m, k, n, max_abs_err, ok });
    }
    let passed = shapes.iter().all(|s| s.ok);
    Ok(GpuCheckReport { kernel: "matmul".into(), shapes, passed })
}
