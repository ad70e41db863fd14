//! Why: the DLR family trains through candle's autograd on a kernel + Toeplitz-matmul path
//! that nothing else checks. These pin it to the f64 recurrence, check causality, compare
//! every parameter kind's gradient with central finite differences, check that a gradient
//! step lowers the loss and that init is seeded; and time a forward+backward at a realistic
//! size (printed with --nocapture).

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use interlab::core::Rng;
use interlab::model::dlr::{dlr_scan_reference, Dlr, DlrConfig};
use interlab::model::{masked_cross_entropy, SeqModel, Transformer, TransformerConfig};

/// f32 convolution against the f64 scan, relative to the largest |y|.
const CONV_VS_SCAN_TOL: f64 = 1e-4;
/// Central-difference step. Loss noise in f32 is ~1e-7 x |terms| ~ 1e-6 here, so the
/// derivative is good to ~1e-3 absolute; the truncation error (eps²) is far below that.
const FD_EPS: f32 = 1e-3;
/// Gradient check: |autograd − numeric| ≤ FD_REL · max(|autograd|, |numeric|) + FD_ABS.
const FD_REL: f64 = 1e-2;
const FD_ABS: f64 = 2e-3;

fn cfg(discretised: bool) -> DlrConfig {
    DlrConfig { vocab: 6, features: 2, max_len: 12, layers: 2, d_model: 4, state: 3, out: 3, discretised }
}

fn tokens(b: usize, l: usize, vocab: usize, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let t: Vec<u32> = (0..b * l).map(|_| rng.below(vocab as u64) as u32).collect();
    Tensor::from_vec(t, (b, l), &Device::Cpu).unwrap()
}

fn normals(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.normal()).collect::<Vec<f32>>(), shape, &Device::Cpu).unwrap()
}

/// O(1)-scale parameters (matrices N(0, 1/fan_in)) so every gradient is well above f32 noise.
fn randomise(m: &Dlr, seed: u64) {
    let mut rng = Rng::new(seed);
    for (name, v) in m.named_params() {
        let dims = v.as_tensor().dims().to_vec();
        let fan_in = if name.starts_with("wte") { 1.0 } else { dims[0] as f32 };
        let data: Vec<f32> = (0..v.as_tensor().elem_count())
            .map(|_| match name.rsplit('.').next().unwrap() {
                "nu" => -3.0 + 2.5 * rng.next_f32(),
                "theta" => 2.0 * rng.next_f32() - 1.0,
                "log_dt" => -4.0 + 3.0 * rng.next_f32(),
                "a_re" => 2.0 * rng.next_f32() - 1.0,
                "a_im" => 6.0 * rng.next_f32() - 3.0,
                "w_re" | "w_im" => rng.normal() / (dims[1] as f32).sqrt(),
                _ if dims.len() == 1 => 1.0 + 0.2 * rng.normal(), // LayerNorm gains
                _ => rng.normal() / fan_in.sqrt(),
            })
            .collect();
        v.set(&Tensor::from_vec(data, dims.as_slice(), &Device::Cpu).unwrap()).unwrap();
    }
}

#[test]
fn convolution_matches_the_f64_scan() {
    for discretised in [false, true] {
        let m = Dlr::new(DlrConfig { d_model: 8, state: 16, max_len: 33, ..cfg(discretised) }, 9).unwrap();
        randomise(&m, 10);
        for l in [1, 7, 33] {
            let (b, d) = (2, 8);
            let u = normals(&[b, l, d], l as u64);
            let y: Vec<f32> = m.mix(1, &u).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let u64s: Vec<f64> =
                u.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(f64::from).collect();
            let r = dlr_scan_reference(&m.modes(1).unwrap(), &u64s, b, l);
            let scale = r.iter().fold(1e-12f64, |a, x| a.max(x.abs()));
            let worst = y.iter().zip(&r).map(|(&a, b)| (a as f64 - b).abs()).fold(0.0, f64::max) / scale;
            assert!(worst < CONV_VS_SCAN_TOL, "discretised={discretised} L={l}: rel err {worst:e}");
        }
    }
}

#[test]
fn later_tokens_and_features_do_not_change_earlier_outputs() {
    for discretised in [false, true] {
        let m = Dlr::new(cfg(discretised), 3).unwrap();
        randomise(&m, 4);
        let (b, l) = (2, 12);
        let (ta, fa) = (tokens(b, l, 6, 1), normals(&[b, l, 2], 2));
        let ya: Vec<Vec<f32>> = m.forward(&ta, Some(&fa)).unwrap().to_vec2().unwrap(); // [b*l, out]
        for t in [0, 1, 5, 11] {
            // Replace positions t.. with other tokens and features.
            let (mut tv, mut fv): (Vec<u32>, Vec<f32>) =
                (ta.flatten_all().unwrap().to_vec1().unwrap(), fa.flatten_all().unwrap().to_vec1().unwrap());
            let fresh: Vec<f32> = normals(&[b * l * 2], 30 + t as u64).to_vec1().unwrap();
            for i in 0..b * l {
                if i % l >= t {
                    tv[i] = (tv[i] + 1) % 6;
                    fv[2 * i..2 * i + 2].copy_from_slice(&fresh[2 * i..2 * i + 2]);
                }
            }
            let tb = Tensor::from_vec(tv, (b, l), &Device::Cpu).unwrap();
            let fb = Tensor::from_vec(fv, (b, l, 2), &Device::Cpu).unwrap();
            let yb: Vec<Vec<f32>> = m.forward(&tb, Some(&fb)).unwrap().to_vec2().unwrap();
            for i in 0..b {
                for p in 0..l {
                    let (ra, rb) = (&ya[i * l + p], &yb[i * l + p]);
                    if p < t {
                        assert_eq!(ra, rb, "discretised={discretised}: position {p} saw a change at {t}..");
                    } else {
                        assert_ne!(ra, rb, "discretised={discretised}: position {p} ignored its own input");
                    }
                }
            }
        }
    }
}

/// `Σ out ⊙ r` as a candle scalar, and in f64 on the host from the f32 outputs.
fn loss(m: &Dlr, t: &Tensor, f: &Tensor, r: &Tensor) -> (Tensor, f64) {
    let out = m.forward(t, Some(f)).unwrap(); // [b*l, out]
    let host: f64 = out
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .zip(r.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .map(|(&a, b)| a as f64 * b as f64)
        .sum();
    ((out * r).unwrap().sum_all().unwrap(), host)
}

#[test]
fn autograd_matches_central_differences_for_every_parameter_kind() {
    for discretised in [false, true] {
        let m = Dlr::new(cfg(discretised), 5).unwrap();
        randomise(&m, 6 + discretised as u64);
        let (b, l) = (2, 10);
        let (t, f, r) = (tokens(b, l, 6, 7), normals(&[b, l, 2], 8), normals(&[b * l, 3], 9));
        let grads = loss(&m, &t, &f, &r).0.backward().unwrap();
        let mut rng = Rng::new(11);
        let mut checked = 0;
        for (name, v) in m.named_params() {
            let g: Vec<f32> = grads.get(v.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let p0: Vec<f32> = v.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            for i in rng.distinct(p0.len(), 3.min(p0.len())) {
                let at = |x: f32| {
                    let mut p = p0.clone();
                    p[i] = x;
                    v.set(&Tensor::from_vec(p, v.as_tensor().shape(), &Device::Cpu).unwrap()).unwrap();
                    loss(&m, &t, &f, &r).1
                };
                let (hi, lo) = (p0[i] + FD_EPS, p0[i] - FD_EPS);
                let numeric = (at(hi) - at(lo)) / (hi as f64 - lo as f64);
                v.set(&Tensor::from_vec(p0.clone(), v.as_tensor().shape(), &Device::Cpu).unwrap()).unwrap();
                let auto = g[i] as f64;
                let tol = FD_REL * auto.abs().max(numeric.abs()) + FD_ABS;
                assert!(
                    (auto - numeric).abs() <= tol,
                    "discretised={discretised} {name}[{i}]: autograd {auto} vs numeric {numeric}"
                );
                checked += (auto.abs() > 10.0 * FD_ABS) as usize;
            }
        }
        // Most entries carry a gradient well above the floor, so the check has teeth.
        assert!(checked >= m.named_params().len() * 2, "only {checked} gradients above the floor");
    }
}

#[test]
fn one_gradient_step_lowers_the_loss() {
    for discretised in [false, true] {
        let m = Dlr::new(DlrConfig { features: 0, out: 6, ..cfg(discretised) }, 12).unwrap();
        let (b, l) = (4, 12);
        let (x, y) = (tokens(b, l, 6, 13), tokens(b * l, 1, 6, 14).flatten_all().unwrap());
        let mask = Tensor::ones(b * l, DType::F32, &Device::Cpu).unwrap();
        let ce = |m: &Dlr| masked_cross_entropy(&m.forward(&x, None).unwrap(), &y, &mask).unwrap();
        let before = ce(&m);
        let grads = before.backward().unwrap();
        let before: f32 = before.to_scalar().unwrap();
        let lr = 0.05;
        let mut predicted = 0.0f64; // first order: lr · |g|²
        for (_, v) in m.named_params() {
            let g = grads.get(v.as_tensor()).unwrap();
            predicted += lr * g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
            v.set(&(v.as_tensor() - (g * lr).unwrap()).unwrap()).unwrap();
        }
        let after: f32 = ce(&m).to_scalar().unwrap();
        let drop = (before - after) as f64;
        assert!(drop > 0.0, "discretised={discretised}: loss {before} -> {after}");
        assert!(
            drop > 0.5 * predicted && drop < 1.5 * predicted,
            "discretised={discretised}: drop {drop} vs first-order {predicted}"
        );
    }
}

#[test]
fn same_seed_same_weights_different_seed_different() {
    for discretised in [false, true] {
        let w = |seed| {
            let m = Dlr::new(cfg(discretised), seed).unwrap();
            m.named_params()
                .into_iter()
                .map(|(n, v)| (n, v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()))
                .collect::<Vec<_>>()
        };
        let (a, b, c) = (w(5), w(5), w(6));
        assert_eq!(a, b);
        for ((name, x), (_, z)) in a.iter().zip(&c) {
            let constant_init = name.contains("ln") || name.ends_with("a_re") || name.ends_with("a_im");
            assert_eq!(x == z, constant_init, "{name}: seed 5 vs 6");
        }
    }
}

/// Median milliseconds of `f` over 4 runs after one warm-up.
fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut ms: Vec<f64> = (0..4)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

/// Prints forward+backward times at b=32, L=256, d=64, N=16, with a Transformer of the same
/// width, depth and length timed alongside as the yardstick (the machine may be shared).
/// ~15 s, so opt-in: `cargo test --test dlr_model -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run with --ignored --nocapture"]
fn forward_backward_time_at_a_realistic_size() {
    let (b, l, d, n, v) = (32, 256, 64, 16, 16);
    let (x, y) = (tokens(b, l, v, 1), tokens(b * l, 1, v, 2).flatten_all().unwrap());
    let mask = Tensor::ones(b * l, DType::F32, &Device::Cpu).unwrap();
    let step = |m: &dyn SeqModel| {
        let grads =
            masked_cross_entropy(&m.forward(&x, None).unwrap(), &y, &mask).unwrap().backward().unwrap();
        assert!(m.named_params().iter().all(|(_, p)| grads.get(p.as_tensor()).is_some()));
    };
    let tcfg = TransformerConfig {
        vocab: v,
        features: 0,
        max_len: l,
        layers: 2,
        heads: 4,
        d_model: d,
        mlp_ratio: 2,
        out: v,
        mixers: vec![interlab::model::mixers::Mixer::Attention; 2],
    };
    let t = Transformer::new(tcfg, 0).unwrap();
    let t_ms = median_ms(|| step(&t));
    for discretised in [false, true] {
        let m = Dlr::new(
            DlrConfig {
                vocab: v,
                features: 0,
                max_len: l,
                layers: 2,
                d_model: d,
                state: n,
                out: v,
                discretised,
            },
            0,
        )
        .unwrap();
        let u = Var::from_tensor(&normals(&[b, l, d], 3)).unwrap(); // a Var, so du is computed as in the model
        let model_ms = median_ms(|| step(&m));
        let layer_ms = median_ms(|| {
            m.mix(0, u.as_tensor()).unwrap().sqr().unwrap().sum_all().unwrap().backward().unwrap();
        });
        println!(
            "dlr discretised={discretised} b={b} L={l} d={d} N={n}: 2-layer model fwd+bwd {model_ms:.1} ms, one DLR layer {layer_ms:.1} ms; \
             2-layer 4-head Transformer {t_ms:.1} ms (median of 4, test profile)"
        );
    }
}
