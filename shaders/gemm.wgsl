// gemm.wgsl — general f32 matmul for linear layers, forward and backward, with no transposed
// copies: C = op(A) · op(B), op(X) = X or Xᵀ as stored, optionally C += ..., a fused
// bias-per-column and ReLU epilogue, and a leading batch dimension with strides.
//
// Bindings (group 0):
//   0  a       storage, read        f32: per batch [M, K] row-major, or [K, M] when TRANS_A
//   1  b       storage, read        f32: per batch [K, N] row-major, or [N, K] when TRANS_B
//   2  bias    storage, read        f32[N] (entry point `gemm_bias` only)
//   3  c       storage, read_write  f32: per batch [M, N] row-major
//   4  params  uniform              { m, k, n, flags, batch, stride_a, stride_b, stride_c: u32 }
//                                   (32 bytes; strides in f32 elements between batches)
//   flags: 1 TRANS_A (Aᵀ·B, weight gradients), 2 TRANS_B (A·Bᵀ, input gradients),
//          4 ACCUMULATE (C += ...), 8 RELU.
// Entry points: `gemm` (binds 0, 1, 3, 4) and `gemm_bias` (binds 0–4).
// Epilogue, in this order, per output: s = Σ_k op(A)[i, k]·op(B)[k, j];
//   `gemm_bias`: s = s + bias[j]; ACCUMULATE: s = c[i, j] + s; RELU: s = max(s, 0).
// Dispatch: workgroups = (ceil(N / 64), ceil(M / 64), batch); workgroup_size = (16, 16, 1).
//   Each workgroup computes a 64 × 64 tile of one batch's C, staging a 16-deep slice of op(A)
//   and op(B) in workgroup memory (8.1 KiB, both k-major) per K-step. Thread (tx, ty) owns rows
//   ty + 16·i and columns tx + 16·j (i, j < 4), so stores and tile reads are contiguous
//   across tx. Loads follow the storage order (the thread index runs along the contiguous
//   axis of A or Aᵀ, B or Bᵀ). Out-of-range elements are zero on load and skipped on store,
//   so any M, K, N ≥ 1 works.
// Determinism: every output sums its K products in increasing k from 0.0 (one fixed order,
//   whatever the flags), then applies the epilogue; repeated runs give identical bits.
// CPU reference: candle-core `Tensor::matmul` on `.t()` views, `broadcast_add`, `relu`; and
//   `gpu::gemm::gemm_reference` (a plain loop in f64).
// Tests: tests/gpu_linalg.rs (native, software Vulkan) over 1, 7, 64, 257 in each dimension.

struct Params {
    m: u32,
    k: u32,
    n: u32,
    flags: u32,
    batch: u32,
    stride_a: u32,
    stride_b: u32,
    stride_c: u32,
}

const TRANS_A: u32 = 1u;
const TRANS_B: u32 = 2u;
const ACCUMULATE: u32 = 4u;
const RELU: u32 = 8u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const TILE: u32 = 64u;    // output tile edge (M and N)
const TILE_K: u32 = 16u;  // K-step
const THREADS: u32 = 256u;
const REG: u32 = 4u;      // 4 × 4 outputs per thread

// Rows padded to 65 so that the transposing stores (stride TILE_K along the thread index)
// do not all hit one memory bank.
const LD: u32 = 65u;
var<workgroup> a_tile: array<f32, 1040>; // [TILE_K][LD] — op(A)[row0 + r, k0 + kk] at kk*LD + r
var<workgroup> b_tile: array<f32, 1040>; // [TILE_K][LD] — op(B)[k0 + kk, col0 + j] at kk*LD + j

// op(A)[r, kc] of the current batch, zero outside [M, K].
fn load_a(base: u32, r: u32, kc: u32) -> f32 {
    if (r >= params.m || kc >= params.k) {
        return 0.0;
    }
    if ((params.flags & TRANS_A) != 0u) {
        return a[base + kc * params.m + r];
    }
    return a[base + r * params.k + kc];
}

// op(B)[kr, col] of the current batch, zero outside [K, N].
fn load_b(base: u32, kr: u32, col: u32) -> f32 {
    if (kr >= params.k || col >= params.n) {
        return 0.0;
    }
    if ((params.flags & TRANS_B) != 0u) {
        return b[base + col * params.k + kr];
    }
    return b[base + kr * params.n + col];
}

// The 4 × 4 block of Σ_k op(A)·op(B) owned by this thread, k increasing.
fn tile_product(lid: vec3<u32>, wid: vec3<u32>) -> array<f32, 16> {
    let tid = lid.y * 16u + lid.x;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let a_base = wid.z * params.stride_a;
    let b_base = wid.z * params.stride_b;
    let trans_a = (params.flags & TRANS_A) != 0u;
    let trans_b = (params.flags & TRANS_B) != 0u;
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = 0.0;
    }
    let n_tiles = (params.k + TILE_K - 1u) / TILE_K;
    for (var t = 0u; t < n_tiles; t++) {
        let k0 = t * TILE_K;
        for (var i = 0u; i < 4u; i++) {
            let idx = tid + i * THREADS;
            // Thread index along the contiguous axis of the stored matrix.
            var r = idx / TILE_K;
            var kk = idx % TILE_K;
            if (trans_a) {
                r = idx % TILE;
                kk = idx / TILE;
            }
            a_tile[kk * LD + r] = load_a(a_base, row0 + r, k0 + kk);
            var kr = idx / TILE;
            var j = idx % TILE;
            if (trans_b) {
                kr = idx % TILE_K;
                j = idx / TILE_K;
            }
            b_tile[kr * LD + j] = load_b(b_base, k0 + kr, col0 + j);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            var ar: array<f32, 4>;
            var br: array<f32, 4>;
            for (var i = 0u; i < REG; i++) {
                ar[i] = a_tile[kk * LD + lid.y + 16u * i];
                br[i] = b_tile[kk * LD + lid.x + 16u * i];
            }
            for (var i = 0u; i < REG; i++) {
                for (var j = 0u; j < REG; j++) {
                    acc[i * REG + j] = acc[i * REG + j] + ar[i] * br[j];
                }
            }
        }
        workgroupBarrier();
    }
    return acc;
}

// ACCUMULATE and RELU, then store the in-range outputs.
fn store(lid: vec3<u32>, wid: vec3<u32>, acc: array<f32, 16>) {
    let c_base = wid.z * params.stride_c;
    for (var i = 0u; i < REG; i++) {
        let r = wid.y * TILE + lid.y + 16u * i;
        for (var j = 0u; j < REG; j++) {
            let col = wid.x * TILE + lid.x + 16u * j;
            if (r < params.m && col < params.n) {
                let at = c_base + r * params.n + col;
                var s = acc[i * REG + j];
                if ((params.flags & ACCUMULATE) != 0u) {
                    s = c[at] + s;
                }
                if ((params.flags & RELU) != 0u) {
                    s = max(s, 0.0);
                }
                c[at] = s;
            }
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn gemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    store(lid, wid, tile_product(lid, wid));
}

@compute @workgroup_size(16, 16, 1)
fn gemm_bias(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc = tile_product(lid, wid);
    for (var j = 0u; j < REG; j++) {
        let col = wid.x * TILE + lid.x + 16u * j;
        if (col < params.n) {
            let bj = bias[col];
            for (var i = 0u; i < REG; i++) {
                acc[i * REG + j] = acc[i * REG + j] + bj;
            }
        }
    }
    store(lid, wid, acc);
}
