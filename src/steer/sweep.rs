//! Steering with a baseline ("Compared to What?"): a direction injected at a site over a
//! sweep of scales, and the same sweep for `random` directions of equal norm drawn from a
//! seeded Gaussian. Each scale reports the concept's mean effect, its percentile among the
//! random directions' mean effects, and a paired per-sample p-value: a one-sided sign-flip
//! permutation test of `effect_i(concept) − mean_k effect_i(random_k)` over the samples.

use candle_core::{Tensor, D};

use super::directions::Direction;
use super::intervene::{run, Edit, Intervention, Positions};
use super::{err, Ctx, Result};
use crate::core::csv::Table;
use crate::core::Rng;
use crate::model::SeqModel;

/// At least this many random directions accompany every sweep.
pub const MIN_RANDOM: usize = 20;
/// Sign-flip permutations per p-value.
pub const PERMUTATIONS: usize = 2000;

/// A per-sample effect of steered logits `[b·l, out]` (e.g. `flip_rate`).
pub type Metric<'a> = dyn Fn(&Tensor) -> Result<Vec<f64>> + 'a;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepResult {
    pub site: String,
    pub scales: Vec<f32>,
    /// Mean effect of the concept direction at each scale.
    pub effect: Vec<f64>,
    /// Mean effect of each random direction at each scale: `[random][scale]`.
    pub random: Vec<Vec<f64>>,
    /// Share of random directions the concept beats at each scale (ties count half).
    pub percentile: Vec<f64>,
    /// One-sided paired p-value at each scale.
    pub p_value: Vec<f64>,
}

impl SweepResult {
    /// One row per scale: scale, effect, random mean, random min, random max, percentile, p.
    pub fn to_csv(&self) -> String {
        let mut t = Table::new(&[
            "site",
            "scale",
            "effect",
            "random_mean",
            "random_min",
            "random_max",
            "percentile",
            "p_value",
        ]);
        for (j, s) in self.scales.iter().enumerate() {
            let r: Vec<f64> = self.random.iter().map(|x| x[j]).collect();
            let mean = r.iter().sum::<f64>() / r.len().max(1) as f64;
            let (lo, hi) =
                r.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            t.push(&[
                self.site.clone(),
                s.to_string(),
                self.effect[j].to_string(),
                mean.to_string(),
                lo.to_string(),
                hi.to_string(),
                self.percentile[j].to_string(),
                self.p_value[j].to_string(),
            ]);
        }
        t.finish()
    }
}

/// Per sample (row of `targets` `[b][l]`), the share of masked positions whose arg-max equals
/// the target: with the other regime's answers as targets, the flip rate.
pub fn flip_rate<'a>(
    targets: &'a [Vec<u32>],
    mask: &'a [Vec<bool>],
    classes: usize,
) -> impl Fn(&Tensor) -> Result<Vec<f64>> + 'a {
    move |logits: &Tensor| {
        let pred: Vec<u32> = logits
            .reshape(((), classes))
            .at("flip_rate")?
            .argmax(D::Minus1)
            .at("flip_rate")?
            .to_vec1()
            .at("flip_rate")?;
        let l = targets.first().map_or(0, Vec::len);
        Ok(targets
            .iter()
            .zip(mask)
            .enumerate()
            .map(|(i, (t, m))| {
                let scored = m.iter().filter(|&&x| x).count().max(1);
                (0..l).filter(|&p| m[p] && pred[i * l + p] == t[p]).count() as f64 / scored as f64
            })
            .collect())
    }
}

fn steered(
    model: &dyn SeqModel,
    tokens: &Tensor,
    site: &str,
    positions: Positions,
    v: &[f32],
    scale: f32,
    metric: &Metric,
) -> Result<Vec<f64>> {
    let out = run(
        model,
        tokens,
        None,
        &[Intervention::new(site, positions, Edit::Add { vector: v.to_vec(), scale })],
    )?;
    metric(&out.logits)
}

/// Random Gaussian directions with `norm`, `width` wide, from `seed`.
pub fn random_directions(seed: u64, n: usize, width: usize, norm: f64) -> Vec<Vec<f32>> {
    let mut rng = Rng::fork(seed, "steer.random_directions");
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..width).map(|_| rng.normal() as f64).collect();
            let len = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-30);
            v.into_iter().map(|x| (x / len * norm) as f32).collect()
        })
        .collect()
}

/// One-sided sign-flip permutation p-value for mean(d) > 0.
pub fn sign_flip_p(d: &[f64], seed: u64) -> f64 {
    let n = d.len().max(1) as f64;
    let obs = d.iter().sum::<f64>() / n;
    let mut rng = Rng::fork(seed, "steer.sign_flip");
    let hits = (0..PERMUTATIONS)
        .filter(|_| {
            d.iter().map(|x| if rng.next_u64() & 1 == 1 { *x } else { -*x }).sum::<f64>() / n >= obs - 1e-12
        })
        .count();
    (1 + hits) as f64 / (1 + PERMUTATIONS) as f64
}

/// What a sweep varies: the scales, where they apply, and its random baseline.
#[derive(Clone, Copy, Debug)]
pub struct SweepSpec<'a> {
    /// Where in the sequence the direction is added.
    pub positions: Positions,
    /// Multiples of the direction to add, in order.
    pub scales: &'a [f32],
    /// Random directions of the same norm (at least `MIN_RANDOM`).
    pub random: usize,
    /// Seed of the random directions and of the sign-flip test.
    pub seed: u64,
}

/// Sweep `dir` over `spec.scales` at `spec.positions` of `tokens` `[b, l]`, with
/// `spec.random` ≥ 20 random directions of the same norm (seeded), scoring each run with
/// `metric`.
pub fn sweep(
    model: &dyn SeqModel,
    tokens: &Tensor,
    dir: &Direction,
    spec: &SweepSpec,
    metric: &Metric,
) -> Result<SweepResult> {
    let SweepSpec { positions, scales, random, seed } = *spec;
    if random < MIN_RANDOM {
        return Err(err(
            "sweep",
            format!("{random} random directions: at least {MIN_RANDOM} are needed for a baseline"),
        ));
    }
    if scales.is_empty() {
        return Err(err("sweep", "no scales to sweep".into()));
    }
    let rand = random_directions(seed, random, dir.vector.len(), dir.norm());
    let (mut effect, mut rmeans, mut pct, mut p) =
        (Vec::new(), vec![Vec::new(); random], Vec::new(), Vec::new());
    for &s in scales {
        let c = steered(model, tokens, &dir.site, positions, &dir.vector, s, metric)?;
        let rs: Vec<Vec<f64>> = rand
            .iter()
            .map(|v| steered(model, tokens, &dir.site, positions, v, s, metric))
            .collect::<Result<_>>()?;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let e = mean(&c);
        let ms: Vec<f64> = rs.iter().map(|r| mean(r)).collect();
        for (k, m) in ms.iter().enumerate() {
            rmeans[k].push(*m);
        }
        pct.push(
            ms.iter()
                .map(|&m| {
                    if e > m {
                        1.0
                    } else if e == m {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
                / random as f64,
        );
        let d: Vec<f64> =
            (0..c.len()).map(|i| c[i] - rs.iter().map(|r| r[i]).sum::<f64>() / random as f64).collect();
        // Seeded by the scale's value, so sweeping scales one at a time gives the same numbers.
        p.push(sign_flip_p(&d, seed ^ s.to_bits() as u64));
        effect.push(e);
    }
    Ok(SweepResult {
        site: dir.site.clone(),
        scales: scales.to_vec(),
        effect,
        random: rmeans,
        percentile: pct,
        p_value: p,
    })
}

/// The mean L2 norm of the activation vectors at `site` (the natural unit for scales).
pub fn typical_norm(model: &dyn SeqModel, tokens: &Tensor, site: &str) -> Result<f64> {
    let acts = super::directions::capture(model, tokens, site)?;
    let norms: Vec<f64> =
        acts.iter().flatten().map(|v| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt()).collect();
    Ok(norms.iter().sum::<f64>() / norms.len().max(1) as f64)
}
