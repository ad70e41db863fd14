//! Why: the chunked scan replaces the CPU model's Toeplitz convolution in GPU training, so
//! its output must equal the f64 recurrence (`dlr_scan_reference`) and its gradients the f64
//! adjoint — itself checked here by finite differences of the oracle and against candle
//! autograd through the model's own `Dlr::mix` — for any chunk length (1, partial, one chunk,
//! longer than the sequence), on lavapipe on CI. INTERLAB_REQUIRE_GPU=1 makes a missing
//! adapter a failure.

mod common;

use candle_core::{Device, Tensor, Var};
use interlab::core::Rng;
use interlab::gpu::dlr_scan::{dlr_scan, dlr_scan_backward, dlr_scan_backward_reference, ScanShape};
use interlab::gpu::{GpuContext, GpuError};
use interlab::model::dlr::{dlr_scan_reference, Dlr, DlrConfig, Modes};
use interlab::model::SeqModel;

/// max |gpu − f64 oracle| ≤ SCAN_TOL · max(1, max |oracle|), per output tensor. f32 rounds
/// each step by ~6e-8 relative; with |Λ| ≤ 0.999 a state carries ~1/(1 − |Λ|) ≤ 1000 steps of
/// memory, and independent roundings over those add like a random walk: ~√1000 · 6e-8 ≈
/// 2e-6 (measured on lavapipe: ≤ 1.5e-6 up to l 4096). SCAN_TOL leaves ten times that; the
/// linear worst case (1000 · 6e-8) would be 6e-5. Gradients add one more sum (over time and
/// the batch): measured ≤ 2.7e-6, GRAD_TOL 5e-5.
const SCAN_TOL: f64 = 2e-5;
const GRAD_TOL: f64 = 5e-5;
/// Against candle (`Dlr::mix`): its kernel is built from ln|Λ|, arg Λ in f32 and powered in
/// f64, ours from Λ rounded to f32 and stepped in f32; Λ's rounding (6e-8) grows like
/// k·|Λ|^k ≤ 64 at the test's l = 64, so ≤ 4e-6 relative, plus candle's f32 Toeplitz matmul
/// over ≤ 64 terms (measured: ≤ 1e-6).
const CANDLE_TOL: f64 = 2e-5;

/// (b, l, d, n, chunk): a covering set of b {1, 3}, l {1, 7, 64, 257}, d and n {1, 7, 64},
/// chunk 1, partial, one whole chunk and longer than l.
const SHAPES: &[(usize, usize, usize, usize, usize)] = &[
    (1, 1, 1, 1, 64),
    (3, 7, 7, 7, 3),
    (1, 64, 64, 1, 7),
    (1, 64, 1, 64, 1),
    (3, 257, 7, 7, 16),
    (3, 257, 1, 64, 257),
    (1, 257, 64, 7, 64),
    (2, 100, 3, 2, 300),
];

fn context() -> Option<GpuContext> {
    common::gpu_context()
}

fn uniform(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
}

/// `[4, d, n]`: Λ = exp(−exp(ν) + iθ) with the model's init range of ν (|Λ| from 0.5 to
/// 0.999) and θ in [0, π) (wider than init, so imaginary parts matter), W ~ N(0, 1/n).
fn random_modes(seed: u64, d: usize, n: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let (slow, fast) = ((-0.999f64.ln()).ln(), (-0.5f64.ln()).ln());
    let mut m = vec![0f32; 4 * d * n];
    for i in 0..d * n {
        let r = (-(slow + (fast - slow) * rng.next_f64()).exp()).exp();
        let th = std::f64::consts::PI * rng.next_f64();
        m[i] = (r * th.cos()) as f32;
        m[d * n + i] = (r * th.sin()) as f32;
    }
    for x in &mut m[2 * d * n..] {
        *x = rng.normal() / (n as f32).sqrt();
    }
    m
}

/// The model's `Modes` holding exactly the f32 values the GPU gets.
fn to_modes(m: &[f32], d: usize, n: usize) -> Modes {
    let at = |k: usize, h: usize, j: usize| m[k * d * n + h * n + j] as f64;
    Modes {
        lambda: (0..d).map(|h| (0..n).map(|j| (at(0, h, j), at(1, h, j))).collect()).collect(),
        w: (0..d).map(|h| (0..n).map(|j| (at(2, h, j), at(3, h, j))).collect()).collect(),
    }
}

fn oracle_y(u: &[f32], m: &[f32], s: ScanShape) -> Vec<f64> {
    let u64: Vec<f64> = u.iter().map(|&x| x as f64).collect();
    dlr_scan_reference(&to_modes(m, s.d, s.n), &u64, s.b, s.l)
}

/// max |gpu − oracle| / max(1, max |oracle|), asserting it is within `tol` (NaN fails).
fn check(what: &str, gpu: &[f32], cpu: &[f64], tol: f64) -> f64 {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    let scale = cpu.iter().fold(1f64, |a, x| a.max(x.abs()));
    let err = gpu.iter().zip(cpu).fold(0f64, |a, (&g, &c)| {
        if (g as f64 - c).abs().is_nan() {
            f64::INFINITY
        } else {
            a.max((g as f64 - c).abs())
        }
    });
    assert!(err <= tol * scale, "{what}: max |gpu − oracle| {err:e} over {tol:e} × {scale}");
    err / scale
}

#[test]
fn forward_and_backward_match_the_f64_oracle_for_every_chunking() {
    let Some(ctx) = context() else { return };
    let mut worst = [0f64; 3];
    for (i, &(b, l, d, n, chunk)) in SHAPES.iter().enumerate() {
        let s = ScanShape { b, l, d, n };
        let seed = 10 * i as u64;
        let (u, m, dy) = (uniform(seed, s.len()), random_modes(seed + 1, d, n), uniform(seed + 2, s.len()));
        let y = pollster::block_on(dlr_scan(&ctx, &u, &m, s, chunk)).unwrap();
        worst[0] = worst[0].max(check(&format!("{s:?} chunk {chunk} y"), &y, &oracle_y(&u, &m, s), SCAN_TOL));
        let [y2, du, grads] = pollster::block_on(dlr_scan_backward(&ctx, &u, &m, &dy, s, chunk)).unwrap();
        assert_eq!(y, y2, "{s:?}: the forward inside the backward program differs");
        let (du_ref, g_ref) = dlr_scan_backward_reference(&u, &m, &dy, s);
        worst[1] = worst[1].max(check(&format!("{s:?} chunk {chunk} du"), &du, &du_ref, GRAD_TOL));
        let dn = d * n;
        for (k, name) in ["dΛ_re", "dΛ_im", "dW_re", "dW_im"].iter().enumerate() {
            let r = k * dn..(k + 1) * dn;
            worst[2] = worst[2].max(check(
                &format!("{s:?} chunk {chunk} {name}"),
                &grads[r.clone()],
                &g_ref[r],
                GRAD_TOL,
            ));
        }
    }
    eprintln!("dlr scan: max relative error y {:e}, du {:e}, dΛ/dW {:e}", worst[0], worst[1], worst[2]);
}

#[test]
fn long_sequence_uses_many_chunks() {
    let Some(ctx) = context() else { return };
    let s = ScanShape { b: 1, l: 4096, d: 4, n: 4 };
    let (u, m, dy) = (uniform(1, s.len()), random_modes(2, s.d, s.n), uniform(3, s.len()));
    let [y, du, grads] = pollster::block_on(dlr_scan_backward(&ctx, &u, &m, &dy, s, 64)).unwrap();
    let ey = check("l 4096 y", &y, &oracle_y(&u, &m, s), SCAN_TOL);
    let (du_ref, g_ref) = dlr_scan_backward_reference(&u, &m, &dy, s);
    let edu = check("l 4096 du", &du, &du_ref, GRAD_TOL);
    let eg = check("l 4096 grads", &grads, &g_ref, GRAD_TOL);
    eprintln!("dlr scan l 4096: relative error y {ey:e}, du {edu:e}, grads {eg:e}");
}

/// The oracle's analytic adjoint equals central differences of the f64 forward oracle
/// (loss = Σ dy·y) in every input kind: u, Λ_re, Λ_im, W_re, W_im.
#[test]
fn the_adjoint_oracle_matches_finite_differences() {
    let s = ScanShape { b: 2, l: 9, d: 2, n: 3 };
    let (u, m, dy) = (uniform(4, s.len()), random_modes(5, s.d, s.n), uniform(6, s.len()));
    let loss =
        |u: &[f32], m: &[f32]| -> f64 { oracle_y(u, m, s).iter().zip(&dy).map(|(y, &g)| y * g as f64).sum() };
    let (du, grads) = dlr_scan_backward_reference(&u, &m, &dy, s);
    let h = 1e-3f32; // f32 inputs: a step well above their rounding, loss is f64
    for i in [0, 7, s.len() - 1] {
        let (mut up, mut dn) = (u.clone(), u.clone());
        up[i] += h;
        dn[i] -= h;
        let fd = (loss(&up, &m) - loss(&dn, &m)) / (up[i] - dn[i]) as f64;
        assert!((fd - du[i]).abs() < 1e-4 * (1.0 + fd.abs()), "du[{i}]: fd {fd} vs {}", du[i]);
    }
    for i in 0..4 * s.d * s.n {
        let (mut up, mut dn) = (m.clone(), m.clone());
        up[i] += h;
        dn[i] -= h;
        let fd = (loss(&u, &up) - loss(&u, &dn)) / (up[i] - dn[i]) as f64;
        assert!((fd - grads[i]).abs() < 1e-3 * (1.0 + fd.abs()), "grads[{i}]: fd {fd} vs {}", grads[i]);
    }
}

/// GPU gradients chained to the model's direct parametrisation Λ = exp(−exp(ν) + iθ) equal
/// candle autograd through `Dlr::mix`: dν = Re(conj(dΛ)·(−e^ν Λ)), dθ = Re(conj(dΛ)·iΛ).
#[test]
fn gradients_match_candle_autograd_through_the_model() {
    let Some(ctx) = context() else { return };
    let (b, l, d, n) = (3, 64, 7, 5);
    let cfg = DlrConfig {
        vocab: 2,
        features: 0,
        max_len: l,
        layers: 1,
        d_model: d,
        state: n,
        out: 2,
        discretised: false,
    };
    let model = Dlr::new(cfg, 11).unwrap();
    let modes = model.modes(0).unwrap();
    let mut m = vec![0f32; 4 * d * n];
    for h in 0..d {
        for j in 0..n {
            let (lam, w) = (modes.lambda[h][j], modes.w[h][j]);
            for (k, x) in [lam.0, lam.1, w.0, w.1].into_iter().enumerate() {
                m[k * d * n + h * n + j] = x as f32;
            }
        }
    }
    let s = ScanShape { b, l, d, n };
    let (u, dy) = (uniform(7, s.len()), uniform(8, s.len()));
    let uv = Var::from_tensor(&Tensor::from_vec(u.clone(), (b, l, d), &Device::Cpu).unwrap()).unwrap();
    let y = model.mix(0, uv.as_tensor()).unwrap(); // [b, l, d]
    let g = (&y * Tensor::from_vec(dy.clone(), (b, l, d), &Device::Cpu).unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let params = model.named_params();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).unwrap().1;
    let grad = |v: &Var| -> Vec<f64> {
        g.get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let [gy, du, grads] = pollster::block_on(dlr_scan_backward(&ctx, &u, &m, &dy, s, 16)).unwrap();
    let y_c: Vec<f64> =
        y.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(f64::from).collect();
    let mut worst = check("y vs candle", &gy, &y_c, CANDLE_TOL);
    worst = worst.max(check("du vs candle", &du, &grad(&uv), CANDLE_TOL));
    let nu: Vec<f32> = param("h.0.dlr.nu").as_tensor().flatten_all().unwrap().to_vec1().unwrap();
    let dn = d * n;
    let (mut dnu, mut dth) = (vec![0f32; dn], vec![0f32; dn]);
    for i in 0..dn {
        let (lr, li, a, bb) = (m[i] as f64, m[dn + i] as f64, grads[i] as f64, grads[dn + i] as f64);
        dnu[i] = (-(nu[i] as f64).exp() * (a * lr + bb * li)) as f32;
        dth[i] = (-a * li + bb * lr) as f32;
    }
    for (name, gpu) in [
        ("h.0.dlr.nu", &dnu[..]),
        ("h.0.dlr.theta", &dth[..]),
        ("h.0.dlr.w_re", &grads[2 * dn..3 * dn]),
        ("h.0.dlr.w_im", &grads[3 * dn..]),
    ] {
        worst = worst.max(check(&format!("{name} vs candle"), gpu, &grad(param(name)), CANDLE_TOL));
    }
    eprintln!("dlr scan vs candle autograd: max relative error {worst:e}");
}

#[test]
fn runs_are_bit_identical() {
    let Some(ctx) = context() else { return };
    let s = ScanShape { b: 3, l: 257, d: 7, n: 7 };
    let (u, m, dy) = (uniform(1, s.len()), random_modes(2, s.d, s.n), uniform(3, s.len()));
    let x = pollster::block_on(dlr_scan_backward(&ctx, &u, &m, &dy, s, 16)).unwrap();
    let y = pollster::block_on(dlr_scan_backward(&ctx, &u, &m, &dy, s, 16)).unwrap();
    assert_eq!(x, y);
}

#[test]
fn bad_shapes_are_shape_errors_naming_the_op() {
    let Some(ctx) = context() else { return };
    let s = ScanShape { b: 2, l: 5, d: 3, n: 2 };
    let (u, m) = (vec![0.0; s.len()], vec![0.0; 4 * 3 * 2]);
    let err = |e: GpuError, op: &str, detail: &str| {
        assert!(matches!(e, GpuError::Shape { .. }), "{e}");
        assert!(e.to_string().starts_with(op) && e.to_string().contains(detail), "{e}");
    };
    err(
        pollster::block_on(dlr_scan(&ctx, &u[1..], &m, s, 4)).unwrap_err(),
        "dlr_scan_forward",
        "u has 29 values",
    );
    err(
        pollster::block_on(dlr_scan(&ctx, &u, &m[1..], s, 4)).unwrap_err(),
        "dlr_scan_forward",
        "modes has 23",
    );
    err(pollster::block_on(dlr_scan(&ctx, &u, &m, s, 0)).unwrap_err(), "dlr_scan_forward", "chunk 0");
    err(
        pollster::block_on(dlr_scan_backward(&ctx, &u, &m, &u[2..], s, 4)).unwrap_err(),
        "dlr_scan_backward",
        "dy has 28",
    );
    err(
        pollster::block_on(dlr_scan(&ctx, &[], &[], ScanShape { l: 0, ..s }, 4)).unwrap_err(),
        "dlr_scan_forward",
        "empty",
    );
}

/// A 65536-step scan with many chunks and states, beyond lavapipe's patience: run on a real
/// GPU with `--ignored`.
#[test]
#[ignore = "needs a real GPU; run with --ignored"]
fn long_sequences_on_a_real_gpu() {
    let Some(ctx) = context() else { return };
    eprintln!("adapter: {} ({}, {})", ctx.summary.name, ctx.summary.backend, ctx.summary.device_type);
    let s = ScanShape { b: 2, l: 65536, d: 16, n: 16 };
    let (u, m, dy) = (uniform(1, s.len()), random_modes(2, s.d, s.n), uniform(3, s.len()));
    let t = std::time::Instant::now();
    let [y, du, grads] = pollster::block_on(dlr_scan_backward(&ctx, &u, &m, &dy, s, 64)).unwrap();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let ey = check("l 65536 y", &y, &oracle_y(&u, &m, s), SCAN_TOL);
    let (du_ref, g_ref) = dlr_scan_backward_reference(&u, &m, &dy, s);
    let edu = check("l 65536 du", &du, &du_ref, GRAD_TOL);
    let eg = check("l 65536 grads", &grads, &g_ref, GRAD_TOL);
    eprintln!("dlr scan {s:?}: relative error y {ey:e}, du {edu:e}, grads {eg:e} ({ms:.0} ms one-shot incl. uploads)");
}
