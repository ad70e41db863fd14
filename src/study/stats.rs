//! Small statistics for the researcher view: Wilson intervals for proportions, t intervals
//! for means, Pearson's chi-square test of independence (p from the regularised incomplete
//! gamma function) and a seeded permutation test for differences in means. Plain f64, no
//! dependencies; each function is checked against textbook values below.

use crate::core::Rng;

/// Two-sided 95% normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score 95% interval for `k` successes in `n` trials (`(NaN, NaN)` when n = 0).
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (n, p, z) = (n as f64, k as f64 / n as f64, Z95);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// The 97.5% quantile of Student's t with `df` degrees of freedom (table to 30, then the
/// Cornish-Fisher expansion, accurate to 1e-3).
pub fn t975(df: usize) -> f64 {
    if df == 0 {
        return f64::NAN;
    }
    if df <= 30 {
        return T975[df - 1];
    }
    let (z, d) = (Z95, df as f64);
    z + (z.powi(3) + z) / (4.0 * d) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
}

/// Mean and its 95% t interval (`NaN` bounds with fewer than 2 values).
pub fn mean_ci(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN, f64::NAN);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n - 1) * (var / n as f64).sqrt();
    (mean, mean - half, mean + half)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
pub fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = C[0] + C.iter().enumerate().skip(1).map(|(i, c)| c / (x + i as f64)).sum::<f64>();
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised upper incomplete gamma Q(a, x).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let front = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        let (mut ap, mut del, mut sum) = (a, 1.0 / a, 1.0 / a);
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (1.0 - sum * front).clamp(0.0, 1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (front * h).clamp(0.0, 1.0)
    }
}

/// P(X ≥ x) for X ~ chi-square with `df` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, x / 2.0)
}

/// Pearson's chi-square test of independence on `(successes, failures)` per group.
/// `None` when fewer than two groups have data or a column total is zero.
pub fn chi_square(groups: &[(u64, u64)]) -> Option<(f64, usize, f64)> {
    let g: Vec<(f64, f64)> =
        groups.iter().filter(|(a, b)| a + b > 0).map(|&(a, b)| (a as f64, b as f64)).collect();
    let (s, f): (f64, f64) = g.iter().fold((0.0, 0.0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
    if g.len() < 2 || s == 0.0 || f == 0.0 {
        return None;
    }
    let n = s + f;
    let stat: f64 = g
        .iter()
        .map(|&(a, b)| {
            let row = a + b;
            let (ea, eb) = (row * s / n, row * f / n);
            (a - ea).powi(2) / ea + (b - eb).powi(2) / eb
        })
        .sum();
    let df = g.len() - 1;
    Some((stat, df, chi2_sf(stat, df as f64)))
}

/// Between-group sum of squares of the group means (the permutation test's statistic).
fn between_ss(values: &[f64], labels: &[usize], k: usize) -> f64 {
    let mut sum = vec![0.0; k];
    let mut cnt = vec![0.0; k];
    for (&v, &l) in values.iter().zip(labels) {
        sum[l] += v;
        cnt[l] += 1.0;
    }
    let grand = values.iter().sum::<f64>() / values.len() as f64;
    (0..k).filter(|&i| cnt[i] > 0.0).map(|i| cnt[i] * (sum[i] / cnt[i] - grand).powi(2)).sum()
}

/// Permutation test that all groups share one mean: statistic = between-group sum of
/// squares; p = (1 + #permutations at least as extreme) / (1 + iters). Seeded.
pub fn permutation_test(groups: &[Vec<f64>], iters: usize, seed: u64) -> Option<(f64, f64)> {
    let groups: Vec<&Vec<f64>> = groups.iter().filter(|g| !g.is_empty()).collect();
    if groups.len() < 2 {
        return None;
    }
    let values: Vec<f64> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    let mut labels: Vec<usize> =
        groups.iter().enumerate().flat_map(|(i, g)| std::iter::repeat_n(i, g.len())).collect();
    let k = groups.len();
    let observed = between_ss(&values, &labels, k);
    let mut rng = Rng::new(seed);
    let mut extreme = 0usize;
    for _ in 0..iters {
        rng.shuffle(&mut labels);
        if between_ss(&values, &labels, k) >= observed * (1.0 - 1e-12) {
            extreme += 1;
        }
    }
    Some((observed, (1 + extreme) as f64 / (1 + iters) as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_textbook_values() {
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-10);
        assert!((chi2_sf(3.841_458_820_694_124, 1.0) - 0.05).abs() < 1e-6);
        assert!((chi2_sf(5.991_464_547_107_979, 2.0) - 0.05).abs() < 1e-6);
        assert!((chi2_sf(18.307_038_053_275_146, 10.0) - 0.05).abs() < 1e-6);
        let (lo, hi) = wilson(8, 10);
        assert!((lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3, "{lo} {hi}");
        assert!((t975(60) - 2.000).abs() < 1e-3);
        let (m, lo, hi) = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12 && (hi - 4.554).abs() < 1e-3 && (lo - 0.446).abs() < 1e-3);
    }

    #[test]
    fn tests_find_real_differences_and_not_fake_ones() {
        let (_, df, p) = chi_square(&[(60, 40), (30, 70)]).unwrap();
        assert!(df == 1 && p < 1e-4, "{p}");
        let (_, _, p) = chi_square(&[(50, 50), (51, 49)]).unwrap();
        assert!(p > 0.5, "{p}");
        let a: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..40).map(|i| i as f64 + 20.0).collect();
        assert!(permutation_test(&[a.clone(), b], 999, 1).unwrap().1 < 0.01);
        let c: Vec<f64> = (0..40).map(|i| (39 - i) as f64 + 0.5).collect();
        assert!(permutation_test(&[a, c], 999, 1).unwrap().1 > 0.5);
    }
}
