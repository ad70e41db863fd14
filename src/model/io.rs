//! The input and output ends every model family shares: the token embedding plus a linear
//! map of continuous input features (tasks such as MIPS, CumSum, the lag map), and the final
//! LayerNorm with the head. Parameter names are the same in every family: `wte.weight`,
//! `wfe.weight`, `ln_f.weight`, `lm_head.weight`.

use candle_core::{Tensor, Var};

use super::{init, layer_norm, Context, ModelError, Result};
use crate::core::Rng;

pub struct Embed {
    pub wte: Var,         // [vocab, d]
    pub wfe: Option<Var>, // [features, d], only when the task has continuous inputs
    features: usize,
}

impl Embed {
    /// N(0, std²) weights, drawn `wte` first, then `wfe` (only when `features > 0`).
    pub fn new(rng: &mut Rng, vocab: usize, features: usize, d: usize, std: f32) -> Result<Self> {
        let wte = init::normal(rng, &[vocab, d], std)?;
        let wfe = match features {
            0 => None,
            f => Some(init::normal(rng, &[f, d], std)?),
        };
        Ok(Embed { wte, wfe, features })
    }

    /// `tokens`: `[b, l]` u32, `features`: `[b, l, features]` → `[b, l, d]`. `op` names the
    /// model in errors.
    pub fn forward(&self, op: &str, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor> {
        let (b, l) = tokens.dims2().op(&format!("{op}.tokens"))?;
        let d = self.wte.as_tensor().dim(1)?;
        let x = self
            .wte
            .as_tensor()
            .embedding(&tokens.flatten_all()?)
            .op(&format!("{op}.wte"))?
            .reshape((b, l, d))?; // [b, l, d]
        match (&self.wfe, features) {
            (Some(wfe), Some(f)) => {
                let nf = self.features;
                if f.dims() != [b, l, nf] {
                    return Err(ModelError {
                        op: format!("{op}.features"),
                        detail: format!(
                            "features {:?} must be [batch {b}, seq {l}, features {nf}]",
                            f.dims()
                        ),
                    });
                }
                let f = f.reshape((b * l, nf))?; // [b*l, f]
                Ok((x + f.matmul(wfe.as_tensor()).op(&format!("{op}.wfe"))?.reshape((b, l, d))?)?)
                // [b, l, d]
            }
            (None, None) => Ok(x),
            (_, f) => Err(ModelError {
                op: format!("{op}.forward"),
                detail: format!(
                    "model has {} feature channels but features were {}",
                    self.features,
                    if f.is_some() { "given" } else { "missing" }
                ),
            }),
        }
    }

    pub fn named(&self) -> Vec<(String, &Var)> {
        let mut out = vec![("wte.weight".to_string(), &self.wte)];
        if let Some(w) = &self.wfe {
            out.push(("wfe.weight".to_string(), w));
        }
        out
    }
}

pub struct Head {
    pub ln_f: Var,    // [d]
    pub lm_head: Var, // [d, out]
}

impl Head {
    /// Unit norm gain and an N(0, std²) `[d, out]` head.
    pub fn new(rng: &mut Rng, d: usize, out: usize, std: f32) -> Result<Self> {
        Ok(Head { ln_f: init::constant(&[d], 1.0)?, lm_head: init::normal(rng, &[d, out], std)? })
    }

    /// `x`: `[b, l, d]` → `[b*l, out]`.
    pub fn forward(&self, op: &str, x: &Tensor) -> Result<Tensor> {
        let (b, l, d) = x.dims3()?;
        let x = layer_norm::layer_norm(x, self.ln_f.as_tensor())?.reshape((b * l, d))?; // [b*l, d]
        x.matmul(self.lm_head.as_tensor()).op(&format!("{op}.lm_head")) // [b*l, out]
    }

    pub fn named(&self) -> Vec<(String, &Var)> {
        vec![("ln_f.weight".to_string(), &self.ln_f), ("lm_head.weight".to_string(), &self.lm_head)]
    }
}
