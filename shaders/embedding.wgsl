// embedding.wgsl — token embedding: gather rows of wte, and its backward, a scatter-add into
//   d_wte made deterministic by giving every output element to exactly one invocation.
//   gather:  out[p, j]   = wte[tokens[p], j]                     (0 for a token ≥ vocab)
//   scatter: d_wte[v, j] = [d_wte[v, j] if accumulate] + Σ_{p : tokens[p] = v} d_out[p, j]
//
// Bindings (group 0; each entry point binds only the ones it uses):
//   0  tokens  storage, read        u32[n]          gather, scatter   (n = batch · seq)
//   1  wte     storage, read        f32[vocab * d]  gather
//   2  d_out   storage, read        f32[n * d]      scatter
//   3  out     storage, read_write  f32[n * d]      gather
//   4  d_wte   storage, read_write  f32[vocab * d]  scatter (overwritten unless accumulate)
//   5  params  uniform              { n, vocab, d, accumulate: u32 }  (16 bytes)
// Dispatch (linear workgroup index w = wid.x + wid.y · num_workgroups.x; see gpu::grid):
//   gather: one invocation per output element, 256 per workgroup, ceil(n · d / 256) groups.
//   scatter: one 64-thread workgroup per (vocab row v, block of 64 columns):
//     vocab · ceil(d / 64) workgroups; thread t owns column j = 64 · block + t. The workgroup
//     walks the positions in tiles of 256 tokens staged in workgroup memory, and adds
//     d_out[p, j] whenever tokens[p] = v (a workgroup-uniform branch).
// Determinism: no atomics. Each d_wte element is summed by one invocation over positions in
//   increasing p — the same order as a sequential index_add — so runs repeat bit for bit.
//   Cost is O(vocab · n) token comparisons per column block, fine for the lab's vocabularies
//   (≤ a few hundred); a counting sort of positions by token would be the upgrade for large
//   vocabularies.
// CPU reference: candle `Tensor::embedding` and its backward (model::io::Embed), and
//   gpu::embedding::embedding_reference (plain loops).
// Tests: tests/gpu_norm_loss.rs (n, vocab, d over 1, 7, 64, 257; repeated and absent tokens;
//   accumulate; run-to-run bit identity; bad shapes).

struct Params {
    n: u32,
    vocab: u32,
    d: u32,
    accumulate: u32,
}

@group(0) @binding(0) var<storage, read> tokens: array<u32>;
@group(0) @binding(1) var<storage, read> wte: array<f32>;
@group(0) @binding(2) var<storage, read> d_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_wte: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

const TILE: u32 = 256u;

var<workgroup> tile: array<u32, 256>;

@compute @workgroup_size(256, 1, 1)
fn gather(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let e = (wid.x + wid.y * nwg.x) * 256u + tid;
    if (e >= params.n * params.d) {
        return;
    }
    let p = e / params.d;
    let j = e % params.d;
    let t = tokens[p];
    var v = 0.0;
    if (t < params.vocab) {
        v = wte[t * params.d + j];
    }
    out[e] = v;
}

@compute @workgroup_size(64, 1, 1)
fn scatter(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let blocks = (params.d + 63u) / 64u;
    let w = wid.x + wid.y * nwg.x;
    let v = w / blocks;
    let j = (w % blocks) * 64u + tid;
    // No early return: every thread must reach the barriers below.
    let live = v < params.vocab && j < params.d;
    var acc = 0.0;
    for (var p0 = 0u; p0 < params.n; p0 += TILE) {
        for (var k = tid; k < TILE; k += 64u) {
            var t = 0xffffffffu;
            if (p0 + k < params.n) {
                t = tokens[p0 + k];
            }
            tile[k] = t;
        }
        workgroupBarrier();
        let len = min(TILE, params.n - p0);
        for (var k = 0u; k < len; k++) {
            if (tile[k] == v && live) {
                acc += d_out[(p0 + k) * params.d + j];
            }
        }
        workgroupBarrier();
    }
    if (live) {
        let o = v * params.d + j;
        if (params.accumulate != 0u) {
            d_wte[o] = d_wte[o] + acc;
        } else {
            d_wte[o] = acc;
        }
    }
}
