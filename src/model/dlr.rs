//! A stack of diagonal linear RNN blocks (DLR, Gupta, Mehta & Berant 2022) in candle-core:
//! token embedding (+ a linear map of continuous input features, when the task has them), no
//! position embedding (the recurrence is causal and knows order by itself) →
//! N × [u = LN(x); y = DLR(u); x += c_proj(relu(c_fc(y)))] → LN → head `d → out`.
//! The DLR layer itself (parametrisations, init, kernel, convolution, f64 scan oracle) is in
//! `dlr_kernel`. Names follow the Transformer's GPT-2 style: `wte.weight`, `wfe.weight`,
//! `h.{i}.ln.weight`, `h.{i}.dlr.{nu,theta | log_dt,a_re,a_im}`, `h.{i}.dlr.{w_re,w_im}`,
//! `h.{i}.mlp.c_fc.weight`, `h.{i}.mlp.c_proj.weight`, `ln_f.weight`, `lm_head.weight`;
//! weights stored `[in, out]`, no biases.

use candle_core::{Tensor, Var};

use super::dlr_kernel::DlrLayer;
pub use super::dlr_kernel::{dlr_scan_reference, dlr_scan_states, Modes, C64};
use super::io::{Embed, Head};
use super::{init, layer_norm, Context, ModelError, Result};
use crate::core::Rng;

#[derive(Clone, Debug, PartialEq)]
pub struct DlrConfig {
    /// Input token ids `0..vocab`.
    pub vocab: usize,
    /// Continuous input channels per position (0: tokens only).
    pub features: usize,
    pub max_len: usize,
    pub layers: usize,
    /// Channels of the residual stream = DLR channels.
    pub d_model: usize,
    /// Complex states per channel (N).
    pub state: usize,
    /// Head width: classes x channels (classification) or channels (regression).
    pub out: usize,
    /// `Λ = exp(Δ·A)` with a learned step and ZOH-scaled W (S4D-style) instead of the
    /// direct `Λ = exp(−exp(nu) + i·theta)`.
    pub discretised: bool,
}

fn err(op: &str, detail: String) -> ModelError {
    ModelError { op: op.into(), detail }
}

struct Block {
    ln: Var, // [d]
    dlr: DlrLayer,
    c_fc: Var,   // [d, 2d]
    c_proj: Var, // [2d, d]
}

pub struct Dlr {
    pub cfg: DlrConfig,
    embed: Embed,
    blocks: Vec<Block>,
    head: Head,
}

impl Dlr {
    /// Fresh weights, fixed by `seed` (`Rng::fork(seed, "dlr.init")`): N(0, 0.02²) matrices,
    /// `c_proj` scaled by 1/√(2·layers) (GPT-2), unit norm gains, DLR params as in `dlr_kernel`.
    pub fn new(cfg: DlrConfig, seed: u64) -> Result<Self> {
        for (name, v) in [
            ("vocab", cfg.vocab),
            ("max_len", cfg.max_len),
            ("d_model", cfg.d_model),
            ("state", cfg.state),
            ("out", cfg.out),
        ] {
            if v == 0 {
                return Err(err("dlr.new", format!("{name} must be at least 1 (config {cfg:?})")));
            }
        }
        let mut rng = Rng::fork(seed, "dlr.init");
        let d = cfg.d_model;
        let std = 0.02f32;
        let proj_std = std / (2.0 * cfg.layers.max(1) as f32).sqrt();
        let embed = Embed::new(&mut rng, cfg.vocab, cfg.features, d, std)?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for _ in 0..cfg.layers {
            blocks.push(Block {
                ln: init::constant(&[d], 1.0)?,
                dlr: DlrLayer::new(&mut rng, d, cfg.state, cfg.discretised)?,
                c_fc: init::normal(&mut rng, &[d, 2 * d], std)?,
                c_proj: init::normal(&mut rng, &[2 * d, d], proj_std)?,
            });
        }
        let head = Head::new(&mut rng, d, cfg.out, std)?;
        Ok(Dlr { cfg, embed, blocks, head })
    }

    fn block(&self, layer: usize) -> Result<&Block> {
        self.blocks.get(layer).ok_or_else(|| {
            err(
                "dlr.layer",
                format!("layer {layer} out of range: the model has {} layers", self.blocks.len()),
            )
        })
    }

    /// `tokens`: `[batch, seq]` u32, `features`: `[batch, seq, features]` f32 (only when the
    /// model has continuous inputs) → head outputs `[batch * seq, out]`.
    pub fn forward(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor> {
        self.run(tokens, features, &mut super::sites::identity, |_, _| Ok(()))
    }

    /// The forward pass, calling `hook` at every named site and `visit(layer, u)` with each
    /// block's normalised input `u [b, l, d]` (what its recurrence reads).
    fn run(
        &self,
        tokens: &Tensor,
        features: Option<&Tensor>,
        hook: &mut super::sites::Hook,
        mut visit: impl FnMut(usize, &Tensor) -> Result<()>,
    ) -> Result<Tensor> {
        let (b, l) = tokens.dims2().op("dlr.forward.tokens")?;
        if b == 0 || l == 0 {
            return Err(err("dlr.forward", format!("empty input: tokens {:?}", tokens.dims())));
        }
        if l > self.cfg.max_len {
            return Err(err(
                "dlr.forward",
                format!(
                    "sequence length {l} (tokens {:?}) exceeds the model's max_len {}",
                    tokens.dims(),
                    self.cfg.max_len
                ),
            ));
        }
        let d = self.cfg.d_model;
        let mut x = self.embed.forward("dlr", tokens, features)?; // [b, l, d]
        for (i, blk) in self.blocks.iter().enumerate() {
            let site = |kind| super::sites::Site { layer: i, kind };
            x = hook(site("resid_pre"), x)?; // [b, l, d]
            let u = layer_norm::layer_norm(&x, blk.ln.as_tensor())?; // [b, l, d]
            visit(i, &u)?;
            let y = hook(site("mixer.out"), blk.dlr.forward(&u)?)?.reshape((b * l, d))?; // [b*l, d]
            let h = y.matmul(blk.c_fc.as_tensor()).op("dlr.mlp.c_fc")?.relu()?; // [b*l, 2d]
            let h = h.matmul(blk.c_proj.as_tensor()).op("dlr.mlp.c_proj")?.reshape((b, l, d))?; // [b, l, d]
            x = (x + hook(site("mlp.out"), h)?)?;
            x = hook(site("resid_post"), x)?;
        }
        self.head.forward("dlr", &x) // [b*l, out]
    }

    /// The DLR mixing of block `layer` alone: `u [b, l, d]` → `y [b, l, d]` (the training
    /// path: kernel + Toeplitz matmul, differentiable).
    pub fn mix(&self, layer: usize, u: &Tensor) -> Result<Tensor> {
        let (_, l, d) = u.dims3().op("dlr.mix")?;
        if d != self.cfg.d_model || l == 0 || l > self.cfg.max_len {
            return Err(err(
                "dlr.mix",
                format!("u {:?} must be [batch, 1..={}, {}]", u.dims(), self.cfg.max_len, self.cfg.d_model),
            ));
        }
        self.block(layer)?.dlr.forward(u)
    }

    /// Block `layer`'s recurrence in f64: `Λ` and the effective `W` per channel and state
    /// (what `dlr_scan_reference` steps).
    pub fn modes(&self, layer: usize) -> Result<Modes> {
        self.block(layer)?.dlr.modes()
    }

    /// Block `layer`'s current convolution kernels, `[d][max_len]`.
    pub fn kernel(&self, layer: usize) -> Result<Vec<Vec<f32>>> {
        self.block(layer)?.dlr.kernel(self.cfg.max_len)?.to_vec2().op("dlr.kernel")
    }

    /// Block `layer`'s eigenvalues `Λ` as `(magnitude, phase in (−π, π])`, `[d][state]`;
    /// empty when `layer` is out of range.
    pub fn eigenvalues(&self, layer: usize) -> Vec<Vec<(f32, f32)>> {
        self.modes(layer).map(|m| m.polar()).unwrap_or_default()
    }
}

/// The named sites of each block, in pass order (`model::sites`).
pub const SITE_KINDS: &[&str] = &["resid_pre", "mixer.out", "mlp.out", "resid_post"];

impl super::SeqModel for Dlr {
    fn forward(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<Tensor> {
        Dlr::forward(self, tokens, features)
    }

    fn forward_sites(
        &self,
        tokens: &Tensor,
        features: Option<&Tensor>,
        hook: &mut super::sites::Hook,
    ) -> Result<Tensor> {
        self.run(tokens, features, hook, |_, _| Ok(()))
    }

    fn sites(&self) -> Vec<super::sites::SiteInfo> {
        super::sites::list(self.cfg.layers, SITE_KINDS, self.cfg.d_model)
    }

    /// Each layer's kernel over the input's length and its state norms, stepped by the f64
    /// scan on the layer's real input.
    fn internals(&self, tokens: &Tensor, features: Option<&Tensor>) -> Result<super::Internals> {
        let mut recurrence = Vec::with_capacity(self.blocks.len());
        self.run(tokens, features, &mut super::sites::identity, |i, u| {
            recurrence.push(super::dlr_kernel::recurrence_view(&self.modes(i)?, u, self.kernel(i)?)?);
            Ok(())
        })?;
        Ok(super::Internals { mixing: Vec::new(), recurrence })
    }

    fn spectrum(&self) -> Vec<Vec<(f32, f32)>> {
        (0..self.blocks.len()).map(|i| self.eigenvalues(i).into_iter().flatten().collect()).collect()
    }

    /// Every parameter with its name, in a fixed order (see the module doc).
    fn named_params(&self) -> Vec<(String, &Var)> {
        let mut out = self.embed.named();
        for (i, b) in self.blocks.iter().enumerate() {
            out.push((format!("h.{i}.ln.weight"), &b.ln));
            for (name, v) in b.dlr.named() {
                out.push((format!("h.{i}.dlr.{name}"), v));
            }
            out.push((format!("h.{i}.mlp.c_fc.weight"), &b.c_fc));
            out.push((format!("h.{i}.mlp.c_proj.weight"), &b.c_proj));
        }
        out.extend(self.head.named());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeqModel;
    use candle_core::Device;

    /// Kernel + Toeplitz matmul in f32 against the f64 scan: relative to the largest |y|.
    const CONV_VS_SCAN_TOL: f64 = 1e-4;
    /// Fused (f64 powers) vs composed (f32 exp/cos/sin) kernel, relative to the largest entry.
    const KERNEL_TOL: f32 = 1e-4;

    fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
        let scale: f32 = b.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
        let diff: f32 =
            (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
        diff / scale.max(1e-12)
    }

    #[test]
    fn fused_ops_match_composed_values_and_gradients() {
        use crate::model::dlr_kernel::{kernel, kernel_reference, toeplitz, toeplitz_reference};
        let (d, n) = (3, 4);
        for len in [1, 9, 40] {
            let mut rng = Rng::new(len as u64);
            let p: Vec<f32> = (0..4 * d * n)
                .map(|i| match i / (d * n) {
                    0 => -0.01 - 2.0 * rng.next_f32(), // ln|Λ|
                    1 => 6.0 * rng.next_f32() - 3.0,   // arg Λ
                    _ => rng.normal(),
                })
                .collect();
            let p = Var::from_tensor(&Tensor::from_vec(p, (4, d, n), &Device::Cpu).unwrap()).unwrap();
            let r: Vec<f32> = (0..d * len * len).map(|_| rng.normal()).collect();
            let r = Tensor::from_vec(r, (d, len, len), &Device::Cpu).unwrap();
            let run = |fused: bool| {
                let k = if fused { kernel(p.as_tensor(), len) } else { kernel_reference(p.as_tensor(), len) }
                    .unwrap(); // [d, L]
                let t = if fused { toeplitz(&k) } else { toeplitz_reference(&k) }.unwrap(); // [d, L, L]
                let g = (&t * &r).unwrap().sum_all().unwrap().backward().unwrap();
                (k, t, g.get(p.as_tensor()).unwrap().clone())
            };
            let ((k1, t1, g1), (k2, t2, g2)) = (run(true), run(false));
            assert!(max_rel(&k1, &k2) < KERNEL_TOL, "L={len} kernel {}", max_rel(&k1, &k2));
            assert!(max_rel(&t1, &t2) < KERNEL_TOL, "L={len} toeplitz {}", max_rel(&t1, &t2));
            assert!(max_rel(&g1, &g2) < KERNEL_TOL, "L={len} grads {}", max_rel(&g1, &g2));
            // The Toeplitz op alone, on the same kernel: exact.
            let kv = Var::from_tensor(&k2).unwrap();
            let gt = |t: Tensor| {
                (t * &r).unwrap().sum_all().unwrap().backward().unwrap().get(kv.as_tensor()).unwrap().clone()
            };
            let (a, b) = (toeplitz(kv.as_tensor()).unwrap(), toeplitz_reference(kv.as_tensor()).unwrap());
            assert_eq!(
                a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                b.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            );
            assert!(max_rel(&gt(a), &gt(b)) < 1e-6, "L={len} toeplitz grads");
        }
    }

    fn tiny(discretised: bool) -> DlrConfig {
        DlrConfig {
            vocab: 11,
            features: 0,
            max_len: 40,
            layers: 2,
            d_model: 5,
            state: 3,
            out: 7,
            discretised,
        }
    }

    /// Random params (not just the init) so every branch of the parametrisation is exercised.
    fn randomise(m: &Dlr, seed: u64) {
        let mut rng = Rng::new(seed);
        for (name, v) in m.named_params() {
            let n = v.as_tensor().elem_count();
            let data: Vec<f32> = (0..n)
                .map(|_| match name.rsplit('.').next().unwrap() {
                    "nu" => -4.0 + 4.0 * rng.next_f32(), // |Λ| in (0.37, 0.98)
                    "theta" | "a_im" => 6.0 * rng.next_f32() - 3.0,
                    "log_dt" => -5.0 + 4.0 * rng.next_f32(),
                    "a_re" => -1.0 + 2.0 * rng.next_f32(),
                    _ => rng.normal(),
                })
                .collect();
            v.set(&Tensor::from_vec(data, v.as_tensor().shape(), &Device::Cpu).unwrap()).unwrap();
        }
    }

    #[test]
    fn convolution_matches_scan_reference() {
        for discretised in [false, true] {
            let m = Dlr::new(tiny(discretised), 1).unwrap();
            randomise(&m, 2 + discretised as u64);
            for (layer, l) in [(0, 1), (1, 7), (0, 33), (1, 40)] {
                let (b, d) = (3, 5);
                let mut rng = Rng::new(l as u64);
                let u: Vec<f32> = (0..b * l * d).map(|_| rng.normal()).collect();
                let ut = Tensor::from_vec(u.clone(), (b, l, d), &Device::Cpu).unwrap();
                let y: Vec<f32> = m.mix(layer, &ut).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let u64s: Vec<f64> = u.iter().map(|&x| x as f64).collect();
                let r = dlr_scan_reference(&m.modes(layer).unwrap(), &u64s, b, l);
                let scale = r.iter().fold(1e-12f64, |a, x| a.max(x.abs()));
                let worst = y.iter().zip(&r).map(|(&a, b)| (a as f64 - b).abs()).fold(0.0, f64::max) / scale;
                assert!(worst < CONV_VS_SCAN_TOL, "discretised={discretised} L={l}: rel err {worst:e}");
            }
        }
    }

    #[test]
    fn kernel_starts_at_the_sum_of_w_and_eigenvalues_lie_inside_the_unit_circle() {
        for discretised in [false, true] {
            let m = Dlr::new(tiny(discretised), 4).unwrap();
            let k = m.kernel(1).unwrap();
            assert_eq!((k.len(), k[0].len()), (5, 40));
            let modes = m.modes(1).unwrap();
            let k0: f64 = modes.w[2].iter().map(|w| w.0).sum();
            assert!((k[2][0] as f64 - k0).abs() < 1e-5, "{} vs {k0}", k[2][0]);
            let ev = m.eigenvalues(1);
            assert_eq!((ev.len(), ev[0].len()), (5, 3));
            assert!(
                ev.iter().flatten().all(|&(r, p)| r > 0.0 && r < 1.0 && p.abs() <= std::f32::consts::PI),
                "{ev:?}"
            );
            assert!(m.eigenvalues(2).is_empty());
            assert!(m.kernel(2).err().unwrap().to_string().contains("layer 2 out of range"));
        }
        // The direct init's magnitudes span [0.5, 0.999], phases [0, π/10].
        let ev = Dlr::new(DlrConfig { d_model: 16, state: 16, ..tiny(false) }, 0).unwrap().eigenvalues(0);
        assert!(ev
            .iter()
            .flatten()
            .all(|&(r, p)| (0.5..=0.9991).contains(&r) && (0.0..=0.3142).contains(&p)));
    }

    #[test]
    fn names_shapes_and_param_count() {
        let m = Dlr::new(DlrConfig { features: 3, ..tiny(true) }, 0).unwrap();
        let names: Vec<String> = m.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names[..9],
            [
                "wte.weight",
                "wfe.weight",
                "h.0.ln.weight",
                "h.0.dlr.log_dt",
                "h.0.dlr.a_re",
                "h.0.dlr.a_im",
                "h.0.dlr.w_re",
                "h.0.dlr.w_im",
                "h.0.mlp.c_fc.weight"
            ]
        );
        assert_eq!(names[names.len() - 2..], ["ln_f.weight", "lm_head.weight"]);
        let (v, f, d, n, o) = (11, 3, 5, 3, 7);
        assert_eq!(m.param_count(), v * d + f * d + 2 * (d + d + 4 * d * n + 4 * d * d) + d + d * o);
        let tokens = Tensor::from_vec(vec![1u32; 2 * 9], (2, 9), &Device::Cpu).unwrap();
        let feats = Tensor::zeros((2, 9, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert_eq!(m.forward(&tokens, Some(&feats)).unwrap().dims(), &[18, 7]);
        let direct: Vec<String> =
            Dlr::new(tiny(false), 0).unwrap().named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            direct[1..8],
            [
                "h.0.ln.weight",
                "h.0.dlr.nu",
                "h.0.dlr.theta",
                "h.0.dlr.w_re",
                "h.0.dlr.w_im",
                "h.0.mlp.c_fc.weight",
                "h.0.mlp.c_proj.weight"
            ]
        );
    }

    #[test]
    fn clear_errors() {
        let msg = |r: Result<Tensor>| r.err().unwrap().to_string();
        let m = Dlr::new(tiny(false), 0).unwrap();
        let long = Tensor::from_vec(vec![1u32; 41], (1, 41), &Device::Cpu).unwrap();
        assert!(msg(m.forward(&long, None))
            .contains("sequence length 41 (tokens [1, 41]) exceeds the model's max_len 40"));
        let ok = Tensor::from_vec(vec![1u32; 4], (1, 4), &Device::Cpu).unwrap();
        let f = Tensor::zeros((1, 4, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(msg(m.forward(&ok, Some(&f))).contains("0 feature channels but features were given"));
        let mf = Dlr::new(DlrConfig { features: 2, ..tiny(false) }, 0).unwrap();
        assert!(msg(mf.forward(&ok, None)).contains("2 feature channels but features were missing"));
        assert!(msg(mf.forward(&ok, Some(&f)))
            .contains("features [1, 4, 3] must be [batch 1, seq 4, features 2]"));
        let e = Dlr::new(DlrConfig { state: 0, ..tiny(false) }, 0).err().unwrap().to_string();
        assert!(e.contains("dlr.new") && e.contains("state must be at least 1"), "{e}");
        let u = Tensor::zeros((1, 4, 6), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(msg(m.mix(0, &u)).contains("u [1, 4, 6] must be [batch, 1..=40, 5]"));
    }
}
