//! Independent checks for the signal family (lag map, sensor). Neither reads the generator's
//! coefficients or state: the lag map is recovered by least squares from the data, the sensor
//! model by integrating the readings and by the statistics of their residuals.

use interlab::tasks::{self, Batch, Task};

use super::Checker;

pub fn checker(name: &str) -> Option<Checker> {
    Some(match name {
        "lag_map" => lag_map,
        "sensor" => sensor,
        _ => return None,
    })
}

/// Solve `g x = h` (`g` is `[n, n]` row-major) by Gaussian elimination with partial pivoting;
/// `None` when a pivot vanishes.
fn solve(mut g: Vec<f64>, mut h: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let mut piv = col;
        for r in col + 1..n {
            if g[r * n + col].abs() > g[piv * n + col].abs() {
                piv = r;
            }
        }
        if g[piv * n + col].abs() < 1e-9 {
            return None;
        }
        if piv != col {
            for c in 0..n {
                g.swap(piv * n + c, col * n + c);
            }
            h.swap(piv, col);
        }
        for r in col + 1..n {
            let f = g[r * n + col] / g[col * n + col];
            for c in col..n {
                g[r * n + c] -= f * g[col * n + c];
            }
            h[r] -= f * h[col];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let mut acc = h[r];
        for c in r + 1..n {
            acc -= g[r * n + c] * x[c];
        }
        x[r] = acc / g[r * n + r];
    }
    Some(x)
}

/// A least-squares fit of every output channel on `q` lags.
struct Fit {
    samples: usize,
    /// `[channels][q]`: `coef[j][i]` multiplies `u_{t-i}`.
    coef: Vec<Vec<f64>>,
    /// Per channel: the largest residual and where it is `(value, row, position)`.
    max_resid: Vec<(f64, usize, usize)>,
    rms: Vec<f64>,
}

/// Fit `y_t[j]` on `(u_t, ..., u_{t-q+1})` over the positions `t >= k - 1` of the rows in
/// order (at most `cap` of them) through the normal equations.
fn fit(b: &Batch, k: usize, q: usize, cap: usize) -> Result<Fit, String> {
    let (m, l) = (b.channels, b.seq_len);
    let samples: Vec<(usize, usize)> =
        (0..b.batch).flat_map(|r| (k - 1..l).map(move |t| (r, t))).take(cap).collect();
    let mut g = vec![0.0; q * q]; // [q, q]
    let mut h = vec![vec![0.0; q]; m]; // [channels][q]
    for &(r, t) in &samples {
        let row = b.row(r);
        for i in 0..q {
            let ui = row.features[t - i] as f64;
            for i2 in 0..q {
                g[i * q + i2] += ui * row.features[t - i2] as f64;
            }
            for (j, hj) in h.iter_mut().enumerate() {
                hj[i] += ui * row.values[t * m + j] as f64;
            }
        }
    }
    let mut coef = Vec::with_capacity(m);
    for (j, hj) in h.into_iter().enumerate() {
        coef.push(
            solve(g.clone(), hj, q)
                .ok_or_else(|| format!("channel {j}: normal equations on {q} lags are singular"))?,
        );
    }
    let mut max_resid = vec![(0.0, 0, 0); m];
    let mut sq = vec![0.0; m];
    for &(r, t) in &samples {
        let row = b.row(r);
        for j in 0..m {
            let pred: f64 = (0..q).map(|i| coef[j][i] * row.features[t - i] as f64).sum();
            let e = (row.values[t * m + j] as f64 - pred).abs();
            sq[j] += e * e;
            if e > max_resid[j].0 {
                max_resid[j] = (e, r, t);
            }
        }
    }
    let rms = sq.iter().map(|s| (s / samples.len() as f64).sqrt()).collect();
    Ok(Fit { samples: samples.len(), coef, max_resid, rms })
}

/// Targets are exactly linear in the last `k` lags: every fitted residual is ~0.
fn exactly_linear(f: &Fit, what: &str) -> Result<(), String> {
    for (j, &(e, r, t)) in f.max_resid.iter().enumerate() {
        if e > 1e-3 {
            return Err(format!(
                "{what}: row {r} pos {t} channel {j}: target is {e} off the best linear map of the last lags"
            ));
        }
    }
    Ok(())
}

/// The last lag matters: without it, every channel whose fitted last coefficient is not tiny
/// keeps a clearly nonzero residual.
fn needs_every_lag(b: &Batch, k: usize, full: &Fit, cap: usize, what: &str) -> Result<(), String> {
    let short = fit(b, k, k - 1, cap)?;
    for (j, c) in full.coef.iter().enumerate() {
        let a = c[k - 1];
        if a.abs() >= 1e-3 && short.rms[j] < 0.1 * a.abs() {
            return Err(format!(
                "{what}: channel {j}: {} lags already explain the target (rms residual {}) although lag {} has coefficient {a}",
                k - 1,
                short.rms[j],
                k - 1
            ));
        }
    }
    Ok(())
}

/// Lag map: the mask scores exactly the positions with a full window; the targets are an
/// exact linear map of the last `lags` inputs (least squares leaves no residual) that needs
/// all of them; the map fitted on fresh batches of two other seeds is the same (it is fixed
/// by `map_seed`) and predicts every position of this batch, zero-padded before the start.
fn lag_map(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (m, k, l) = (p.usize("outputs"), p.usize("lags"), p.usize("seq_len"));
    if b.features != 1 || b.channels != m || b.seq_len != l {
        return Err(format!(
            "shape: {} features, {} channels, length {}; want 1, {m}, {l}",
            b.features, b.channels, b.seq_len
        ));
    }
    for r in 0..b.batch {
        let row = b.row(r);
        for pos in 0..l {
            for j in 0..m {
                let mask = row.mask[pos * m + j];
                if (mask > 0.0) != (pos + 1 >= k) {
                    return Err(format!(
                        "row {r} pos {pos} channel {j}: mask {mask} but full windows start at {}",
                        k - 1
                    ));
                }
            }
        }
    }
    let n = b.batch * (l + 1 - k);
    let own = if n >= k {
        let f = fit(b, k, k, usize::MAX)?;
        exactly_linear(&f, "batch")?;
        if n >= 4 * k {
            needs_every_lag(b, k, &f, usize::MAX, "batch")?;
        }
        Some(f)
    } else {
        None
    };
    // Reference fits on fresh batches with at least 32k samples each.
    let cap = 32 * k;
    let rows = cap.div_ceil(l + 1 - k);
    let ref_a = t.generate(0x1a6_0001, rows);
    let fa = fit(&ref_a, k, k, cap)?;
    exactly_linear(&fa, "reference batch")?;
    needs_every_lag(&ref_a, k, &fa, cap, "reference batch")?;
    let fb = fit(&t.generate(0x1a6_0002, rows), k, k, cap)?;
    let mut others = vec![(&fb, "second reference batch")];
    if let Some(f) = own.as_ref().filter(|f| f.samples >= 4 * k) {
        others.push((f, "batch"));
    }
    for (f, what) in others {
        for j in 0..m {
            for i in 0..k {
                let (got, want) = (f.coef[j][i], fa.coef[j][i]);
                if (got - want).abs() > 1e-3 {
                    return Err(format!(
                        "channel {j} lag {i}: {what} fits coefficient {got} but another seed fits {want}"
                    ));
                }
            }
        }
    }
    for r in 0..b.batch {
        let row = b.row(r);
        for pos in 0..l {
            for j in 0..m {
                let pred: f64 =
                    (0..k.min(pos + 1)).map(|i| fa.coef[j][i] * row.features[pos - i] as f64).sum();
                let y = row.values[pos * m + j] as f64;
                if (y - pred).abs() > 1e-3 {
                    return Err(format!(
                        "row {r} pos {pos} channel {j}: target {y} but the fixed map gives {pred}"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn gain(c: usize) -> f64 {
    1.0 + c as f64 / 2.0
}

/// Sensor: every position scored. Without noise and drift the target is exactly the running
/// sum of each channel over its gain. Otherwise the residual `r_t = s_t - g (v_t - v_{t-1})`
/// starts near 0 and its increments have variance `2 noise^2 + drift^2` (white noise
/// differenced plus one random-walk step). The target's lag-1 autocorrelation is `rho`.
fn sensor(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (ch, l) = (p.usize("channels"), p.usize("seq_len"));
    let (rho, noise, drift) = (p.get("smoothness"), p.get("noise"), p.get("drift"));
    if b.features != ch || b.channels != 1 || b.seq_len != l {
        return Err(format!(
            "shape: {} features, {} channels, length {}; want {ch}, 1, {l}",
            b.features, b.channels, b.seq_len
        ));
    }
    for r in 0..b.batch {
        if let Some(pos) = b.row(r).mask.iter().position(|&x| x != 1.0) {
            return Err(format!("row {r} pos {pos}: not scored"));
        }
    }
    if noise == 0.0 && drift == 0.0 {
        for r in 0..b.batch {
            let row = b.row(r);
            for c in 0..ch {
                let mut sum = 0.0;
                for pos in 0..l {
                    sum += row.features[pos * ch + c] as f64 / gain(c);
                    let v = row.values[pos] as f64;
                    if (sum - v).abs() > 1e-4 * (1.0 + v.abs()) {
                        return Err(format!("row {r} pos {pos} channel {c}: running sum of readings / gain is {sum}, target {v}"));
                    }
                }
            }
        }
    } else {
        let (mut count, mut sum, mut sumsq) = (0usize, 0.0, 0.0);
        for r in 0..b.batch {
            let row = b.row(r);
            for c in 0..ch {
                let (mut v_prev, mut res_prev) = (0.0, 0.0);
                for pos in 0..l {
                    let v = row.values[pos] as f64;
                    let res = row.features[pos * ch + c] as f64 - gain(c) * (v - v_prev);
                    if pos == 0 {
                        if res.abs() > 7.0 * (noise + drift) + 1e-5 {
                            return Err(format!(
                                "row {r} pos 0 channel {c}: residual {res} over 7 x (noise + drift)"
                            ));
                        }
                    } else {
                        let d = res - res_prev;
                        count += 1;
                        sum += d;
                        sumsq += d * d;
                    }
                    (v_prev, res_prev) = (v, res);
                }
            }
        }
        if count >= 4000 {
            let var = (sumsq - sum * sum / count as f64) / (count - 1) as f64;
            let want = 2.0 * noise * noise + drift * drift;
            if (var - want).abs() > 0.15 * want + 1e-9 {
                return Err(format!("residual increments: variance {var} over {count} samples, want 2 noise^2 + drift^2 = {want}"));
            }
        }
    }
    // AR(1): pooled least squares of v_t on v_{t-1}; checked when its standard error
    // sqrt((1 - rho^2) / sum v_{t-1}^2) is at most 0.01.
    let (mut vv, mut vv1, mut pairs) = (0.0, 0.0, 0usize);
    for r in 0..b.batch {
        let v = b.row(r).values;
        for pos in 1..l {
            vv += v[pos - 1] as f64 * v[pos - 1] as f64;
            vv1 += v[pos] as f64 * v[pos - 1] as f64;
            pairs += 1;
        }
    }
    if pairs >= 100 && vv >= 1e4 * (1.0 - rho * rho) {
        let est = vv1 / vv;
        if (est - rho).abs() > 0.05 {
            return Err(format!(
                "target's lag-1 regression coefficient is {est} over {pairs} pairs, want smoothness {rho}"
            ));
        }
    }
    Ok(())
}

#[test]
fn sensor_special_cases_pass_and_corruptions_fail() {
    let clean =
        tasks::build("sensor", [("noise", "0"), ("drift", "0"), ("seq_len", "512"), ("channels", "4")])
            .unwrap();
    let b = clean.generate(5, 8);
    sensor(clean.as_ref(), &b).unwrap();
    let mut bad = b.clone();
    bad.features_data[3 * 4 + 2] += 0.01; // row 0 pos 3 channel 2
    assert!(sensor(clean.as_ref(), &bad).unwrap_err().contains("row 0 pos 3 channel 2"));
    // Drift only: the residual is the bias random walk.
    let walk = tasks::build("sensor", [("noise", "0"), ("drift", "0.1"), ("seq_len", "1024")]).unwrap();
    let b = walk.generate(6, 4);
    sensor(walk.as_ref(), &b).unwrap();
    // Claim twice the noise: the increment variance no longer matches.
    let noisy = tasks::build("sensor", [("noise", "0.2"), ("drift", "0"), ("seq_len", "1024")]).unwrap();
    let b = noisy.generate(7, 16);
    sensor(noisy.as_ref(), &b).unwrap();
    let claimed = tasks::build("sensor", [("noise", "0.4"), ("drift", "0"), ("seq_len", "1024")]).unwrap();
    assert!(sensor(claimed.as_ref(), &b).unwrap_err().contains("variance"));
    // Claim a different smoothness.
    let rough = tasks::build(
        "sensor",
        [("noise", "0.2"), ("drift", "0"), ("seq_len", "1024"), ("smoothness", "0.5")],
    )
    .unwrap();
    assert!(sensor(rough.as_ref(), &b).unwrap_err().contains("lag-1"));
}

#[test]
fn lag_map_corruptions_fail() {
    let t = tasks::build("lag_map", [("lags", "6"), ("outputs", "3"), ("seq_len", "40")]).unwrap();
    let b = t.generate(9, 4);
    lag_map(t.as_ref(), &b).unwrap();
    // A nonlinear touch on one target.
    let mut bad = b.clone();
    bad.values[20 * 3 + 1] += 0.05;
    assert!(lag_map(t.as_ref(), &bad).is_err());
    // A seventh lag the task does not declare: the 6-lag fit leaves a residual.
    let mut longer = b.clone();
    for r in 0..4 {
        for pos in 6..40 {
            longer.values[(r * 40 + pos) * 3] += 0.5 * b.features_data[r * 40 + pos - 6];
        }
    }
    assert!(lag_map(t.as_ref(), &longer).unwrap_err().contains("best linear map"));
    // A batch scored from position 0.
    let mut masked = b.clone();
    masked.mask.iter_mut().for_each(|x| *x = 1.0);
    assert!(lag_map(t.as_ref(), &masked).unwrap_err().contains("full windows"));
    // A different map seed: same structure, but this batch's map is not the task's map.
    let other =
        tasks::build("lag_map", [("lags", "6"), ("outputs", "3"), ("seq_len", "40"), ("map_seed", "1")])
            .unwrap();
    assert!(lag_map(other.as_ref(), &b).is_err());
}
