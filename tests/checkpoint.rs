//! Why: a checkpoint must bring back exactly the weights it saved, with the config that built
//! them, and a file that does not fit (another config, truncated, not safetensors) must fail
//! with a message naming the problem — never load half a model.

use interlab::core::TrainConfig;
use interlab::engine::Trainer;
use interlab::model::checkpoint;

fn small(model: &str) -> TrainConfig {
    TrainConfig {
        model: model.into(),
        layers: 1,
        heads: 2,
        d_model: 8,
        batch: 4,
        steps: 10,
        warmup: 1,
        ..TrainConfig::default()
    }
    .with_task("mqar", &[("vocab", "12"), ("seq_len", "9"), ("kv_pairs", "2")])
}

fn weights(t: &Trainer) -> Vec<(String, Vec<u32>)> {
    t.model
        .named_params()
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                v.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn round_trip_is_exact_for_every_model_family() {
    for model in ["transformer", "lstm", "gru", "dlr", "s4d", "mhssm"] {
        let mut t = Trainer::new(small(model)).unwrap();
        for _ in 0..3 {
            t.step().unwrap();
        }
        let bytes = t.checkpoint().unwrap();
        let back = Trainer::from_checkpoint(&bytes).unwrap();
        // The header stores the parameters as a JSON object (key order is not kept).
        let sorted = |c: &TrainConfig| {
            let mut c = c.clone();
            c.task_params.sort();
            c
        };
        assert_eq!(sorted(&back.cfg), sorted(&t.cfg), "{model}");
        assert_eq!(back.step_count(), 3);
        assert_eq!(weights(&back), weights(&t), "{model}: weights differ after the round trip");
        assert_eq!(back.evaluate().unwrap(), t.evaluate().unwrap(), "{model}");
    }
}

#[test]
fn mismatched_truncated_and_foreign_files_fail_cleanly() {
    let t = Trainer::new(small("transformer")).unwrap();
    let bytes = t.checkpoint().unwrap();
    // Another width: the first differing tensor is named with both shapes.
    let wider = Trainer::new(TrainConfig { d_model: 16, ..small("transformer") }).unwrap();
    let before = weights(&wider);
    let e = checkpoint::load_into(wider.model.as_ref(), &bytes).unwrap_err().to_string();
    assert!(e.contains("tensor 'wte.weight' has shape [12, 8]") && e.contains("[12, 16]"), "{e}");
    assert_eq!(weights(&wider), before, "a failed load must not change the model");
    // Another family: its tensors are missing.
    let rnn = Trainer::new(small("gru")).unwrap();
    let e = checkpoint::load_into(rnn.model.as_ref(), &bytes).unwrap_err().to_string();
    assert!(e.contains("is missing from the checkpoint"), "{e}");
    // More layers in the file than in the model: the extra tensor is named.
    let deep = Trainer::new(TrainConfig { layers: 2, ..small("transformer") }).unwrap().checkpoint().unwrap();
    let e = checkpoint::load_into(t.model.as_ref(), &deep).unwrap_err().to_string();
    assert!(e.contains("the checkpoint has tensor 'h.1."), "{e}");
    // Truncated and foreign bytes.
    for bad in [&bytes[..bytes.len() / 2], b"PK\x03\x04 not a checkpoint".as_slice(), &[][..]] {
        let e = Trainer::from_checkpoint(bad).err().unwrap();
        assert!(e.contains("not a safetensors file"), "{e}");
        let e = checkpoint::load_into(t.model.as_ref(), bad).unwrap_err().to_string();
        assert!(e.contains("not a safetensors file"), "{e}");
    }
}

#[test]
fn ssm_families_round_trip_and_match_the_config_parameter_count() {
    for model in ["dlr", "s4d", "mhssm"] {
        let mut t = Trainer::new(TrainConfig { state: 4, ..small(model) }).unwrap();
        let dims = interlab::engine::plan::dims_of(&t.task.shape());
        assert_eq!(t.cfg.param_count(dims) as usize, t.model.param_count(), "{model}");
        t.step().unwrap();
        let back = Trainer::from_checkpoint(&t.checkpoint().unwrap()).unwrap();
        assert_eq!(weights(&back), weights(&t), "{model}");
    }
}
