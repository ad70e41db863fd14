//! The steering panel's engine side: one `SteerSpec` (everything a link needs to redo a
//! steering analysis, as short text fields), the requests the panel sends (build a direction,
//! steer one example, sweep the scale against random directions, probe, patch) and their
//! reports. Requests are stateless: each rebuilds its input sets and direction from the spec
//! and the run's weights, so the same link and run give the same numbers. The worker and the
//! main-thread fallback both call `handle`; `steer` does the work.

pub mod ops;
pub mod sets;

use serde::{Deserialize, Serialize};

use crate::core::csv::Table;
use crate::steer::directions::Direction;
use crate::steer::patch::PatchResult;
use crate::steer::sweep::{SweepResult, MIN_RANDOM};
use crate::steer::Positions;

/// One list of the spec's fields: its URL key, field and label (for errors). It makes `KEYS`
/// and the by-key accessors, so a new field is added in one place.
macro_rules! spec_keys {
    ($(($key:literal, $field:ident, $label:literal)),* $(,)?) => {
        /// The URL keys of the spec, with the label errors use. `steer` itself (the action a
        /// link runs once the run is trained) is read by the UI.
        pub const KEYS: &[(&str, &str)] = &[$(($key, $label)),*];

        impl SteerSpec {
            pub fn get(&self, key: &str) -> Option<&String> {
                match key {
                    $($key => Some(&self.$field),)*
                    _ => None,
                }
            }

            pub fn get_mut(&mut self, key: &str) -> Option<&mut String> {
                match key {
                    $($key => Some(&mut self.$field),)*
                    _ => None,
                }
            }
        }
    };
}

spec_keys![
    ("st_site", site, "site"),
    ("st_pos", positions, "positions"),
    ("st_a", a, "set A"),
    ("st_b", b, "set B"),
    ("st_n", n, "sequences per set"),
    ("st_seed", seed, "steering seed"),
    ("st_method", method, "direction method"),
    ("st_unit", unit, "scale unit"),
    ("st_scales", scales, "scales"),
    ("st_random", random, "random directions"),
    ("st_metric", metric, "effect metric"),
    ("st_labels", labels, "probe labels"),
    ("st_scale", scale, "example scale"),
    ("st_example", example, "example"),
];

/// Most sequences per set (activations of every sequence are held at once).
pub const MAX_SEQUENCES: usize = 1024;
/// Most random directions per sweep.
pub const MAX_RANDOM: usize = 200;

/// A steering analysis, as the panel's fields hold it (text, validated by `parse`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SteerSpec {
    /// e.g. `blocks.0.resid_post`.
    pub site: String,
    /// Where the direction is measured and injected: `all`, `lastK`, `P`, `A..B`.
    pub positions: String,
    pub a: String,
    pub b: String,
    pub n: String,
    pub seed: String,
    /// `mean` (difference of means) or `pc1` (first principal component of paired differences).
    pub method: String,
    /// `norm`: scale 1 adds the direction rescaled to the site's typical activation norm;
    /// `direction`: scale 1 adds the direction as measured.
    pub unit: String,
    pub scales: String,
    pub random: String,
    /// `toward_a`: share of set B's scored positions answered as set A's task would;
    /// `changed`: share of positions whose prediction changes.
    pub metric: String,
    /// Probe labels: `sets` (A vs B) or `random` (the control).
    pub labels: String,
    pub scale: String,
    pub example: String,
}

impl Default for SteerSpec {
    fn default() -> Self {
        SteerSpec {
            site: "blocks.0.resid_post".into(),
            positions: "all".into(),
            a: String::new(),
            b: String::new(),
            n: "64".into(),
            seed: "1".into(),
            method: "mean".into(),
            unit: "norm".into(),
            scales: "0,0.25,0.5,1,1.5,2,3".into(),
            random: MIN_RANDOM.to_string(),
            metric: "toward_a".into(),
            labels: "sets".into(),
            scale: "1".into(),
            example: "0".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Mean,
    Pc1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    TowardA,
    Changed,
}

/// A spec read and checked (apart from what needs the model: sites, sets).
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub site: String,
    pub positions: Positions,
    pub n: usize,
    pub seed: u64,
    pub method: Method,
    pub norm_unit: bool,
    pub scales: Vec<f32>,
    pub random: usize,
    pub metric: Metric,
    pub random_labels: bool,
    pub scale: f32,
    pub example: usize,
}

impl SteerSpec {
    /// The defaults for a task (its two regimes as sets A and B), then the `st_*` pairs of a
    /// link on top.
    pub fn from_pairs(task: &str, pairs: &[(String, String)]) -> SteerSpec {
        let mut s = SteerSpec::default();
        if let Ok(info) = crate::tasks::find(task) {
            (s.a, s.b) = sets::defaults(info);
            if info.name == "copy_reverse" {
                // The flagship (`engine::flagship`): the task token's direction at the input.
                s.site = "blocks.0.resid_pre".into();
                s.positions = "0".into();
                s.unit = "direction".into();
                s.scales = "0,0.25,0.5,0.75,1,1.5,2".into();
            }
        }
        for (k, v) in pairs {
            if let Some(f) = s.get_mut(k) {
                *f = v.clone();
            }
        }
        s
    }

    /// `st_*` pairs for a link: every field that differs from `base` (the task's defaults).
    pub fn to_pairs(&self, base: &SteerSpec) -> Vec<(String, String)> {
        KEYS.iter()
            .filter(|(k, _)| self.get(k) != base.get(k))
            .map(|(k, _)| (k.to_string(), self.get(k).cloned().unwrap_or_default()))
            .collect()
    }

    /// Check every field that needs no model; the message names the field.
    pub fn parse(&self) -> Result<Parsed, String> {
        let int = |v: &str, label: &str, lo: usize, hi: usize| -> Result<usize, String> {
            match v.trim().parse::<usize>() {
                Ok(x) if (lo..=hi).contains(&x) => Ok(x),
                _ => Err(format!("{label}: '{v}' is not a whole number in {lo}..={hi}")),
            }
        };
        let num = |v: &str, label: &str| -> Result<f32, String> {
            match v.trim().parse::<f32>() {
                Ok(x) if x.is_finite() && x.abs() <= 1e4 => Ok(x),
                _ => Err(format!("{label}: '{v}' is not a number between -10000 and 10000")),
            }
        };
        let scales: Vec<f32> = self
            .scales
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| num(s, "scales"))
            .collect::<Result<_, _>>()?;
        if scales.is_empty() || scales.len() > 64 {
            return Err(format!("scales: {} values; give 1 to 64, comma-separated", scales.len()));
        }
        Ok(Parsed {
            site: self.site.trim().to_string(),
            positions: Positions::parse(&self.positions).map_err(|e| format!("positions: {e}"))?,
            n: int(&self.n, "sequences per set", 2, MAX_SEQUENCES)?,
            seed: self
                .seed
                .trim()
                .parse()
                .map_err(|_| format!("steering seed: '{}' is not a whole number ≥ 0", self.seed))?,
            method: match self.method.as_str() {
                "mean" => Method::Mean,
                "pc1" => Method::Pc1,
                m => return Err(format!("direction method: '{m}' (expected mean or pc1)")),
            },
            norm_unit: match self.unit.as_str() {
                "norm" => true,
                "direction" => false,
                u => return Err(format!("scale unit: '{u}' (expected norm or direction)")),
            },
            scales,
            random: int(&self.random, "random directions", MIN_RANDOM, MAX_RANDOM)?,
            metric: match self.metric.as_str() {
                "toward_a" => Metric::TowardA,
                "changed" => Metric::Changed,
                m => return Err(format!("effect metric: '{m}' (expected toward_a or changed)")),
            },
            random_labels: match self.labels.as_str() {
                "sets" => false,
                "random" => true,
                l => return Err(format!("probe labels: '{l}' (expected sets or random)")),
            },
            scale: num(&self.scale, "example scale")?,
            example: int(&self.example, "example", 0, MAX_SEQUENCES - 1)?,
        })
    }
}

/// The site names a run of `cfg` will have (empty for families without sites), so the
/// panel can offer them before asking the worker.
pub fn site_names(cfg: &crate::core::TrainConfig) -> Vec<String> {
    let kinds = match cfg.model.as_str() {
        "transformer" => crate::model::transformer::SITE_KINDS,
        "dlr" | "s4d" => crate::model::dlr::SITE_KINDS,
        "mhssm" => crate::model::ssm_heads::SITE_KINDS,
        "lstm" | "gru" => crate::model::rnn::SITE_KINDS,
        _ => return Vec::new(),
    };
    crate::model::sites::list(cfg.layers, kinds, cfg.d_model).into_iter().map(|s| s.name).collect()
}

/// What the panel asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Direction,
    Example,
    Sweep,
    Probe,
    Patch,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Direction, Op::Example, Op::Sweep, Op::Probe, Op::Patch];

    pub fn name(self) -> &'static str {
        match self {
            Op::Direction => "direction",
            Op::Example => "example",
            Op::Sweep => "sweep",
            Op::Probe => "probe",
            Op::Patch => "patch",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SteerRequest {
    pub op: Op,
    pub spec: SteerSpec,
    /// A saved direction (JSON) to use instead of building one from the sets.
    #[serde(default)]
    pub direction: Option<String>,
}

/// The direction and how it sits in the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectionReport {
    pub direction: Direction,
    pub norm: f64,
    /// Mean activation norm at the site on set B.
    pub typical_norm: f64,
    pub a: String,
    pub b: String,
    /// The same recipe at the same kind of site in every layer: site names, norms, and the
    /// cosine between every pair.
    pub layers: Vec<String>,
    pub layer_norms: Vec<f64>,
    pub cosines: Vec<Vec<f64>>,
}

/// One sequence of set B, unsteered and steered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleReport {
    pub scale: f32,
    /// Norm of what is added at each steered position.
    pub added_norm: f64,
    pub tokens: Vec<String>,
    pub base: Vec<String>,
    pub steered: Vec<String>,
    /// Set A's answer on the same data (task sets of one shape), else empty.
    pub toward: Vec<String>,
    pub scored: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub result: SweepResult,
    /// Norm of the vector scale 1 adds.
    pub unit_norm: f64,
    pub typical_norm: f64,
    pub metric: String,
    pub n: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub labels: String,
    pub sites: Vec<String>,
    pub positions: Vec<usize>,
    /// Held-out accuracy `[sites][positions]`.
    pub accuracy: Vec<Vec<f64>>,
    /// A probe at the spec's site and positions (pooled): its held-out accuracy, its cosine
    /// with the steering direction, and its mean reading along every position of the
    /// held-out sets A and B.
    pub site: String,
    pub pooled_accuracy: f64,
    pub cosine: f64,
    pub readout_a: Vec<f64>,
    pub readout_b: Vec<f64>,
}

impl ProbeReport {
    pub fn to_csv(&self) -> String {
        let mut t = Table::new(&["site", "position", "labels", "test_accuracy"]);
        for (s, row) in self.sites.iter().zip(&self.accuracy) {
            for (p, a) in self.positions.iter().zip(row) {
                t.push(&[s.clone(), p.to_string(), self.labels.to_string(), a.to_string()]);
            }
        }
        t.finish()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchReport {
    pub result: PatchResult,
    /// What is measured: the mean logit of set A's answers (or the clean predictions).
    pub metric: String,
    /// Transformers: per layer and head, the fraction restored by patching that head's output
    /// from the clean run, and the clean run's metric with that head zeroed on the same
    /// 0 (corrupted) – 1 (clean) scale.
    pub heads: Vec<Vec<f64>>,
    pub ablation: Vec<Vec<f64>>,
    /// Wall time of the site × position sweep (ms, the caller's clock).
    pub ms: f64,
    pub sequences: usize,
}

impl PatchReport {
    pub fn to_csv(&self) -> String {
        let mut t = Table::new(&["site", "position", "restored"]);
        for (s, row) in self.result.sites.iter().zip(&self.result.restored) {
            for (p, r) in row.iter().enumerate() {
                t.push(&[s.clone(), p.to_string(), r.to_string()]);
            }
        }
        for (l, row) in self.heads.iter().enumerate() {
            for (h, r) in row.iter().enumerate() {
                t.push(&[format!("blocks.{l}.head.{h}"), "all".into(), r.to_string()]);
            }
        }
        t.finish()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SteerReply {
    Direction(DirectionReport),
    Example(ExampleReport),
    Sweep(SweepReport),
    Probe(ProbeReport),
    Patch(PatchReport),
}

/// A finished request: its reply or its error, and the direction report it built on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SteerOutcome {
    pub op: Op,
    pub reply: Result<SteerReply, String>,
    #[serde(default)]
    pub direction: Option<DirectionReport>,
}

/// Progress of a long request: what, done of total.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SteerProgress {
    pub what: String,
    pub done: usize,
    pub total: usize,
}

pub use ops::handle;
