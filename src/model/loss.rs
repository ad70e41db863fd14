//! Masked losses: token classification (cross-entropy, accuracy) and regression (mean squared
//! error). Only entries with mask 1 count.

use candle_core::{DType, Tensor, D};

use super::{Context, Result};

/// Mean cross-entropy over masked positions.
/// `logits`: `[n, vocab]`, `targets`: `[n]` u32, `mask`: `[n]` f32 → scalar.
pub fn masked_cross_entropy(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    // log-softmax with a detached max for stability (softmax is shift-invariant, so the
    // gradient is unchanged).
    let m = logits.max_keepdim(D::Minus1).op("ce.max")?.detach(); // [n, 1]
    let shifted = logits.broadcast_sub(&m).op("ce.shift")?; // [n, vocab]
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log().op("ce.logsumexp")?; // [n, 1]
    let idx = targets.unsqueeze(1)?.to_dtype(DType::U32)?; // [n, 1]
    let picked = shifted.gather(&idx, 1).op("ce.gather")?; // [n, 1]
    let nll = (lse - picked)?.squeeze(1)?; // [n]
    let total = (nll * mask)?.sum_all()?;
    let count = mask.sum_all()?.maximum(1.0f32)?; // avoid 0/0 on an all-unscored batch
    total.div(&count).op("ce.mean")
}

/// Fraction of masked positions where the arg-max of `logits` equals the target.
/// Returns `(correct, scored)`.
pub fn masked_accuracy(logits: &Tensor, targets: &[u32], mask: &[f32]) -> Result<(usize, usize)> {
    let pred: Vec<u32> = logits.argmax(D::Minus1).op("acc.argmax")?.to_vec1()?; // [n]
    let mut correct = 0;
    let mut scored = 0;
    for i in 0..pred.len() {
        if mask[i] > 0.0 {
            scored += 1;
            if pred[i] == targets[i] {
                correct += 1;
            }
        }
    }
    Ok((correct, scored))
}

/// Mean squared error over masked entries.
/// `pred`: `[n, c]`, `values`: `[n * c]` f32, `mask`: `[n * c]` f32 → scalar.
pub fn masked_mse(pred: &Tensor, values: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let diff = (pred.flatten_all()? - values).op("mse.diff")?; // [n*c]
    let total = (diff.sqr()? * mask)?.sum_all()?;
    let count = mask.sum_all()?.maximum(1.0f32)?;
    total.div(&count).op("mse.mean")
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_hand_computed_value_and_ignores_unmasked() {
        let dev = Device::Cpu;
        // Row 0: logits [0, ln 3] target 1 → p = 3/4 → nll = ln(4/3).
        // Row 1: unmasked, huge loss must be ignored.
        let logits = Tensor::from_vec(vec![0f32, 3f32.ln(), 100.0, -100.0], (2, 2), &dev).unwrap();
        let targets = Tensor::from_vec(vec![1u32, 1], 2, &dev).unwrap();
        let mask = Tensor::from_vec(vec![1f32, 0.0], 2, &dev).unwrap();
        let l: f32 = masked_cross_entropy(&logits, &targets, &mask).unwrap().to_scalar().unwrap();
        assert!((l - (4f32 / 3.0).ln()).abs() < 1e-6, "{l}");
        let (c, n) = masked_accuracy(&logits, &[1, 1], &[1.0, 0.0]).unwrap();
        assert_eq!((c, n), (1, 1));
    }

    #[test]
    fn mse_counts_only_masked_entries() {
        let dev = Device::Cpu;
        let pred = Tensor::from_vec(vec![1f32, 2.0, 3.0, 4.0], (2, 2), &dev).unwrap();
        let y = Tensor::from_vec(vec![0f32, 2.0, 0.0, 100.0], 4, &dev).unwrap();
        let m = Tensor::from_vec(vec![1f32, 1.0, 1.0, 0.0], 4, &dev).unwrap();
        let l: f32 = masked_mse(&pred, &y, &m).unwrap().to_scalar().unwrap();
        assert!((l - (1.0 + 0.0 + 9.0) / 3.0).abs() < 1e-6, "{l}");
    }
}
