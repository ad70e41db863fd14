//! Why: the GPU optimiser must move the weights exactly as `model::optim::AdamW` does (bias
//! correction, decoupled decay on the masked tensors only, global-norm clipping), or GPU and
//! CPU training drift apart. Five steps over a flat buffer of several tensors (sizes 1, 7, 64,
//! 257, 7×257, 64×257 — the sum of squares spans several fixed chunks) with a warmup + cosine
//! schedule, clipping both active and inactive; bit-identical replays; bad shapes refused.

mod common;

use candle_core::{Device, Tensor, Var};
use interlab::engine::gpu_check::random_matrix;
use interlab::gpu::adamw::{
    adamw, adamw_reference, record_adamw, step_buffer, AdamWBuffers, AdamWConfig, AdamWStep,
};
use interlab::gpu::{GpuContext, GpuError, Program};
use interlab::model::{AdamW, Schedule};

/// |gpu − cpu| on the weights after 5 steps. The CPU forms the update term in f64, the GPU in
/// f32: ~1e-7 relative of a step of size ≤ lr = 1e-2, plus an ulp of |w| ≤ 3 per step.
const ADAMW_ATOL: f32 = 2e-6;
/// Moments: both sides f32 with the same formula, but a GPU compiler may fuse
/// `β·m + (1 − β)·g` into one FMA (NVIDIA's does), which rounds once instead of twice. Each of
/// the 5 steps may then differ by ~1.5 ulp of the magnitude of its terms, and earlier
/// differences are damped by β < 1, so the bound is MOMENT_ULPS ulps of the magnitude
/// recursion — the same optimiser run on |g| — not of |m|, which cancellation can make tiny.
const MOMENT_ULPS: f32 = 8.0;
const MOMENT_RTOL: f32 = 1e-5;
const MOMENT_ATOL: f32 = 1e-9;
/// Gradient norm: f32 two-level tree vs f64 sequential sum over ~18 K squares.
const NORM_RTOL: f32 = 1e-5;

const SHAPES: &[&[usize]] = &[&[1], &[7, 257], &[7], &[64], &[64, 257], &[257]];
const DECAY: &[bool] = &[false, true, false, true, true, false];
/// Gradient scale per step: ≫ clip, ≪ clip, ≫, ≪, ≈ — clipping on and off in one run.
const GRAD_SCALE: &[f32] = &[1.0, 0.001, 2.0, 0.003, 0.02];

fn context() -> Option<GpuContext> {
    common::gpu_context()
}

fn max_err(what: &str, gpu: &[f32], cpu: &[f32], atol: f32, rtol: f32) -> f32 {
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

struct Case {
    params: Vec<Var>,
    flat: Vec<f32>,
    decay: Vec<f32>,
    grads: Vec<Vec<f32>>, // per step, flat
}

fn case() -> Case {
    let mut params = Vec::new();
    let (mut flat, mut decay) = (Vec::new(), Vec::new());
    for (i, (shape, &d)) in SHAPES.iter().zip(DECAY).enumerate() {
        let n: usize = shape.iter().product();
        let w: Vec<f32> = random_matrix(50 + i as u64, n).iter().map(|v| v * 3.0).collect();
        flat.extend_from_slice(&w);
        decay.extend(std::iter::repeat_n(if d { 1.0 } else { 0.0 }, n));
        params.push(Var::from_tensor(&Tensor::from_vec(w, *shape, &Device::Cpu).unwrap()).unwrap());
    }
    let grads = GRAD_SCALE
        .iter()
        .enumerate()
        .map(|(s, &k)| random_matrix(900 + s as u64, flat.len()).iter().map(|g| g * k).collect())
        .collect();
    Case { params, flat, decay, grads }
}

/// Run the model's AdamW on `case` for every step; returns the flat weights and grad norms.
fn cpu_run(case: &Case, weight_decay: f64, clip: f64, lrs: &[f64]) -> (Vec<f32>, Vec<f64>, AdamW) {
    let refs: Vec<&Var> = case.params.iter().collect();
    let mut opt = AdamW::new(&refs, DECAY, weight_decay, clip);
    let mut norms = Vec::new();
    for (g, &lr) in case.grads.iter().zip(lrs) {
        // loss = Σ_k <p_k, G_k>, so the gradient of p_k is exactly G_k.
        let mut loss = Tensor::zeros((), candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut off = 0;
        for p in &refs {
            let t = p.as_tensor();
            let gk =
                Tensor::from_vec(g[off..off + t.elem_count()].to_vec(), t.shape(), &Device::Cpu).unwrap();
            off += t.elem_count();
            loss = (loss + (t * gk).unwrap().sum_all().unwrap()).unwrap();
        }
        let grads = loss.backward().unwrap();
        norms.push(opt.step(&refs, &grads, lr).unwrap().grad_norm);
    }
    let flat =
        refs.iter().flat_map(|p| p.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect();
    (flat, norms, opt)
}

#[test]
fn five_steps_equal_the_model_optimiser() {
    let Some(ctx) = context() else { return };
    let sched = Schedule { peak: 1e-2, warmup: 2, total: 5, final_frac: 0.1 };
    let lrs: Vec<f64> = (0..GRAD_SCALE.len()).map(|s| sched.lr(s)).collect();
    for (weight_decay, clip) in [(0.1, 1.0), (0.0, 0.0), (0.5, 5.0)] {
        let case = case();
        let (want, want_norms, opt) = cpu_run(&case, weight_decay, clip, &lrs);
        if clip > 0.0 {
            assert!(
                want_norms.iter().any(|&n| n > clip) && want_norms.iter().any(|&n| n < clip),
                "clipping must be both on and off: {want_norms:?}"
            );
        }
        let cfg = AdamWConfig {
            beta1: opt.beta1 as f32,
            beta2: opt.beta2 as f32,
            eps: opt.eps as f32,
            clip: clip as f32,
        };
        let steps: Vec<AdamWStep> = lrs
            .iter()
            .enumerate()
            .map(|(s, &lr)| AdamWStep::new(s as u64 + 1, lr, opt.beta1, opt.beta2, weight_decay))
            .collect();
        let got = pollster::block_on(adamw(&ctx, &case.flat, &case.decay, &case.grads, &steps, cfg)).unwrap();
        let tag = format!("adamw wd {weight_decay} clip {clip}");
        max_err(&format!("{tag} params vs model"), &got.param, &want, ADAMW_ATOL, 0.0);
        let norms: Vec<f32> = want_norms.iter().map(|&n| n as f32).collect();
        max_err(&format!("{tag} grad norms"), &got.grad_norms, &norms, 0.0, NORM_RTOL);
        let oracle = adamw_reference(&case.flat, &case.decay, &case.grads, &steps, cfg);
        max_err(&format!("{tag} params vs loops"), &got.param, &oracle.param, ADAMW_ATOL, 0.0);
        // |g| has the same global norm as g, so the clip scales and the recursion match.
        let abs_grads: Vec<Vec<f32>> =
            case.grads.iter().map(|g| g.iter().map(|x| x.abs()).collect()).collect();
        let magnitude = adamw_reference(&case.flat, &case.decay, &abs_grads, &steps, cfg).m;
        let mut worst = 0f32;
        for (i, ((&g, &c), &mag)) in got.m.iter().zip(&oracle.m).zip(&magnitude).enumerate() {
            let e = (g - c).abs();
            assert!(
                e <= MOMENT_ATOL + MOMENT_ULPS * f32::EPSILON / 2.0 * mag,
                "{tag} m[{i}]: gpu {g} vs cpu {c} (terms of magnitude {mag})"
            );
            worst = worst.max(e);
        }
        eprintln!("{tag} m: max |err| = {worst:e}");
        max_err(&format!("{tag} v"), &got.v, &oracle.v, MOMENT_ATOL, MOMENT_RTOL);
        // The run must have moved every weight: a no-op kernel cannot pass by accident.
        assert!(got.param.iter().zip(&case.flat).all(|(a, b)| a != b), "{tag}: some weight did not move");
    }
}

#[test]
fn adamw_is_bit_identical_run_to_run() {
    let Some(ctx) = context() else { return };
    let case = case();
    let steps: Vec<AdamWStep> = (1..=5).map(|t| AdamWStep::new(t, 1e-2, 0.9, 0.95, 0.1)).collect();
    let a =
        pollster::block_on(adamw(&ctx, &case.flat, &case.decay, &case.grads, &steps, AdamWConfig::default()))
            .unwrap();
    let b =
        pollster::block_on(adamw(&ctx, &case.flat, &case.decay, &case.grads, &steps, AdamWConfig::default()))
            .unwrap();
    assert_eq!(a, b);
}

#[test]
fn adamw_bad_shapes_name_the_op() {
    let Some(ctx) = context() else { return };
    let e = pollster::block_on(adamw(
        &ctx,
        &[1.0; 4],
        &[0.0; 3],
        &[vec![0.0; 4]],
        &[AdamWStep::new(1, 1e-3, 0.9, 0.95, 0.0)],
        AdamWConfig::default(),
    ))
    .unwrap_err();
    assert!(
        matches!(&e, GpuError::Shape { op, detail } if op == "adamw" && detail.contains("decay mask 3")),
        "{e}"
    );
    let big = ctx.output_f32("test", "big", 64).unwrap();
    let small = ctx.output_f32("test", "small", 8).unwrap();
    let step = step_buffer(&ctx);
    let mut p = Program::new();
    let bufs = AdamWBuffers {
        param: big.slice(..),
        grad: big.slice(..),
        m: small.slice(..),
        v: big.slice(..),
        decay: big.slice(..),
        partial: big.slice(..),
        norm: big.slice(..),
        step: step.slice(..),
    };
    let e = pollster::block_on(record_adamw(&mut p, &ctx, bufs, 64, AdamWConfig::default())).unwrap_err();
    assert!(
        matches!(&e, GpuError::Shape { op, detail } if op == "adamw" && detail.contains("buffer m holds 8 values, 64 parameters needs 64")),
        "{e}"
    );
    assert!(p.is_empty());
}
