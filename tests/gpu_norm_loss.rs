//! Why: LayerNorm, the token embedding and the losses are the GPU engine's first and last
//! kernels; each must equal the candle model code (`model::layer_norm`, `model::io`'s
//! embedding, `model::loss`), values and gradients, on awkward shapes (1, 7, 64, 257), must
//! repeat bit for bit run to run (fixed-order reductions, no atomics), and must refuse bad
//! shapes naming the op. Runs on lavapipe on CI; INTERLAB_REQUIRE_GPU=1 makes a missing
//! adapter a failure instead of a skip.

mod common;

use candle_core::{Device, Tensor, Var};
use interlab::core::Rng;
use interlab::engine::gpu_check::random_matrix;
use interlab::gpu::cross_entropy::{cross_entropy, cross_entropy_reference, mse, mse_reference};
use interlab::gpu::embedding::{embedding, embedding_reference, record_embedding};
use interlab::gpu::layer_norm::{layer_norm, layer_norm_reference, record_layer_norm, LN_EPS};
use interlab::gpu::{GpuContext, GpuError, Program};
use interlab::model::{layer_norm as cpu_ln, masked_accuracy, masked_cross_entropy, masked_mse};

/// LayerNorm output and dx vs candle: both f32, sums in different orders (tree vs row order)
/// over ≤ 257 values of magnitude ≤ 4, amplified by rstd ≤ ~2: a few ulps of O(1) values.
const LN_ATOL: f32 = 2e-5;
const LN_RTOL: f32 = 1e-5;
/// dx = rstd · (three O(1) terms, two of them means): one more rounding level than y.
const LN_DX_ATOL: f32 = 1e-4;
/// rstd = 1/sqrt(var + eps) doubles the relative error of var's sum.
const LN_RSTD_RTOL: f32 = 1e-4;
/// dgain sums ≤ 257 rows of O(1) products in two fixed chunks vs candle's row order.
const LN_DG_ATOL: f32 = 1e-4;
/// Embedding gradient vs candle's index_add: both add positions in increasing order in f32.
const EMB_ATOL: f32 = 1e-6;
/// Mean masked CE and MSE: f32 tree sums vs candle's f32 sums over ≤ 257 · 7 terms.
const LOSS_RTOL: f32 = 1e-5;
/// Absolute floor for losses near 0 (a fully masked or one-class batch); per-row losses are
/// O(10) with logits in [−4, 4], so 1e-5 is a few ulps.
const LOSS_ATOL: f32 = 1e-6;
const ROW_LOSS_ATOL: f32 = 1e-5;
/// d_logits / d_pred entries are ≤ 2/Σmask in size; softmax in f32 both sides.
const GRAD_ATOL: f32 = 1e-6;
const GRAD_RTOL: f32 = 1e-4;

fn context() -> Option<GpuContext> {
    common::gpu_context()
}

/// Assert |gpu − cpu| ≤ atol + rtol·|cpu| everywhere (NaN fails) and return the max error.
fn close(what: &str, gpu: &[f32], cpu: &[f32], atol: f32, rtol: f32) -> f32 {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    let mut worst = 0f32;
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let e = (g - c).abs();
        assert!(e <= atol + rtol * c.abs(), "{what}[{i}]: gpu {g} vs cpu {c}");
        worst = worst.max(e);
    }
    eprintln!("{what}: max |err| = {worst:e}");
    worst
}

fn tensor(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape, &Device::Cpu).unwrap()
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn tokens(seed: u64, n: usize, below: usize) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.below(below as u64) as u32).collect()
}

fn mask(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| if rng.next_f32() < 0.7 { 1.0 } else { 0.0 }).collect()
}

#[test]
fn layer_norm_matches_candle_forward_and_backward() {
    let Some(ctx) = context() else { return };
    assert_eq!(LN_EPS, cpu_ln::LN_EPS, "gpu and model eps differ");
    for (i, &(rows, d)) in
        [(1, 1), (1, 257), (7, 1), (7, 64), (64, 7), (257, 64), (257, 257)].iter().enumerate()
    {
        let s = 100 + 10 * i as u64;
        // An offset of 3 makes centring matter.
        let x: Vec<f32> = random_matrix(s, rows * d).iter().map(|v| v * 2.0 + 3.0).collect();
        let g: Vec<f32> = random_matrix(s + 1, d).iter().map(|v| v + 1.0).collect();
        let dy = random_matrix(s + 2, rows * d);
        let got = pollster::block_on(layer_norm(&ctx, &x, &g, &dy, rows, d)).unwrap();

        let xv = Var::from_tensor(&tensor(&x, &[rows, d])).unwrap();
        let gv = Var::from_tensor(&tensor(&g, &[d])).unwrap();
        let y = cpu_ln::layer_norm(xv.as_tensor(), gv.as_tensor()).unwrap();
        let grads = (&y * tensor(&dy, &[rows, d])).unwrap().sum_all().unwrap().backward().unwrap();
        let tag = format!("ln [{rows}, {d}]");
        close(&format!("{tag} y"), &got.y, &flat(&y), LN_ATOL, LN_RTOL);
        close(&format!("{tag} dx"), &got.dx, &flat(grads.get(xv.as_tensor()).unwrap()), LN_DX_ATOL, LN_RTOL);
        close(&format!("{tag} dg"), &got.dg, &flat(grads.get(gv.as_tensor()).unwrap()), LN_DG_ATOL, LN_RTOL);
        let oracle = layer_norm_reference(&x, &g, &dy, rows, d);
        close(&format!("{tag} mean"), &got.mean, &oracle.mean, LN_ATOL, LN_RTOL);
        close(&format!("{tag} rstd"), &got.rstd, &oracle.rstd, LN_ATOL, LN_RSTD_RTOL);
        close(&format!("{tag} dg vs loops"), &got.dg, &oracle.dg, LN_DG_ATOL, LN_RTOL);
    }
}

#[test]
fn embedding_gather_and_scatter_match_candle() {
    let Some(ctx) = context() else { return };
    for (i, &(n, vocab, d)) in
        [(1, 1, 1), (7, 257, 7), (64, 64, 257), (257, 7, 64), (257, 1, 7)].iter().enumerate()
    {
        let s = 200 + 10 * i as u64;
        let toks = tokens(s, n, vocab);
        let wte = random_matrix(s + 1, vocab * d);
        let d_out = random_matrix(s + 2, n * d);
        let (out, d_wte) = pollster::block_on(embedding(&ctx, &toks, &wte, &d_out, None, vocab, d)).unwrap();

        let wv = Var::from_tensor(&tensor(&wte, &[vocab, d])).unwrap();
        let ids = Tensor::from_vec(toks.clone(), n, &Device::Cpu).unwrap();
        let y = wv.as_tensor().embedding(&ids).unwrap(); // [n, d]
        assert_eq!(out, flat(&y), "gather [{n}] from [{vocab}, {d}] must copy exactly");
        let grads = (&y * tensor(&d_out, &[n, d])).unwrap().sum_all().unwrap().backward().unwrap();
        close(
            &format!("emb d_wte [{n}; {vocab}, {d}]"),
            &d_wte,
            &flat(grads.get(wv.as_tensor()).unwrap()),
            EMB_ATOL,
            0.0,
        );
        // Same order as the f32 loop oracle: bit-identical.
        let (_, oracle) = embedding_reference(&toks, &wte, &d_out, None, vocab, d);
        assert_eq!(d_wte, oracle, "scatter [{n}; {vocab}, {d}] vs the in-order f32 loop");
    }
    // Accumulating onto an existing gradient (tied weights).
    let (n, vocab, d) = (64, 7, 7);
    let (toks, wte, d_out, init) = (
        tokens(1, n, vocab),
        random_matrix(2, vocab * d),
        random_matrix(3, n * d),
        random_matrix(4, vocab * d),
    );
    let (_, d_wte) = pollster::block_on(embedding(&ctx, &toks, &wte, &d_out, Some(&init), vocab, d)).unwrap();
    let (_, oracle) = embedding_reference(&toks, &wte, &d_out, Some(&init), vocab, d);
    assert_eq!(d_wte, oracle);
    assert_ne!(
        d_wte,
        embedding_reference(&toks, &wte, &d_out, None, vocab, d).1,
        "accumulate must add the old gradient"
    );
}

#[test]
fn cross_entropy_matches_model_loss_gradient_and_accuracy() {
    let Some(ctx) = context() else { return };
    for (i, &(n, classes)) in [(1, 1), (1, 257), (7, 257), (64, 7), (257, 64), (257, 1)].iter().enumerate() {
        let s = 300 + 10 * i as u64;
        let logits: Vec<f32> = random_matrix(s, n * classes).iter().map(|v| v * 4.0).collect();
        let targets = tokens(s + 1, n, classes);
        let m = mask(s + 2, n);
        let got = pollster::block_on(cross_entropy(&ctx, &logits, &targets, &m, classes)).unwrap();

        let lv = Var::from_tensor(&tensor(&logits, &[n, classes])).unwrap();
        let tt = Tensor::from_vec(targets.clone(), n, &Device::Cpu).unwrap();
        let loss = masked_cross_entropy(lv.as_tensor(), &tt, &tensor(&m, &[n])).unwrap();
        let want: f32 = loss.to_scalar().unwrap();
        let tag = format!("ce [{n}, {classes}]");
        close(&format!("{tag} loss"), &[got.loss], &[want], LOSS_ATOL, LOSS_RTOL);
        let grads = loss.backward().unwrap();
        close(
            &format!("{tag} d_logits"),
            &got.d_logits,
            &flat(grads.get(lv.as_tensor()).unwrap()),
            GRAD_ATOL,
            GRAD_RTOL,
        );
        let (correct, scored) = masked_accuracy(lv.as_tensor(), &targets, &m).unwrap();
        assert_eq!((got.correct as usize, got.scored as usize), (correct, scored), "{tag} accuracy");
        let oracle = cross_entropy_reference(&logits, &targets, &m, classes);
        close(&format!("{tag} row_loss"), &got.row_loss, &oracle.row_loss, ROW_LOSS_ATOL, LOSS_RTOL);
        assert_eq!(got.correct_flags, oracle.correct_flags, "{tag} per-row hits");
    }
}

#[test]
fn cross_entropy_edge_cases_all_masked_and_ties() {
    let Some(ctx) = context() else { return };
    // Nothing scored: loss and gradient are 0 (denominator max(Σ mask, 1)), not NaN.
    let got =
        pollster::block_on(cross_entropy(&ctx, &random_matrix(5, 7 * 7), &[3; 7], &[0.0; 7], 7)).unwrap();
    assert_eq!((got.loss, got.correct, got.scored), (0.0, 0.0, 0.0));
    assert!(got.d_logits.iter().all(|&g| g == 0.0));
    // Equal logits: the first arg-max wins, as in candle's argmax.
    let logits = vec![0.5f32; 3 * 65]; // 65 columns: the tie spans two threads' partials
    let targets = [0u32, 64, 1];
    let got = pollster::block_on(cross_entropy(&ctx, &logits, &targets, &[1.0; 3], 65)).unwrap();
    let (c, _) = masked_accuracy(&tensor(&logits, &[3, 65]), &targets, &[1.0; 3]).unwrap();
    assert_eq!(got.correct_flags, vec![1.0, 0.0, 0.0]);
    assert_eq!(got.correct as usize, c);
    close("ce uniform loss", &[got.loss], &[65f32.ln()], LOSS_ATOL, LOSS_RTOL);
}

#[test]
fn masked_mse_matches_model_loss_and_gradient() {
    let Some(ctx) = context() else { return };
    for (i, &len) in [1usize, 7, 64, 257 * 7].iter().enumerate() {
        let s = 400 + 10 * i as u64;
        let (pred, values, m) = (random_matrix(s, len), random_matrix(s + 1, len), mask(s + 2, len));
        let (loss, d_pred) = pollster::block_on(mse(&ctx, &pred, &values, &m)).unwrap();
        let pv = Var::from_tensor(&tensor(&pred, &[len])).unwrap();
        let l = masked_mse(pv.as_tensor(), &tensor(&values, &[len]), &tensor(&m, &[len])).unwrap();
        close(&format!("mse [{len}] loss"), &[loss], &[l.to_scalar::<f32>().unwrap()], LOSS_ATOL, LOSS_RTOL);
        let grads = l.backward().unwrap();
        close(
            &format!("mse [{len}] d_pred"),
            &d_pred,
            &flat(grads.get(pv.as_tensor()).unwrap()),
            GRAD_ATOL,
            GRAD_RTOL,
        );
        let (lo, go) = mse_reference(&pred, &values, &m);
        close(&format!("mse [{len}] vs loops"), &[loss], &[lo], LOSS_ATOL, LOSS_RTOL);
        close(&format!("mse [{len}] d_pred vs loops"), &d_pred, &go, GRAD_ATOL, GRAD_RTOL);
    }
}

#[test]
fn every_kernel_here_is_bit_identical_run_to_run() {
    let Some(ctx) = context() else { return };
    let (rows, d) = (257, 257);
    let (x, g, dy) = (random_matrix(1, rows * d), random_matrix(2, d), random_matrix(3, rows * d));
    let a = pollster::block_on(layer_norm(&ctx, &x, &g, &dy, rows, d)).unwrap();
    let b = pollster::block_on(layer_norm(&ctx, &x, &g, &dy, rows, d)).unwrap();
    assert_eq!(a, b, "layer_norm");
    let toks = tokens(4, 257, 7);
    let a = pollster::block_on(embedding(
        &ctx,
        &toks,
        &random_matrix(5, 7 * 64),
        &random_matrix(6, 257 * 64),
        None,
        7,
        64,
    ))
    .unwrap();
    let b = pollster::block_on(embedding(
        &ctx,
        &toks,
        &random_matrix(5, 7 * 64),
        &random_matrix(6, 257 * 64),
        None,
        7,
        64,
    ))
    .unwrap();
    assert_eq!(a, b, "embedding");
    let (logits, targets, m) = (random_matrix(7, 257 * 257), tokens(8, 257, 257), mask(9, 257));
    let a = pollster::block_on(cross_entropy(&ctx, &logits, &targets, &m, 257)).unwrap();
    let b = pollster::block_on(cross_entropy(&ctx, &logits, &targets, &m, 257)).unwrap();
    assert_eq!(a, b, "cross_entropy");
    let (p, v, m) = (random_matrix(10, 4099), random_matrix(11, 4099), mask(12, 4099));
    let a = pollster::block_on(mse(&ctx, &p, &v, &m)).unwrap();
    let b = pollster::block_on(mse(&ctx, &p, &v, &m)).unwrap();
    assert_eq!(a, b, "mse");
}

fn shape_error(e: GpuError, op: &str, needle: &str) {
    match &e {
        GpuError::Shape { op: o, detail } => {
            assert_eq!(o, op, "{e}");
            assert!(detail.contains(needle), "{e} lacks '{needle}'");
        }
        other => panic!("want a Shape error from {op}, got {other}"),
    }
}

#[test]
fn bad_shapes_are_shape_errors_naming_the_op() {
    let Some(ctx) = context() else { return };
    let e = pollster::block_on(layer_norm(&ctx, &[0.0; 6], &[1.0; 2], &[0.0; 6], 2, 3)).unwrap_err();
    shape_error(e, "layer_norm", "want 3");
    let e = pollster::block_on(embedding(&ctx, &[0, 5], &[0.0; 8], &[0.0; 8], None, 2, 4)).unwrap_err();
    shape_error(e, "embedding", "token 5 at position 1");
    let e = pollster::block_on(cross_entropy(&ctx, &[0.0; 6], &[0, 3], &[1.0; 2], 3)).unwrap_err();
    shape_error(e, "cross_entropy", "target 3 of row 1");
    let e = pollster::block_on(cross_entropy(&ctx, &[0.0; 5], &[0, 1], &[1.0; 2], 3)).unwrap_err();
    shape_error(e, "cross_entropy", "want [2, 3]");
    let e = pollster::block_on(mse(&ctx, &[0.0; 3], &[0.0; 2], &[1.0; 3])).unwrap_err();
    shape_error(e, "mse", "values 2");
    // Record-level: undersized buffers and empty shapes name the buffer.
    let small = ctx.output_f32("test", "small", 4).unwrap();
    let big = ctx.output_f32("test", "big", 64).unwrap();
    let mut p = Program::new();
    let e = pollster::block_on(record_layer_norm(
        &mut p,
        &ctx,
        big.slice(..),
        big.slice(..),
        big.slice(..),
        small.slice(..),
        big.slice(..),
        7,
        8,
    ))
    .unwrap_err();
    shape_error(e, "layer_norm", "buffer mean holds 4 values, [rows 7, d 8] needs 7");
    let e = pollster::block_on(record_layer_norm(
        &mut p,
        &ctx,
        big.slice(..),
        big.slice(..),
        big.slice(..),
        big.slice(..),
        big.slice(..),
        0,
        8,
    ))
    .unwrap_err();
    shape_error(e, "layer_norm", "empty shape");
    let e = pollster::block_on(record_embedding(
        &mut p,
        &ctx,
        big.slice(..),
        small.slice(..),
        big.slice(..),
        8,
        2,
        4,
    ))
    .unwrap_err();
    shape_error(e, "embedding", "buffer wte holds 4 values");
    assert!(p.is_empty(), "a refused launch must not be recorded");
}
