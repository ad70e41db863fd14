//! LayerNorm (gain only, no bias) over the last dimension as one fused candle op with a
//! hand-written backward. Composed from candle primitives, its backward cost ~8 ms per call
//! on the default config's `[32, 48, 64]` activations (strided broadcast reductions); fused it
//! is two passes over the rows. `layer_norm_reference` keeps the composed version as the
//! oracle for the tests.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor, D};

use super::cpu_op::contiguous_f32;
use super::Result;

pub const LN_EPS: f32 = 1e-5;

/// `x`: `[.., d]`, `g`: `[d]` → `[.., d]`: `(x − mean) / sqrt(var + eps) · g`.
pub fn layer_norm(x: &Tensor, g: &Tensor) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op2(&g.contiguous()?, LayerNormOp)?)
}

/// The oracle, from candle primitives.
pub fn layer_norm_reference(x: &Tensor, g: &Tensor) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?; // [.., 1]
    let xc = x.broadcast_sub(&mean)?; // [.., d]
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?; // [.., 1]
    let xn = xc.broadcast_div(&(var + LN_EPS as f64)?.sqrt()?)?;
    Ok(xn.broadcast_mul(g)?)
}

struct LayerNormOp;

/// Mean and 1/std of one row (sums in f32, in order).
#[inline]
fn stats(row: &[f32]) -> (f32, f32) {
    let d = row.len() as f32;
    let mean = row.iter().sum::<f32>() / d;
    let var = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / d;
    (mean, 1.0 / (var + LN_EPS).sqrt())
}

impl CustomOp2 for LayerNormOp {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = l1.shape().dims().last().copied().unwrap_or(0);
        if l2.shape().dims() != [d] {
            return Err(candle_core::Error::Msg(format!(
                "layer_norm: gain {:?} must be [{d}] for input {:?}",
                l2.shape(),
                l1.shape()
            )));
        }
        let (x, g) =
            (contiguous_f32(s1, l1, "layer_norm", "x")?, contiguous_f32(s2, l2, "layer_norm", "gain")?);
        let mut y = vec![0f32; x.len()];
        for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
            let (mean, rstd) = stats(xr);
            for i in 0..d {
                yr[i] = (xr[i] - mean) * rstd * g[i];
            }
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x_t: &Tensor,
        g_t: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let d = g_t.elem_count();
        let x: Vec<f32> = x_t.flatten_all()?.to_vec1()?;
        let g: Vec<f32> = g_t.to_vec1()?;
        let dy: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let mut dx = vec![0f32; x.len()];
        let mut dg = vec![0f32; d];
        let mut xhat = vec![0f32; d];
        for ((xr, dyr), dxr) in x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
            let (mean, rstd) = stats(xr);
            // dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)), with ĝ = dy · g
            let (mut m1, mut m2) = (0f32, 0f32);
            for i in 0..d {
                xhat[i] = (xr[i] - mean) * rstd;
                let gh = dyr[i] * g[i];
                m1 += gh;
                m2 += gh * xhat[i];
                dg[i] += dyr[i] * xhat[i];
            }
            m1 /= d as f32;
            m2 /= d as f32;
            for i in 0..d {
                dxr[i] = rstd * (dyr[i] * g[i] - m1 - xhat[i] * m2);
            }
        }
        Ok((
            Some(Tensor::from_vec(dx, x_t.shape(), x_t.device())?),
            Some(Tensor::from_vec(dg, d, g_t.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Fused vs composed, f32 with different summation orders.
    const LN_TOL: f32 = 2e-5;

    fn var(shape: &[usize], seed: u64, offset: f32) -> Var {
        let mut rng = crate::core::Rng::new(seed);
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| rng.normal() + offset).collect();
        Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu).unwrap()).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
    }

    #[test]
    fn fused_matches_composed_values_and_gradients() {
        for (i, shape) in [vec![1, 1], vec![7, 5], vec![2, 3, 64], vec![257, 7]].into_iter().enumerate() {
            let d = *shape.last().unwrap();
            let x = var(&shape, i as u64, 0.5);
            let g = var(&[d], 50 + i as u64, 1.0);
            let w = var(&shape, 90 + i as u64, 0.0);
            let a = layer_norm(x.as_tensor(), g.as_tensor()).unwrap();
            let b = layer_norm_reference(x.as_tensor(), g.as_tensor()).unwrap();
            assert!(max_diff(&a, &b) < LN_TOL, "{shape:?} values {}", max_diff(&a, &b));
            let ga = (a * w.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
            let gb = (b * w.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
            for (name, v) in [("x", &x), ("g", &g)] {
                let (p, q) = (ga.get(v.as_tensor()).unwrap(), gb.get(v.as_tensor()).unwrap());
                assert!(max_diff(p, q) < LN_TOL * 10.0, "{shape:?} grad {name}: {}", max_diff(p, q));
            }
        }
    }
}
