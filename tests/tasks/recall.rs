//! Independent checks for the recall family (MQAR, MAD, induction heads).

use std::collections::{BTreeMap, BTreeSet};

use interlab::tasks::{Batch, Task};

use super::{rows, Checker};

pub fn checker(name: &str) -> Option<Checker> {
    Some(match name {
        "mqar" => mqar,
        "in_context_recall" => in_context_recall,
        "fuzzy_recall" => fuzzy_recall,
        "noisy_recall" => noisy_recall,
        "selective_copy" => selective_copy,
        "compression" => compression,
        "memorization" => memorization,
        "induction" => induction,
        _ => return None,
    })
}

/// Pairs come first with distinct keys; every scored position holds a stored key and its
/// target is that key's value; each key is queried exactly once; nothing else after the
/// pairs but filler.
fn mqar(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (n, vocab) = (p.usize("kv_pairs"), p.usize("vocab"));
    let keys = (vocab - 1) / 2;
    for (r, x, y, m) in rows(b) {
        let pair_keys: Vec<u32> = (0..n).map(|i| x[2 * i]).collect();
        let mut sorted = pair_keys.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != n || pair_keys.iter().any(|&k| k == 0 || k as usize > keys) {
            return Err(format!("row {r}: pair keys not {n} distinct keys: {pair_keys:?}"));
        }
        if (0..n).any(|i| (x[2 * i + 1] as usize) <= keys) {
            return Err(format!("row {r}: a value slot holds a key or filler"));
        }
        let mut queried = vec![0; n];
        for pos in 0..b.seq_len {
            let scored = m[pos] > 0.0;
            if pos < 2 * n {
                if scored {
                    return Err(format!("row {r}: position {pos} inside the pairs is scored"));
                }
                continue;
            }
            match (scored, pair_keys.iter().position(|&k| k == x[pos])) {
                (true, Some(i)) => {
                    queried[i] += 1;
                    if y[pos] != x[2 * i + 1] {
                        return Err(format!(
                            "row {r} pos {pos}: target {} but key's value is {}",
                            y[pos],
                            x[2 * i + 1]
                        ));
                    }
                }
                (false, None) if x[pos] == 0 => {}
                _ => {
                    return Err(format!(
                        "row {r} pos {pos}: token {} scored={scored} is neither filler nor a query",
                        x[pos]
                    ))
                }
            }
        }
        if queried.iter().any(|&q| q != 1) {
            return Err(format!("row {r}: keys not queried exactly once: {queried:?}"));
        }
    }
    Ok(())
}

/// Key-value pairs, optionally with single noise tokens between them: one scan keeping a map
/// of the keys seen so far. A key position is scored iff its key was seen before, with the
/// value that follows as target (and that value must match the earlier one); all else unscored.
fn recall_scan(t: &dyn Task, b: &Batch, noise_vocab: usize) -> Result<(), String> {
    let p = t.params();
    let (keys, values) = (p.usize("keys"), p.usize("values"));
    let is_key = |x: u32| (x as usize) < keys;
    let is_value = |x: u32| (keys..keys + values).contains(&(x as usize));
    let is_noise = |x: u32| (keys + values..keys + values + noise_vocab).contains(&(x as usize));
    for (r, x, y, m) in rows(b) {
        let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
        let mut pos = 0;
        while pos < x.len() {
            if is_noise(x[pos]) {
                if m[pos] != 0.0 {
                    return Err(format!("row {r} pos {pos}: noise token is scored"));
                }
                pos += 1;
                continue;
            }
            if !is_key(x[pos]) || pos + 1 >= x.len() || !is_value(x[pos + 1]) {
                return Err(format!(
                    "row {r} pos {pos}: expected a key followed by a value, got {:?}",
                    &x[pos..(pos + 2).min(x.len())]
                ));
            }
            if m[pos + 1] != 0.0 {
                return Err(format!("row {r} pos {}: value position is scored", pos + 1));
            }
            let v = x[pos + 1];
            match seen.get(&x[pos]) {
                Some(&known) => {
                    if known != v {
                        return Err(format!(
                            "row {r} pos {pos}: key {} maps to {v} but earlier to {known}",
                            x[pos]
                        ));
                    }
                    if m[pos] != 1.0 || y[pos] != v {
                        return Err(format!("row {r} pos {pos}: repeated key must be scored with target {v} (mask {}, target {})", m[pos], y[pos]));
                    }
                }
                None => {
                    if m[pos] != 0.0 {
                        return Err(format!(
                            "row {r} pos {pos}: first occurrence of key {} is scored",
                            x[pos]
                        ));
                    }
                    seen.insert(x[pos], v);
                }
            }
            pos += 2;
        }
    }
    Ok(())
}

fn in_context_recall(t: &dyn Task, b: &Batch) -> Result<(), String> {
    recall_scan(t, b, 0)
}

/// As in-context recall, and the number of noise positions is the noise fraction of the row
/// (within rounding and the one extra for whole pairs).
fn noisy_recall(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (keys, values, nv, frac) =
        (p.usize("keys"), p.usize("values"), p.usize("noise_vocab"), p.get("noise"));
    recall_scan(t, b, nv)?;
    for (r, x, _, _) in rows(b) {
        let n = x.iter().filter(|&&v| v as usize >= keys + values).count();
        if (n as f64 - frac * x.len() as f64).abs() > 1.5 {
            return Err(format!("row {r}: {n} noise tokens of {}, fraction {frac} expected", x.len()));
        }
    }
    Ok(())
}

/// Re-derive the items (a run of key tokens, then a run of value tokens; padding after the
/// last), check lengths, one value per key, distinct keys prefix-free and at most `pairs`, and
/// that exactly the last key token and all value tokens but the last of a repeated item are
/// scored, with the next token as target.
fn fuzzy_recall(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (kv, vv, mk, mv, pairs) = (
        p.usize("key_vocab"),
        p.usize("value_vocab"),
        p.usize("max_key_len"),
        p.usize("max_value_len"),
        p.usize("pairs"),
    );
    let pad = (kv + vv) as u32;
    for (r, x, y, m) in rows(b) {
        let l = x.len();
        let mut want = vec![None; l]; // [seq_len] expected target where scored
        let mut known: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
        let mut pos = 0;
        while pos < l && x[pos] != pad {
            let ks = pos;
            while pos < l && (x[pos] as usize) < kv {
                pos += 1;
            }
            let vs = pos;
            while pos < l && (kv..kv + vv).contains(&(x[pos] as usize)) {
                pos += 1;
            }
            let (key, value) = (x[ks..vs].to_vec(), x[vs..pos].to_vec());
            if !(1..=mk).contains(&key.len()) || !(1..=mv).contains(&value.len()) {
                return Err(format!(
                    "row {r} pos {ks}: item {key:?} {value:?} has a bad key or value length"
                ));
            }
            match known.iter().find(|(k, _)| *k == key) {
                Some((_, v)) if *v != value => {
                    return Err(format!("row {r} pos {ks}: key {key:?} maps to {value:?} and {v:?}"))
                }
                Some(_) => {
                    for j in vs - 1..pos - 1 {
                        want[j] = Some(x[j + 1]);
                    }
                }
                None => known.push((key, value)),
            }
        }
        if x[pos..].iter().any(|&v| v != pad) || l - pos >= mk + mv {
            return Err(format!("row {r}: tail from {pos} is not all padding or is room for another item"));
        }
        if known.len() > pairs {
            return Err(format!("row {r}: {} distinct keys, more than {pairs}", known.len()));
        }
        for (i, (a, _)) in known.iter().enumerate() {
            for (c, _) in &known[..i] {
                let n = a.len().min(c.len());
                if a[..n] == c[..n] {
                    return Err(format!("row {r}: key {a:?} and key {c:?} are not prefix-free"));
                }
            }
        }
        for pos in 0..l {
            match want[pos] {
                Some(v) if m[pos] != 1.0 || y[pos] != v => {
                    return Err(format!(
                        "row {r} pos {pos}: expected scored target {v}, got mask {} target {}",
                        m[pos], y[pos]
                    ))
                }
                None if m[pos] != 0.0 => {
                    return Err(format!("row {r} pos {pos}: scored but not a recall position"))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Data region: exactly `copy` data tokens among blanks; answer region: copy tokens, each
/// scored with the next data token in order.
fn selective_copy(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (l, k, vocab) = (p.usize("data_len"), p.usize("copy"), p.usize("vocab") as u32);
    for (r, x, y, m) in rows(b) {
        if x.len() != l + k {
            return Err(format!("row {r}: length {} is not data_len + copy = {}", x.len(), l + k));
        }
        let mut data = Vec::new();
        for pos in 0..l {
            if m[pos] != 0.0 {
                return Err(format!("row {r} pos {pos}: data region is scored"));
            }
            if x[pos] < vocab {
                data.push(x[pos]);
            } else if x[pos] != vocab {
                return Err(format!(
                    "row {r} pos {pos}: token {} in the data region is neither data nor blank",
                    x[pos]
                ));
            }
        }
        if data.len() != k {
            return Err(format!("row {r}: {} data tokens, expected {k}", data.len()));
        }
        for i in 0..k {
            let pos = l + i;
            if x[pos] != vocab + 1 || m[pos] != 1.0 || y[pos] != data[i] {
                return Err(format!(
                    "row {r} pos {pos}: expected copy token scored with {}, got {} mask {} target {}",
                    data[i], x[pos], m[pos], y[pos]
                ));
            }
        }
    }
    Ok(())
}

/// Data, compress token, then every position index once, each scored with the data token at
/// that index.
fn compression(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (l, vocab) = (p.usize("length"), p.usize("vocab"));
    for (r, x, y, m) in rows(b) {
        if x.len() != 2 * l + 1 || x[l] as usize != vocab {
            return Err(format!("row {r}: no compress token at {l} or wrong length {}", x.len()));
        }
        if let Some(pos) = (0..=l).find(|&i| m[i] != 0.0 || (i < l && x[i] as usize >= vocab)) {
            return Err(format!(
                "row {r} pos {pos}: data or compress position is scored or not a data token"
            ));
        }
        let mut asked = vec![false; l];
        for pos in l + 1..2 * l + 1 {
            let i = (x[pos] as usize).checked_sub(vocab + 1).filter(|&i| i < l);
            let Some(i) = i else {
                return Err(format!("row {r} pos {pos}: {} is not an index token", x[pos]));
            };
            if asked[i] || m[pos] != 1.0 || y[pos] != x[i] {
                return Err(format!(
                    "row {r} pos {pos}: index {i} repeated, unscored or target {} != x[{i}] = {}",
                    y[pos], x[i]
                ));
            }
            asked[i] = true;
        }
    }
    Ok(())
}

/// Key then blank at every pair; every key scored; one value per key across the batch and
/// across a second batch from another seed (the table is fixed, not per sequence).
fn memorization(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (keys, values) = (p.usize("keys"), p.usize("values"));
    let mut table: BTreeMap<u32, u32> = BTreeMap::new();
    let mut read = |b: &Batch, which: &str| -> Result<(), String> {
        for (r, x, y, m) in rows(b) {
            for pos in 0..x.len() {
                let key_slot = pos % 2 == 0;
                if key_slot {
                    if x[pos] as usize >= keys || m[pos] != 1.0 || y[pos] as usize >= values {
                        return Err(format!(
                            "{which} row {r} pos {pos}: key slot {} mask {} target {}",
                            x[pos], m[pos], y[pos]
                        ));
                    }
                    let v = *table.entry(x[pos]).or_insert(y[pos]);
                    if v != y[pos] {
                        return Err(format!(
                            "{which} row {r} pos {pos}: key {} maps to {} and {v}",
                            x[pos], y[pos]
                        ));
                    }
                } else if x[pos] as usize != keys || m[pos] != 0.0 {
                    return Err(format!(
                        "{which} row {r} pos {pos}: expected an unscored blank, got {} mask {}",
                        x[pos], m[pos]
                    ));
                }
            }
        }
        Ok(())
    };
    read(b, "batch")?;
    read(&t.generate(0x05EE_D0F7_AB1E, b.batch.max(2)), "second batch")
}

/// Layout (prefix outside the segment, distinct segment, repeated), and the scored positions
/// are exactly those of the second copy (but the last) whose token's every earlier occurrence
/// was followed by the token that follows now, which is the target.
fn induction(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (l, s) = (p.usize("seq_len"), p.usize("segment"));
    let start = l - 2 * s; // first copy
    for (r, x, y, m) in rows(b) {
        let seg: BTreeSet<u32> = x[start..start + s].iter().copied().collect();
        if seg.len() != s
            || x[start..start + s] != x[start + s..]
            || x[..start].iter().any(|v| seg.contains(v))
        {
            return Err(format!("row {r}: not prefix + segment of {s} distinct tokens + the same segment"));
        }
        // token -> Some(next) while all its earlier occurrences were followed by `next`.
        let mut next: BTreeMap<u32, Option<u32>> = BTreeMap::new();
        for pos in 0..l {
            let qualifies = pos >= start + s && pos + 1 < l && next.get(&x[pos]) == Some(&Some(x[pos + 1]));
            if pos >= start + s && pos + 1 < l && !qualifies {
                return Err(format!(
                    "row {r} pos {pos}: second-copy position is not determined by earlier occurrences"
                ));
            }
            if qualifies != (m[pos] == 1.0) || (qualifies && y[pos] != x[pos + 1]) {
                return Err(format!(
                    "row {r} pos {pos}: qualifies={qualifies} but mask {} target {}",
                    m[pos], y[pos]
                ));
            }
            if pos + 1 < l {
                let e = next.entry(x[pos]).or_insert(Some(x[pos + 1]));
                if *e != Some(x[pos + 1]) {
                    *e = None;
                }
            }
        }
    }
    Ok(())
}

/// The checkers are not vacuous: dropping a scored target, scoring an extra position or
/// changing a target is caught for every recall task.
#[test]
fn recall_checkers_reject_corrupted_batches() {
    for info in interlab::tasks::recall::TASKS {
        let t = (info.build)(interlab::tasks::Params::defaults(info.params)).unwrap();
        let classes = match t.shape().output {
            interlab::tasks::Output::Classes { classes, .. } => classes as u32,
            _ => unreachable!(),
        };
        let check = checker(info.name).unwrap();
        let good = t.generate(11, 4);
        check(t.as_ref(), &good).unwrap();
        let scored = good.mask.iter().position(|&v| v > 0.0).unwrap();
        let unscored = good.mask.iter().position(|&v| v == 0.0).unwrap();
        let mut bad = [good.clone(), good.clone(), good.clone()];
        bad[0].mask[scored] = 0.0;
        bad[1].mask[unscored] = 1.0;
        bad[2].targets[scored] = (good.targets[scored] + 1) % classes;
        for (i, b) in bad.iter().enumerate() {
            assert!(check(t.as_ref(), b).is_err(), "{}: corruption {i} not caught", info.name);
        }
    }
}
