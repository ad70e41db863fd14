//! Independent checks for the DLR suite (Shift, Context Shift, CumSum, CumMax, Reverse, Sort,
//! Masked Select, MIPS), written from each task's definition: every scored target is
//! recomputed from the inputs with a plain loop, and the mask must score exactly the
//! positions the definition names.

use interlab::tasks::{self, Batch, Output, Params, Task};

use super::{rows, Checker};

pub fn checker(name: &str) -> Option<Checker> {
    Some(match name {
        "shift" => shift,
        "context_shift" => context_shift,
        "cumsum" => cumsum,
        "cummax" => cummax,
        "reverse" => reverse,
        "sort" => sort,
        "masked_select" => masked_select,
        "mips" => mips,
        "copy_reverse" => copy_reverse,
        _ => return None,
    })
}

/// The mask of one row (one channel) is 1 exactly where `scored(pos)` holds.
fn mask_is(r: usize, m: &[f32], scored: impl Fn(usize) -> bool) -> Result<(), String> {
    for (pos, &v) in m.iter().enumerate() {
        if (v > 0.0) != scored(pos) {
            return Err(format!("row {r} pos {pos}: mask {v} but scored should be {}", scored(pos)));
        }
    }
    Ok(())
}

/// Channel j of C shifts by ceil((j+1) * S / C); every channel is a copy of the input
/// delayed by that shift, scored from the shift onwards.
fn shift(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (l, vocab, c, s_max) =
        (p.usize("seq_len"), p.usize("vocab"), p.usize("channels"), p.usize("max_shift"));
    if b.seq_len != l || b.channels != c {
        return Err(format!("shape {}x{} but params say seq_len {l}, channels {c}", b.seq_len, b.channels));
    }
    let shifts: Vec<usize> =
        (0..c).map(|j| ((j + 1) as f64 * s_max as f64 / c as f64).ceil() as usize).collect();
    if shifts.windows(2).any(|w| w[0] >= w[1]) || shifts[0] == 0 || shifts[c - 1] != s_max {
        return Err(format!("shifts {shifts:?} are not distinct in 1..={s_max} ending at {s_max}"));
    }
    for r in 0..b.batch {
        let row = b.row(r);
        let x = row.inputs;
        if let Some(pos) = (0..l).find(|&i| x[i] as usize >= vocab) {
            return Err(format!("row {r} pos {pos}: input {} is not a data token", x[pos]));
        }
        for pos in 0..l {
            for (j, &s) in shifts.iter().enumerate() {
                let i = pos * c + j;
                let want = pos >= s;
                if (row.mask[i] > 0.0) != want {
                    return Err(format!(
                        "row {r} pos {pos} channel {j}: mask {} but shift is {s}",
                        row.mask[i]
                    ));
                }
                if want && row.targets[i] != x[pos - s] {
                    let (got, src) = (row.targets[i], pos - s);
                    return Err(format!(
                        "row {r} pos {pos} channel {j}: target {got} but x[{src}] = {}",
                        x[src]
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Position 0 is the shift token vocab + s (s <= max_shift); the rest are data tokens; the
/// target at t is x[t - s] wherever t - s >= 1.
fn context_shift(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (vocab, s_max) = (p.usize("vocab"), p.usize("max_shift"));
    for (r, x, y, m) in rows(b) {
        let first = x[0] as usize;
        if first < vocab || first > vocab + s_max {
            return Err(format!("row {r} pos 0: {first} is not a shift token {vocab}..={}", vocab + s_max));
        }
        let s = first - vocab;
        if let Some(pos) = (1..b.seq_len).find(|&i| x[i] as usize >= vocab) {
            return Err(format!("row {r} pos {pos}: input {} is not a data token", x[pos]));
        }
        mask_is(r, m, |pos| pos > s)?;
        for pos in 1 + s..b.seq_len {
            if y[pos] != x[pos - s] {
                return Err(format!(
                    "row {r} pos {pos}: shift {s}, target {} but x[{}] = {}",
                    y[pos],
                    pos - s,
                    x[pos - s]
                ));
            }
        }
    }
    Ok(())
}

/// y_t = (u_0 + ... + u_t) / sqrt(t + 1), every position scored, constant input token.
fn cumsum(_t: &dyn Task, b: &Batch) -> Result<(), String> {
    if b.features != 1 || b.channels != 1 {
        return Err(format!("expected 1 feature and 1 channel, got {} and {}", b.features, b.channels));
    }
    for r in 0..b.batch {
        let row = b.row(r);
        if row.inputs.iter().any(|&x| x != 0) {
            return Err(format!("row {r}: input tokens must all be the constant 0"));
        }
        mask_is(r, row.mask, |_| true)?;
        let mut total = 0.0f64;
        for pos in 0..b.seq_len {
            total += row.features[pos] as f64;
            let want = total / ((pos + 1) as f64).sqrt();
            let got = row.values[pos] as f64;
            if (got - want).abs() > 1e-4 * want.abs().max(1.0) {
                return Err(format!("row {r} pos {pos}: value {got} but the scaled running sum is {want}"));
            }
        }
    }
    Ok(())
}

/// Target at t is the largest input token among positions 0..=t; every position scored.
fn cummax(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let vocab = t.params().usize("vocab") as u32;
    for (r, x, y, m) in rows(b) {
        mask_is(r, m, |_| true)?;
        let mut best = None;
        for pos in 0..b.seq_len {
            if x[pos] >= vocab {
                return Err(format!("row {r} pos {pos}: input {} is not a data token", x[pos]));
            }
            best = Some(match best {
                Some(v) if v >= x[pos] => v,
                _ => x[pos],
            });
            if Some(y[pos]) != best {
                return Err(format!(
                    "row {r} pos {pos}: target {} but the running max is {:?}",
                    y[pos], best
                ));
            }
        }
    }
    Ok(())
}

/// Data tokens in 0..L, the pad token vocab in L..2L, scored exactly on the pad half.
fn padded_layout(t: &dyn Task, b: &Batch, r: usize, x: &[u32], m: &[f32]) -> Result<usize, String> {
    let p = t.params();
    let (l, vocab) = (p.usize("length"), p.usize("vocab"));
    if b.seq_len != 2 * l {
        return Err(format!("seq_len {} is not 2 x length {l}", b.seq_len));
    }
    for pos in 0..2 * l {
        let ok = if pos < l { (x[pos] as usize) < vocab } else { x[pos] as usize == vocab };
        if !ok {
            return Err(format!("row {r} pos {pos}: input {} (data before {l}, pad {vocab} after)", x[pos]));
        }
    }
    mask_is(r, m, |pos| pos >= l)?;
    Ok(l)
}

/// Copy or Reverse: a task token first (COPY = vocab, REVERSE = vocab + 1), L data tokens,
/// L pads (vocab + 2) scored; the answer copies or reverses the data as the token says, and a
/// `copy` / `reverse` mode makes every sequence that task.
fn copy_reverse(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (l, vocab, mode) = (p.usize("length"), p.usize("vocab"), p.usize("mode"));
    if b.seq_len != 2 * l + 1 {
        return Err(format!("seq_len {} is not 2 x length {l} + 1", b.seq_len));
    }
    for (r, x, y, m) in rows(b) {
        let reverse = match x[0] as usize {
            k if k == vocab => false,
            k if k == vocab + 1 => true,
            k => return Err(format!("row {r}: first token {k} is not a task token")),
        };
        if (mode == 1 && reverse) || (mode == 2 && !reverse) {
            return Err(format!("row {r}: task token {} in mode {mode}", x[0]));
        }
        mask_is(r, m, |pos| pos > l)?;
        for pos in 1..2 * l + 1 {
            let ok = if pos <= l { (x[pos] as usize) < vocab } else { x[pos] as usize == vocab + 2 };
            if !ok {
                return Err(format!("row {r} pos {pos}: input {}", x[pos]));
            }
        }
        let data = &x[1..=l];
        for i in 0..l {
            let want = if reverse { data[l - 1 - i] } else { data[i] };
            if y[l + 1 + i] != want {
                return Err(format!(
                    "row {r} pos {}: target {} but the answer is {want}",
                    l + 1 + i,
                    y[l + 1 + i]
                ));
            }
        }
    }
    Ok(())
}

/// Target at L + i is x[L - 1 - i].
fn reverse(t: &dyn Task, b: &Batch) -> Result<(), String> {
    for (r, x, y, m) in rows(b) {
        let l = padded_layout(t, b, r, x, m)?;
        for i in 0..l {
            if y[l + i] != x[l - 1 - i] {
                return Err(format!(
                    "row {r} pos {}: target {} but x[{}] = {}",
                    l + i,
                    y[l + i],
                    l - 1 - i,
                    x[l - 1 - i]
                ));
            }
        }
    }
    Ok(())
}

/// Target at L + i is the i-th smallest data token (counting sort here), and the answer is
/// non-decreasing and a permutation of the data.
fn sort(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let vocab = t.params().usize("vocab");
    for (r, x, y, m) in rows(b) {
        let l = padded_layout(t, b, r, x, m)?;
        let mut counts = vec![0usize; vocab];
        for &v in &x[..l] {
            counts[v as usize] += 1;
        }
        let mut sorted = Vec::with_capacity(l);
        for (v, &n) in counts.iter().enumerate() {
            sorted.extend(std::iter::repeat_n(v as u32, n));
        }
        for i in 0..l {
            if y[l + i] != sorted[i] {
                return Err(format!(
                    "row {r} pos {}: target {} but the {i}-th smallest is {}",
                    l + i,
                    y[l + i],
                    sorted[i]
                ));
            }
        }
        let answer = &y[l..];
        if let Some(i) = (1..l).find(|&i| answer[i - 1] > answer[i]) {
            return Err(format!("row {r} pos {}: answer decreases", l + i));
        }
        let mut answer_counts = vec![0usize; vocab];
        for &v in answer {
            answer_counts[v as usize] += 1;
        }
        if answer_counts != counts {
            return Err(format!("row {r}: answer is not a permutation of the data"));
        }
    }
    Ok(())
}

/// Exactly `select` marked tokens (vocab + x) in the data region, go tokens after; the target
/// at L + i is the i-th marked token unmarked. Fixed positions follow the definition's rule;
/// consecutive layouts mark one contiguous block.
fn masked_select(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (l, vocab, k) = (p.usize("length"), p.usize("vocab") as u32, p.usize("select"));
    let (fixed, consecutive) = (p.usize("positions") == 1, p.usize("layout") == 1);
    if b.seq_len != l + k {
        return Err(format!("seq_len {} is not length {l} + select {k}", b.seq_len));
    }
    let fixed_positions: Vec<usize> = if consecutive {
        ((l - k) / 2..(l - k) / 2 + k).collect()
    } else {
        (0..k).map(|i| ((i as f64 + 0.5) * l as f64 / k as f64).floor() as usize).collect()
    };
    for (r, x, y, m) in rows(b) {
        let mut marked = Vec::new();
        for pos in 0..l {
            if x[pos] >= 2 * vocab {
                return Err(format!("row {r} pos {pos}: input {} in the data region", x[pos]));
            }
            if x[pos] >= vocab {
                marked.push(pos);
            }
        }
        if let Some(pos) = (l..l + k).find(|&i| x[i] != 2 * vocab) {
            return Err(format!(
                "row {r} pos {pos}: input {} but the output region holds the go token",
                x[pos]
            ));
        }
        if marked.len() != k {
            return Err(format!("row {r}: {} marked positions, expected {k}", marked.len()));
        }
        if fixed && marked != fixed_positions {
            return Err(format!(
                "row {r}: marked {marked:?} but the fixed positions are {fixed_positions:?}"
            ));
        }
        if consecutive && marked[k - 1] - marked[0] != k - 1 {
            return Err(format!("row {r}: marked {marked:?} is not one block"));
        }
        mask_is(r, m, |pos| pos >= l)?;
        for (i, &src) in marked.iter().enumerate() {
            if y[l + i] != x[src] - vocab {
                return Err(format!(
                    "row {r} pos {}: target {} but marked token {i} at {src} is {}",
                    l + i,
                    y[l + i],
                    x[src] - vocab
                ));
            }
        }
    }
    Ok(())
}

/// Keys carry value tokens, queries the marker; the target at each query is the value of
/// the key with the largest dot product (naive argmax in f64, first index on ties).
fn mips(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (n, q, d, values) = (p.usize("keys"), p.usize("queries"), p.usize("dim"), p.usize("values"));
    if b.seq_len != n + q || b.features != d {
        return Err(format!("shape {}x{} but params say {n}+{q} positions, dim {d}", b.seq_len, b.features));
    }
    for r in 0..b.batch {
        let row = b.row(r);
        let (x, f) = (row.inputs, row.features);
        if let Some(pos) = (0..n).find(|&i| x[i] as usize >= values) {
            return Err(format!("row {r} pos {pos}: key token {} is not a value", x[pos]));
        }
        if let Some(pos) = (n..n + q).find(|&i| x[i] as usize != values) {
            return Err(format!("row {r} pos {pos}: query token {} is not the marker {values}", x[pos]));
        }
        mask_is(r, row.mask, |pos| pos >= n)?;
        for qp in n..n + q {
            let mut best_key = 0;
            let mut best_dot = f64::NEG_INFINITY;
            for kp in 0..n {
                let mut dot = 0.0f64;
                for j in 0..d {
                    dot += f[kp * d + j] as f64 * f[qp * d + j] as f64;
                }
                if dot > best_dot {
                    best_dot = dot;
                    best_key = kp;
                }
            }
            if row.targets[qp] != x[best_key] {
                return Err(format!(
                    "row {r} pos {qp}: target {} but best key {best_key} has value {}",
                    row.targets[qp], x[best_key]
                ));
            }
        }
    }
    Ok(())
}

/// The checkers are not vacuous: a wrong target, a dropped score or an extra score in an
/// otherwise valid batch is caught for every task of the family.
#[test]
fn checkers_reject_corrupted_batches() {
    for info in tasks::dlr::TASKS {
        let t = (info.build)(Params::defaults(info.params)).unwrap();
        let check = checker(info.name).unwrap();
        let good = t.generate(5, 2);
        check(t.as_ref(), &good).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        let last_scored = (0..good.mask.len()).rev().find(|&i| good.mask[i] > 0.0).unwrap();
        let mut wrong = good.clone();
        match t.shape().output {
            Output::Classes { classes, .. } => {
                wrong.targets[last_scored] = (wrong.targets[last_scored] + 1) % classes as u32
            }
            Output::Regression { .. } => wrong.values[last_scored] += 0.01,
        }
        assert!(check(t.as_ref(), &wrong).is_err(), "{}: wrong target accepted", info.name);
        let mut dropped = good.clone();
        dropped.mask[last_scored] = 0.0;
        assert!(check(t.as_ref(), &dropped).is_err(), "{}: dropped score accepted", info.name);
        if let Some(i) = (0..good.mask.len()).find(|&i| good.mask[i] == 0.0) {
            let mut extra = good.clone();
            extra.mask[i] = 1.0;
            assert!(check(t.as_ref(), &extra).is_err(), "{}: extra score accepted", info.name);
        }
    }
}
