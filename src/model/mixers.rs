//! Token mixers for the Transformer's attention slot, one per principle that "Deconstructing
//! Attention" relaxes. Every variant keeps the block's parameters (`c_attn` → q, k, v;
//! `c_proj`), so models differ only in how positions are mixed:
//!
//! | name       | mixing weights A[t, s] (s ≤ t, causal)                                  |
//! | ---------- | ----------------------------------------------------------------------- |
//! | `attn`     | softmax_s(q_t·k_s / √dh) — the standard (fused kernel)                  |
//! | `none`     | A = I: position-wise only, no token mixing                             |
//! | `static`   | softmax_s(M[t, s]) with a learned M per head: sequence-independent      |
//! | `linear`   | φ(q_t)·φ(k_s) / Σ_s' φ(q_t)·φ(k_s'), φ = elu + 1 (kernel attention)      |
//! | `relu`     | relu(q_t·k_s / √dh) / (t + 1): no softmax                               |
//! | `sigmoid`  | sigmoid(q_t·k_s / √dh) / (t + 1): no softmax                            |
//! | `l2`       | softmax_s(−‖q_t − k_s‖² / √dh): negative squared distance scores       |
//! | `qk_embed` | softmax attention with q, k from the layer-0 input embeddings, not the hidden state |
//! | `qk_pos`   | softmax attention with q, k from the position embeddings only          |
//!
//! The non-standard forms are composed from candle primitives (autograd gives their
//! gradients; `tests/mixers.rs` checks them by finite differences).

use candle_core::{Device, Tensor, D};

use super::{ModelError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mixer {
    Attention,
    None,
    Static,
    Linear,
    Relu,
    Sigmoid,
    L2,
    QkEmbed,
    QkPos,
}

impl Mixer {
    pub const ALL: [Mixer; 9] = [
        Mixer::Attention,
        Mixer::None,
        Mixer::Static,
        Mixer::Linear,
        Mixer::Relu,
        Mixer::Sigmoid,
        Mixer::L2,
        Mixer::QkEmbed,
        Mixer::QkPos,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mixer::Attention => "attn",
            Mixer::None => "none",
            Mixer::Static => "static",
            Mixer::Linear => "linear",
            Mixer::Relu => "relu",
            Mixer::Sigmoid => "sigmoid",
            Mixer::L2 => "l2",
            Mixer::QkEmbed => "qk_embed",
            Mixer::QkPos => "qk_pos",
        }
    }

    pub fn from_name(name: &str) -> Option<Mixer> {
        Mixer::ALL.into_iter().find(|m| m.name() == name)
    }

    /// One mixer per layer from a comma list: one name applies to every layer, otherwise
    /// the list must have exactly `layers` names.
    pub fn parse_list(text: &str, layers: usize) -> std::result::Result<Vec<Mixer>, String> {
        let names: Vec<&str> = text.split(',').map(str::trim).collect();
        let mut out = Vec::with_capacity(names.len());
        for n in &names {
            out.push(Mixer::from_name(n).ok_or_else(|| {
                let all: Vec<&str> = Mixer::ALL.iter().map(|m| m.name()).collect();
                format!("unknown mixer '{n}' (mixers: {})", all.join(", "))
            })?);
        }
        match out.len() {
            1 => Ok(vec![out[0]; layers]),
            n if n == layers => Ok(out),
            n => Err(format!(
                "{n} mixers listed for {layers} layers: give one name for all layers or exactly {layers}"
            )),
        }
    }

    /// Whether the mixer reads the queries and keys of `c_attn` from the hidden state.
    pub fn uses_hidden_qk(self) -> bool {
        !matches!(self, Mixer::None | Mixer::Static | Mixer::QkEmbed | Mixer::QkPos)
    }
}

/// Lower-triangular `[l, l]` 0/1 mask (`1` where `s ≤ t`).
fn causal_ones(l: usize, dev: &Device) -> Result<Tensor> {
    let data: Vec<f32> = (0..l * l).map(|i| if i % l <= i / l { 1.0 } else { 0.0 }).collect();
    Ok(Tensor::from_vec(data, (l, l), dev)?)
}

/// Additive mask `[l, l]`: 0 where `s ≤ t`, a large negative number above the diagonal
/// (finite, so masked entries contribute exactly 0 after `exp` without 0·∞ = NaN).
fn causal_neg(l: usize, dev: &Device) -> Result<Tensor> {
    let data: Vec<f32> = (0..l * l).map(|i| if i % l <= i / l { 0.0 } else { -1e9 }).collect();
    Ok(Tensor::from_vec(data, (l, l), dev)?)
}

/// Softmax over the last axis (max subtracted, detached: softmax is shift-invariant).
fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&m)?.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

/// `1 / (t + 1)` as a `[l, 1]` column, for the un-normalised score forms.
fn inv_counts(l: usize, dev: &Device) -> Result<Tensor> {
    let data: Vec<f32> = (0..l).map(|t| 1.0 / (t + 1) as f32).collect();
    Ok(Tensor::from_vec(data, (l, 1), dev)?)
}

/// Mixing weights from queries and keys for the composed score forms.
/// `q, k`: `[b, h, l, dh]` → `A`: `[b, h, l, l]` (zero above the diagonal).
pub fn score_weights(kind: Mixer, q: &Tensor, k: &Tensor, scale: f32) -> Result<Tensor> {
    let (l, dev) = (q.dim(2)?, q.device().clone());
    let kt = k.t()?.contiguous()?; // [b, h, dh, l]
    let a = match kind {
        Mixer::Linear => {
            let phi = |x: &Tensor| -> Result<Tensor> { Ok((x.elu(1.0)? + 1.0)?) };
            let s = phi(q)?.matmul(&phi(&kt)?)?.broadcast_mul(&causal_ones(l, &dev)?)?; // [b, h, l, l] ≥ 0
            s.broadcast_div(&s.sum_keepdim(D::Minus1)?)?
        }
        Mixer::Relu => (q.matmul(&kt)? * scale as f64)?
            .relu()?
            .broadcast_mul(&causal_ones(l, &dev)?)?
            .broadcast_mul(&inv_counts(l, &dev)?)?,
        Mixer::Sigmoid => {
            let s = (q.matmul(&kt)? * scale as f64)?; // [b, h, l, l]
            let sig = (s.neg()?.exp()? + 1.0)?.recip()?;
            sig.broadcast_mul(&causal_ones(l, &dev)?)?.broadcast_mul(&inv_counts(l, &dev)?)?
        }
        Mixer::L2 => {
            let qq = q.sqr()?.sum_keepdim(D::Minus1)?; // [b, h, l, 1]
            let kk = k.sqr()?.sum_keepdim(D::Minus1)?.t()?; // [b, h, 1, l]
            let d2 = ((q.matmul(&kt)? * -2.0)?.broadcast_add(&qq)?.broadcast_add(&kk))?; // ‖q−k‖², [b, h, l, l]
            softmax_last(&(d2 * -(scale as f64))?.broadcast_add(&causal_neg(l, &dev)?)?)?
        }
        Mixer::Attention | Mixer::QkEmbed | Mixer::QkPos => {
            softmax_last(&(q.matmul(&kt)? * scale as f64)?.broadcast_add(&causal_neg(l, &dev)?)?)?
        }
        Mixer::None | Mixer::Static => {
            return Err(ModelError {
                op: "mixer".into(),
                detail: format!("'{}' has no score form", kind.name()),
            });
        }
    };
    Ok(a)
}

/// Attention editing: the additive mask `[l, l]` that hides every key `s` with `!keep[s]` from
/// every query but its own position (so no row is empty), on top of causality.
pub fn key_mask_bias(keep: &[bool], dev: &Device) -> Result<Tensor> {
    let l = keep.len();
    let data: Vec<f32> = (0..l * l)
        .map(|i| (i / l, i % l))
        .map(|(t, s)| if s <= t && (keep[s] || s == t) { 0.0 } else { -1e9 })
        .collect();
    Ok(Tensor::from_vec(data, (l, l), dev)?)
}

/// Softmax attention weights `[b, h, l, l]` with an additive `bias` `[l, l]` (see
/// `key_mask_bias`) in place of the causal mask. `q, k`: `[b, h, l, dh]`.
pub fn biased_softmax_weights(q: &Tensor, k: &Tensor, scale: f32, bias: &Tensor) -> Result<Tensor> {
    let kt = k.t()?.contiguous()?; // [b, h, dh, l]
    softmax_last(&(q.matmul(&kt)? * scale as f64)?.broadcast_add(bias)?)
}

/// Sequence-independent weights from a learned `[h, max_len, max_len]` matrix: causal
/// softmax over its first `l` rows and columns → `[h, l, l]`.
pub fn static_weights(m: &Tensor, l: usize) -> Result<Tensor> {
    let dev = m.device().clone();
    let m = m.narrow(1, 0, l)?.narrow(2, 0, l)?; // [h, l, l]
    softmax_last(&m.broadcast_add(&causal_neg(l, &dev)?)?)
}

/// `A v` for per-example weights `[b, h, l, l]` or shared ones `[h, l, l]`.
pub fn mix(a: &Tensor, v: &Tensor) -> Result<Tensor> {
    let (b, h, l, _) = v.dims4()?;
    let a = if a.rank() == 3 { a.unsqueeze(0)?.broadcast_as((b, h, l, l))?.contiguous()? } else { a.clone() };
    Ok(a.matmul(&v.contiguous()?)?) // [b, h, l, dh]
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn names_round_trip_and_lists_are_checked() {
        for m in Mixer::ALL {
            assert_eq!(Mixer::from_name(m.name()), Some(m));
        }
        assert_eq!(Mixer::parse_list("attn", 3).unwrap(), vec![Mixer::Attention; 3]);
        assert_eq!(Mixer::parse_list("attn, static", 2).unwrap(), vec![Mixer::Attention, Mixer::Static]);
        assert!(Mixer::parse_list("attn,static", 3).unwrap_err().contains("2 mixers listed for 3 layers"));
        assert!(Mixer::parse_list("attn,flash", 2).unwrap_err().contains("unknown mixer 'flash'"));
    }

    #[test]
    fn weights_are_causal_and_rows_sum_to_one_where_normalised() {
        let dev = Device::Cpu;
        let mut rng = crate::core::Rng::new(1);
        let data: Vec<f32> = (0..2 * 3 * 5 * 4).map(|_| rng.normal()).collect();
        let q = Tensor::from_vec(data.clone(), (2, 3, 5, 4), &dev).unwrap();
        let k = Tensor::from_vec(data.iter().map(|x| x * 0.5 + 0.1).collect::<Vec<_>>(), (2, 3, 5, 4), &dev)
            .unwrap();
        for kind in [Mixer::Attention, Mixer::Linear, Mixer::L2, Mixer::Relu, Mixer::Sigmoid] {
            let a: Vec<f32> =
                score_weights(kind, &q, &k, 0.5).unwrap().flatten_all().unwrap().to_vec1().unwrap(); // [2*3*5*5]
            for (i, r) in a.chunks(5).enumerate() {
                let t = i % 5;
                assert!(r[t + 1..].iter().all(|&x| x == 0.0), "{kind:?}: future weight {r:?}");
                if matches!(kind, Mixer::Attention | Mixer::Linear | Mixer::L2) {
                    assert!(
                        (r.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                        "{kind:?}: row sums to {}",
                        r.iter().sum::<f32>()
                    );
                }
            }
        }
        let m = Tensor::zeros((3, 8, 8), DType::F32, &dev).unwrap();
        let s: Vec<Vec<Vec<f32>>> = static_weights(&m, 4).unwrap().to_vec3().unwrap();
        assert_eq!(s[0][2], vec![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0]);
    }
}
