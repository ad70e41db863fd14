//! Shared by the test files: a central finite-difference gradient check for any `SeqModel`
//! on a fixed scalar loss, and the GPU context the kernel tests run on.
// Each test file uses some of these helpers, not all.
#![allow(dead_code)]

use candle_core::{DType, Device, Tensor, Var};
use interlab::core::Rng;
use interlab::model::SeqModel;

/// Finite-difference step and tolerance for f32 forward passes.
pub const EPS: f32 = 1e-2;
pub const ABS_TOL: f32 = 2e-3;
pub const REL_TOL: f32 = 5e-2;

/// Redraw every parameter from N(0, std²): larger than the 0.02 init, so every path carries a
/// gradient well above f32 noise.
pub fn randomise(m: &dyn SeqModel, seed: u64, std: f32) {
    let mut rng = Rng::new(seed);
    for (_, v) in m.named_params() {
        let t = v.as_tensor();
        let data: Vec<f32> = (0..t.elem_count()).map(|_| rng.normal() * std).collect();
        v.set(&Tensor::from_vec(data, t.shape(), &Device::Cpu).unwrap()).unwrap();
    }
}

fn entry(v: &Var, i: usize) -> f32 {
    v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()[i]
}

fn set_entry(v: &Var, i: usize, value: f32) {
    let t = v.as_tensor();
    let mut data = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    data[i] = value;
    v.set(&Tensor::from_vec(data, t.shape(), &Device::Cpu).unwrap()).unwrap();
}

/// Tokens `[2, 5]` below `vocab` and a fixed random projection `[10, out]` of the outputs.
pub fn probe(vocab: u32, out: usize) -> (Tensor, Tensor) {
    let toks: Vec<u32> = [1u32, 3, 0, 6, 2, 5, 4, 4, 1, 0].iter().map(|t| t % vocab).collect();
    let x = Tensor::from_vec(toks, (2, 5), &Device::Cpu).unwrap();
    let mut rng = Rng::new(9);
    let r: Vec<f32> = (0..10 * out).map(|_| rng.normal()).collect();
    (x, Tensor::from_vec(r, (10, out), &Device::Cpu).unwrap())
}

/// Compare autograd with central differences on 4 entries of every parameter tensor.
pub fn check_gradients(label: &str, m: &dyn SeqModel, x: &Tensor, r: &Tensor) {
    let loss = || (m.forward(x, None).unwrap() * r).unwrap().sum_all().unwrap();
    let grads = loss().backward().unwrap();
    for (name, var) in m.named_params() {
        let g: Vec<f32> = grads
            .get(var.as_tensor())
            .map(|g| g.flatten_all().unwrap().to_vec1().unwrap())
            .unwrap_or_default();
        let n = var.as_tensor().elem_count();
        for i in [0, n / 3, n / 2, n - 1] {
            let analytic = g.get(i).copied().unwrap_or(0.0);
            let w = entry(var, i);
            set_entry(var, i, w + EPS);
            let up = loss().to_scalar::<f32>().unwrap();
            set_entry(var, i, w - EPS);
            let down = loss().to_scalar::<f32>().unwrap();
            set_entry(var, i, w);
            let numeric = (up - down) / (2.0 * EPS);
            let tol = ABS_TOL + REL_TOL * numeric.abs().max(analytic.abs());
            assert!(
                (numeric - analytic).abs() <= tol,
                "{label}: {name}[{i}] autograd {analytic} vs finite difference {numeric}"
            );
        }
    }
}

/// `check_gradients` for models whose ReLU MLPs sit between norms and recurrences, where a
/// kink often lies within a step of a probed entry (the multi-head SSM: at a fixed step of
/// 1e-3, two of the three `randomise` seeds tried hit one). The loss is summed in f64 from the f32 outputs; the step starts
/// at `eps` and shrinks (÷3, ÷10) while the one-sided differences disagree, i.e. while the
/// step straddles a kink; then autograd is compared with the central difference. A wrong
/// gradient in a smooth region still fails: there the one-sided differences agree at `eps`.
pub fn check_gradients_across_kinks(label: &str, m: &dyn SeqModel, x: &Tensor, r: &Tensor, eps: f32) {
    let r64 = r.to_dtype(DType::F64).unwrap();
    let loss64 = || {
        (m.forward(x, None).unwrap().to_dtype(DType::F64).unwrap() * &r64)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let grads = (m.forward(x, None).unwrap() * r).unwrap().sum_all().unwrap().backward().unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= ABS_TOL as f64 + REL_TOL as f64 * a.abs().max(b.abs());
    for (name, var) in m.named_params() {
        let g: Vec<f32> = grads
            .get(var.as_tensor())
            .map(|g| g.flatten_all().unwrap().to_vec1().unwrap())
            .unwrap_or_default();
        let n = var.as_tensor().elem_count();
        for i in [0, n / 3, n / 2, n - 1] {
            let analytic = g.get(i).copied().unwrap_or(0.0) as f64;
            let w = entry(var, i);
            let mid = loss64();
            let mut numeric = 0.0;
            for h in [eps, eps / 3.0, eps / 10.0] {
                let (hi, lo) = (w + h, w - h);
                set_entry(var, i, hi);
                let up = loss64();
                set_entry(var, i, lo);
                let down = loss64();
                set_entry(var, i, w);
                let (fwd, bwd) = ((up - mid) / (hi - w) as f64, (mid - down) / (w - lo) as f64);
                numeric = (up - down) / (hi - lo) as f64;
                if close(fwd, bwd) {
                    break;
                }
            }
            assert!(
                close(numeric, analytic),
                "{label}: {name}[{i}] autograd {analytic} vs finite difference {numeric}"
            );
        }
    }
}

/// The wgpu device the kernel tests use (lavapipe on CI). With INTERLAB_REQUIRE_GPU=1 (the
/// test command sets it) a missing adapter fails the test instead of skipping it.
pub fn gpu_context() -> Option<interlab::gpu::GpuContext> {
    match pollster::block_on(interlab::gpu::GpuContext::request()) {
        Ok(ctx) => {
            eprintln!("adapter: {} ({}, {})", ctx.summary.name, ctx.summary.backend, ctx.summary.device_type);
            Some(ctx)
        }
        Err(e) => {
            if std::env::var("INTERLAB_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("INTERLAB_REQUIRE_GPU=1 but {e}; run scripts/setup.sh (installs lavapipe)");
            }
            eprintln!("SKIP: {e}");
            None
        }
    }
}
