//! Why: each token mixer of "Deconstructing Attention" is composed from candle ops or a fused
//! kernel; a wrong gradient would silently make a variant look worse than it is. Central
//! finite differences check every mixer's gradients (for every parameter tensor of a small
//! model) against autograd, and each mixer's causality is checked directly.

use candle_core::{Device, Tensor, Var};
use interlab::core::Rng;
use interlab::model::mixers::Mixer;
use interlab::model::{SeqModel, Transformer, TransformerConfig};

/// Finite-difference step and tolerance for f32 forward passes.
const EPS: f32 = 1e-2;
const ABS_TOL: f32 = 2e-3;
const REL_TOL: f32 = 5e-2;

fn model(mixer: Mixer, seed: u64) -> Transformer {
    let cfg = TransformerConfig { vocab: 7, features: 0, max_len: 6, layers: 1, heads: 2, d_model: 8, mlp_ratio: 2, out: 5, mixers: vec![mixer] };
    let m = Transformer::new(cfg, seed).unwrap();
    // Larger weights than the 0.02 init, so scores are far from uniform and every path
    // carries a gradient well above f32 noise.
    let mut rng = Rng::new(seed ^ 0xF00D);
    for (_, v) in m.named_params() {
        let t = v.as_tensor();
        let data: Vec<f32> = (0..t.elem_count()).map(|_| rng.normal() * 0.5).collect();
        v.set(&Tensor::from_vec(data, t.shape(), &Device::Cpu).unwrap()).unwrap();
    }
    m
}

fn inputs() -> (Tensor, Tensor) {
    let x = Tensor::from_vec(vec![1u32, 3, 0, 6, 2, 5, 4, 4, 1, 0], (2, 5), &Device::Cpu).unwrap();
    let mut rng = Rng::new(9);
    let r: Vec<f32> = (0..2 * 5 * 5).map(|_| rng.normal()).collect();
    (x, Tensor::from_vec(r, (10, 5), &Device::Cpu).unwrap())
}

/// A scalar that depends on every output: a fixed random projection.
fn loss(m: &Transformer, x: &Tensor, r: &Tensor) -> Tensor {
    (m.forward(x, None).unwrap() * r).unwrap().sum_all().unwrap()
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

#[test]
fn every_mixer_matches_finite_differences() {
    let (x, r) = inputs();
    for mixer in Mixer::ALL {
        let m = model(mixer, 3);
        let grads = loss(&m, &x, &r).backward().unwrap();
        for (name, var) in m.named_params() {
            let g: Vec<f32> = grads.get(var.as_tensor()).map(|g| g.flatten_all().unwrap().to_vec1().unwrap()).unwrap_or_default();
            let n = var.as_tensor().elem_count();
            for i in [0, n / 3, n / 2, n - 1] {
                let analytic = g.get(i).copied().unwrap_or(0.0);
                let w = entry(var, i);
                set_entry(var, i, w + EPS);
                let up = loss(&m, &x, &r).to_scalar::<f32>().unwrap();
                set_entry(var, i, w - EPS);
                let down = loss(&m, &x, &r).to_scalar::<f32>().unwrap();
                set_entry(var, i, w);
                let numeric = (up - down) / (2.0 * EPS);
                let tol = ABS_TOL + REL_TOL * numeric.abs().max(analytic.abs());
                assert!(
                    (numeric - analytic).abs() <= tol,
                    "{}: {name}[{i}] autograd {analytic} vs finite difference {numeric}",
                    mixer.name()
                );
            }
        }
    }
}

#[test]
fn every_mixer_is_causal_and_none_mixes_nothing() {
    for mixer in Mixer::ALL {
        let m = model(mixer, 5);
        let a = Tensor::from_vec(vec![1u32, 2, 3, 4, 5], (1, 5), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(vec![1u32, 2, 3, 0, 6], (1, 5), &Device::Cpu).unwrap();
        let la: Vec<Vec<f32>> = m.forward(&a, None).unwrap().to_vec2().unwrap();
        let lb: Vec<Vec<f32>> = m.forward(&b, None).unwrap().to_vec2().unwrap();
        assert_eq!(la[..3], lb[..3], "{}: positions 0..3 saw the future", mixer.name());
        assert_ne!(la[3], lb[3], "{}", mixer.name());
        if mixer == Mixer::None {
            // Without token mixing, position 2's output depends only on token 2 (and its position).
            let c = Tensor::from_vec(vec![6u32, 0, 3, 4, 5], (1, 5), &Device::Cpu).unwrap();
            let lc: Vec<Vec<f32>> = m.forward(&c, None).unwrap().to_vec2().unwrap();
            assert_eq!(la[2], lc[2], "none: position 2 changed with earlier tokens");
        }
    }
}
