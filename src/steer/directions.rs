//! Concept directions: the difference of mean activations at a site between two sets of
//! inputs (Physics Steering's recipe), or the first principal component of paired
//! differences; their norms and cosines across layers.

use candle_core::Tensor;

use super::intervene::{run, Edit, Intervention, Positions};
use super::{err, Ctx, Result};
use crate::model::SeqModel;

/// A direction at a site of one model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Direction {
    pub site: String,
    pub vector: Vec<f32>,
    /// How it was made, e.g. "mean(A) - mean(B) over positions all".
    pub recipe: String,
    /// The model it was made on (`fingerprint`): a saved direction is refused by another.
    pub model: String,
}

impl Direction {
    pub fn norm(&self) -> f64 {
        self.vector.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt()
    }

    /// JSON, to save beside the model's checkpoint.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read a saved direction and check it belongs to `model` (same architecture and
    /// weights) and names one of its sites with the right width.
    pub fn from_json(text: &str, model: &dyn SeqModel) -> Result<Direction> {
        let d: Direction = serde_json::from_str(text).map_err(|e| err("direction file", e.to_string()))?;
        let here = fingerprint(model);
        if d.model != here {
            return Err(err(
                "direction file",
                format!("made on another model ({}); this model is {here}", d.model),
            ));
        }
        let sites = model.sites();
        let site = super::intervene::find(&sites, &d.site)?;
        if site.width != d.vector.len() {
            return Err(err(
                &d.site,
                format!("a direction of {} values for a site {} wide", d.vector.len(), site.width),
            ));
        }
        Ok(d)
    }
}

/// A model's identity for saved directions: its sites, widths, parameter count and a hash
/// of its weights' bytes (FNV-1a), so retrained weights of the same shape differ too.
pub fn fingerprint(model: &dyn SeqModel) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, v) in model.named_params() {
        for b in name.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        if let Ok(x) = v.as_tensor().flatten_all().and_then(|t| t.to_vec1::<f32>()) {
            for f in x {
                for b in f.to_le_bytes() {
                    h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
                }
            }
        }
    }
    let sites = model.sites();
    let layers = sites.iter().map(|s| s.layer + 1).max().unwrap_or(0);
    format!(
        "{layers} layers, width {}, {} parameters, weights {h:016x}",
        sites.first().map_or(0, |s| s.width),
        model.param_count()
    )
}

/// The activation at `site` for `tokens` `[b, l]`: `[b, l, width]` as rows of f32.
pub fn capture(model: &dyn SeqModel, tokens: &Tensor, site: &str) -> Result<Vec<Vec<Vec<f32>>>> {
    let out = run(model, tokens, None, &[Intervention::new(site, Positions::All, Edit::Capture)])?;
    out.captures[0].1.to_vec3::<f32>().at(site)
}

/// Mean over sequences and the chosen positions of the activation at `site`: `[width]`.
pub fn mean_activation(
    model: &dyn SeqModel,
    tokens: &Tensor,
    site: &str,
    positions: Positions,
) -> Result<Vec<f32>> {
    let (b, l) = tokens.dims2().at("tokens")?;
    if b == 0 {
        return Err(err(site, "an empty input set".into()));
    }
    let acts = capture(model, tokens, site)?;
    let keep = positions.select(l);
    if keep.is_empty() {
        return Err(err(site, format!("no positions selected by {positions:?} in a sequence of {l}")));
    }
    let w = acts[0][0].len();
    let mut sum = vec![0f64; w];
    for seq in &acts {
        for &t in &keep {
            for (s, &x) in sum.iter_mut().zip(&seq[t]) {
                *s += x as f64;
            }
        }
    }
    let n = (acts.len() * keep.len()) as f64;
    Ok(sum.into_iter().map(|s| (s / n) as f32).collect())
}

/// `mean(A) − mean(B)` at `site` over the chosen positions.
pub fn diff_of_means(
    model: &dyn SeqModel,
    a: &Tensor,
    b: &Tensor,
    site: &str,
    positions: Positions,
) -> Result<Direction> {
    let (ma, mb) = (mean_activation(model, a, site, positions)?, mean_activation(model, b, site, positions)?);
    Ok(Direction {
        site: site.into(),
        vector: ma.iter().zip(&mb).map(|(x, y)| x - y).collect(),
        recipe: format!("mean(A) - mean(B) over positions {positions}"),
        model: fingerprint(model),
    })
}

/// The first principal component of paired differences `act(A_i) − act(B_i)` (mean over the
/// chosen positions per pair), by power iteration from a fixed start, signed to agree with
/// the mean difference and scaled to its norm's projection.
pub fn paired_pc1(
    model: &dyn SeqModel,
    a: &Tensor,
    b: &Tensor,
    site: &str,
    positions: Positions,
) -> Result<Direction> {
    let (na, nb) = (a.dims2().at("A")?.0, b.dims2().at("B")?.0);
    if na != nb || na < 2 {
        return Err(err(
            site,
            format!("paired differences need two sets of equal size ≥ 2 (got {na} and {nb})"),
        ));
    }
    let diffs: Vec<Vec<f64>> = (0..na)
        .map(|i| {
            let (ai, bi) = (a.narrow(0, i, 1).at("A")?, b.narrow(0, i, 1).at("B")?);
            let (x, y) = (
                mean_activation(model, &ai, site, positions)?,
                mean_activation(model, &bi, site, positions)?,
            );
            Ok(x.iter().zip(&y).map(|(p, q)| (p - q) as f64).collect())
        })
        .collect::<Result<_>>()?;
    let w = diffs[0].len();
    let mean: Vec<f64> = (0..w).map(|j| diffs.iter().map(|d| d[j]).sum::<f64>() / na as f64).collect();
    let mut v: Vec<f64> = mean.iter().map(|x| x + 1e-3).collect();
    for _ in 0..200 {
        // v ← Dᵀ D v (uncentred: the shared shift is the concept)
        let proj: Vec<f64> = diffs.iter().map(|d| d.iter().zip(&v).map(|(x, y)| x * y).sum()).collect();
        let mut nv = vec![0f64; w];
        for (d, p) in diffs.iter().zip(&proj) {
            for (n, x) in nv.iter_mut().zip(d) {
                *n += x * p;
            }
        }
        let norm = nv.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-30);
        v = nv.into_iter().map(|x| x / norm).collect();
    }
    let along: f64 = mean.iter().zip(&v).map(|(x, y)| x * y).sum();
    Ok(Direction {
        site: site.into(),
        vector: v.iter().map(|x| (x * along) as f32).collect(),
        recipe: format!("first principal component of {na} paired differences over positions {positions}"),
        model: fingerprint(model),
    })
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let n = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b)).max(1e-30)
}

/// Cosine similarity between every pair of directions (e.g. one per layer).
pub fn cosine_matrix(dirs: &[Direction]) -> Vec<Vec<f64>> {
    dirs.iter().map(|a| dirs.iter().map(|b| cosine(&a.vector, &b.vector)).collect()).collect()
}
