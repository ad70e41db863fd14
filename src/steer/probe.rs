//! Linear probes: logistic regression on a site's activations at one position, trained by
//! full-batch gradient descent in f64 on standardised features from a seeded 75/25 split,
//! so a probe repeats exactly. `grid` fits one per (site, position): the heatmap.

use candle_core::Tensor;

use super::directions::capture;
use super::{err, Result};
use crate::core::Rng;
use crate::model::SeqModel;

const EPOCHS: usize = 300;
const LR: f64 = 0.5;
const L2: f64 = 1e-3;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    /// Weights in the activation's own units (standardisation folded in).
    pub weights: Vec<f32>,
    pub bias: f32,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

/// Fit a probe of `labels` from `x` (one row per example).
pub fn fit(x: &[Vec<f32>], labels: &[bool], seed: u64) -> Result<Probe> {
    let n = x.len();
    if n < 4 || labels.len() != n {
        return Err(err(
            "probe",
            format!("{n} examples and {} labels: need equal counts, at least 4", labels.len()),
        ));
    }
    let w = x[0].len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::fork(seed, "steer.probe.split");
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let (train, test) = order.split_at(n * 3 / 4);
    let mean: Vec<f64> =
        (0..w).map(|j| train.iter().map(|&i| x[i][j] as f64).sum::<f64>() / train.len() as f64).collect();
    let sd: Vec<f64> = (0..w)
        .map(|j| {
            (train.iter().map(|&i| (x[i][j] as f64 - mean[j]).powi(2)).sum::<f64>() / train.len() as f64)
                .sqrt()
                .max(1e-6)
        })
        .collect();
    let z = |i: usize, j: usize| (x[i][j] as f64 - mean[j]) / sd[j];
    let (mut wt, mut b) = (vec![0f64; w], 0f64);
    for _ in 0..EPOCHS {
        let mut gw = vec![0f64; w];
        let mut gb = 0f64;
        for &i in train {
            let s = b + (0..w).map(|j| wt[j] * z(i, j)).sum::<f64>();
            let g = 1.0 / (1.0 + (-s).exp()) - if labels[i] { 1.0 } else { 0.0 };
            gb += g;
            for (j, gj) in gw.iter_mut().enumerate() {
                *gj += g * z(i, j);
            }
        }
        let m = train.len() as f64;
        b -= LR * gb / m;
        for j in 0..w {
            wt[j] -= LR * (gw[j] / m + L2 * wt[j]);
        }
    }
    let acc = |set: &[usize]| {
        set.iter().filter(|&&i| (b + (0..w).map(|j| wt[j] * z(i, j)).sum::<f64>() > 0.0) == labels[i]).count()
            as f64
            / set.len().max(1) as f64
    };
    let (train_accuracy, test_accuracy) = (acc(train), acc(test));
    let weights: Vec<f32> = (0..w).map(|j| (wt[j] / sd[j]) as f32).collect();
    let bias = (b - (0..w).map(|j| wt[j] * mean[j] / sd[j]).sum::<f64>()) as f32;
    Ok(Probe { weights, bias, train_accuracy, test_accuracy })
}

/// Held-out accuracy of a probe per `(site, position)`: `[sites][positions]`, labels one per
/// sequence of `tokens` `[b, l]`.
pub fn grid(
    model: &dyn SeqModel,
    tokens: &Tensor,
    labels: &[bool],
    sites: &[String],
    positions: &[usize],
    seed: u64,
) -> Result<Vec<Vec<f64>>> {
    sites
        .iter()
        .map(|site| {
            let acts = capture(model, tokens, site)?;
            positions
                .iter()
                .map(|&p| {
                    if p >= acts[0].len() {
                        return Err(err(
                            site,
                            format!("position {p} outside the sequence of {}", acts[0].len()),
                        ));
                    }
                    let x: Vec<Vec<f32>> = acts.iter().map(|seq| seq[p].clone()).collect();
                    Ok(fit(&x, labels, seed)?.test_accuracy)
                })
                .collect()
        })
        .collect()
}

/// A probe's reading along every position of a (long) context: the probability of the label
/// at each position of each sequence, `[b][l]` — the "changes over a conversation" view
/// (the same direction read at different positions).
pub fn readout(model: &dyn SeqModel, tokens: &Tensor, site: &str, p: &Probe) -> Result<Vec<Vec<f64>>> {
    let acts = capture(model, tokens, site)?;
    if acts.first().and_then(|s| s.first()).map_or(0, Vec::len) != p.weights.len() {
        return Err(err(
            site,
            format!(
                "a probe of {} weights for a site {} wide",
                p.weights.len(),
                acts.first().and_then(|s| s.first()).map_or(0, Vec::len)
            ),
        ));
    }
    Ok(acts
        .iter()
        .map(|seq| {
            seq.iter()
                .map(|x| {
                    1.0 / (1.0
                        + (-(p.bias as f64
                            + x.iter().zip(&p.weights).map(|(a, w)| *a as f64 * *w as f64).sum::<f64>()))
                        .exp())
                })
                .collect()
        })
        .collect())
}

/// Cosine between a probe's weight vector and a steering direction at the same site.
pub fn cosine_with(p: &Probe, dir: &super::directions::Direction) -> Result<f64> {
    if p.weights.len() != dir.vector.len() {
        return Err(err(
            &dir.site,
            format!("a probe of {} weights and a direction of {} values", p.weights.len(), dir.vector.len()),
        ));
    }
    Ok(super::directions::cosine(&p.weights, &dir.vector))
}
