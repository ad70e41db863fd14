//! Why: the LSTM and GRU baselines are unrolled candle graphs; their gradients must be right
//! (finite differences), they must be causal, their parameter count must match the config's
//! estimate, and they must actually learn a task a recurrence is good at.

mod common;

use candle_core::{Device, Tensor};
use interlab::core::{ModelDims, TrainConfig};
use interlab::engine::Trainer;
use interlab::model::rnn::{Cell, Rnn, RnnConfig};
use interlab::model::SeqModel;

fn model(cell: Cell, seed: u64) -> Rnn {
    Rnn::new(RnnConfig { cell, vocab: 7, features: 0, layers: 2, d_model: 6, out: 5 }, seed).unwrap()
}

#[test]
fn gradients_match_finite_differences() {
    let (x, r) = common::probe(7, 5);
    for cell in [Cell::Lstm, Cell::Gru] {
        let m = model(cell, 1);
        common::randomise(&m, 4, 0.5);
        common::check_gradients(&format!("{cell:?}"), &m, &x, &r);
    }
}

#[test]
fn causal_and_sized_as_the_config_says() {
    for (cell, name) in [(Cell::Lstm, "lstm"), (Cell::Gru, "gru")] {
        let m = model(cell, 2);
        let a = Tensor::from_vec(vec![1u32, 2, 3, 4, 5], (1, 5), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(vec![1u32, 2, 3, 0, 6], (1, 5), &Device::Cpu).unwrap();
        let la: Vec<Vec<f32>> = m.forward(&a, None).unwrap().to_vec2().unwrap();
        let lb: Vec<Vec<f32>> = m.forward(&b, None).unwrap().to_vec2().unwrap();
        assert_eq!(la[..3], lb[..3], "{name}: saw the future");
        assert_ne!(la[3], lb[3], "{name}");
        let cfg = TrainConfig { model: name.into(), layers: 2, d_model: 6, ..TrainConfig::default() };
        let dims = ModelDims { seq_len: 5, vocab: 7, features: 0, out: 5 };
        assert_eq!(cfg.param_count(dims) as usize, m.param_count(), "{name}");
    }
}

#[test]
fn gru_learns_shift() {
    let cfg = TrainConfig {
        model: "gru".into(),
        layers: 1,
        d_model: 32,
        batch: 16,
        steps: 400,
        warmup: 20,
        lr: 1e-2,
        seed: 3,
        ..TrainConfig::default()
    }
    .with_task("shift", &[("seq_len", "16"), ("vocab", "8"), ("channels", "2"), ("max_shift", "2")]);
    let mut t = Trainer::new(cfg).unwrap();
    while !t.is_done() {
        t.step().unwrap();
    }
    let acc = t.evaluate().unwrap().accuracy.unwrap();
    println!("gru on shift: held-out accuracy {acc:.3} after 400 steps (chance 0.125)");
    assert!(acc > 0.9, "GRU reached only {acc:.3} on shift");
}
