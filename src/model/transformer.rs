//! A causal, pre-norm Transformer (GPT-2 layout) in candle-core:
//! token embedding (+ a linear map of continuous input features, when the task has them) +
//! learned position embedding → N × [x += Attn(LN(x)); x += MLP(LN(x))] → LN → head
//! (MLP = ReLU between two linear maps). The head is `d → out`: `channels x classes` logits
//! for classification tasks, `channels` numbers for regression tasks.
//! Parameter names follow GPT-2 (`wte`, `h.{i}.attn.c_attn.weight`, ...), with weights stored
//! `[in, out]` so a layer is `x @ W`. As in nanoGPT's `bias=False`, linear layers and
//! LayerNorms carry no bias, and the MLP uses ReLU: on candle's CPU backend a bias costs a
//! strided column reduction in every backward pass and tanh-GELU is ~100x slower than ReLU
//! (measured: 12.6 ms vs 0.09 ms on a 1536x256 activation), which dominated the step time.

use candle_core::{Tensor, Var};

use super::io::{Embed, Head};
use super::mixers::{self, Mixer};
use super::{attention, init, layer_norm, Context, Result};
use crate::core::Rng;

#[derive(Clone, Debug, PartialEq)]
pub struct TransformerConfig {
    /// Input token ids `0..vocab`.
    pub vocab: usize,
    /// Continuous input channels per position (0: tokens only).
    pub features: usize,
    pub max_len: usize,
    pub layers: usize,
    pub heads: usize,
    pub d_model: usize,
    /// MLP hidden width = `mlp_ratio * d_model`.
    pub mlp_ratio: usize,
    /// Head width: classes x channels (classification) or channels (regression).
    pub out: usize,
    /// The token mixer of each layer (`layers` entries).
    pub mixers: Vec<Mixer>,
}

struct LayerNorm {
    g: Var, // [d]
}

impl LayerNorm {
    fn new(d: usize) -> Result<Self> {
        Ok(LayerNorm { g: init::constant(&[d], 1.0)? })
    }

    /// `x`: `[.., d]` → same shape.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        layer_norm::layer_norm(x, self.g.as_tensor())
    }
}

struct Linear {
    w: Var, // [in, out]
}

impl Linear {
    fn new(rng: &mut Rng, d_in: usize, d_out: usize, std: f32) -> Result<Self> {
        Ok(Linear { w: init::normal(rng, &[d_in, d_out], std)? })
    }

    /// `x`: `[n, in]` → `[n, out]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(self.w.as_tensor()).op("linear.matmul")
    }
}

struct Block {
    ln_1: LayerNorm,
    c_attn: Linear, // [d, 3d]: q, k, v
    c_proj: Linear, // [d, d]
    ln_2: LayerNorm,
    c_fc: Linear,     // [d, r*d]
    c_fc_out: Linear, // [r*d, d]
    mixer: Mixer,
    /// The `static` mixer's learned logits `[heads, max_len, max_len]`.
    static_mix: Option<Var>,
}

pub struct Transformer {
    pub cfg: TransformerConfig,
    embed: Embed, // wte [vocab, d], wfe [features, d]
    wpe: Var,     // [max_len, d]
    blocks: Vec<Block>,
    head: Head, // ln_f [d], lm_head [d, out]
}

impl Transformer {
    /// Fresh weights, fixed by `seed`: N(0, 0.02²) matrices, residual projections scaled by
    /// 1/√(2·layers) (GPT-2), unit norm gains.
    pub fn new(cfg: TransformerConfig, seed: u64) -> Result<Self> {
        let mut rng = Rng::fork(seed, "transformer.init");
        let d = cfg.d_model;
        let std = 0.02f32;
        let proj_std = std / (2.0 * cfg.layers as f32).sqrt();
        // Features are O(1) numbers: N(0, std²) weights make each add O(std), like a token.
        let embed = Embed::new(&mut rng, cfg.vocab, cfg.features, d, std)?;
        let wpe = init::normal(&mut rng, &[cfg.max_len, d], std)?;
        if cfg.mixers.len() != cfg.layers {
            return Err(super::ModelError {
                op: "transformer.new".into(),
                detail: format!("{} mixers for {} layers", cfg.mixers.len(), cfg.layers),
            });
        }
        let mut blocks = Vec::with_capacity(cfg.layers);
        for &mixer in &cfg.mixers {
            // Zero logits: the static mixer starts as a uniform average over the prefix.
            let static_mix = match mixer {
                Mixer::Static => Some(init::constant(&[cfg.heads, cfg.max_len, cfg.max_len], 0.0)?),
                _ => None,
            };
            blocks.push(Block {
                mixer,
                static_mix,
                ln_1: LayerNorm::new(d)?,
                c_attn: Linear::new(&mut rng, d, 3 * d, std)?,
                c_proj: Linear::new(&mut rng, d, d, proj_std)?,
                ln_2: LayerNorm::new(d)?,
                c_fc: Linear::new(&mut rng, d, cfg.mlp_ratio * d, std)?,
                c_fc_out: Linear::new(&mut rng, cfg.mlp_ratio * d, d, proj_std)?,
            });
        }
        let head = Head::new(&mut rng, d, cfg.out, std)?;
        Ok(Transformer { cfg, embed, wpe, blocks, head })
    }
}

/// The named sites of each block, in pass order (`model::sites`).
pub const SITE_KINDS: &[&str] =
    &["resid_pre", "mixer.heads", "mixer.out", "resid_mid", "mlp.out", "resid_post"];

impl super::SeqModel for Transformer {
    fn forward(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor> {
        Transformer::forward(self, tokens, features)
    }

    fn forward_sites(
        &self,
        tokens: &Tensor,
        features: Option<&Tensor>,
        hook: &mut super::sites::Hook,
    ) -> Result<Tensor> {
        self.run(tokens, features, None, hook, |_, _, _| Ok(()))
    }

    fn sites(&self) -> Vec<super::sites::SiteInfo> {
        super::sites::list(self.cfg.layers, SITE_KINDS, self.cfg.d_model)
    }

    fn forward_key_mask(&self, tokens: &Tensor, keep: &[bool]) -> Result<(Tensor, Vec<Tensor>)> {
        Transformer::forward_key_mask(self, tokens, keep)
    }

    fn internals(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<super::Internals> {
        Ok(super::Internals { mixing: self.mixing_weights(tokens, features)?, recurrence: Vec::new() })
    }

    /// Every parameter with its GPT-2-style name, in a fixed order.
    fn named_params(&self) -> Vec<(String, &Var)> {
        let mut out = self.embed.named();
        out.push(("wpe.weight".to_string(), &self.wpe));
        for (i, b) in self.blocks.iter().enumerate() {
            let p = |s: &str| format!("h.{i}.{s}");
            out.push((p("ln_1.weight"), &b.ln_1.g));
            out.push((p("attn.c_attn.weight"), &b.c_attn.w));
            if let Some(m) = &b.static_mix {
                out.push((p("attn.static_mix"), m));
            }
            out.push((p("attn.c_proj.weight"), &b.c_proj.w));
            out.push((p("ln_2.weight"), &b.ln_2.g));
            out.push((p("mlp.c_fc.weight"), &b.c_fc.w));
            out.push((p("mlp.c_proj.weight"), &b.c_fc_out.w));
        }
        out.extend(self.head.named());
        out
    }
}

impl Transformer {
    /// `tokens`: `[batch, seq]` u32, `features`: `[batch, seq, features]` f32 (only when the
    /// model has continuous inputs) → head outputs `[batch * seq, out]`.
    pub fn forward(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor> {
        self.run(tokens, features, None, &mut super::sites::identity, |_, _, _| Ok(()))
    }

    /// Attention editing: the forward pass with the keys `s` where `!keep[s]` hidden from
    /// every later query in every layer (each position still sees itself). `tokens`: `[b, l]`
    /// with `keep.len() == l` → (head outputs `[b*l, out]`, each layer's weights `[b, h, l, l]`
    /// as the edited model used them). Needs softmax-attention mixers in every layer.
    pub fn forward_key_mask(&self, tokens: &Tensor, keep: &[bool]) -> Result<(Tensor, Vec<Tensor>)> {
        let l = tokens.dim(1)?;
        if keep.len() != l {
            return Err(super::ModelError {
                op: "forward_key_mask".into(),
                detail: format!("{} keep flags for {l} positions", keep.len()),
            });
        }
        if let Some(m) =
            self.cfg.mixers.iter().find(|m| !matches!(m, Mixer::Attention | Mixer::QkEmbed | Mixer::QkPos))
        {
            return Err(super::ModelError {
                op: "forward_key_mask".into(),
                detail: format!(
                    "attention editing needs softmax attention in every layer; this model has a '{}' mixer",
                    m.name()
                ),
            });
        }
        let bias = mixers::key_mask_bias(keep, tokens.device())?; // [l, l]
        let mut maps = Vec::with_capacity(self.blocks.len());
        let out = self.run(tokens, None, Some(&bias), &mut super::sites::identity, |blk, x, x0| {
            maps.push(self.weights(blk, x, x0, Some(&bias))?);
            Ok(())
        })?;
        Ok((out, maps))
    }

    /// Every layer's mixing weights for a batch: `[b, h, l, l]` per layer, row `t` giving how
    /// much position `t` takes from each position `s ≤ t` (the identity for `none`). For the
    /// attention-map views; training uses the fused path.
    pub fn mixing_weights(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Vec<Tensor>> {
        let mut out = Vec::with_capacity(self.blocks.len());
        self.run(tokens, features, None, &mut super::sites::identity, |blk, x, x0| {
            out.push(self.weights(blk, x, x0, None)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The forward pass, calling `hook` at every named site and `visit(block, normalised
    /// input, embeddings)` before each block's mixer; `bias` (`[l, l]`, attention editing)
    /// replaces softmax attention's causal mask.
    fn run(
        &self,
        tokens: &Tensor,
        features: Option<&Tensor>,
        bias: Option<&Tensor>,
        hook: &mut super::sites::Hook,
        mut visit: impl FnMut(&Block, &Tensor, &Tensor) -> Result<()>,
    ) -> Result<Tensor> {
        let (b, l) = tokens.dims2().op("forward.tokens")?;
        if l > self.cfg.max_len {
            return Err(super::ModelError {
                op: "forward".into(),
                detail: format!("sequence length {l} exceeds the model's max_len {}", self.cfg.max_len),
            });
        }
        let d = self.cfg.d_model;
        let pos = self.wpe.as_tensor().narrow(0, 0, l)?; // [l, d]
        let mut x = self.embed.forward("transformer", tokens, features)?.broadcast_add(&pos)?; // [b, l, d]

        let x0 = x.clone(); // [b, l, d] the embeddings, for `qk_embed`
        for (i, blk) in self.blocks.iter().enumerate() {
            let site = |kind| super::sites::Site { layer: i, kind };
            x = hook(site("resid_pre"), x)?; // [b, l, d]
            let xn = blk.ln_1.forward(&x)?; // [b, l, d]
            visit(blk, &xn, &x0)?;
            let a = self.attention(blk, &xn, &x0, bias, &mut |y| hook(site("mixer.heads"), y))?; // [b, l, d]
            x = (x + hook(site("mixer.out"), a)?)?;
            x = hook(site("resid_mid"), x)?;
            let h = blk.ln_2.forward(&x)?.reshape((b * l, d))?; // [b*l, d]
            let h = blk.c_fc.forward(&h)?.relu().op("mlp.relu")?; // [b*l, r*d]
            let h = blk.c_fc_out.forward(&h)?.reshape((b, l, d))?; // [b, l, d]
            x = (x + hook(site("mlp.out"), h)?)?;
            x = hook(site("resid_post"), x)?;
        }
        self.head.forward("transformer", &x) // [b*l, out]
    }

    /// `input` `[b, l, d]` through the block's `c_attn` → `[b, l, 3d]` (q, k, v).
    fn project(&self, blk: &Block, input: &Tensor) -> Result<Tensor> {
        let (b, l, d) = input.dims3()?;
        Ok(blk.c_attn.forward(&input.reshape((b * l, d))?)?.reshape((b, l, 3 * d))?)
        // [b, l, 3d]
    }

    /// Part `i` (0 = q, 1 = k, 2 = v) of a `[b, l, 3d]` projection as heads `[b, h, l, dh]`.
    fn heads(&self, qkv: &Tensor, i: usize) -> Result<Tensor> {
        let (b, l, d3) = qkv.dims3()?;
        let (d, h) = (d3 / 3, self.cfg.heads);
        Ok(qkv.narrow(2, i * d, d)?.reshape((b, l, h, d / h))?.transpose(1, 2)?.contiguous()?)
    }

    /// Queries and keys `[b, h, l, dh]` of mixers that have them: from the hidden state, or
    /// from the embeddings (`qk_embed`) or the positions (`qk_pos`).
    fn queries_keys(&self, blk: &Block, qkv: &Tensor, x0: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, l, d) = x0.dims3()?;
        let qk = match blk.mixer {
            Mixer::QkEmbed => self.project(blk, &blk.ln_1.forward(x0)?)?,
            Mixer::QkPos => {
                let pos = self.wpe.as_tensor().narrow(0, 0, l)?; // [l, d]
                self.project(
                    blk,
                    &blk.ln_1.forward(&pos)?.unsqueeze(0)?.broadcast_as((b, l, d))?.contiguous()?,
                )?
            }
            _ => qkv.clone(),
        };
        Ok((self.heads(&qk, 0)?, self.heads(&qk, 1)?))
    }

    fn static_matrix<'a>(&self, blk: &'a Block) -> Result<&'a Var> {
        blk.static_mix
            .as_ref()
            .ok_or_else(|| super::ModelError { op: "static mixer".into(), detail: "no mixing matrix".into() })
    }

    /// The block's token mixer. `x`: `[b, l, d]` (normalised hidden state), `x0`: the
    /// layer-0 embeddings `[b, l, d]` → `[b, l, d]`; `heads` sees (and may replace) the
    /// per-head outputs `[b, l, h·dh]` before the output projection.
    fn attention(
        &self,
        blk: &Block,
        x: &Tensor,
        x0: &Tensor,
        bias: Option<&Tensor>,
        heads: &mut dyn FnMut(Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let (b, l, d) = x.dims3()?;
        let qkv = self.project(blk, x)?;
        let v = self.heads(&qkv, 2)?; // [b, h, l, dh]
        let scale = 1.0 / ((d / self.cfg.heads) as f32).sqrt();
        let y = match blk.mixer {
            Mixer::None => v, // position-wise: each position keeps its own value
            Mixer::Static => {
                mixers::mix(&mixers::static_weights(self.static_matrix(blk)?.as_tensor(), l)?, &v)?
            }
            Mixer::Attention | Mixer::QkEmbed | Mixer::QkPos => {
                let (q, k) = self.queries_keys(blk, &qkv, x0)?;
                match bias {
                    Some(bias) => mixers::biased_softmax_weights(&q, &k, scale, bias)?.matmul(&v)?, // [b, h, l, dh]
                    None => attention::causal_attention(&q, &k, &v, scale)?,
                }
            }
            Mixer::Linear | Mixer::Relu | Mixer::Sigmoid | Mixer::L2 => {
                let (q, k) = self.queries_keys(blk, &qkv, x0)?;
                mixers::mix(&mixers::score_weights(blk.mixer, &q, &k, scale)?, &v)?
                // [b, h, l, dh]
            }
        };
        let y = heads(y.transpose(1, 2)?.contiguous()?.reshape((b, l, d))?)?.reshape((b * l, d))?; // [b*l, d]
        Ok(blk.c_proj.forward(&y)?.reshape((b, l, d))?)
    }

    /// The block's mixing weights `[b, h, l, l]` (see `mixing_weights`).
    fn weights(&self, blk: &Block, x: &Tensor, x0: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let (b, l, d) = x.dims3()?;
        let h = self.cfg.heads;
        let scale = 1.0 / ((d / h) as f32).sqrt();
        match blk.mixer {
            Mixer::None => Ok(Tensor::eye(l, candle_core::DType::F32, x.device())?
                .broadcast_as((b, h, l, l))?
                .contiguous()?),
            Mixer::Static => Ok(mixers::static_weights(self.static_matrix(blk)?.as_tensor(), l)?
                .unsqueeze(0)?
                .broadcast_as((b, h, l, l))?
                .contiguous()?),
            kind => {
                let (q, k) = self.queries_keys(blk, &self.project(blk, x)?, x0)?;
                if let Some(bias) = bias {
                    return mixers::biased_softmax_weights(&q, &k, scale, bias);
                }
                let form =
                    if matches!(kind, Mixer::QkEmbed | Mixer::QkPos) { Mixer::Attention } else { kind };
                mixers::score_weights(form, &q, &k, scale)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeqModel;
    use candle_core::Device;

    fn tiny() -> TransformerConfig {
        TransformerConfig {
            vocab: 11,
            features: 0,
            max_len: 9,
            layers: 2,
            heads: 2,
            d_model: 8,
            mlp_ratio: 4,
            out: 11,
            mixers: vec![Mixer::Attention; 2],
        }
    }

    #[test]
    fn shapes_and_param_count() {
        let m = Transformer::new(tiny(), 0).unwrap();
        let tokens = Tensor::from_vec(vec![1u32; 3 * 7], (3, 7), &Device::Cpu).unwrap();
        let logits = m.forward(&tokens, None).unwrap();
        assert_eq!(logits.dims(), &[21, 11]);
        let (v, l, d) = (11, 9, 8);
        let per_block = d + d * 3 * d + d * d + d + d * 4 * d + 4 * d * d;
        assert_eq!(m.param_count(), v * d + l * d + 2 * per_block + d + d * v);
        let cfg = crate::core::TrainConfig { layers: 2, heads: 2, d_model: 8, ..Default::default() };
        let dims = crate::core::ModelDims { seq_len: 9, vocab: 11, features: 0, out: 11 };
        assert_eq!(cfg.param_count(dims) as usize, m.param_count());
        // With 3 feature channels and a 5-wide head.
        let m = Transformer::new(TransformerConfig { features: 3, out: 5, ..tiny() }, 0).unwrap();
        assert_eq!(
            cfg.param_count(crate::core::ModelDims { features: 3, out: 5, ..dims }) as usize,
            m.param_count()
        );
        let f = Tensor::zeros((3, 7, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert_eq!(m.forward(&tokens, Some(&f)).unwrap().dims(), &[21, 5]);
        let e = m.forward(&tokens, None).err().unwrap().to_string();
        assert!(e.contains("3 feature channels but features were missing"), "{e}");
    }

    #[test]
    fn causal_future_tokens_do_not_change_past_logits() {
        let m = Transformer::new(tiny(), 3).unwrap();
        let a = Tensor::from_vec(vec![1u32, 2, 3, 4, 5], (1, 5), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(vec![1u32, 2, 3, 9, 10], (1, 5), &Device::Cpu).unwrap();
        let la: Vec<Vec<f32>> = m.forward(&a, None).unwrap().to_vec2().unwrap();
        let lb: Vec<Vec<f32>> = m.forward(&b, None).unwrap().to_vec2().unwrap();
        assert_eq!(la[..3], lb[..3], "positions 0..3 must not see tokens 3..5");
        assert_ne!(la[3], lb[3]);
    }

    #[test]
    fn same_seed_same_weights() {
        let a = Transformer::new(tiny(), 5).unwrap();
        let b = Transformer::new(tiny(), 5).unwrap();
        let c = Transformer::new(tiny(), 6).unwrap();
        let w = |m: &Transformer| {
            m.named_params()[4].1.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        assert_eq!(w(&a), w(&b));
        assert_ne!(w(&a), w(&c));
    }

    #[test]
    fn mixing_weights_are_causal_per_layer_and_match_the_mixer() {
        let tokens = Tensor::from_vec(vec![1u32, 2, 3, 4, 5, 6], (1, 6), &Device::Cpu).unwrap();
        for mixer in Mixer::ALL {
            let m = Transformer::new(TransformerConfig { mixers: vec![mixer; 2], ..tiny() }, 4).unwrap();
            let ws = m.mixing_weights(&tokens, None).unwrap();
            assert_eq!(ws.len(), 2);
            let a: Vec<f32> = ws[1].flatten_all().unwrap().to_vec1().unwrap(); // [1, 2, 6, 6]
            assert_eq!(ws[1].dims(), &[1, 2, 6, 6], "{mixer:?}");
            for (i, row) in a.chunks(6).enumerate() {
                let t = i % 6;
                assert!(row[t + 1..].iter().all(|&x| x == 0.0), "{mixer:?}: row {t} looks ahead: {row:?}");
                match mixer {
                    Mixer::None => assert_eq!(row[t], 1.0),
                    Mixer::Relu | Mixer::Sigmoid => {}
                    _ => assert!(
                        (row.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                        "{mixer:?}: row sums to {}",
                        row.iter().sum::<f32>()
                    ),
                }
            }
        }
    }

    #[test]
    fn key_mask_keeping_everything_is_the_plain_forward_and_a_hidden_token_cannot_reach_later_positions() {
        let m = Transformer::new(tiny(), 8).unwrap();
        let ids = vec![1u32, 2, 3, 4, 5, 6, 7];
        let x = |ids: &[u32]| Tensor::from_vec(ids.to_vec(), (1, ids.len()), &Device::Cpu).unwrap();
        let rows = |t: &Tensor| t.to_vec2::<f32>().unwrap(); // [l, out]
        let (all, maps) = m.forward_key_mask(&x(&ids), &[true; 7]).unwrap();
        let plain = rows(&m.forward(&x(&ids), None).unwrap());
        let diff = rows(&all)
            .iter()
            .flatten()
            .zip(plain.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "keep-all differs from forward by {diff}");
        assert_eq!(maps.len(), 2);
        // Hide position 2: its weight is 0 in every later row of every layer, and changing
        // the token there leaves every later position's output exactly as it was.
        let mut keep = [true; 7];
        keep[2] = false;
        let (a, maps) = m.forward_key_mask(&x(&ids), &keep).unwrap();
        for w in &maps {
            let w: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap(); // [1, h, 7, 7]
            for (i, row) in w.chunks(7).enumerate() {
                let t = i % 7;
                assert!(t <= 2 || row[2] == 0.0, "row {t} still attends to the hidden key: {row:?}");
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
        let mut other = ids.clone();
        other[2] = 9;
        let (b, _) = m.forward_key_mask(&x(&other), &keep).unwrap();
        let (a, b) = (rows(&a), rows(&b));
        assert!(a[..2] == b[..2] && a[3..] == b[3..], "a hidden token changed other positions");
        assert_ne!(a[2], b[2]);
        // Hiding it changes what later positions predict (it was attended to).
        assert_ne!(a[6], plain[6]);
        // Hiding every key leaves each position with itself only: still a distribution.
        let (_, maps) = m.forward_key_mask(&x(&ids), &[false; 7]).unwrap();
        let w: Vec<f32> = maps[0].flatten_all().unwrap().to_vec1().unwrap();
        assert!(w.chunks(7).enumerate().all(|(i, r)| r[i % 7] == 1.0));
    }

    #[test]
    fn key_mask_refuses_other_mixers_and_wrong_lengths() {
        let x = Tensor::from_vec(vec![1u32, 2, 3], (1, 3), &Device::Cpu).unwrap();
        let m = Transformer::new(
            TransformerConfig { mixers: vec![Mixer::Attention, Mixer::Static], ..tiny() },
            1,
        )
        .unwrap();
        let e = m.forward_key_mask(&x, &[true; 3]).err().unwrap().to_string();
        assert!(e.contains("forward_key_mask") && e.contains("'static' mixer"), "{e}");
        let m = Transformer::new(tiny(), 1).unwrap();
        let e = m.forward_key_mask(&x, &[true; 2]).err().unwrap().to_string();
        assert!(e.contains("2 keep flags for 3 positions"), "{e}");
    }

    #[test]
    fn too_long_input_is_a_clear_error() {
        let m = Transformer::new(tiny(), 0).unwrap();
        let tokens = Tensor::from_vec(vec![1u32; 12], (1, 12), &Device::Cpu).unwrap();
        let e = m.forward(&tokens, None).err().unwrap().to_string();
        assert!(e.contains("exceeds the model's max_len 9"), "{e}");
    }
}
