//! Why: a task suite is only useful if its data is right. Every registered task must
//! (1) be a pure function of its seed, (2) pass an independent brute-force check written
//! here, separately from its generator, and (3) keep both properties over random parameter
//! settings inside the valid ranges — with impossible settings refused, never a panic.

// The checkers index by position on purpose: they read like the tasks' definitions.
#![allow(clippy::needless_range_loop)]

mod dlr;
mod recall;
mod signal;
mod structured;

use interlab::core::Rng;
use interlab::tasks::{self, check_batch, Batch, Output, ParamKind, Params, Task};

/// An independent check of one batch: `Err` says which row/position is wrong.
pub type Checker = fn(&dyn Task, &Batch) -> Result<(), String>;

fn checker(name: &str) -> Option<Checker> {
    recall::checker(name)
        .or_else(|| dlr::checker(name))
        .or_else(|| structured::checker(name))
        .or_else(|| signal::checker(name))
}

/// Invariants every task shares: ids in range, mask 0/1, finite numbers, at least one
/// scored target per row.
fn generic_invariants(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let s = t.shape();
    if b.inputs.iter().any(|&x| x as usize >= s.vocab) {
        return Err(format!("input token out of range 0..{}", s.vocab));
    }
    if let Output::Classes { classes, .. } = s.output {
        if let Some(i) = (0..b.targets.len()).find(|&i| b.mask[i] > 0.0 && b.targets[i] as usize >= classes) {
            return Err(format!("target {} at {i} out of range 0..{classes}", b.targets[i]));
        }
    }
    if b.mask.iter().any(|&m| m != 0.0 && m != 1.0) {
        return Err("mask values must be 0 or 1".into());
    }
    if b.features_data.iter().chain(&b.values).any(|v| !v.is_finite()) {
        return Err("non-finite feature or target value".into());
    }
    for r in 0..b.batch {
        if b.row(r).mask.iter().all(|&m| m == 0.0) {
            return Err(format!("row {r} has no scored target"));
        }
    }
    Ok(())
}

fn run_checks(t: &dyn Task, b: &Batch) -> Result<(), String> {
    generic_invariants(t, b)?;
    let check =
        checker(t.info().name).ok_or_else(|| format!("no independent checker for '{}'", t.info().name))?;
    check(t, b)
}

#[test]
fn every_task_has_an_independent_checker() {
    let missing: Vec<&str> = tasks::all().map(|i| i.name).filter(|n| checker(n).is_none()).collect();
    assert!(missing.is_empty(), "tasks without a checker: {missing:?}");
}

#[test]
fn defaults_pass_their_checks() {
    for info in tasks::all() {
        let t = (info.build)(Params::defaults(info.params)).unwrap();
        let n = (4096 / t.shape().seq_len).clamp(1, 16);
        for seed in [1, 2, 3] {
            let b = t.generate(seed, n);
            run_checks(t.as_ref(), &b).unwrap_or_else(|e| panic!("{} seed {seed}: {e}", info.name));
        }
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different_data() {
    for info in tasks::all() {
        let t = (info.build)(Params::defaults(info.params)).unwrap();
        let n = (4096 / t.shape().seq_len).clamp(1, 4);
        let (a, b, c) = (t.generate(42, n), t.generate(42, n), t.generate(43, n));
        assert_eq!(a, b, "{}: same seed gave different batches", info.name);
        let bytes =
            |x: &Batch| (x.inputs.clone(), x.features_data.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        assert_eq!(bytes(&a), bytes(&b), "{}", info.name);
        assert_ne!(bytes(&a), bytes(&c), "{}: seeds 42 and 43 gave the same inputs", info.name);
    }
}

/// A random value for one parameter: log-uniform for wide integer ranges so that small and
/// large settings are both visited.
fn random_value(rng: &mut Rng, kind: ParamKind) -> f64 {
    match kind {
        ParamKind::Int { min, max } => {
            if max - min > 64 && rng.next_f64() < 0.7 {
                let (lo, hi) = ((min.max(1) as f64).ln(), (max as f64).ln());
                (lo + rng.next_f64() * (hi - lo)).exp().round().clamp(min as f64, max as f64)
            } else {
                (min + rng.below(max - min + 1)) as f64
            }
        }
        ParamKind::Float { min, max } => min + rng.next_f64() * (max - min),
        ParamKind::Choice(options) => rng.below(options.len() as u64) as f64,
    }
}

#[test]
fn random_valid_settings_pass_their_checks_and_invalid_ones_are_refused() {
    let mut rng = Rng::new(2026);
    for info in tasks::all() {
        let (mut built, mut refused) = (0, 0);
        for trial in 0..60 {
            let mut p = Params::defaults(info.params);
            for spec in info.params {
                // Change about half the parameters from their defaults each trial.
                if rng.next_f64() < 0.5 {
                    p.set(spec.key, random_value(&mut rng, spec.kind));
                }
            }
            let desc = format!("{} {:?}", info.name, p.to_pairs());
            match (info.build)(p) {
                Err(e) => {
                    refused += 1;
                    assert!(
                        !e.errors.is_empty()
                            && e.errors.iter().all(|f| info.params.iter().any(|s| s.key == f.field)),
                        "{desc}: {e}"
                    );
                }
                Ok(t) => {
                    built += 1;
                    let s = t.shape();
                    let n = (1 << 16) / s.seq_len;
                    let n = n.clamp(1, 3);
                    let b = t.generate(trial, n);
                    run_checks(t.as_ref(), &b).unwrap_or_else(|e| panic!("{desc}: {e}"));
                }
            }
        }
        assert!(
            built >= 10,
            "{}: only {built} of 60 random settings were valid ({refused} refused)",
            info.name
        );
    }
}

#[test]
fn oversized_batches_are_refused_with_the_limit() {
    let t = tasks::build("mqar", [("seq_len", "65536"), ("kv_pairs", "8")]).unwrap();
    let e = check_batch(&t.shape(), 1024).unwrap_err();
    assert!(e.for_field("batch").unwrap().contains("over the limit"), "{e}");
    assert!(check_batch(&t.shape(), 4).is_ok());
}

/// Rows of a batch as `(inputs, targets, mask)` slices, one output channel.
pub fn rows(b: &Batch) -> impl Iterator<Item = (usize, &[u32], &[u32], &[f32])> {
    (0..b.batch).map(move |r| {
        let row = b.row(r);
        (r, row.inputs, row.targets, row.mask)
    })
}
