//! Seeded parameter initialisation: values are drawn from `core::Rng` on the host and then
//! copied into candle, so the same seed gives the same weights on every platform.

use candle_core::{Device, Tensor, Var};

use super::Result;
use crate::core::Rng;

/// A `[rows, cols]` (or any shape) variable with N(0, std²) entries.
pub fn normal(rng: &mut Rng, shape: &[usize], std: f32) -> Result<Var> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.normal() * std).collect();
    Ok(Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu)?)?)
}

/// A variable filled with a constant.
pub fn constant(shape: &[usize], value: f32) -> Result<Var> {
    let n: usize = shape.iter().product();
    Ok(Var::from_tensor(&Tensor::from_vec(vec![value; n], shape, &Device::Cpu)?)?)
}
