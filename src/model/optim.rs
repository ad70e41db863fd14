//! AdamW with decoupled weight decay, global-norm gradient clipping, and a warmup + cosine
//! learning-rate schedule. The update runs on host `Vec<f32>`s in a fixed order (sums in
//! f64), so it is bit-reproducible and serves as the oracle for the GPU optimiser.

use candle_core::{backprop::GradStore, Tensor, Var};

use super::{Context, Result};

/// Linear warmup to `peak`, then cosine decay to `peak * final_frac` at `total` steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub peak: f64,
    pub warmup: usize,
    pub total: usize,
    pub final_frac: f64,
}

impl Schedule {
    /// Learning rate for 0-based `step`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        let span = (self.total.saturating_sub(self.warmup)).max(1) as f64;
        let progress = ((step - self.warmup) as f64 / span).min(1.0);
        let floor = self.peak * self.final_frac;
        floor + 0.5 * (self.peak - floor) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// One parameter's optimiser state.
struct Slot {
    m: Vec<f32>,
    v: Vec<f32>,
    decay: bool,
}

pub struct AdamW {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub clip: f64,
    t: u64,
    slots: Vec<Slot>,
}

/// What one update did, for display.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdateStats {
    /// Global gradient L2 norm before clipping.
    pub grad_norm: f64,
    pub lr: f64,
}

impl AdamW {
    /// `decay[i]` says whether parameter `i` gets weight decay (matrices yes, gains and biases no).
    pub fn new(params: &[&Var], decay: &[bool], weight_decay: f64, clip: f64) -> Self {
        let slots = params
            .iter()
            .zip(decay)
            .map(|(p, &d)| {
                let n = p.as_tensor().elem_count();
                Slot { m: vec![0.0; n], v: vec![0.0; n], decay: d }
            })
            .collect();
        AdamW { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay, clip, t: 0, slots }
    }

    /// The step count and the moments `(t, m, v)`, one `m` and `v` per parameter in
    /// construction order (saved in run bundles).
    pub fn state(&self) -> (u64, Vec<&[f32]>, Vec<&[f32]>) {
        (
            self.t,
            self.slots.iter().map(|s| s.m.as_slice()).collect(),
            self.slots.iter().map(|s| s.v.as_slice()).collect(),
        )
    }

    /// Replace the moments and step count (state computed elsewhere: the GPU engine), one
    /// `(m, v)` per parameter in construction order.
    pub fn set_state(
        &mut self,
        t: u64,
        m: Vec<Vec<f32>>,
        v: Vec<Vec<f32>>,
    ) -> std::result::Result<(), String> {
        if m.len() != self.slots.len() || v.len() != self.slots.len() {
            return Err(format!(
                "adamw.set_state: {} / {} moment tensors for {} parameters",
                m.len(),
                v.len(),
                self.slots.len()
            ));
        }
        for (i, ((slot, m), v)) in self.slots.iter_mut().zip(m).zip(v).enumerate() {
            if m.len() != slot.m.len() || v.len() != slot.v.len() {
                return Err(format!(
                    "adamw.set_state: parameter {i} has {} values, the moments {} and {}",
                    slot.m.len(),
                    m.len(),
                    v.len()
                ));
            }
            slot.m = m;
            slot.v = v;
        }
        self.t = t;
        Ok(())
    }

    /// Clip gradients to `clip` global norm, then apply one AdamW update with rate `lr`.
    pub fn step(&mut self, params: &[&Var], grads: &GradStore, lr: f64) -> Result<UpdateStats> {
        let mut gs: Vec<Vec<f32>> = Vec::with_capacity(params.len());
        for p in params {
            let g = match grads.get(p.as_tensor()) {
                Some(g) => g.flatten_all()?.to_vec1::<f32>().op("adamw.read_grad")?,
                None => vec![0.0; p.as_tensor().elem_count()], // parameter unused this step
            };
            gs.push(g);
        }
        let sq: f64 = gs.iter().flat_map(|g| g.iter()).map(|&x| (x as f64) * (x as f64)).sum();
        let grad_norm = sq.sqrt();
        let scale = if self.clip > 0.0 && grad_norm > self.clip { self.clip / grad_norm } else { 1.0 };

        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t as i32);
        let bc2 = 1.0 - self.beta2.powi(self.t as i32);
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        for ((p, g), slot) in params.iter().zip(&gs).zip(&mut self.slots) {
            let mut w = p.as_tensor().flatten_all()?.to_vec1::<f32>().op("adamw.read_param")?;
            let decay = if slot.decay { (1.0 - lr * self.weight_decay) as f32 } else { 1.0 };
            for i in 0..w.len() {
                let gi = g[i] * scale as f32;
                slot.m[i] = b1 * slot.m[i] + (1.0 - b1) * gi;
                slot.v[i] = b2 * slot.v[i] + (1.0 - b2) * gi * gi;
                let mhat = slot.m[i] as f64 / bc1;
                let vhat = slot.v[i] as f64 / bc2;
                w[i] = w[i] * decay - (lr * mhat / (vhat.sqrt() + self.eps)) as f32;
            }
            let t = Tensor::from_vec(w, p.as_tensor().shape(), p.as_tensor().device())?;
            p.set(&t).op("adamw.write_param")?;
        }
        Ok(UpdateStats { grad_norm, lr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedule_warms_up_then_decays_to_floor() {
        let s = Schedule { peak: 1.0, warmup: 10, total: 110, final_frac: 0.1 };
        assert!((s.lr(0) - 0.1).abs() < 1e-12);
        assert!((s.lr(9) - 1.0).abs() < 1e-12);
        assert!((s.lr(10) - 1.0).abs() < 1e-12);
        assert!((s.lr(60) - 0.55).abs() < 1e-12);
        assert!((s.lr(110) - 0.1).abs() < 1e-12);
        assert!((s.lr(500) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn minimises_a_quadratic_and_clips() {
        // f(w) = sum((w - 3)^2); gradient is huge at the start and must be clipped to 1.
        let w = Var::from_tensor(&Tensor::from_vec(vec![100f32, -100.0], 2, &Device::Cpu).unwrap()).unwrap();
        let mut opt = AdamW::new(&[&w], &[false], 0.0, 1.0);
        let mut first_norm = 0.0;
        for i in 0..2000 {
            let loss = (w.as_tensor() - 3.0).unwrap().sqr().unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let st = opt.step(&[&w], &grads, 0.5).unwrap();
            if i == 0 {
                first_norm = st.grad_norm;
            }
        }
        assert!(first_norm > 100.0);
        let v: Vec<f32> = w.as_tensor().to_vec1().unwrap();
        assert!(v.iter().all(|x| (x - 3.0).abs() < 0.05), "{v:?}");
    }
}
