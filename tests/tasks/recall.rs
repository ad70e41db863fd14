//! Independent checks for the recall family (MQAR, MAD, induction heads).

use interlab::tasks::{Batch, Task};

use super::{rows, Checker};

pub fn checker(name: &str) -> Option<Checker> {
    Some(match name {
        "mqar" => mqar,
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
                        return Err(format!("row {r} pos {pos}: target {} but key's value is {}", y[pos], x[2 * i + 1]));
                    }
                }
                (false, None) if x[pos] == 0 => {}
                _ => return Err(format!("row {r} pos {pos}: token {} scored={scored} is neither filler nor a query", x[pos])),
            }
        }
        if queried.iter().any(|&q| q != 1) {
            return Err(format!("row {r}: keys not queried exactly once: {queried:?}"));
        }
    }
    Ok(())
}
