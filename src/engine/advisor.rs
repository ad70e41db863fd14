//! A trained run as an AI advisor for study trials: weights shipped with a study are checked
//! against the protocol's sha256 before use, and the model's prediction at a position (its
//! arg-max and its probability) is the advice. Knows nothing of studies: the study page
//! (`ui::study`) turns this into `study::puzzle::Advice`.

use candle_core::{Device, Tensor, D};
use sha2::{Digest, Sha256};

use super::Trainer;

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub struct ModelAdvisor {
    pub name: String,
    pub sha256: String,
    pub trainer: Trainer,
}

impl ModelAdvisor {
    /// Check `bytes` against `expected` (hex sha256), then read the checkpoint.
    pub fn load(name: &str, bytes: &[u8], expected: &str) -> Result<Self, String> {
        let got = sha256_hex(bytes);
        if !got.eq_ignore_ascii_case(expected) {
            return Err(format!(
                "model '{name}': its file's sha256 is {got}, the protocol expects {expected}"
            ));
        }
        let trainer = Trainer::from_checkpoint(bytes).map_err(|e| format!("model '{name}': {e}"))?;
        Ok(ModelAdvisor { name: name.into(), sha256: got, trainer })
    }

    /// Refuse a model trained on another task or setting than the trial's.
    pub fn check_task(&self, task: &str, params: &[(String, String)]) -> Result<(), String> {
        let want = crate::tasks::build(task, params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| format!("model '{}': {e}", self.name))?;
        if self.trainer.task.info().name != task || *self.trainer.task.params() != *want.params() {
            return Err(format!(
                "model '{}' was trained on {} {:?}, the trial asks {task} {:?}",
                self.name,
                self.trainer.task.info().name,
                self.trainer.task.params().to_pairs(),
                want.params().to_pairs()
            ));
        }
        Ok(())
    }

    /// Class probabilities at `position` of `tokens` (the model reads positions ..= position).
    pub fn predict(&self, tokens: &[u32], position: usize) -> Result<Vec<f64>, String> {
        if position >= tokens.len() {
            return Err(format!(
                "model '{}': position {position} outside {} tokens",
                self.name,
                tokens.len()
            ));
        }
        let n = position + 1;
        let x = Tensor::from_vec(tokens[..n].to_vec(), (1, n), &Device::Cpu).map_err(|e| e.to_string())?; // [1, n]
        let logits =
            self.trainer.model.forward(&x, None).map_err(|e| format!("model '{}': {e}", self.name))?; // [n, classes]
        let p = logits.narrow(0, position, 1).and_then(|r| softmax_row(&r)).map_err(|e| e.to_string())?; // [classes]
        Ok(p.iter().map(|&x| x as f64).collect())
    }
}

/// The model's prediction with some context tokens hidden from its attention (attention
/// editing): class probabilities at `position`, and how much that position attends to each
/// position `..= position` (averaged over layers and heads; sums to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct EditedPrediction {
    pub probs: Vec<f64>,
    pub attention: Vec<f64>,
}

impl ModelAdvisor {
    /// `predict` with the tokens `s < position` where `!keep[s]` hidden from every query in
    /// every layer (`keep.len()` = `position + 1`; the query position always sees itself).
    pub fn predict_edited(
        &self,
        tokens: &[u32],
        position: usize,
        keep: &[bool],
    ) -> Result<EditedPrediction, String> {
        if position >= tokens.len() || keep.len() != position + 1 {
            return Err(format!(
                "model '{}': position {position} and {} keep flags for {} tokens",
                self.name,
                keep.len(),
                tokens.len()
            ));
        }
        let n = position + 1;
        let err = |e: &dyn std::fmt::Display| format!("model '{}': {e}", self.name);
        let x = Tensor::from_vec(tokens[..n].to_vec(), (1, n), &Device::Cpu).map_err(|e| err(&e))?; // [1, n]
        let (logits, maps) = self.trainer.model.forward_key_mask(&x, keep).map_err(|e| err(&e))?; // [n, classes], [1, h, n, n] per layer
        let probs = logits.narrow(0, position, 1).and_then(|r| softmax_row(&r)).map_err(|e| err(&e))?;
        let mut attention = vec![0f64; n];
        for w in &maps {
            let (_, h, _, _) = w.dims4().map_err(|e| err(&e))?;
            let rows: Vec<f32> = w
                .narrow(2, position, 1)
                .and_then(|r| r.flatten_all())
                .and_then(|r| r.to_vec1())
                .map_err(|e| err(&e))?; // [h * n]
            for (i, &a) in rows.iter().enumerate() {
                attention[i % n] += a as f64 / (h * maps.len()) as f64;
            }
        }
        Ok(EditedPrediction { probs: probs.iter().map(|&p| p as f64).collect(), attention })
    }
}

/// Softmax of one row `[1, classes]` → its values.
fn softmax_row(row: &Tensor) -> candle_core::Result<Vec<f32>> {
    let m = row.max_keepdim(D::Minus1)?;
    let e = row.broadcast_sub(&m)?.exp()?;
    let p = e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?;
    p.flatten_all()?.to_vec1()
}

/// The arg-max and the runner-up of `probs`.
pub fn top_two(probs: &[f64]) -> (usize, usize) {
    let mut idx: Vec<usize> = (0..probs.len()).collect();
    idx.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    (idx[0], idx.get(1).copied().unwrap_or(idx[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_vectors() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_checkpoint_loads_only_with_its_hash_and_task() {
        let cfg = crate::core::TrainConfig {
            layers: 1,
            heads: 2,
            d_model: 8,
            batch: 4,
            steps: 1,
            warmup: 0,
            ..Default::default()
        }
        .with_task("sort", &[("length", "4"), ("vocab", "6")]);
        let bytes = Trainer::new(cfg).unwrap().checkpoint().unwrap();
        let h = sha256_hex(&bytes);
        let e = ModelAdvisor::load("m", &bytes, &"0".repeat(64)).err().unwrap();
        assert!(e.contains("sha256") && e.contains(&h), "{e}");
        let a = ModelAdvisor::load("m", &bytes, &h).unwrap();
        a.check_task("sort", &[("length".into(), "4".into()), ("vocab".into(), "6".into())]).unwrap();
        assert!(a
            .check_task("sort", &[("length".into(), "5".into())])
            .unwrap_err()
            .contains("was trained on"));
        let b = a.trainer.task.generate(3, 1);
        let p = a.predict(&b.inputs, b.seq_len - 1).unwrap();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5 && p.len() == 6);
        let (t, s) = top_two(&p);
        assert!(t != s && p[t] >= p[s]);
        // Attention editing: keeping every token is the plain prediction; hiding tokens
        // moves their attention to zero; a non-attention model says it cannot be edited.
        let q = b.seq_len - 1;
        let all = a.predict_edited(&b.inputs, q, &vec![true; q + 1]).unwrap();
        assert!(all.probs.iter().zip(&p).all(|(x, y)| (x - y).abs() < 1e-5));
        assert!((all.attention.iter().sum::<f64>() - 1.0).abs() < 1e-5 && all.attention.len() == q + 1);
        let mut keep = vec![true; q + 1];
        keep[0] = false;
        keep[1] = false;
        let cut = a.predict_edited(&b.inputs, q, &keep).unwrap();
        assert!(
            cut.attention[0] == 0.0
                && cut.attention[1] == 0.0
                && (cut.attention.iter().sum::<f64>() - 1.0).abs() < 1e-5
        );
        assert!(a.predict_edited(&b.inputs, q, &keep[1..]).unwrap_err().contains("keep flags"));
        let dlr = crate::core::TrainConfig {
            model: "dlr".into(),
            layers: 1,
            d_model: 8,
            batch: 4,
            steps: 1,
            warmup: 0,
            ..Default::default()
        }
        .with_task("sort", &[("length", "4"), ("vocab", "6")]);
        let bytes = Trainer::new(dlr).unwrap().checkpoint().unwrap();
        let d = ModelAdvisor::load("d", &bytes, &sha256_hex(&bytes)).unwrap();
        assert!(d
            .predict_edited(&b.inputs, q, &vec![true; q + 1])
            .unwrap_err()
            .contains("no attention to edit"));
    }
}
