//! LSTM and GRU baselines: token embedding (+ a linear map of continuous features) →
//! N × [x += RNN(LN(x))] → LN → head. No position embedding: a recurrence knows order.
//! Unrolled over time with candle ops, so autograd gives exact gradients (backpropagation
//! through time); meant for the small sequences of the synthetic tasks.
//! Gate layout follows PyTorch: LSTM `i, f, g, o`; GRU `r, z, n`.

use candle_core::{Tensor, Var};

use super::io::{Embed, Head};
use super::{init, layer_norm, Context, Result};
use crate::core::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Lstm,
    Gru,
}

impl Cell {
    /// Gates per hidden unit.
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RnnConfig {
    pub cell: Cell,
    pub vocab: usize,
    pub features: usize,
    pub layers: usize,
    pub d_model: usize,
    pub out: usize,
}

struct Layer {
    ln: Var,   // [d]
    w_ih: Var, // [d, gates*d]
    w_hh: Var, // [d, gates*d]
    bias: Var, // [gates*d]
}

pub struct Rnn {
    pub cfg: RnnConfig,
    embed: Embed,
    layers: Vec<Layer>,
    head: Head,
}

fn sigmoid(x: &Tensor) -> Result<Tensor> {
    Ok((x.neg()?.exp()? + 1.0)?.recip()?)
}

impl Rnn {
    /// Fresh weights fixed by `seed`: N(0, 1/d) recurrent and input matrices, LSTM forget
    /// gate bias 1 (so the cell remembers by default), other biases 0.
    pub fn new(cfg: RnnConfig, seed: u64) -> Result<Self> {
        let mut rng = Rng::fork(seed, "rnn.init");
        let (d, g) = (cfg.d_model, cfg.cell.gates());
        let std = 1.0 / (d as f32).sqrt();
        let embed = Embed::new(&mut rng, cfg.vocab, cfg.features, d, 0.02)?;
        let mut layers = Vec::with_capacity(cfg.layers);
        for _ in 0..cfg.layers {
            let bias: Vec<f32> =
                (0..g * d).map(|i| if cfg.cell == Cell::Lstm && i / d == 1 { 1.0 } else { 0.0 }).collect();
            layers.push(Layer {
                ln: init::constant(&[d], 1.0)?,
                w_ih: init::normal(&mut rng, &[d, g * d], std)?,
                w_hh: init::normal(&mut rng, &[d, g * d], std)?,
                bias: Var::from_tensor(&Tensor::from_vec(bias, g * d, &candle_core::Device::Cpu)?)?,
            });
        }
        let head = Head::new(&mut rng, d, cfg.out, 0.02)?;
        Ok(Rnn { cfg, embed, layers, head })
    }

    /// One recurrent layer over `u`: `[b, l, d]` → `[b, l, d]`.
    fn recur(&self, layer: &Layer, u: &Tensor) -> Result<Tensor> {
        let (b, l, d) = u.dims3()?;
        let g = self.cfg.cell.gates();
        let xw = u
            .reshape((b * l, d))?
            .matmul(layer.w_ih.as_tensor())?
            .broadcast_add(layer.bias.as_tensor())?
            .reshape((b, l, g * d))?; // [b, l, g*d]
        let w_hh = layer.w_hh.as_tensor();
        let mut h = Tensor::zeros((b, d), u.dtype(), u.device())?; // [b, d]
        let mut c = h.clone();
        let mut outs = Vec::with_capacity(l);
        for t in 0..l {
            let x_t = xw.narrow(1, t, 1)?.squeeze(1)?; // [b, g*d]
            let hw = h.matmul(w_hh)?; // [b, g*d]
            let gate = |x: &Tensor, k: usize| x.narrow(1, k * d, d); // [b, d]
            h = match self.cfg.cell {
                Cell::Lstm => {
                    let z = (x_t + hw)?;
                    let (i, f) = (sigmoid(&gate(&z, 0)?)?, sigmoid(&gate(&z, 1)?)?);
                    let (cand, o) = (gate(&z, 2)?.tanh()?, sigmoid(&gate(&z, 3)?)?);
                    c = ((f * &c)? + (i * cand)?)?;
                    (o * c.tanh()?)?
                }
                Cell::Gru => {
                    let r = sigmoid(&(gate(&x_t, 0)? + gate(&hw, 0)?)?)?;
                    let z = sigmoid(&(gate(&x_t, 1)? + gate(&hw, 1)?)?)?;
                    let n = (gate(&x_t, 2)? + (r * gate(&hw, 2)?)?)?.tanh()?;
                    ((z.affine(-1.0, 1.0)? * n)? + (z * &h)?)?
                }
            };
            outs.push(h.clone());
        }
        Tensor::stack(&outs, 1).op("rnn.stack") // [b, l, d]
    }
}

/// The named sites of each layer, in pass order (`model::sites`): the residual stream
/// before the layer, what the recurrence adds (its hidden states), and the stream after.
pub const SITE_KINDS: &[&str] = &["resid_pre", "mixer.out", "resid_post"];

impl Rnn {
    fn run(
        &self,
        tokens: &Tensor,
        features: Option<&Tensor>,
        hook: &mut super::sites::Hook,
    ) -> Result<Tensor> {
        let mut x = self.embed.forward("rnn", tokens, features)?; // [b, l, d]
        for (i, layer) in self.layers.iter().enumerate() {
            let site = |kind| super::sites::Site { layer: i, kind };
            x = hook(site("resid_pre"), x)?; // [b, l, d]
            let u = layer_norm::layer_norm(&x, layer.ln.as_tensor())?; // [b, l, d]
            x = (&x + hook(site("mixer.out"), self.recur(layer, &u)?)?)?;
            x = hook(site("resid_post"), x)?;
        }
        self.head.forward("rnn", &x) // [b*l, out]
    }
}

impl super::SeqModel for Rnn {
    fn forward(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor> {
        self.run(tokens, features, &mut super::sites::identity)
    }

    fn forward_sites(
        &self,
        tokens: &Tensor,
        features: Option<&Tensor>,
        hook: &mut super::sites::Hook,
    ) -> Result<Tensor> {
        self.run(tokens, features, hook)
    }

    fn sites(&self) -> Vec<super::sites::SiteInfo> {
        super::sites::list(self.cfg.layers, SITE_KINDS, self.cfg.d_model)
    }

    fn named_params(&self) -> Vec<(String, &Var)> {
        let mut out = self.embed.named();
        for (i, layer) in self.layers.iter().enumerate() {
            out.push((format!("h.{i}.ln.weight"), &layer.ln));
            out.push((format!("h.{i}.rnn.w_ih"), &layer.w_ih));
            out.push((format!("h.{i}.rnn.w_hh"), &layer.w_hh));
            out.push((format!("h.{i}.rnn.bias"), &layer.bias));
        }
        out.extend(self.head.named());
        out
    }
}
