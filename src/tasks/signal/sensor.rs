//! Sensor-to-quantity regression, in the spirit of HiSS (Bhirangi et al., "Hierarchical State
//! Space Models for Continuous Sequence-to-Sequence Modeling", 2024): read several noisy,
//! drifting sensor channels and output the physical quantity behind them at every step,
//! scored by mean squared error.
//!
//! Hidden quantity (the target, one channel): a velocity following a stationary AR(1)
//! process `v_0 ~ N(0, 1)`, `v_t = rho * v_{t-1} + sqrt(1 - rho^2) * e_t`, `rho = smoothness`.
//!
//! Sensors (`channels` = C continuous inputs in `row.features`, `[seq_len, C]`): channel `c`
//! reads the velocity's change, like an accelerometer,
//! `s_t[c] = g_c * (v_t - v_{t-1}) + b_t[c] + noise * n_t[c]` with `v_{-1} = 0`, gain
//! `g_c = 1 + c / 2` (1, 1.5, 2, ...), white noise `n ~ N(0, 1)`, and a bias drift random walk
//! `b_0[c] = 0`, `b_t[c] = b_{t-1}[c] + drift * w_t[c]`, `w ~ N(0, 1)`. Without noise and drift
//! the target is exactly the running sum of any channel divided by its gain; with them the
//! model must fuse channels and filter.
//!
//! Input token: the constant 0 (vocab 1, label "·"). Every position is scored.
//!
//! Source: HiSS's task shape (continuous sensor sequence in, physical quantity sequence out,
//! MSE); the generative model here is ours, not one of HiSS's datasets.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "sensor",
    title: "Sensor to velocity",
    family: "Continuous",
    description: "recover a smooth hidden velocity from noisy, drifting sensors that read its change",
    source: "HiSS-like (Bhirangi et al. 2024, Hierarchical State Space Models): sensor sequence to physical quantity, MSE",
    params: PARAMS,
    build,
};

/// Most sensor channels (also the size of the per-row drift state).
const MAX_CHANNELS: usize = 16;
/// Largest allowed `drift * sqrt(seq_len)`: the bias's typical excursion by the end of a
/// sequence, against velocity changes of order 1.
const MAX_DRIFT_EXCURSION: f64 = 8.0;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "channels",
        "Sensor channels",
        "inputs per position; channel c has gain 1 + c/2",
        3,
        1,
        MAX_CHANNELS as u64,
    ),
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "positions, all scored; drift x sqrt(seq_len) <= 8",
        128,
        2,
        MAX_SEQ_LEN as u64,
    ),
    ParamSpec::float(
        "smoothness",
        "Smoothness rho",
        "velocity AR(1) coefficient: 0 = white, near 1 = slow",
        0.95,
        0.0,
        0.999,
    ),
    ParamSpec::float("noise", "Sensor noise", "std of white noise added to every reading", 0.05, 0.0, 1.0),
    ParamSpec::float(
        "drift",
        "Bias drift",
        "std of the bias random walk's steps; drift x sqrt(seq_len) <= 8",
        0.01,
        0.0,
        0.5,
    ),
];

#[derive(Clone, Debug, PartialEq)]
pub struct Sensor {
    params: Params,
    pub channels: usize,
    pub seq_len: usize,
    pub smoothness: f64,
    pub noise: f64,
    pub drift: f64,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    Ok(Box::new(Sensor::from_params(params)?))
}

impl Sensor {
    pub fn from_params(params: Params) -> Result<Self, ConfigError> {
        let (channels, seq_len) = (params.usize("channels"), params.usize("seq_len"));
        let (smoothness, noise, drift) = (params.get("smoothness"), params.get("noise"), params.get("drift"));
        let mut c = Checks::default();
        let excursion = drift * (seq_len as f64).sqrt();
        c.check(excursion > MAX_DRIFT_EXCURSION, "drift", || {
            format!(
                "{drift} makes the sensor bias wander about {excursion:.1} over seq_len {seq_len} (drift x sqrt(seq_len)), \
                 swamping the signal; keep it at most {MAX_DRIFT_EXCURSION}, i.e. drift <= {:.4} at this length",
                MAX_DRIFT_EXCURSION / (seq_len as f64).sqrt()
            )
        });
        c.finish()?;
        Ok(Sensor { params, channels, seq_len, smoothness, noise, drift })
    }

    /// Gain of sensor channel `c`.
    pub fn gain(c: usize) -> f64 {
        1.0 + c as f64 / 2.0
    }
}

impl Task for Sensor {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.seq_len,
            vocab: 1,
            features: self.channels,
            output: Output::Regression { channels: 1 },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let (ch, l, rho) = (self.channels, self.seq_len, self.smoothness);
        let innovation = (1.0 - rho * rho).sqrt();
        let mut bias = [0.0f64; MAX_CHANNELS]; // b_t[c]
        let mut v_prev = 0.0f64; // v_{-1} = 0
        for t in 0..l {
            let e = rng.normal() as f64;
            let v = if t == 0 { e } else { rho * v_prev + innovation * e };
            let dv = v - v_prev;
            let s = &mut row.features[t * ch..(t + 1) * ch]; // [channels] at position t
            for (c, (x, b)) in s.iter_mut().zip(bias.iter_mut()).enumerate() {
                if t > 0 {
                    *b += self.drift * rng.normal() as f64;
                }
                let n = rng.normal() as f64;
                *x = (Self::gain(c) * dv + *b + self.noise * n) as f32;
            }
            row.values[t] = v as f32; // [seq_len, 1]
            row.mask[t] = 1.0;
            v_prev = v;
        }
    }

    fn token_label(&self, _token: u32) -> String {
        "·".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, f64)]) -> Result<Sensor, ConfigError> {
        Sensor::from_params(Params::with(PARAMS, pairs))
    }

    #[test]
    fn drift_that_swamps_a_long_sequence_is_refused() {
        let e = with(&[("drift", 0.5), ("seq_len", 1024.0)]).unwrap_err();
        let m = e.for_field("drift").unwrap();
        assert!(m.contains("at most 8") && m.contains("drift <= 0.2500"), "{m}");
        assert!(with(&[("drift", 0.25), ("seq_len", 1024.0)]).is_ok());
    }

    #[test]
    fn clean_sensors_integrate_to_the_target() {
        let t = with(&[("noise", 0.0), ("drift", 0.0), ("channels", 2.0)]).unwrap();
        let b = t.generate(3, 1);
        let mut sum = 0.0f64;
        for p in 0..t.seq_len {
            sum += b.features_data[p * 2 + 1] as f64 / 1.5;
            assert!((sum - b.values[p] as f64).abs() < 1e-4, "pos {p}: {sum} vs {}", b.values[p]);
        }
    }
}
