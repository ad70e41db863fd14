//! Lag-operator map: a fixed linear map of the last `lags` inputs, the target family of
//! "How many heads make an SSM?" (a linear SSM whose lag operators span a `k`-dimensional
//! space needs `H = k` heads to express every map in that span).
//!
//! Layout: one continuous input channel `u_t ~ N(0, 1)`, i.i.d. over positions and rows, in
//! `row.features` (`[seq_len, 1]`). The input token is the constant 0 (vocab 1, label "·").
//!
//! Target: `outputs` = m real channels, `y_t[j] = sum_{i=0}^{k-1} A[j, i] * u_{t-i}` with
//! `k = lags` and `u` before the start taken as 0. The matrix `A` (`[m, k]`, row-major, entries
//! `N(0, 1) / sqrt(k)`) is drawn once from `Rng::fork(map_seed, "lag_map.coefficients")` and
//! is the same for every sequence and every batch seed: the model learns one map.
//!
//! Scored: every channel at positions `t >= k - 1`, where the whole window of `k` inputs lies
//! inside the sequence. The first `k - 1` positions still hold their (zero-padded) targets
//! but are not scored, so the map is learned only from full windows.
//!
//! Source: the paper's lag-operator construction, in words; the coefficient distribution and
//! the scored positions are our choices.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "lag_map",
    title: "Lag map",
    family: "Continuous",
    description: "regress a fixed linear map of the last k inputs: k lag operators need k heads",
    source:
        "\"How many heads make an SSM?\" (lag-operator span needs H = k heads); fixed random coefficients",
    params: PARAMS,
    build,
};

/// Most output channels (also the size of the per-position accumulator).
const MAX_OUTPUTS: usize = 16;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "outputs",
        "Output channels",
        "real targets per position, each a mix of the lags",
        4,
        1,
        MAX_OUTPUTS as u64,
    ),
    ParamSpec::int(
        "lags",
        "Lags k",
        "inputs u_t .. u_{t-k+1} each target depends on; at most seq_len",
        4,
        1,
        64,
    ),
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "positions per sequence; t >= lags-1 are scored",
        64,
        1,
        MAX_SEQ_LEN as u64,
    ),
    ParamSpec::int(
        "map_seed",
        "Map seed",
        "fixes the coefficient matrix A (same for every sequence)",
        0,
        0,
        1_000_000,
    ),
];

#[derive(Clone, Debug, PartialEq)]
pub struct LagMap {
    params: Params,
    pub outputs: usize,
    pub lags: usize,
    pub seq_len: usize,
    /// `A` stored lag-major, `[lags, outputs]`: `by_lag[i * outputs + j] = A[j, i]` multiplies
    /// `u_{t-i}` in output `j` (so one lag updates all outputs in a contiguous run).
    by_lag: Vec<f64>,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    Ok(Box::new(LagMap::from_params(params)?))
}

impl LagMap {
    pub fn new(outputs: usize, lags: usize, seq_len: usize) -> Result<Self, ConfigError> {
        let mut p = Params::defaults(PARAMS);
        p.set("outputs", outputs as f64);
        p.set("lags", lags as f64);
        p.set("seq_len", seq_len as f64);
        LagMap::from_params(p)
    }

    pub fn from_params(params: Params) -> Result<Self, ConfigError> {
        let (outputs, lags, seq_len) =
            (params.usize("outputs"), params.usize("lags"), params.usize("seq_len"));
        let mut c = Checks::default();
        c.check(lags > seq_len, "lags", || {
            format!("{lags} lags do not fit in seq_len {seq_len}: a full window of {lags} inputs needs seq_len >= {lags}")
        });
        c.finish()?;
        let mut rng = Rng::fork(params.get("map_seed") as u64, "lag_map.coefficients");
        let scale = 1.0 / (lags as f64).sqrt();
        let a: Vec<f64> = (0..outputs * lags).map(|_| rng.normal() as f64 * scale).collect(); // [outputs, lags]
        let by_lag = (0..lags * outputs).map(|x| a[(x % outputs) * lags + x / outputs]).collect();
        Ok(LagMap { params, outputs, lags, seq_len, by_lag })
    }

    /// The coefficient `A[j, i]` of `u_{t-i}` in output `j`.
    pub fn coef(&self, j: usize, i: usize) -> f64 {
        self.by_lag[i * self.outputs + j]
    }
}

impl Task for LagMap {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.seq_len,
            vocab: 1,
            features: 1,
            output: Output::Regression { channels: self.outputs },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let (m, k, l) = (self.outputs, self.lags, self.seq_len);
        let u = row.features; // [seq_len, 1]
        for x in u.iter_mut() {
            *x = rng.normal();
        }
        // Inputs stay the constant token 0.
        let mut acc = [0.0f64; MAX_OUTPUTS];
        let acc = &mut acc[..m];
        for t in 0..l {
            let window = k.min(t + 1); // u before the start is 0
            acc.fill(0.0);
            for (i, a) in self.by_lag[..window * m].chunks_exact(m).enumerate() {
                let ui = u[t - i] as f64;
                for (s, &aji) in acc.iter_mut().zip(a) {
                    *s += aji * ui;
                }
            }
            let scored = if t + 1 >= k { 1.0 } else { 0.0 };
            for (y, &a) in row.values[t * m..(t + 1) * m].iter_mut().zip(acc.iter()) {
                *y = a as f32; // values: [seq_len, outputs]
            }
            row.mask[t * m..(t + 1) * m].fill(scored);
        }
    }

    fn token_label(&self, _token: u32) -> String {
        "·".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_longer_than_the_sequence_are_refused() {
        let e = LagMap::new(4, 16, 8).unwrap_err();
        assert!(e.for_field("lags").unwrap().contains("seq_len >= 16"), "{e}");
        assert!(LagMap::new(4, 8, 8).is_ok());
    }

    #[test]
    fn map_is_fixed_by_map_seed_and_scaled_by_lags() {
        let a = LagMap::new(16, 64, 64).unwrap();
        let b = LagMap::new(16, 64, 64).unwrap();
        assert_eq!(a.by_lag, b.by_lag);
        let mut p = Params::defaults(PARAMS);
        p.set("lags", 64.0);
        p.set("outputs", 16.0);
        p.set("map_seed", 1.0);
        assert_ne!(LagMap::from_params(p).unwrap().by_lag, a.by_lag);
        // Entries N(0, 1/k): mean square about 1/64 over 1024 draws.
        let ms = a.by_lag.iter().map(|c| c * c).sum::<f64>() / a.by_lag.len() as f64;
        assert!((ms * 64.0 - 1.0).abs() < 0.2, "{ms}");
        // A is drawn row by row: A[j, i] is draw j*k + i of the map's stream.
        let mut rng = Rng::fork(0, "lag_map.coefficients");
        let draws: Vec<f64> = (0..16 * 64).map(|_| rng.normal() as f64 / 8.0).collect();
        assert_eq!((a.coef(0, 1), a.coef(2, 5)), (draws[1], draws[2 * 64 + 5]));
    }

    #[test]
    fn only_full_windows_are_scored() {
        let t = LagMap::new(2, 3, 5).unwrap();
        let b = t.generate(7, 1);
        let scored: Vec<f32> = (0..5).map(|p| b.mask[p * 2]).collect();
        assert_eq!(scored, [0.0, 0.0, 1.0, 1.0, 1.0]);
        // The first position sees only u_0; the third (first scored) the full window.
        let u: Vec<f64> = b.features_data.iter().map(|&x| x as f64).collect();
        assert!((b.values[1] as f64 - t.coef(1, 0) * u[0]).abs() < 1e-6);
        let y = t.coef(1, 0) * u[2] + t.coef(1, 1) * u[1] + t.coef(1, 2) * u[0];
        assert!((b.values[2 * 2 + 1] as f64 - y).abs() < 1e-6);
    }
}
