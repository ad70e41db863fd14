//! Independent checks for the structured family (ListOpsSubTrees, PathfinderSegmentation).

use interlab::tasks::{Batch, Task};

use super::{rows, Checker};

pub fn checker(name: &str) -> Option<Checker> {
    Some(match name {
        "listops" => listops,
        "pathfinder" => pathfinder,
        _ => return None,
    })
}

// ListOps token ids, from the task's documented vocabulary.
const MAX: u32 = 10;
const MIN: u32 = 11;
const MED: u32 = 12;
const SM: u32 = 13;
const CLOSE: u32 = 14;
const PAD: u32 = 15;

/// Value of one operator over its argument values, computed the plain way.
fn listops_value(op: u32, args: &[u32]) -> u32 {
    match op {
        MAX => {
            let mut best = args[0];
            for &a in args {
                if a > best {
                    best = a;
                }
            }
            best
        }
        MIN => {
            let mut best = args[0];
            for &a in args {
                if a < best {
                    best = a;
                }
            }
            best
        }
        MED => {
            // Bubble sort, then the element at len / 2 (upper median for an even count).
            let mut s = args.to_vec();
            for i in 0..s.len() {
                for j in 0..s.len() - 1 - i {
                    if s[j] > s[j + 1] {
                        s.swap(j, j + 1);
                    }
                }
            }
            s[s.len() / 2]
        }
        _ => {
            let mut sum = 0;
            for &a in args {
                sum += a;
            }
            sum % 10
        }
    }
}

/// Parse the operator node starting at `*pos` (depth `depth`, root = 1), check its shape, and
/// record the value each `]` must carry in `expected`. Returns the node's value.
fn parse_node(
    x: &[u32],
    pos: &mut usize,
    depth: usize,
    max_args: usize,
    max_depth: usize,
    expected: &mut [Option<u32>],
) -> Result<u32, String> {
    let start = *pos;
    let op = *x.get(start).ok_or_else(|| format!("expression runs past the end at {start}"))?;
    if !(MAX..=SM).contains(&op) {
        return Err(format!("pos {start}: expected an operator, found token {op}"));
    }
    if depth > max_depth {
        return Err(format!("pos {start}: operator at depth {depth} > max_depth {max_depth}"));
    }
    *pos += 1;
    let mut args = Vec::new();
    loop {
        let p = *pos;
        match x.get(p).copied() {
            None => return Err(format!("operator at {start} is never closed")),
            Some(d @ 0..=9) => {
                args.push(d);
                *pos += 1;
            }
            Some(MAX..=SM) => args.push(parse_node(x, pos, depth + 1, max_args, max_depth, expected)?),
            Some(CLOSE) => break,
            Some(tok) => return Err(format!("pos {p}: token {tok} inside the expression")),
        }
    }
    if args.len() < 2 || args.len() > max_args {
        return Err(format!("operator at {start} has {} arguments, expected 2..={max_args}", args.len()));
    }
    let v = listops_value(op, &args);
    expected[*pos] = Some(v);
    *pos += 1;
    Ok(v)
}

/// One well-formed expression from position 0, then only pad; every `]` scored with the value
/// of the sub-tree it closes, nothing else scored.
fn listops(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (seq_len, max_args, max_depth) = (p.usize("seq_len"), p.usize("max_args"), p.usize("max_depth"));
    if b.seq_len != seq_len || t.shape().vocab != 16 {
        return Err(format!("shape: seq_len {} vocab {}", b.seq_len, t.shape().vocab));
    }
    for (r, x, y, m) in rows(b) {
        let mut expected = vec![None; seq_len];
        let mut pos = 0;
        parse_node(x, &mut pos, 1, max_args, max_depth, &mut expected)
            .map_err(|e| format!("row {r}: {e}"))?;
        if let Some(q) = (pos..seq_len).find(|&q| x[q] != PAD) {
            return Err(format!(
                "row {r} pos {q}: token {} after the expression (ends at {pos}), expected pad",
                x[q]
            ));
        }
        for q in 0..seq_len {
            match expected[q] {
                Some(v) if m[q] != 1.0 || y[q] != v => {
                    return Err(format!(
                        "row {r} pos {q}: `]` closes a sub-tree of value {v}, got target {} mask {}",
                        y[q], m[q]
                    ))
                }
                None if m[q] != 0.0 => {
                    return Err(format!("row {r} pos {q}: token {} is scored but is not a `]`", x[q]))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// 8-connected flood fill from `seed` over pixels where `inside` holds; returns the component.
fn flood(n: usize, seed: usize, inside: impl Fn(usize) -> bool) -> Vec<bool> {
    let mut seen = vec![false; n * n];
    let mut stack = vec![seed];
    seen[seed] = true;
    while let Some(p) = stack.pop() {
        let (x, y) = ((p % n) as i64, (p / n) as i64);
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (xx, yy) = (x + dx, y + dy);
                if xx < 0 || yy < 0 || xx >= n as i64 || yy >= n as i64 {
                    continue;
                }
                let q = yy as usize * n + xx as usize;
                if !seen[q] && inside(q) {
                    seen[q] = true;
                    stack.push(q);
                }
            }
        }
    }
    seen
}

/// Label 1 is exactly the 8-connected component of non-background pixels that holds the
/// circles; circles are two separate discs of the documented size, far enough apart; every
/// pixel is scored; distractor pixels exist when asked for and there is room.
fn pathfinder(t: &dyn Task, b: &Batch) -> Result<(), String> {
    let p = t.params();
    let (n, radius, distractors) = (p.usize("size"), p.usize("radius") as i64, p.usize("distractors"));
    if b.seq_len != n * n || t.image() != Some((n, n)) {
        return Err(format!("shape: seq_len {} image {:?} for size {n}", b.seq_len, t.image()));
    }
    let mut disc_pixels = 0;
    for dy in -radius..=radius {
        for dx in -radius..=radius {
            if dx * dx + dy * dy <= radius * radius + radius {
                disc_pixels += 1;
            }
        }
    }
    for (r, x, y, m) in rows(b) {
        if let Some(q) = (0..n * n).find(|&q| m[q] != 1.0) {
            return Err(format!("row {r} pixel {q}: not scored"));
        }
        let circles: Vec<usize> = (0..n * n).filter(|&q| x[q] == 2).collect();
        let Some(&first) = circles.first() else { return Err(format!("row {r}: no circle pixels")) };
        // Circle blobs.
        let mut blob_of = vec![usize::MAX; n * n];
        let mut blobs: Vec<Vec<usize>> = Vec::new();
        for &c in &circles {
            if blob_of[c] == usize::MAX {
                let comp = flood(n, c, |q| x[q] == 2);
                let members: Vec<usize> = (0..n * n).filter(|&q| comp[q]).collect();
                for &q in &members {
                    blob_of[q] = blobs.len();
                }
                blobs.push(members);
            }
        }
        if blobs.len() != 2 {
            return Err(format!("row {r}: circle pixels form {} blobs, expected 2", blobs.len()));
        }
        let centre = |blob: &[usize]| {
            let (mut sx, mut sy) = (0, 0);
            for &q in blob {
                sx += q % n;
                sy += q / n;
            }
            ((sx / blob.len()) as i64, (sy / blob.len()) as i64)
        };
        let ((ax, ay), (bx, by)) = (centre(&blobs[0]), centre(&blobs[1]));
        let apart = (ax - bx).abs().max((ay - by).abs());
        if blobs.iter().any(|bl| bl.len() != disc_pixels) || apart < n.div_ceil(3) as i64 {
            let sizes: Vec<usize> = blobs.iter().map(|bl| bl.len()).collect();
            return Err(format!(
                "row {r}: disc sizes {sizes:?} (expected {disc_pixels}), centres {apart} apart (need >= N/3)"
            ));
        }
        // The connecting structure.
        let comp = flood(n, first, |q| x[q] != 0);
        if let Some(&c) = circles.iter().find(|&&c| !comp[c]) {
            return Err(format!("row {r} pixel {c}: circle not connected to the other circle"));
        }
        for q in 0..n * n {
            if x[q] > 2 {
                return Err(format!("row {r} pixel {q}: token {}", x[q]));
            }
            if (y[q] == 1) != comp[q] || y[q] > 1 {
                return Err(format!(
                    "row {r} pixel ({}, {}): label {} but connected = {} (token {})",
                    q % n,
                    q / n,
                    y[q],
                    comp[q],
                    x[q]
                ));
            }
        }
        if distractors > 0 && n >= 32 && !(0..n * n).any(|q| x[q] == 1 && !comp[q]) {
            return Err(format!("row {r}: {distractors} distractors asked for but no distractor pixel"));
        }
    }
    Ok(())
}

/// A default-parameter task of the structured family, its checker, and a valid batch.
fn valid(name: &str) -> (Box<dyn Task>, Checker, Batch) {
    let info = interlab::tasks::structured::TASKS.iter().find(|i| i.name == name).unwrap();
    let t = (info.build)(interlab::tasks::Params::defaults(info.params)).unwrap();
    let check = checker(name).unwrap();
    let good = t.generate(11, 4);
    check(t.as_ref(), &good).unwrap_or_else(|e| panic!("{name}: the valid batch fails: {e}"));
    (t, check, good)
}

/// Each corruption of a valid batch must be rejected, with an error that names its kind.
fn assert_rejected(name: &str, t: &dyn Task, check: Checker, cases: Vec<(&str, Batch, &str)>) {
    for (what, bad, expect) in cases {
        match check(t, &bad) {
            Ok(()) => panic!("{name}: {what} was not caught"),
            Err(e) => assert!(e.contains(expect), "{name}: {what}: error {e:?} lacks {expect:?}"),
        }
    }
}

/// The ListOps checker is not vacuous: a wrong value at a `]`, an unscored `]`, a scored
/// operator, a token after the expression, a missing `]`, and an operator with one argument
/// are each caught.
#[test]
fn listops_checker_rejects_corrupted_batches() {
    let (t, check, good) = valid("listops");
    let l = good.seq_len;
    let x = &good.inputs[..l];
    let close = x.iter().position(|&v| v == CLOSE).unwrap();
    let end = x.iter().rposition(|&v| v == CLOSE).unwrap();
    let pad = (0..good.batch * l).find(|&i| good.inputs[i] == PAD).expect("a row with padding");
    let mut cases = Vec::new();
    let mut b = good.clone();
    b.targets[close] = (b.targets[close] + 1) % 10;
    cases.push(("a `]` with the wrong value", b, "closes a sub-tree of value"));
    let mut b = good.clone();
    b.mask[close] = 0.0;
    cases.push(("an unscored `]`", b, "closes a sub-tree of value"));
    let mut b = good.clone();
    b.mask[0] = 1.0;
    cases.push(("a scored operator", b, "is scored but is not a `]`"));
    let mut b = good.clone();
    b.inputs[pad] = 3;
    cases.push(("a digit in the padding", b, "after the expression"));
    let mut b = good.clone();
    b.inputs[end] = PAD;
    b.mask[end] = 0.0;
    // A pad where the `]` was: inside the still-open root, or past the end of a full row.
    let why = if end + 1 < l { "token 15 inside the expression" } else { "never closed" };
    cases.push(("the root's `]` removed", b, why));
    // The root with only its first argument: the operator, one digit (or sub-tree), `]`.
    let mut b = good.clone();
    let mut depth = 0;
    let first_end = 1
        + (1..l)
            .find(|&q| {
                if (MAX..=SM).contains(&x[q]) {
                    depth += 1;
                } else if x[q] == CLOSE {
                    depth -= 1;
                }
                depth == 0
            })
            .unwrap();
    let mut row: Vec<u32> = x[..first_end].to_vec();
    row.push(CLOSE);
    row.resize(l, PAD);
    b.inputs[..l].copy_from_slice(&row);
    cases.push(("an operator with one argument", b, "has 1 arguments"));
    assert_rejected("listops", t.as_ref(), check, cases);
}

/// The Pathfinder checker is not vacuous: a connected pixel labelled 0, a background pixel
/// labelled 1, an unscored pixel, a damaged circle, a token out of range, and a path erased
/// under its labels are each caught.
#[test]
fn pathfinder_checker_rejects_corrupted_batches() {
    let (t, check, good) = valid("pathfinder");
    let l = good.seq_len;
    let (x, y) = (&good.inputs[..l], &good.targets[..l]);
    let path = (0..l).find(|&q| x[q] == 1 && y[q] == 1).expect("a path pixel");
    let n = (l as f64).sqrt() as usize;
    // A background pixel with only background around it, so that changing it cannot join
    // anything to the circles' component.
    let background = (0..l)
        .find(|&q| {
            let (px, py) = ((q % n) as i64, (q / n) as i64);
            (-1..=1).all(|dy| {
                (-1..=1).all(|dx| {
                    let (xx, yy) = (px + dx, py + dy);
                    xx < 0
                        || yy < 0
                        || xx >= n as i64
                        || yy >= n as i64
                        || x[yy as usize * n + xx as usize] == 0
                })
            })
        })
        .expect("an isolated background pixel");
    let circle = (0..l).find(|&q| x[q] == 2).unwrap();
    let mut cases = Vec::new();
    let mut b = good.clone();
    b.targets[path] = 0;
    cases.push(("a connected pixel labelled 0", b, "label 0 but connected = true"));
    let mut b = good.clone();
    b.targets[background] = 1;
    cases.push(("a background pixel labelled 1", b, "label 1 but connected = false"));
    let mut b = good.clone();
    b.mask[background] = 0.0;
    cases.push(("an unscored pixel", b, "not scored"));
    let mut b = good.clone();
    b.inputs[circle] = 1;
    cases.push(("a circle pixel turned into path", b, "disc sizes"));
    let mut b = good.clone();
    b.inputs[background] = 3;
    cases.push(("a token out of range", b, "token 3"));
    let mut b = good.clone();
    for q in 0..l {
        if b.inputs[q] == 1 && b.targets[q] == 1 {
            b.inputs[q] = 0;
        }
    }
    cases.push(("the connecting path erased", b, "circle not connected"));
    assert_rejected("pathfinder", t.as_ref(), check, cases);
}
