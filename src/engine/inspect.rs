//! The model views' data, in plain serialisable types: what a Transformer's mixers do on one
//! chosen example (attention maps per layer and head), and what a DLR's recurrence looks like
//! (eigenvalues, each channel's kernel, state norms over time), plus the per-evaluation
//! spectrum summary that draws |λ| over training. Both the worker and the main-thread
//! fallback call these, so the views are the same wherever training runs.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::Trainer;
use crate::model::SeqModel;

/// Positions shown in the views (the models are causal, so the first positions of an example
/// are computed exactly as in the full sequence).
pub const VIEW_POSITIONS: usize = 64;
/// Kernel channels sent per layer.
pub const VIEW_CHANNELS: usize = 8;
/// Eigenvalues sent per layer for the complex-plane plot.
pub const VIEW_EIGENVALUES: usize = 512;

/// One example seen through the model, at training step `step`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelView {
    pub step: usize,
    /// Seed of the example (`task.generate(seed, 1)`).
    pub seed: u64,
    /// Input token labels of the positions shown (`len` of them).
    pub tokens: Vec<String>,
    /// Layer names of `attention` (the mixer of each layer).
    pub mixers: Vec<String>,
    /// `[layer][head]` → row-major `len × len` weights, row `t` = what position `t` reads.
    pub attention: Vec<Vec<Vec<f32>>>,
    /// `[layer]` → `(|λ|, arg λ)` of up to `VIEW_EIGENVALUES` eigenvalues.
    pub eigenvalues: Vec<Vec<(f32, f32)>>,
    /// `[layer][channel]` → kernel over `len` lags, first `VIEW_CHANNELS` channels.
    pub kernels: Vec<Vec<Vec<f32>>>,
    /// `[layer]` → `‖x_t‖` over the example's `len` positions.
    pub state_norms: Vec<Vec<f32>>,
}

impl ModelView {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// The example `seed` (its first `VIEW_POSITIONS` positions) through the trainer's model.
pub fn inspect(trainer: &Trainer, seed: u64) -> Result<ModelView, String> {
    let batch = trainer.task.generate(seed, 1);
    let len = batch.seq_len.min(VIEW_POSITIONS);
    let dev = Device::Cpu;
    let fail = |e: candle_core::Error| format!("inspect: {e}");
    let tokens = Tensor::from_vec(batch.inputs[..len].to_vec(), (1, len), &dev).map_err(fail)?; // [1, len]
    let features = match batch.features {
        0 => None,
        f => {
            Some(Tensor::from_vec(batch.features_data[..len * f].to_vec(), (1, len, f), &dev).map_err(fail)?)
        } // [1, len, f]
    };
    let inside = trainer.model.internals(&tokens, features.as_ref()).map_err(|e| e.to_string())?;
    let mut attention = Vec::with_capacity(inside.mixing.len());
    for w in &inside.mixing {
        let w = w.squeeze(0).map_err(fail)?; // [h, len, len]
        let heads: Vec<Vec<Vec<f32>>> = w.to_vec3().map_err(fail)?;
        attention.push(heads.into_iter().map(|rows| rows.into_iter().flatten().collect()).collect());
    }
    let mixers = match trainer.cfg.model.as_str() {
        "transformer" => crate::model::mixers::Mixer::parse_list(&trainer.cfg.mixers, trainer.cfg.layers)?
            .iter()
            .map(|m| m.name().to_string())
            .collect(),
        _ => Vec::new(),
    };
    Ok(ModelView {
        step: trainer.step_count(),
        seed,
        tokens: batch.inputs[..len].iter().map(|&t| trainer.task.token_label(t)).collect(),
        mixers,
        attention,
        eigenvalues: trainer
            .model
            .spectrum()
            .into_iter()
            .map(|mut e| {
                e.truncate(VIEW_EIGENVALUES);
                e
            })
            .collect(),
        kernels: inside
            .recurrence
            .iter()
            .map(|r| r.kernel.iter().take(VIEW_CHANNELS).cloned().collect())
            .collect(),
        state_norms: inside
            .recurrence
            .into_iter()
            .map(|r| r.state_norm.into_iter().next().unwrap_or_default())
            .collect(),
    })
}

/// Per recurrent layer: min, median and max of `|λ|`, then median and max of `|arg λ|` (how
/// fast the modes rotate); empty for models without a linear recurrence.
pub fn spectrum_summary(model: &dyn SeqModel) -> Vec<[f32; 5]> {
    let sorted = |mut v: Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v
    };
    model
        .spectrum()
        .into_iter()
        .filter(|e| !e.is_empty())
        .map(|e| {
            let m = sorted(e.iter().map(|&(r, _)| r).collect());
            let p = sorted(e.iter().map(|&(_, phi)| phi.abs()).collect());
            [m[0], m[m.len() / 2], m[m.len() - 1], p[p.len() / 2], p[p.len() - 1]]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::TrainConfig;

    fn trainer(model: &str, mixers: &str) -> Trainer {
        let cfg = TrainConfig {
            model: model.into(),
            mixers: mixers.into(),
            layers: 2,
            heads: 2,
            d_model: 8,
            state: 3,
            batch: 2,
            steps: 5,
            warmup: 1,
            ..TrainConfig::default()
        }
        .with_task("induction", &[("seq_len", "80"), ("vocab", "8"), ("segment", "6")]);
        Trainer::new(cfg).unwrap()
    }

    #[test]
    fn transformer_view_has_causal_row_stochastic_maps_per_layer_and_head() {
        let t = trainer("transformer", "attn,static");
        let v = inspect(&t, 3).unwrap();
        assert_eq!(v.len(), VIEW_POSITIONS); // 80 positions cropped to 64
        assert_eq!(v.mixers, ["attn", "static"]);
        assert_eq!((v.attention.len(), v.attention[0].len(), v.attention[0][0].len()), (2, 2, 64 * 64));
        for layer in &v.attention {
            for map in layer {
                for (t, row) in map.chunks(64).enumerate() {
                    let s: f32 = row.iter().sum();
                    assert!((s - 1.0).abs() < 1e-4, "row {t} sums to {s}");
                    assert!(row[t + 1..].iter().all(|&w| w == 0.0), "row {t} reads the future");
                }
            }
        }
        assert!(
            v.kernels.is_empty() && v.eigenvalues.is_empty() && spectrum_summary(t.model.as_ref()).is_empty()
        );
        // Another seed is another example.
        assert_ne!(inspect(&t, 4).unwrap().tokens, v.tokens);
    }

    #[test]
    fn multi_head_ssm_view_has_one_kernel_per_head() {
        let t = trainer("mhssm", "attn");
        let v = inspect(&t, 2).unwrap();
        assert_eq!((v.kernels.len(), v.kernels[0].len(), v.kernels[0][0].len()), (2, 2, 64)); // 2 layers, 2 heads
        assert_eq!(v.eigenvalues[1].len(), 2 * 3);
        assert!(v.state_norms.iter().all(|n| n.len() == 64 && n.iter().all(|x| x.is_finite() && *x > 0.0)));
        assert_eq!(spectrum_summary(t.model.as_ref()).len(), 2);
    }

    #[test]
    fn state_norms_follow_the_recurrence() {
        use crate::model::dlr::{dlr_scan_states, Modes};
        // One channel, two states: λ = 0.5 and λ = i·0.5; an impulse then silence.
        let m = Modes { lambda: vec![vec![(0.5, 0.0), (0.0, 0.5)]], w: vec![vec![(1.0, 0.0), (1.0, 0.0)]] };
        let (y, n) = dlr_scan_states(&m, &[1.0, 0.0, 0.0], 1, 3);
        let want = [2f64.sqrt(), 0.5 * 2f64.sqrt(), 0.25 * 2f64.sqrt()];
        assert!(n.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12), "{n:?}");
        assert_eq!(y, [2.0, 0.5, 0.0]); // Re(0.5^t + (0.5i)^t)
    }

    #[test]
    fn dlr_view_has_kernels_norms_and_eigenvalues_inside_the_unit_circle() {
        let t = trainer("dlr", "attn");
        let v = inspect(&t, 1).unwrap();
        assert!(v.attention.is_empty());
        assert_eq!(v.kernels.len(), 2);
        assert_eq!((v.kernels[0].len(), v.kernels[0][0].len()), (VIEW_CHANNELS, 64));
        assert_eq!((v.state_norms.len(), v.state_norms[1].len()), (2, 64));
        assert!(v.state_norms[0].iter().all(|x| x.is_finite() && *x > 0.0));
        assert_eq!(v.eigenvalues[0].len(), 8 * 3);
        let s = spectrum_summary(t.model.as_ref());
        assert_eq!(s.len(), 2);
        assert!(
            s.iter().all(|[lo, mid, hi, pmid, pmax]| 0.0 < *lo
                && lo <= mid
                && mid <= hi
                && *hi < 1.0
                && 0.0 <= *pmid
                && pmid <= pmax),
            "{s:?}"
        );
    }
}
