//! Interventions: what to do at a named site, at which positions, passed to one forward pass
//! as an argument (no hook state survives the pass). Capture records the activation;
//! add, set, clamp, zero, mean-ablate and patch replace it at the chosen positions (and, for
//! `mixer.heads`, optionally only one head's columns).

use candle_core::{DType, Device, Tensor};

use super::{err, Result};
use crate::model::sites::{Site, SiteInfo};
use crate::model::SeqModel;

/// Which sequence positions an edit touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Positions {
    All,
    /// `start..end`.
    Range(usize, usize),
    /// The last `k` positions.
    LastK(usize),
    One(usize),
}

impl Positions {
    /// Read `all`, `lastK`, `P` or `A..B` (the form the lab's links and the CLI use).
    pub fn parse(text: &str) -> std::result::Result<Positions, String> {
        let t = text.trim();
        let num = |x: &str| {
            x.trim().parse::<usize>().map_err(|_| format!("'{t}': expected all, lastK, a position or A..B"))
        };
        if t == "all" {
            Ok(Positions::All)
        } else if let Some(k) = t.strip_prefix("last") {
            Ok(Positions::LastK(num(k)?))
        } else if let Some((a, b)) = t.split_once("..") {
            Ok(Positions::Range(num(a)?, num(b)?))
        } else {
            Ok(Positions::One(num(t)?))
        }
    }

    /// The selected positions of a sequence of `seq`, in order.
    pub fn select(self, seq: usize) -> Vec<usize> {
        self.mask(seq).iter().enumerate().filter(|(_, &m)| m > 0.0).map(|(t, _)| t).collect()
    }

    /// 1.0 where the edit applies, `[seq]`.
    fn mask(self, seq: usize) -> Vec<f32> {
        let on = |t: usize| match self {
            Positions::All => true,
            Positions::Range(a, b) => (a..b).contains(&t),
            Positions::LastK(k) => t + k >= seq,
            Positions::One(p) => t == p,
        };
        (0..seq).map(|t| if on(t) { 1.0 } else { 0.0 }).collect()
    }
}

impl std::fmt::Display for Positions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Positions::All => write!(f, "all"),
            Positions::LastK(k) => write!(f, "last{k}"),
            Positions::Range(a, b) => write!(f, "{a}..{b}"),
            Positions::One(p) => write!(f, "{p}"),
        }
    }
}

/// What to do at a site.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Record the activation `[batch, seq, width]` (returned by `run`).
    Capture,
    /// `x += scale · vector` (`vector`: `[width]`).
    Add { vector: Vec<f32>, scale: f32 },
    /// `x = vector`.
    Set { vector: Vec<f32> },
    /// `x = clamp(x, lo, hi)`.
    Clamp { lo: f32, hi: f32 },
    /// `x = 0` (zero ablation).
    Zero,
    /// `x = mean` (mean ablation; `mean`: `[width]`, e.g. from `mean_activation`).
    Mean { mean: Vec<f32> },
    /// `x = cache` (another run's activation at this site, `[batch, seq, width]`).
    Patch { cache: Tensor },
}

#[derive(Clone, Debug)]
pub struct Intervention {
    pub site: String,
    pub positions: Positions,
    /// Only these columns (e.g. one head's `h·dh..(h+1)·dh` of `mixer.heads`); None: all.
    pub columns: Option<(usize, usize)>,
    pub edit: Edit,
}

impl Intervention {
    pub fn new(site: &str, positions: Positions, edit: Edit) -> Self {
        Intervention { site: site.to_string(), positions, columns: None, edit }
    }
}

/// The model's output and the captured activations, in intervention order.
pub struct Output {
    pub logits: Tensor,
    pub captures: Vec<(String, Tensor)>,
}

/// Check every intervention against the model's sites and the input length.
pub fn validate(model: &dyn SeqModel, seq: usize, list: &[Intervention]) -> Result<()> {
    let sites = model.sites();
    if sites.is_empty() {
        return Err(err("sites", "this model family has no named activation sites".into()));
    }
    for iv in list {
        let info = find(&sites, &iv.site)?;
        let w = info.width;
        let (lo, hi) = iv.columns.unwrap_or((0, w));
        if lo >= hi || hi > w {
            return Err(err(&iv.site, format!("columns {lo}..{hi} outside the site's width {w}")));
        }
        match iv.positions {
            Positions::Range(a, b) if a >= b || b > seq => {
                return Err(err(&iv.site, format!("positions {a}..{b} outside the sequence of {seq}")))
            }
            Positions::LastK(k) if k == 0 || k > seq => {
                return Err(err(&iv.site, format!("last {k} positions of a sequence of {seq}")))
            }
            Positions::One(p) if p >= seq => {
                return Err(err(&iv.site, format!("position {p} outside the sequence of {seq}")))
            }
            _ => {}
        }
        let vec_len = match &iv.edit {
            Edit::Add { vector, .. } | Edit::Set { vector } => Some(vector.len()),
            Edit::Mean { mean } => Some(mean.len()),
            _ => None,
        };
        if let Some(n) = vec_len.filter(|&n| n != w) {
            return Err(err(
                &iv.site,
                format!(
                    "a vector of {n} values for a site {w} wide (a direction from another model or site?)"
                ),
            ));
        }
        if let Edit::Clamp { lo, hi } = iv.edit {
            if lo > hi {
                return Err(err(&iv.site, format!("clamp to [{lo}, {hi}] is empty")));
            }
        }
    }
    Ok(())
}

/// The site named `name`, or an error naming what is wrong (unknown kind, layer out of range).
pub fn find<'a>(sites: &'a [SiteInfo], name: &str) -> Result<&'a SiteInfo> {
    if let Some(s) = sites.iter().find(|s| s.name == name) {
        return Ok(s);
    }
    let layers = sites.iter().map(|s| s.layer + 1).max().unwrap_or(0);
    let layer =
        name.strip_prefix("blocks.").and_then(|r| r.split('.').next()).and_then(|l| l.parse::<usize>().ok());
    let kinds: Vec<&str> = sites.iter().filter(|s| s.layer == 0).map(|s| s.kind).collect();
    Err(match layer {
        Some(l) if l >= layers => err(name, format!("layer {l} out of range: the model has {layers} layers")),
        _ => err(
            name,
            format!(
                "unknown site; this model has blocks.{{0..{}}}.{{{}}}",
                layers.saturating_sub(1),
                kinds.join(", ")
            ),
        ),
    })
}

/// Run `model` on `tokens` with `list` applied (in order at each site).
pub fn run(
    model: &dyn SeqModel,
    tokens: &Tensor,
    features: Option<&Tensor>,
    list: &[Intervention],
) -> Result<Output> {
    let (_, seq) = tokens.dims2().map_err(|e| err("run", e.to_string()))?;
    validate(model, seq, list)?;
    let mut captures = Vec::new();
    let mut hook = |site: Site, x: Tensor| -> crate::model::Result<Tensor> {
        let name = site.to_string();
        let mut x = x;
        for iv in list.iter().filter(|iv| iv.site == name) {
            x = apply(iv, x, &mut captures).map_err(|e| crate::model::ModelError {
                op: format!("intervention at {name}"),
                detail: e.to_string(),
            })?;
        }
        Ok(x)
    };
    let logits = model.forward_sites(tokens, features, &mut hook).map_err(|e| err("run", e.to_string()))?;
    Ok(Output { logits, captures })
}

/// `[1, seq, width]` mask of the edited entries.
fn mask(iv: &Intervention, seq: usize, width: usize) -> candle_core::Result<Tensor> {
    let pos = iv.positions.mask(seq);
    let (lo, hi) = iv.columns.unwrap_or((0, width));
    let m: Vec<f32> = pos
        .iter()
        .flat_map(|&p| (0..width).map(move |c| if (lo..hi).contains(&c) { p } else { 0.0 }))
        .collect();
    Tensor::from_vec(m, (1, seq, width), &Device::Cpu)
}

fn apply(iv: &Intervention, x: Tensor, captures: &mut Vec<(String, Tensor)>) -> candle_core::Result<Tensor> {
    let (b, seq, w) = x.dims3()?;
    let row = |v: &[f32]| Tensor::from_vec(v.to_vec(), (1, 1, w), &Device::Cpu);
    let replace = |x: &Tensor, with: &Tensor| -> candle_core::Result<Tensor> {
        let m = mask(iv, seq, w)?.broadcast_as((b, seq, w))?;
        m.where_cond_f32(with, x)
    };
    match &iv.edit {
        Edit::Capture => {
            captures.push((iv.site.clone(), x.clone()));
            Ok(x)
        }
        // scale 0 (and an all-zero vector) must leave x bit for bit: add nothing at all.
        Edit::Add { scale, .. } if *scale == 0.0 => Ok(x),
        Edit::Add { vector, scale } => {
            let delta = (row(vector)? * *scale as f64)?.broadcast_mul(&mask(iv, seq, w)?)?; // [1, seq, w]
            x.broadcast_add(&delta)
        }
        Edit::Set { vector } => replace(&x, &row(vector)?.broadcast_as((b, seq, w))?.contiguous()?),
        Edit::Mean { mean } => replace(&x, &row(mean)?.broadcast_as((b, seq, w))?.contiguous()?),
        Edit::Zero => replace(&x, &x.zeros_like()?),
        Edit::Clamp { lo, hi } => replace(&x, &x.clamp(*lo, *hi)?),
        Edit::Patch { cache } => {
            if cache.dims() != x.dims() {
                candle_core::bail!(
                    "patch cache {:?} does not match the activation {:?}",
                    cache.dims(),
                    x.dims()
                );
            }
            replace(&x, &cache.to_dtype(DType::F32)?)
        }
    }
}

/// Extension: select by a 0/1 f32 mask.
trait WhereF32 {
    fn where_cond_f32(&self, on: &Tensor, off: &Tensor) -> candle_core::Result<Tensor>;
}

impl WhereF32 for Tensor {
    /// `self` is a 0/1 mask: entries from `on` where 1, from `off` where 0 (exactly, no
    /// arithmetic on the kept values).
    fn where_cond_f32(&self, on: &Tensor, off: &Tensor) -> candle_core::Result<Tensor> {
        self.ne(0f32)?.where_cond(on, off)
    }
}
