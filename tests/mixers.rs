//! Why: each token mixer of "Deconstructing Attention" is composed from candle ops or a fused
//! kernel; a wrong gradient would silently make a variant look worse than it is. Central
//! finite differences check every mixer's gradients (for every parameter tensor of a small
//! model) against autograd, and each mixer's causality is checked directly.

use candle_core::{Device, Tensor};
use interlab::model::mixers::Mixer;
use interlab::model::{Transformer, TransformerConfig};

mod common;

fn model(mixer: Mixer, seed: u64) -> Transformer {
    let cfg = TransformerConfig {
        vocab: 7,
        features: 0,
        max_len: 6,
        layers: 1,
        heads: 2,
        d_model: 8,
        mlp_ratio: 2,
        out: 5,
        mixers: vec![mixer],
    };
    let m = Transformer::new(cfg, seed).unwrap();
    common::randomise(&m, seed ^ 0xF00D, 0.5);
    m
}

#[test]
fn every_mixer_matches_finite_differences() {
    let (x, r) = common::probe(7, 5);
    for mixer in Mixer::ALL {
        common::check_gradients(mixer.name(), &model(mixer, 3), &x, &r);
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
