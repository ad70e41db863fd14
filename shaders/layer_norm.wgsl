// layer_norm.wgsl — gain-only LayerNorm over the last dimension, forward and backward:
//   y[r, i] = (x[r, i] − mean_r) · rstd_r · g[i],  rstd_r = 1 / sqrt(var_r + eps)
//   (var is the biased variance, two passes: mean first, then centred squares).
//
// Bindings (group 0; each entry point binds only the ones it uses):
//   0  x           storage, read        f32[rows * d]         forward, backward, gain_partial
//   1  g           storage, read        f32[d]                forward, backward
//   2  dy          storage, read        f32[rows * d]         backward, gain_partial
//   3  mean_in     storage, read        f32[rows]             backward, gain_partial
//   4  rstd_in     storage, read        f32[rows]             backward, gain_partial
//   5  partial_in  storage, read        f32[chunks * d]       gain_reduce
//   6  y           storage, read_write  f32[rows * d]         forward
//   7  mean        storage, read_write  f32[rows]             forward (saved for the backward)
//   8  rstd        storage, read_write  f32[rows]             forward (saved for the backward)
//   9  dx          storage, read_write  f32[rows * d]         backward (overwritten)
//   10 partial     storage, read_write  f32[chunks * d]       gain_partial
//   11 dg          storage, read_write  f32[d]                gain_reduce (overwritten)
//   12 params      uniform              { rows, d, chunk_rows: u32, eps: f32 }  (16 bytes)
//   chunks = ceil(rows / chunk_rows).
// Dispatch (linear workgroup index w = wid.x + wid.y · num_workgroups.x; see gpu::grid):
//   forward, backward: one 64-thread workgroup per row (rows workgroups). Threads take
//     columns i ≡ tid (mod 64) in increasing order, then a fixed 64 → 1 tree in workgroup
//     memory combines them.
//   gain_partial: one invocation per (chunk, column), ceil(chunks · d / 64) workgroups;
//     partial[c, i] = Σ over rows r of chunk c, increasing r, of dy[r, i] · x̂[r, i].
//   gain_reduce: one invocation per column, ceil(d / 64) workgroups; dg[i] = Σ_c partial[c, i]
//     in increasing c.
// Determinism: every sum above has one fixed order and no atomics, so runs repeat bit for bit.
// CPU reference: model::layer_norm (fused candle op, sums in row order) and
//   gpu::layer_norm::layer_norm_reference (plain loops in f64).
// Tests: tests/gpu_norm_loss.rs (rows × d over 1, 7, 64, 257; values, dx, dgain, mean, rstd;
//   run-to-run bit identity; bad shapes).

struct Params {
    rows: u32,
    d: u32,
    chunk_rows: u32,
    eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> mean_in: array<f32>;
@group(0) @binding(4) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(5) var<storage, read> partial_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read_write> mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(9) var<storage, read_write> dx: array<f32>;
@group(0) @binding(10) var<storage, read_write> partial: array<f32>;
@group(0) @binding(11) var<storage, read_write> dg: array<f32>;
@group(0) @binding(12) var<uniform> params: Params;

const WG: u32 = 64u;

var<workgroup> red: array<f32, 64>;

// Sum `v` over the workgroup in a fixed tree order; every thread gets the total. Must be
// called by all 64 threads (it contains barriers).
fn workgroup_sum(tid: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (tid < s) {
            red[tid] = red[tid] + red[tid + s];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64, 1, 1)
fn forward(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = wid.x + wid.y * nwg.x;
    // No early return: every thread must reach the barriers in workgroup_sum.
    let live = row < params.rows;
    let d = params.d;
    let base = row * d;
    var s = 0.0;
    if (live) {
        for (var i = tid; i < d; i += WG) {
            s += x[base + i];
        }
    }
    let mu = workgroup_sum(tid, s) / f32(d);
    var q = 0.0;
    if (live) {
        for (var i = tid; i < d; i += WG) {
            let c = x[base + i] - mu;
            q += c * c;
        }
    }
    let variance = workgroup_sum(tid, q) / f32(d);
    let r = 1.0 / sqrt(variance + params.eps);
    if (live) {
        for (var i = tid; i < d; i += WG) {
            y[base + i] = (x[base + i] - mu) * r * g[i];
        }
        if (tid == 0u) {
            mean[row] = mu;
            rstd[row] = r;
        }
    }
}

// dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)), ĝ = dy · g, x̂ = (x − mean) · rstd.
@compute @workgroup_size(64, 1, 1)
fn backward(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = wid.x + wid.y * nwg.x;
    let live = row < params.rows;
    let d = params.d;
    let base = row * d;
    var mu = 0.0;
    var r = 0.0;
    var s1 = 0.0;
    var s2 = 0.0;
    if (live) {
        mu = mean_in[row];
        r = rstd_in[row];
        for (var i = tid; i < d; i += WG) {
            let gh = dy[base + i] * g[i];
            s1 += gh;
            s2 += gh * (x[base + i] - mu) * r;
        }
    }
    let m1 = workgroup_sum(tid, s1) / f32(d);
    let m2 = workgroup_sum(tid, s2) / f32(d);
    if (live) {
        for (var i = tid; i < d; i += WG) {
            let xh = (x[base + i] - mu) * r;
            dx[base + i] = r * (dy[base + i] * g[i] - m1 - xh * m2);
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn gain_partial(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let idx = (wid.x + wid.y * nwg.x) * WG + tid;
    let d = params.d;
    let chunks = (params.rows + params.chunk_rows - 1u) / params.chunk_rows;
    if (idx >= chunks * d) {
        return;
    }
    let c = idx / d;
    let i = idx % d;
    let r0 = c * params.chunk_rows;
    let r1 = min(r0 + params.chunk_rows, params.rows);
    var s = 0.0;
    for (var r = r0; r < r1; r++) {
        s += dy[r * d + i] * (x[r * d + i] - mean_in[r]) * rstd_in[r];
    }
    partial[idx] = s;
}

@compute @workgroup_size(64, 1, 1)
fn gain_reduce(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = (wid.x + wid.y * nwg.x) * WG + tid;
    let d = params.d;
    if (i >= d) {
        return;
    }
    let chunks = (params.rows + params.chunk_rows - 1u) / params.chunk_rows;
    var s = 0.0;
    for (var c = 0u; c < chunks; c++) {
        s += partial_in[c * d + i];
    }
    dg[i] = s;
}
