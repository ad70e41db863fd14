// cross_entropy.wgsl — masked losses with their gradients in the same pass, and fixed-order
//   totals. Cross-entropy over rows of logits (targets u32, mask f32 per row):
//     loss   = Σ_r mask_r · (logsumexp(logits_r) − logits_r[target_r]) / max(Σ mask, 1)
//     d_logits[r, j] = (softmax(logits_r)[j] − [j = target_r]) · mask_r / max(Σ mask, 1)
//     correct[r] = 1 if mask_r > 0 and the first arg-max of logits_r is target_r, else 0
//   Masked MSE over len elements: loss = Σ mask·(pred − y)² / max(Σ mask, 1),
//     d_pred = 2·(pred − y)·mask / max(Σ mask, 1).
//
// Bindings (group 0; each entry point binds only the ones it uses):
//   0  logits       storage, read        f32[n * classes]   forward
//   1  targets      storage, read        u32[n]             forward
//   2  mask         storage, read        f32[n]             count, forward, mse (n = len there)
//   3  stats_in     storage, read        f32[4]             forward, mse
//   4  pred         storage, read        f32[len]           mse
//   5  values       storage, read        f32[len]           mse
//   6  row_loss_in  storage, read        f32[n]             reduce, reduce_loss
//   7  correct_in   storage, read        f32[n]             reduce
//   8  grad         storage, read_write  f32[n * classes]   forward (d_logits), mse (d_pred)
//   9  row_loss     storage, read_write  f32[n]             forward, mse (mask-weighted loss)
//   10 correct      storage, read_write  f32[n]             forward (0 / 1 flags)
//   11 stats        storage, read_write  f32[4]             count, reduce, reduce_loss
//   12 params       uniform              { n, classes, _pad0, _pad1: u32 }  (16 bytes)
//   stats = [mean loss, correct count, Σ mask, max(Σ mask, 1)].
// Dispatch (linear workgroup index w = wid.x + wid.y · num_workgroups.x; see gpu::grid):
//   count, reduce, reduce_loss: one 256-thread workgroup. Two fixed levels: thread t sums
//     elements t, t + 256, t + 512, … in increasing order, then a fixed 256 → 1 tree.
//   forward: one 64-thread workgroup per row (n workgroups); max / arg-max and Σ exp by
//     strided per-thread partials and a fixed 64 → 1 tree.
//   mse: one invocation per element, 256 per workgroup, ceil(len / 256) workgroups.
//   A step is count → forward → reduce (or count → mse → reduce_loss); each launch sees the
//   previous one's writes.
// Determinism: no atomics; every sum has one fixed order, so runs repeat bit for bit.
// CPU reference: model::loss::{masked_cross_entropy, masked_accuracy, masked_mse} (candle,
//   gradients by candle's backward) and gpu::cross_entropy::*_reference (plain loops).
// Tests: tests/gpu_norm_loss.rs (n × classes over 1, 7, 64, 257; all-masked batch; ties in
//   the arg-max; run-to-run bit identity; bad shapes).

struct Params {
    n: u32,
    classes: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read> stats_in: array<f32>;
@group(0) @binding(4) var<storage, read> pred: array<f32>;
@group(0) @binding(5) var<storage, read> values: array<f32>;
@group(0) @binding(6) var<storage, read> row_loss_in: array<f32>;
@group(0) @binding(7) var<storage, read> correct_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad: array<f32>;
@group(0) @binding(9) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(10) var<storage, read_write> correct: array<f32>;
@group(0) @binding(11) var<storage, read_write> stats: array<f32>;
@group(0) @binding(12) var<uniform> params: Params;

const BIG: u32 = 256u;
const ROW: u32 = 64u;

var<workgroup> red: array<f32, 256>;
var<workgroup> red_idx: array<u32, 256>;

// Sum over the first `width` threads' `v` in a fixed tree; all threads get the total.
// Must be called by every thread of the workgroup (barriers).
fn tree_sum(tid: u32, width: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var s = width / 2u; s > 0u; s = s / 2u) {
        if (tid < s) {
            red[tid] = red[tid] + red[tid + s];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

// Each entry point below loops over its own input (a shared helper would make every entry
// point statically use, and so have to bind, every input).
@compute @workgroup_size(256, 1, 1)
fn count(@builtin(local_invocation_index) tid: u32) {
    var s = 0.0;
    for (var i = tid; i < params.n; i += BIG) {
        s += mask[i];
    }
    let total = tree_sum(tid, BIG, s);
    if (tid == 0u) {
        stats[2] = total;
        stats[3] = max(total, 1.0);
    }
}

@compute @workgroup_size(256, 1, 1)
fn reduce(@builtin(local_invocation_index) tid: u32) {
    var s = 0.0;
    var h = 0.0;
    for (var i = tid; i < params.n; i += BIG) {
        s += row_loss_in[i];
        h += correct_in[i];
    }
    let loss = tree_sum(tid, BIG, s);
    let hits = tree_sum(tid, BIG, h);
    if (tid == 0u) {
        stats[0] = loss / stats[3];
        stats[1] = hits;
    }
}

@compute @workgroup_size(256, 1, 1)
fn reduce_loss(@builtin(local_invocation_index) tid: u32) {
    var s = 0.0;
    for (var i = tid; i < params.n; i += BIG) {
        s += row_loss_in[i];
    }
    let loss = tree_sum(tid, BIG, s);
    if (tid == 0u) {
        stats[0] = loss / stats[3];
    }
}

@compute @workgroup_size(64, 1, 1)
fn forward(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = wid.x + wid.y * nwg.x;
    // No early return: every thread must reach the barriers.
    let live = row < params.n;
    let c = params.classes;
    let base = row * c;

    // Max and first arg-max: per-thread over columns tid, tid + 64, …, then a tree that keeps
    // the larger value and, on a tie, the smaller index.
    var best = -3.4028234e38; // -FLT_MAX: the literal must round to a finite f32 (Chrome's Tint rejects -3.4028235e38)
    var best_i = 0xffffffffu;
    if (live) {
        for (var j = tid; j < c; j += ROW) {
            let v = logits[base + j];
            if (v > best) {
                best = v;
                best_i = j;
            }
        }
    }
    red[tid] = best;
    red_idx[tid] = best_i;
    workgroupBarrier();
    for (var s = ROW / 2u; s > 0u; s = s / 2u) {
        if (tid < s) {
            let ov = red[tid + s];
            let oi = red_idx[tid + s];
            if (ov > red[tid] || (ov == red[tid] && oi < red_idx[tid])) {
                red[tid] = ov;
                red_idx[tid] = oi;
            }
        }
        workgroupBarrier();
    }
    let mx = red[0];
    let arg = red_idx[0];
    workgroupBarrier();

    var se = 0.0;
    if (live) {
        for (var j = tid; j < c; j += ROW) {
            se += exp(logits[base + j] - mx);
        }
    }
    let sum_exp = tree_sum(tid, ROW, se);
    if (!live) {
        return;
    }
    let t = targets[row];
    let m = mask[row];
    let scale = m / stats_in[3];
    for (var j = tid; j < c; j += ROW) {
        var onehot = 0.0;
        if (j == t) {
            onehot = 1.0;
        }
        grad[base + j] = (exp(logits[base + j] - mx) / sum_exp - onehot) * scale;
    }
    if (tid == 0u) {
        // A target outside the classes contributes nothing (the host checks targets).
        var nll = 0.0;
        if (t < c) {
            nll = log(sum_exp) - (logits[base + t] - mx);
        }
        row_loss[row] = nll * m;
        var hit = 0.0;
        if (m > 0.0 && arg == t) {
            hit = 1.0;
        }
        correct[row] = hit;
    }
}

@compute @workgroup_size(256, 1, 1)
fn mse(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let e = (wid.x + wid.y * nwg.x) * BIG + tid;
    if (e >= params.n) {
        return;
    }
    let diff = pred[e] - values[e];
    let m = mask[e];
    row_loss[e] = diff * diff * m;
    grad[e] = 2.0 * diff * m / stats_in[3];
}
