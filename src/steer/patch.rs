//! Activation patching: run corrupted inputs with one site at one position replaced by its
//! value on the clean inputs, and measure how much of the clean behaviour comes back:
//! `restored = (m − m_corrupt) / (m_clean − m_corrupt)` for a scalar metric `m` of the logits.
//! Also per-head patching and head ablation through the `mixer.heads` columns.

use candle_core::Tensor;

use super::intervene::{run, Edit, Intervention, Positions};
use super::{err, Result};
use crate::model::SeqModel;

/// A scalar of the logits `[b·l, out]` (e.g. a mean logit difference).
pub type Scalar<'a> = dyn Fn(&Tensor) -> Result<f64> + 'a;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PatchResult {
    pub sites: Vec<String>,
    /// `[sites][positions]`.
    pub restored: Vec<Vec<f64>>,
    pub clean: f64,
    pub corrupt: f64,
    /// Forward passes run.
    pub runs: usize,
}

/// Capture every site in `sites` on `tokens`.
pub fn cache(model: &dyn SeqModel, tokens: &Tensor, sites: &[String]) -> Result<Vec<(String, Tensor)>> {
    let list: Vec<Intervention> =
        sites.iter().map(|s| Intervention::new(s, Positions::All, Edit::Capture)).collect();
    Ok(run(model, tokens, None, &list)?.captures)
}

/// Patch each site × position of `corrupt` from `clean` (same shape) and score with `metric`;
/// `progress(done, total)` is called before each site.
pub fn sweep(
    model: &dyn SeqModel,
    clean: &Tensor,
    corrupt: &Tensor,
    sites: &[String],
    metric: &Scalar,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<PatchResult> {
    if clean.dims() != corrupt.dims() {
        return Err(err(
            "patching",
            format!("clean {:?} and corrupted {:?} inputs differ in shape", clean.dims(), corrupt.dims()),
        ));
    }
    let l = clean.dims()[1];
    let cached = cache(model, clean, sites)?;
    let m_clean = metric(&run(model, clean, None, &[])?.logits)?;
    let m_corrupt = metric(&run(model, corrupt, None, &[])?.logits)?;
    let span = m_clean - m_corrupt;
    if span.abs() < 1e-9 {
        return Err(err("patching", format!("clean and corrupted inputs score the same ({m_clean:.4}): there is nothing for patching to restore")));
    }
    let mut restored = Vec::with_capacity(sites.len());
    for (i, (site, act)) in cached.iter().enumerate() {
        progress(i, cached.len());
        let row = (0..l)
            .map(|p| {
                let iv = Intervention::new(site, Positions::One(p), Edit::Patch { cache: act.clone() });
                let m = metric(&run(model, corrupt, None, &[iv])?.logits)?;
                Ok((m - m_corrupt) / span)
            })
            .collect::<Result<Vec<f64>>>()?;
        restored.push(row);
    }
    Ok(PatchResult {
        sites: sites.to_vec(),
        restored,
        clean: m_clean,
        corrupt: m_corrupt,
        runs: 2 + sites.len() * (1 + l),
    })
}

/// `sweep` timed (native callers; the tab times it with the browser clock).
#[cfg(not(target_arch = "wasm32"))]
pub fn timed_sweep(
    model: &dyn SeqModel,
    clean: &Tensor,
    corrupt: &Tensor,
    sites: &[String],
    metric: &Scalar,
) -> Result<(PatchResult, f64)> {
    let t = std::time::Instant::now();
    let r = sweep(model, clean, corrupt, sites, metric, &mut |_, _| {})?;
    Ok((r, t.elapsed().as_secs_f64()))
}

/// The metric with head `head` of block `layer` zeroed (width `dh` columns of `mixer.heads`).
pub fn ablate_head(
    model: &dyn SeqModel,
    tokens: &Tensor,
    layer: usize,
    head: usize,
    dh: usize,
    metric: &Scalar,
) -> Result<f64> {
    let iv = Intervention {
        site: format!("blocks.{layer}.mixer.heads"),
        positions: Positions::All,
        columns: Some((head * dh, (head + 1) * dh)),
        edit: Edit::Zero,
    };
    metric(&run(model, tokens, None, &[iv])?.logits)
}

/// Patch each head of each layer (its `mixer.heads` columns, all positions) of `corrupt` from
/// `clean`: `[layers][heads]` restored fractions (Transformers).
pub fn sweep_heads(
    model: &dyn SeqModel,
    clean: &Tensor,
    corrupt: &Tensor,
    layers: usize,
    heads: usize,
    metric: &Scalar,
) -> Result<Vec<Vec<f64>>> {
    let sites: Vec<String> = (0..layers).map(|l| format!("blocks.{l}.mixer.heads")).collect();
    let cached = cache(model, clean, &sites)?;
    let (m_clean, m_corrupt) =
        (metric(&run(model, clean, None, &[])?.logits)?, metric(&run(model, corrupt, None, &[])?.logits)?);
    let span = m_clean - m_corrupt;
    cached
        .iter()
        .map(|(site, act)| {
            let width = act.dims().last().copied().unwrap_or(0);
            if heads == 0 || width % heads != 0 {
                return Err(err(site, format!("{width} columns do not split into {heads} heads")));
            }
            let dh = width / heads;
            (0..heads)
                .map(|h| {
                    let iv = Intervention {
                        site: site.clone(),
                        positions: Positions::All,
                        columns: Some((h * dh, (h + 1) * dh)),
                        edit: Edit::Patch { cache: act.clone() },
                    };
                    let m = metric(&run(model, corrupt, None, &[iv])?.logits)?;
                    Ok(if span.abs() > 1e-12 { (m - m_corrupt) / span } else { 0.0 })
                })
                .collect()
        })
        .collect()
}
