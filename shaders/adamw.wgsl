// adamw.wgsl — one fused AdamW update over a flat parameter buffer (all tensors laid end to
//   end), with global-norm gradient clipping from a fixed-order sum of squares:
//     norm = sqrt(Σ grad²);  s = clip / norm if clip > 0 and norm > clip, else 1
//     g = s · grad;  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²
//     param = param · (decay[i] ≠ 0 ? sched.decay : 1) − sched.lr · (m / bc1) / (sqrt(v / bc2) + eps)
//   with sched.decay = 1 − lr · weight_decay, bc1 = 1 − β1^t, bc2 = 1 − β2^t (host-computed).
//
// Bindings (group 0; each entry point binds only the ones it uses):
//   0  grad        storage, read        f32[n]         sumsq_partial, update
//   1  decay       storage, read        f32[n]         update (1 = weight decay, 0 = none)
//   2  partial_in  storage, read        f32[chunks]    sumsq_reduce
//   3  norm_in     storage, read        f32[2]         update
//   4  param       storage, read_write  f32[n]         update
//   5  m           storage, read_write  f32[n]         update
//   6  v           storage, read_write  f32[n]         update
//   7  partial     storage, read_write  f32[chunks]    sumsq_partial
//   8  norm        storage, read_write  f32[2]         sumsq_reduce: [grad norm, clip scale]
//   9  sched       uniform              { lr, bc1, bc2, decay: f32 }  (16 bytes) update —
//                  changes every step: the caller rewrites it with queue.write_buffer, so the
//                  recorded Program is replayed unchanged.
//   10 params      uniform              { n, chunk: u32, beta1, beta2, eps, clip: f32,
//                                         _pad0, _pad1: u32 }  (32 bytes)
//   chunks = ceil(n / chunk).
// Dispatch (linear workgroup index w = wid.x + wid.y · num_workgroups.x; see gpu::grid):
//   sumsq_partial: one 256-thread workgroup per chunk of `chunk` elements; thread t sums
//     elements t, t + 256, … of its chunk in increasing order, then a fixed 256 → 1 tree.
//   sumsq_reduce: one 256-thread workgroup: strided over the chunks, then the same tree.
//   update: one invocation per element, 256 per workgroup, ceil(n / 256) workgroups.
// Determinism: the partition depends on `chunk` (a constant of gpu::adamw), not the device;
//   no atomics; so runs repeat bit for bit.
// CPU reference: model::optim::AdamW::step (f64 norm and update term, f32 moments) and
//   gpu::adamw::adamw_reference (plain loops).
// Tests: tests/gpu_adamw.rs (5 steps vs model::optim::AdamW over tensors of 1, 7, 64, 257
//   and 7×257 elements, mixed decay, clipping live and off; bit identity; bad shapes).

struct Step {
    lr: f32,
    bc1: f32,
    bc2: f32,
    decay: f32,
}

struct Params {
    n: u32,
    chunk: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    clip: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read> decay: array<f32>;
@group(0) @binding(2) var<storage, read> partial_in: array<f32>;
@group(0) @binding(3) var<storage, read> norm_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> param: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
@group(0) @binding(6) var<storage, read_write> v: array<f32>;
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;
@group(0) @binding(8) var<storage, read_write> norm: array<f32>;
@group(0) @binding(9) var<uniform> sched: Step;
@group(0) @binding(10) var<uniform> params: Params;

const WG: u32 = 256u;

var<workgroup> red: array<f32, 256>;

fn tree_sum(tid: u32, x: f32) -> f32 {
    red[tid] = x;
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

@compute @workgroup_size(256, 1, 1)
fn sumsq_partial(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let c = wid.x + wid.y * nwg.x;
    let chunks = (params.n + params.chunk - 1u) / params.chunk;
    // No early return: every thread must reach the barriers in tree_sum.
    let live = c < chunks;
    var s = 0.0;
    if (live) {
        let start = c * params.chunk;
        let end = min(start + params.chunk, params.n);
        for (var i = start + tid; i < end; i += WG) {
            let g = grad[i];
            s += g * g;
        }
    }
    let total = tree_sum(tid, s);
    if (live && tid == 0u) {
        partial[c] = total;
    }
}

@compute @workgroup_size(256, 1, 1)
fn sumsq_reduce(@builtin(local_invocation_index) tid: u32) {
    let chunks = (params.n + params.chunk - 1u) / params.chunk;
    var s = 0.0;
    for (var i = tid; i < chunks; i += WG) {
        s += partial_in[i];
    }
    let total = tree_sum(tid, s);
    if (tid == 0u) {
        let nrm = sqrt(total);
        var scale = 1.0;
        if (params.clip > 0.0 && nrm > params.clip) {
            scale = params.clip / nrm;
        }
        norm[0] = nrm;
        norm[1] = scale;
    }
}

@compute @workgroup_size(256, 1, 1)
fn update(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = (wid.x + wid.y * nwg.x) * WG + tid;
    if (i >= params.n) {
        return;
    }
    let b1 = params.beta1;
    let b2 = params.beta2;
    let g = grad[i] * norm_in[1];
    let mi = b1 * m[i] + (1.0 - b1) * g;
    let vi = b2 * v[i] + (1.0 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    var keep = 1.0;
    if (decay[i] != 0.0) {
        keep = sched.decay;
    }
    let mhat = mi / sched.bc1;
    let vhat = vi / sched.bc2;
    param[i] = param[i] * keep - sched.lr * mhat / (sqrt(vhat) + params.eps);
}
