// reduce.wgsl — f32 reductions in a FIXED order (no atomics), so a run repeats bit for bit:
// column sums of a matrix (bias / gain gradients), the sum of a vector (a loss sum) and its
// sum of squares (global gradient norm for clipping).
//
// Bindings (group 0):
//   0  x        storage, read        f32[rows * cols] (column sums) or f32[n] (sums)
//   1  scratch  storage, read_write  partials: f32[parts * cols] or f32[parts]
//   2  out      storage, read_write  f32[cols] (column sums) or f32[> out_index] (sums)
//   3  params   uniform              { dim0, dim1, parts, flags: u32 } (16 bytes)
//     column sums: dim0 = rows, dim1 = cols, parts = ceil(rows / 256)
//     sums:        dim0 = n, dim1 = out_index, parts = ceil(n / 4096)
//   flags: 1 SQUARE (sum x², read in the first pass only), 2 ACCUMULATE (out += result).
// Entry points, each recorded as a pair (first pass, then second pass):
//   col_sum_partial  binds x, scratch, params   scratch[p, c] = Σ x[r, c], r in part p
//   col_sum_final    binds scratch, out, params out[c] (+)= Σ_p scratch[p, c]
//   sum_partial      binds x, scratch, params   scratch[g] = Σ (x or x²) over block g
//   sum_final        binds scratch, out, params out[out_index] (+)= Σ_g scratch[g]
// Dispatch:
//   col_sum_partial: (ceil(cols / 64), parts, 1) × workgroup (64, 1, 1), one thread per column
//   col_sum_final:   (ceil(cols / 64), 1, 1)     × workgroup (64, 1, 1)
//   sum_partial:     (parts, 1, 1)               × workgroup (256, 1, 1)
//   sum_final:       (1, 1, 1)                   × workgroup (256, 1, 1)
// Order (fixed by the sizes alone, never by timing or the hardware):
//   column sums: rows are cut into parts of 256 consecutive rows; each part is summed from
//     0.0 in increasing row; the parts are then summed from 0.0 in increasing part.
//   sums: the vector is cut into blocks of 4096; in block g, thread t sums elements
//     g·4096 + t + 256·i for i = 0..15 in increasing i, then the 256 thread sums are combined
//     by a halving tree (s[t] += s[t + h] for h = 128, 64, ..., 1). The final pass does the
//     same over the block partials (thread t sums partials t, t + 256, ... in order, then the
//     tree); ACCUMULATE adds that total to out[out_index] last.
// CPU reference: `gpu::reduce::{col_sum_reference, sum_reference}` (f64 loops).
// Tests: tests/gpu_linalg.rs (native, software Vulkan): against the f64 oracle within a
//   named tolerance and bit-identical run to run.

struct Params {
    dim0: u32,
    dim1: u32,
    parts: u32,
    flags: u32,
}

const SQUARE: u32 = 1u;
const ACCUMULATE: u32 = 2u;

const ROWS_PER_PART: u32 = 256u;
const WG: u32 = 256u;          // threads of the vector-sum passes
const PER_THREAD: u32 = 16u;   // elements per thread in sum_partial
const BLOCK: u32 = 4096u;      // WG * PER_THREAD

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> shared_sums: array<f32, 256>;

@compute @workgroup_size(64, 1, 1)
fn col_sum_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let rows = params.dim0;
    let cols = params.dim1;
    let col = gid.x;
    if (col >= cols) {
        return;
    }
    let r0 = wid.y * ROWS_PER_PART;
    let r1 = min(r0 + ROWS_PER_PART, rows);
    var s = 0.0;
    for (var r = r0; r < r1; r++) {
        let v = x[r * cols + col];
        if ((params.flags & SQUARE) != 0u) {
            s = s + v * v;
        } else {
            s = s + v;
        }
    }
    scratch[wid.y * cols + col] = s;
}

@compute @workgroup_size(64, 1, 1)
fn col_sum_final(@builtin(global_invocation_id) gid: vec3<u32>) {
    let cols = params.dim1;
    let col = gid.x;
    if (col >= cols) {
        return;
    }
    var s = 0.0;
    for (var p = 0u; p < params.parts; p++) {
        s = s + scratch[p * cols + col];
    }
    if ((params.flags & ACCUMULATE) != 0u) {
        s = out[col] + s;
    }
    out[col] = s;
}

// Halving tree over shared_sums[0..256]; every thread must call it (it has barriers).
fn tree_total(t: u32, own: f32) -> f32 {
    shared_sums[t] = own;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h = h / 2u) {
        if (t < h) {
            shared_sums[t] = shared_sums[t] + shared_sums[t + h];
        }
        workgroupBarrier();
    }
    return shared_sums[0];
}

@compute @workgroup_size(256, 1, 1)
fn sum_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let n = params.dim0;
    let t = lid.x;
    var s = 0.0;
    for (var i = 0u; i < PER_THREAD; i++) {
        let idx = wid.x * BLOCK + i * WG + t;
        if (idx < n) {
            let v = x[idx];
            if ((params.flags & SQUARE) != 0u) {
                s = s + v * v;
            } else {
                s = s + v;
            }
        }
    }
    let total = tree_total(t, s);
    if (t == 0u) {
        scratch[wid.x] = total;
    }
}

@compute @workgroup_size(256, 1, 1)
fn sum_final(@builtin(local_invocation_id) lid: vec3<u32>) {
    let t = lid.x;
    var s = 0.0;
    for (var g = t; g < params.parts; g += WG) {
        s = s + scratch[g];
    }
    var total = tree_total(t, s);
    if (t == 0u) {
        let at = params.dim1;
        if ((params.flags & ACCUMULATE) != 0u) {
            total = out[at] + total;
        }
        out[at] = total;
    }
}
