//! Why: the matmul kernel is the first brick of the GPU engine; it must equal the candle CPU
//! reference on awkward shapes (partial tiles on every edge), on a real wgpu device —
//! lavapipe (software Vulkan) on CI. With INTERLAB_REQUIRE_GPU=1 (the test command sets
//! it) a missing adapter fails the test instead of skipping it.

mod common;

use interlab::engine::gpu_check::{self, candle_matmul, compare, random_matrix, MATMUL_SHAPES};
use interlab::gpu::matmul::{matmul, matmul_reference};
use interlab::gpu::{GpuContext, GpuError};

fn context() -> Option<GpuContext> {
    common::gpu_context()
}

#[test]
fn matmul_matches_candle_and_the_loop_oracle_on_awkward_shapes() {
    let Some(ctx) = context() else { return };
    for (i, &(m, k, n)) in MATMUL_SHAPES.iter().chain(&[(1, 257, 1), (65, 1, 130)]).enumerate() {
        let a = random_matrix(10 + i as u64, m * k);
        let b = random_matrix(20 + i as u64, k * n);
        let gpu = pollster::block_on(matmul(&ctx, &a, &b, m, k, n)).unwrap();
        let cpu = candle_matmul(&a, &b, m, k, n).unwrap();
        let (err, ok) = compare(&gpu, &cpu);
        assert!(ok, "{m}x{k}x{n}: max |gpu - candle| = {err}");
        let (err, ok) = compare(&gpu, &matmul_reference(&a, &b, m, k, n));
        assert!(ok, "{m}x{k}x{n}: max |gpu - loop| = {err}");
    }
}

#[test]
fn matmul_is_bit_identical_run_to_run() {
    let Some(ctx) = context() else { return };
    let (m, k, n) = (257, 129, 65);
    let a = random_matrix(1, m * k);
    let b = random_matrix(2, k * n);
    let x = pollster::block_on(matmul(&ctx, &a, &b, m, k, n)).unwrap();
    let y = pollster::block_on(matmul(&ctx, &a, &b, m, k, n)).unwrap();
    assert_eq!(x, y);
}

#[test]
fn self_check_report_passes() {
    let Some(ctx) = context() else { return };
    let report = pollster::block_on(gpu_check::check_matmul(&ctx)).unwrap();
    assert_eq!(report.shapes.len(), MATMUL_SHAPES.len());
    assert!(report.passed, "{report:?}");
}

#[test]
fn bad_shapes_and_oversized_buffers_are_clear_errors() {
    let Some(ctx) = context() else { return };
    let e = pollster::block_on(matmul(&ctx, &[1.0; 6], &[1.0; 6], 2, 3, 3)).unwrap_err();
    assert!(matches!(e, GpuError::Shape { .. }), "{e}");
    assert!(e.to_string().contains("want 3x3"), "{e}");
    let limit = ctx.limits.max_storage_buffer_binding_size;
    let e = ctx.check_storage("matmul", "matmul.a", limit + 4).unwrap_err();
    assert!(e.to_string().contains("over the device limit"), "{e}");
}
