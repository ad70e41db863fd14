//! Shipped experiments that reproduce the seed papers' headline findings. Each preset is a
//! list of runs on one task family with one seed and one budget, plus the outcome the paper
//! reports, so a run can be compared with it (`interlab train --preset NAME`; the README
//! lists the outcomes measured here). Budgets were fixed before looking at results.

use crate::core::TrainConfig;

pub struct Preset {
    pub name: &'static str,
    pub title: &'static str,
    /// What the paper reports, in one sentence.
    pub expected: &'static str,
    /// `(label, config)` of each run.
    pub runs: Vec<(String, TrainConfig)>,
}

/// A small model with one budget for every run of a preset.
fn base(steps: usize) -> TrainConfig {
    TrainConfig {
        layers: 2,
        heads: 2,
        d_model: 32,
        batch: 32,
        steps,
        warmup: 50,
        lr: 1e-3,
        seed: 7,
        ..TrainConfig::default()
    }
}

fn run(label: &str, cfg: TrainConfig) -> (String, TrainConfig) {
    (label.to_string(), cfg)
}

pub fn all() -> Vec<Preset> {
    let shift: &[(&str, &str)] = &[("seq_len", "32"), ("vocab", "8"), ("channels", "4"), ("max_shift", "8")];
    let cshift: &[(&str, &str)] = &[("seq_len", "32"), ("vocab", "8"), ("max_shift", "8")];
    let mqar: &[(&str, &str)] = &[("vocab", "16"), ("seq_len", "12"), ("kv_pairs", "3")];
    let mut heads_lags = Vec::new();
    for k in [1, 2, 4, 8] {
        for h in [1, 2, 4, 8] {
            let lags = k.to_string();
            let cfg = TrainConfig { layers: 1, heads: h, ..base(1500) }
                .with_task("lag_map", &[("lags", &lags), ("outputs", "4"), ("seq_len", "32")]);
            heads_lags.push(run(&format!("k{k}-h{h}"), cfg));
        }
    }
    vec![
        Preset {
            name: "dlr-shift",
            title: "DLR shifts perfectly but fails context shift",
            expected: "DLR learns Shift to >= 99% token accuracy but fails Context Shift at the same budget, where softmax attention succeeds (Gupta et al. 2022)",
            runs: vec![
                run("dlr-shift", TrainConfig { model: "dlr".into(), lr: 3e-3, ..base(2000) }.with_task("shift", shift)),
                run("dlr-context_shift", TrainConfig { model: "dlr".into(), lr: 3e-3, ..base(2000) }.with_task("context_shift", cshift)),
                run("attn-context_shift", TrainConfig { lr: 3e-3, ..base(2000) }.with_task("context_shift", cshift)),
            ],
        },
        Preset {
            name: "mixing-mqar",
            title: "Token mixing is necessary; hybrids recover",
            expected: "without token mixing a Transformer stays near chance on MQAR while softmax attention solves it; one attention layer with the rest static mixing recovers most of the gap (Deconstructing Attention)",
            runs: vec![
                run("attn", base(3000).with_task("mqar", mqar)),
                run("none", TrainConfig { mixers: "none".into(), ..base(3000) }.with_task("mqar", mqar)),
                run("attn+static", TrainConfig { mixers: "attn,static".into(), ..base(3000) }.with_task("mqar", mqar)),
            ],
        },
        Preset {
            name: "induction",
            title: "Induction heads form with a phase change",
            expected: "the loss sits on a plateau, then drops sharply as an induction head forms; that head's attention shows match-and-copy (Olsson et al. 2022; Singh et al. 2024)",
            runs: vec![run("induction", TrainConfig { lr: 3e-3, ..base(2000) }.with_task("induction", &[("seq_len", "32"), ("vocab", "16"), ("segment", "10")]))],
        },
        Preset {
            name: "heads-lags",
            title: "Heads vs lags",
            expected: "a map spanned by k lag operators needs H >= k attention heads: MSE falls as H reaches k (How many heads make an SSM?)",
            runs: heads_lags,
        },
    ]
}

pub fn find(name: &str) -> Result<Preset, String> {
    all().into_iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().iter().map(|p| p.name).collect();
        format!("unknown preset '{name}' (presets: {})", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_config_is_valid_and_labels_are_unique() {
        for p in all() {
            let mut labels: Vec<&str> = p.runs.iter().map(|r| r.0.as_str()).collect();
            labels.sort();
            labels.dedup();
            assert_eq!(labels.len(), p.runs.len(), "{}", p.name);
            for (label, cfg) in &p.runs {
                crate::engine::plan(cfg, &crate::engine::RunEnv::default())
                    .unwrap_or_else(|e| panic!("{}/{label}: {e}", p.name));
            }
        }
        assert!(find("nope").err().unwrap().contains("dlr-shift"));
    }

    #[test]
    fn every_run_of_every_preset_trains_a_few_steps() {
        for p in all() {
            for (label, cfg) in p.runs {
                let mut t =
                    crate::engine::Trainer::new(cfg).unwrap_or_else(|e| panic!("{}/{label}: {e}", p.name));
                let first = t.step().unwrap().loss;
                let mut last = first;
                for _ in 0..2 {
                    last = t.step().unwrap().loss;
                }
                assert!(first.is_finite() && last.is_finite(), "{}/{label}: {first} → {last}", p.name);
                assert_eq!(t.step_count(), 3);
            }
        }
    }
}
