//! Why: the GPU engine's linear layers (forward, weight and input gradients, fused bias/ReLU,
//! per-head batches) and its fixed-order reductions (bias gradients, loss sums, global norms)
//! must equal the candle CPU reference and the f64 loop oracle on awkward shapes (1, 7, 64,
//! 257: partial tiles on every edge), repeat bit for bit, and reject bad shapes by name — on a
//! real wgpu device, lavapipe (software Vulkan) on CI. INTERLAB_REQUIRE_GPU=1 turns a missing
//! adapter into a failure instead of a skip.

mod common;

use candle_core::{Device, Tensor};
use interlab::engine::gpu_check::random_matrix;
use interlab::gpu::gemm::{gemm, gemm_reference, Gemm};
use interlab::gpu::reduce::{
    col_sum, col_sum_reference, col_sum_scratch_len, record_col_sum, record_sum, sum, sum_reference,
    sum_scratch_len, ReduceOpts,
};
use interlab::gpu::{GpuContext, GpuError, Program};

/// f32 unit roundoff, 2⁻²⁴.
const U: f64 = 1.0 / 16_777_216.0;

/// gemm tolerance, per output: |gpu − ref| ≤ GEMM_ULPS_PER_TERM · (K + 3) · U · mag, where
/// mag = Σ_k |a_ik·b_kj| + |bias_j| + |c0_ij| (the standard forward-error bound γ_n·Σ|terms|
/// for any order of n = K + 2 additions plus the final rounding). Against candle both sides
/// carry such an error, hence 2 terms per addition; against the f64 oracle 1 would do, we
/// keep 2. Shader and candle sum in different orders (candle blocks K), so equality is not
/// expected.
const GEMM_ULPS_PER_TERM: f64 = 2.0;

/// Reduction tolerance: |gpu − exact| ≤ REDUCE_RTOL · Σ|terms|. The longest chain of f32
/// additions any input goes through is ≤ 256 (rows in a part) + 64 (parts, up to 16 384
/// rows) + 2 for column sums, and 16 + 8 + 16 + 8 + 2 for vector sums; γ_322 ≈ 1.92e-5.
const REDUCE_RTOL: f64 = 2.0e-5;

/// The shapes (M, K, N): every size of {1, 7, 64, 257} appears in every position, with
/// degenerate vectors (1×257×1, 257×1×257), mixed partial tiles and one all-257 cube.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 257, 1),
    (257, 1, 257),
    (7, 64, 257),
    (257, 7, 64),
    (64, 257, 7),
    (7, 7, 7),
    (64, 64, 64),
    (1, 7, 64),
    (257, 257, 257),
];

fn context() -> Option<GpuContext> {
    common::gpu_context()
}

fn abs(v: Option<&[f32]>) -> Option<Vec<f32>> {
    v.map(|x| x.iter().map(|v| v.abs()).collect())
}

/// candle's CPU result for `spec` (one batch per 2-D matmul, transposes as `.t()` views).
fn candle_gemm(spec: &Gemm, a: &[f32], b: &[f32], bias: Option<&[f32]>, c0: Option<&[f32]>) -> Vec<f32> {
    let dev = Device::Cpu;
    let (m, k, n) = (spec.m, spec.k, spec.n);
    let (_, _, lc) = spec.lens();
    let mut c = c0.map(|x| x.to_vec()).unwrap_or_else(|| vec![0f32; lc]);
    for z in 0..spec.batch {
        let (oa, ob, oc) = (z * spec.stride_a, z * spec.stride_b, z * spec.stride_c);
        let ta = if spec.trans_a {
            Tensor::from_slice(&a[oa..oa + m * k], (k, m), &dev).unwrap().t().unwrap()
        } else {
            Tensor::from_slice(&a[oa..oa + m * k], (m, k), &dev).unwrap()
        };
        let tb = if spec.trans_b {
            Tensor::from_slice(&b[ob..ob + k * n], (n, k), &dev).unwrap().t().unwrap()
        } else {
            Tensor::from_slice(&b[ob..ob + k * n], (k, n), &dev).unwrap()
        };
        let mut y = ta.matmul(&tb).unwrap(); // [m, n]
        if let Some(bias) = bias {
            y = y.broadcast_add(&Tensor::from_slice(bias, (1, n), &dev).unwrap()).unwrap();
        }
        if spec.accumulate {
            y = (y + Tensor::from_slice(&c[oc..oc + m * n], (m, n), &dev).unwrap()).unwrap();
        }
        if spec.relu {
            y = y.relu().unwrap();
        }
        c[oc..oc + m * n].copy_from_slice(&y.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    }
    c
}

/// Run `spec` on the GPU and check it against candle and the loop oracle; returns the largest
/// error as a fraction of its tolerance, and the largest absolute error.
fn check_gemm(ctx: &GpuContext, spec: &Gemm, seed: u64, with_bias: bool) -> (f64, f64) {
    let (la, lb, lc) = spec.lens();
    let a = random_matrix(seed, la);
    let b = random_matrix(seed + 1, lb);
    let bias = with_bias.then(|| random_matrix(seed + 2, spec.n));
    let c0 = spec.accumulate.then(|| random_matrix(seed + 3, lc));
    let gpu = pollster::block_on(gemm(ctx, spec, &a, &b, bias.as_deref(), c0.as_deref())).unwrap();
    let (abs_a, abs_b) = (abs(Some(&a)).unwrap(), abs(Some(&b)).unwrap());
    let unrelu = Gemm { relu: false, ..*spec };
    let mag = gemm_reference(
        &unrelu,
        &abs_a,
        &abs_b,
        abs(bias.as_deref()).as_deref(),
        abs(c0.as_deref()).as_deref(),
    );
    let (mut worst, mut max_abs) = (0f64, 0f64);
    for (name, cpu) in [
        ("candle", candle_gemm(spec, &a, &b, bias.as_deref(), c0.as_deref())),
        ("loop", gemm_reference(spec, &a, &b, bias.as_deref(), c0.as_deref())),
    ] {
        assert_eq!(gpu.len(), cpu.len());
        for (i, ((&g, &c), &mg)) in gpu.iter().zip(&cpu).zip(&mag).enumerate() {
            let tol = GEMM_ULPS_PER_TERM * (spec.k as f64 + 3.0) * U * mg as f64 + f64::MIN_POSITIVE;
            let err = (g as f64 - c as f64).abs();
            assert!(
                err <= tol,
                "{}: element {i}: gpu {g} vs {name} {c}, err {err:.3e} > tol {tol:.3e}",
                spec.describe()
            );
            worst = worst.max(err / tol);
            max_abs = max_abs.max(err);
        }
    }
    (worst, max_abs)
}

fn fold(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0.max(b.0), a.1.max(b.1))
}

#[test]
fn gemm_all_transposes_match_candle_and_the_loop_oracle() {
    let Some(ctx) = context() else { return };
    let mut worst = (0f64, 0f64);
    for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let spec = Gemm::new(m, k, n).trans_a(ta).trans_b(tb);
            worst = fold(worst, check_gemm(&ctx, &spec, 100 + 10 * i as u64, false));
        }
    }
    eprintln!("gemm transposes: worst error / tolerance = {:.3}, max |error| = {:.3e}", worst.0, worst.1);
}

#[test]
fn gemm_epilogues_accumulate_bias_relu_match() {
    let Some(ctx) = context() else { return };
    let mut worst = (0f64, 0f64);
    for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
        let (ta, tb) = (i % 2 == 1, i % 3 == 2);
        let base = Gemm::new(m, k, n).trans_a(ta).trans_b(tb);
        worst = fold(worst, check_gemm(&ctx, &base.relu(true), 300 + i as u64, true)); // forward: relu(x·W + b)
        worst = fold(worst, check_gemm(&ctx, &base.accumulate(true), 400 + i as u64, false)); // grads: C += ...
        worst = fold(worst, check_gemm(&ctx, &base.accumulate(true).relu(true), 500 + i as u64, true));
        worst = fold(worst, check_gemm(&ctx, &base, 600 + i as u64, true)); // bias, no relu
    }
    eprintln!("gemm epilogues: worst error / tolerance = {:.3}, max |error| = {:.3e}", worst.0, worst.1);
}

#[test]
fn relu_epilogue_clamps_negatives_to_zero() {
    let Some(ctx) = context() else { return };
    // A·B = -1 everywhere, bias +0.25 → relu(-0.75) = 0; without relu the value stays.
    let spec = Gemm::new(7, 1, 65);
    let bias = vec![0.25f32; 65];
    let y =
        pollster::block_on(gemm(&ctx, &spec.relu(true), &[-1.0; 7], &[1.0; 65], Some(&bias), None)).unwrap();
    assert!(y.iter().all(|&v| v == 0.0), "{y:?}");
    let y = pollster::block_on(gemm(&ctx, &spec, &[-1.0; 7], &[1.0; 65], Some(&bias), None)).unwrap();
    assert!(y.iter().all(|&v| v == -0.75), "{y:?}");
}

#[test]
fn batched_gemm_matches_per_head_products() {
    let Some(ctx) = context() else { return };
    let mut worst = (0f64, 0f64);
    // Per-head attention sizes: scores = Q·Kᵀ, then P·V; and a broadcast weight (stride 0).
    let cases = [
        Gemm::new(64, 7, 64).trans_b(true).batched(3, 64 * 7, 64 * 7, 64 * 64),
        Gemm::new(257, 64, 7).batched(2, 257 * 64, 64 * 7, 257 * 7),
        Gemm::new(7, 257, 1).trans_a(true).accumulate(true).batched(4, 7 * 257, 257, 7 + 5),
        Gemm::new(1, 64, 257).batched(5, 64, 0, 257).relu(true),
    ];
    for (i, spec) in cases.iter().enumerate() {
        worst = fold(worst, check_gemm(&ctx, spec, 700 + 10 * i as u64, i == 3));
    }
    eprintln!("batched gemm: worst error / tolerance = {:.3}, max |error| = {:.3e}", worst.0, worst.1);
}

#[test]
fn gemm_is_bit_identical_run_to_run() {
    let Some(ctx) = context() else { return };
    for spec in [
        Gemm::new(257, 257, 64).trans_a(true),
        Gemm::new(64, 257, 257).trans_b(true).accumulate(true).relu(true),
        Gemm::new(7, 257, 64).batched(3, 7 * 257, 0, 7 * 64),
    ] {
        let (la, lb, lc) = spec.lens();
        let (a, b, c0, bias) =
            (random_matrix(1, la), random_matrix(2, lb), random_matrix(3, lc), random_matrix(4, spec.n));
        let run = || pollster::block_on(gemm(&ctx, &spec, &a, &b, Some(&bias), Some(&c0))).unwrap();
        let (x, y) = (run(), run());
        assert!(x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()), "{}", spec.describe());
        assert_ne!(x, c0, "{}: the kernel wrote nothing", spec.describe());
    }
}

fn check_reduction(gpu: f32, exact: f64, mag: f64, what: &str) -> f64 {
    let tol = REDUCE_RTOL * mag + f64::MIN_POSITIVE;
    let err = (gpu as f64 - exact).abs();
    assert!(err <= tol, "{what}: gpu {gpu} vs exact {exact}, err {err:.3e} > tol {tol:.3e}");
    err / mag.max(f64::MIN_POSITIVE)
}

#[test]
fn column_sums_match_the_f64_oracle_and_repeat() {
    let Some(ctx) = context() else { return };
    let mut worst = 0f64;
    for (i, &(rows, cols)) in
        [(1, 1), (1, 257), (257, 1), (7, 64), (257, 7), (513, 65), (8192, 128)].iter().enumerate()
    {
        let x = random_matrix(800 + i as u64, rows * cols);
        let absx: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        for square in [false, true] {
            let opts = ReduceOpts { square, accumulate: false };
            let gpu = pollster::block_on(col_sum(&ctx, &x, rows, cols, opts)).unwrap();
            let exact = col_sum_reference(&x, rows, cols, square);
            let mag = col_sum_reference(&absx, rows, cols, square);
            for c in 0..cols {
                worst = worst.max(check_reduction(
                    gpu[c],
                    exact[c],
                    mag[c],
                    &format!("col_sum [{rows}, {cols}] square={square} col {c}"),
                ));
            }
            let again = pollster::block_on(col_sum(&ctx, &x, rows, cols, opts)).unwrap();
            assert!(
                gpu.iter().zip(&again).all(|(p, q)| p.to_bits() == q.to_bits()),
                "col_sum [{rows}, {cols}] differs run to run"
            );
        }
    }
    eprintln!("column sums: worst relative error (of Σ|x|) = {worst:.3e}");
}

#[test]
fn sums_and_sums_of_squares_match_the_f64_oracle_and_repeat() {
    let Some(ctx) = context() else { return };
    let mut worst = 0f64;
    for (i, &n) in [1usize, 7, 64, 257, 4096, 4097, 65_537, 1_048_577].iter().enumerate() {
        let x = random_matrix(900 + i as u64, n);
        let absx: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        for square in [false, true] {
            let opts = ReduceOpts { square, accumulate: false };
            let gpu = pollster::block_on(sum(&ctx, &x, opts)).unwrap();
            worst = worst.max(check_reduction(
                gpu,
                sum_reference(&x, square),
                sum_reference(&absx, square),
                &format!("sum n={n} square={square}"),
            ));
            let again = pollster::block_on(sum(&ctx, &x, opts)).unwrap();
            assert_eq!(gpu.to_bits(), again.to_bits(), "sum n={n} square={square} differs run to run");
        }
    }
    eprintln!("sums: worst relative error (of Σ|x|) = {worst:.3e}");
}

/// The global-norm and bias-gradient pattern: several reductions recorded into one program,
/// the later ones accumulating into a slot of `out` chosen by index, sharing one scratch.
#[test]
fn recorded_reductions_accumulate_into_their_slot() {
    let Some(ctx) = context() else { return };
    let (g1, g2) = (random_matrix(41, 5000), random_matrix(42, 257)); // two "gradients"
    let (rows, cols) = (300, 7);
    let x = random_matrix(43, rows * cols); // [rows, cols]
    let up = |label: &str, v: &[f32]| ctx.upload_f32("test", label, v).unwrap();
    let (b1, b2, bx) = (up("g1", &g1), up("g2", &g2), up("x", &x));
    let scratch = ctx
        .output_f32("test", "scratch", sum_scratch_len(5000).max(col_sum_scratch_len(rows, cols)))
        .unwrap();
    let norms = up("norms", &[9.0, 9.0, 9.0]); // slot 1 must be overwritten, then accumulated
    let col = up("col", &[0.5; 7]); // column sums accumulate onto 0.5
    let sq = |accumulate| ReduceOpts { square: true, accumulate };
    let mut p = Program::new();
    pollster::block_on(async {
        record_sum(&mut p, &ctx, b1.slice(..), scratch.slice(..), norms.slice(..), g1.len(), 1, sq(false))
            .await
            .unwrap();
        record_sum(&mut p, &ctx, b2.slice(..), scratch.slice(..), norms.slice(..), g2.len(), 1, sq(true))
            .await
            .unwrap();
        record_col_sum(
            &mut p,
            &ctx,
            bx.slice(..),
            scratch.slice(..),
            col.slice(..),
            rows,
            cols,
            ReduceOpts { square: false, accumulate: true },
        )
        .await
        .unwrap();
    });
    assert_eq!(p.len(), 6, "{:?}", p.labels());
    p.submit(&ctx).unwrap();
    let got = pollster::block_on(ctx.read_f32(&norms, 3)).unwrap();
    assert_eq!((got[0], got[2]), (9.0, 9.0), "other slots untouched: {got:?}");
    let exact = sum_reference(&g1, true) + sum_reference(&g2, true);
    check_reduction(got[1], exact, exact, "global sum of squares");
    let got = pollster::block_on(ctx.read_f32(&col, cols)).unwrap();
    let absx: Vec<f32> = x.iter().map(|v| v.abs()).collect();
    let (exact, mag) =
        (col_sum_reference(&x, rows, cols, false), col_sum_reference(&absx, rows, cols, false));
    for c in 0..cols {
        check_reduction(got[c], 0.5 + exact[c], 0.5 + mag[c], &format!("accumulated column {c}"));
    }
}

#[test]
fn bad_shapes_are_shape_errors_naming_the_op() {
    let Some(ctx) = context() else { return };
    let shape_err = |e: GpuError, op: &str, needle: &str| {
        assert!(matches!(&e, GpuError::Shape { op: o, .. } if o == op), "{e:?}");
        assert!(e.to_string().starts_with(op) && e.to_string().contains(needle), "{e}");
    };
    // a is 6 values, 2x4 needs 8.
    let e =
        pollster::block_on(gemm(&ctx, &Gemm::new(2, 4, 3), &[1.0; 6], &[1.0; 12], None, None)).unwrap_err();
    shape_err(e, "gemm", "want 8");
    let e = pollster::block_on(gemm(&ctx, &Gemm::new(2, 3, 3), &[1.0; 6], &[1.0; 9], Some(&[1.0; 2]), None))
        .unwrap_err();
    shape_err(e, "gemm", "bias Some(2) (want 3)");
    let e = pollster::block_on(gemm(&ctx, &Gemm::new(0, 3, 3), &[], &[1.0; 9], None, None)).unwrap_err();
    shape_err(e, "gemm", "empty shape");
    let e = pollster::block_on(gemm(
        &ctx,
        &Gemm::new(2, 2, 2).batched(2, 4, 4, 3),
        &[1.0; 8],
        &[1.0; 8],
        None,
        None,
    ))
    .unwrap_err();
    shape_err(e, "gemm", "overlap");
    let e = pollster::block_on(col_sum(&ctx, &[1.0; 5], 2, 3, ReduceOpts::default())).unwrap_err();
    shape_err(e, "col_sum", "want 2x3");
    let e = pollster::block_on(col_sum(&ctx, &[], 0, 3, ReduceOpts::default())).unwrap_err();
    shape_err(e, "col_sum", "empty shape");
    let e = pollster::block_on(sum(&ctx, &[], ReduceOpts { square: true, accumulate: false })).unwrap_err();
    shape_err(e, "sum_squares", "empty input");
}

/// Split-K weight gradients: the same forward-error bound as `check_gemm` (each output is
/// still a sum of K products, now in chunks then across chunks), bit-identical run to run,
/// and no split where the output already fills the device.
#[test]
fn split_k_weight_gradients_match_the_oracle_and_repeat() {
    use interlab::gpu::split_k::{record_weight_grad, scratch_lens, split_for};
    let Some(ctx) = context() else { return };
    assert_eq!(split_for(2048, 8192, 2048), 1, "a large output is not split");
    assert_eq!(split_for(128, 300, 384), 1, "a short K is not split");
    assert_eq!(
        split_for(128, 8192, 384),
        16,
        "12 output tiles: aim for 22 chunks, the largest divisor of 8192 below is 16"
    );
    for (m, k, n) in [(7, 4096, 64), (64, 2048, 7), (1, 1024, 257), (128, 8192, 384)] {
        let s = split_for(m, k, n);
        assert!(s > 1 && k % s == 0, "({m}, {k}, {n}) should split, got {s}");
        let (a, b) = (random_matrix(m as u64, k * m), random_matrix(n as u64 + 1, k * n));
        let (pl, sl) = scratch_lens(m, k, n);
        let run = || {
            let [ab, bb] = [&a, &b].map(|x| ctx.upload_f32("test", "x", x).unwrap());
            let (c, p, sc) = (
                ctx.output_f32("test", "c", m * n).unwrap(),
                ctx.output_f32("test", "p", pl).unwrap(),
                ctx.output_f32("test", "s", sl).unwrap(),
            );
            let mut prog = Program::new();
            pollster::block_on(record_weight_grad(
                &mut prog,
                &ctx,
                ab.slice(..),
                bb.slice(..),
                c.slice(..),
                [Some(p.slice(..)), Some(sc.slice(..))],
                m,
                k,
                n,
            ))
            .unwrap();
            prog.submit(&ctx).unwrap();
            pollster::block_on(ctx.read_f32(&c, m * n)).unwrap()
        };
        let got = run();
        assert_eq!(got, run(), "({m}, {k}, {n}) repeats bit for bit");
        let spec = Gemm::new(m, k, n).trans_a(true);
        let want = gemm_reference(&spec, &a, &b, None, None);
        let mag = gemm_reference(&spec, &abs(Some(&a)).unwrap(), &abs(Some(&b)).unwrap(), None, None);
        for (i, ((g, w), mg)) in got.iter().zip(&want).zip(&mag).enumerate() {
            let tol = GEMM_ULPS_PER_TERM * (k as f64 + 3.0) * U * *mg as f64 + f64::MIN_POSITIVE;
            assert!(((g - w) as f64).abs() <= tol, "({m}, {k}, {n}) split {s}: element {i}: {g} vs {w}");
        }
    }
}
