// matmul.wgsl — tiled f32 matrix multiply: C[M, N] = A[M, K] · B[K, N], all row-major.
//
// Bindings (group 0):
//   0  a       storage, read        f32[M * K]
//   1  b       storage, read        f32[K * N]
//   2  c       storage, read_write  f32[M * N]
//   3  params  uniform              { m, k, n, _pad: u32 }  (16 bytes)
// Dispatch: workgroups = (ceil(N / 64), ceil(M / 64), 1); workgroup_size = (16, 16, 1).
//   Each workgroup computes a 64 × 64 tile of C, staging 64 × 16 of A and 16 × 64 of B in
//   workgroup memory (8 KiB) per K-step; each thread owns a 4 × 4 register block of outputs.
//   Out-of-range rows/columns are padded with zeros on load and skipped on store, so any
//   M, K, N ≥ 1 works.
// Determinism: every output sums its K products in increasing k, one fixed order, so repeated
//   runs give identical bits.
// CPU reference: candle-core `Tensor::matmul` (and a plain triple loop in the tests).
// Tests: tests/gpu_matmul.rs (native, software Vulkan) over 1×1×1, 7×13×5, 64×64×64,
//   257×129×65; the browser self-check (engine::gpu_check) in tests/browser.

struct Params {
    m: u32,
    k: u32,
    n: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREADS: u32 = 256u; // 16 × 16
const REG: u32 = 4u;       // 4 × 4 outputs per thread

var<workgroup> a_tile: array<f32, 1024>; // [TILE_M][TILE_K]
var<workgroup> b_tile: array<f32, 1024>; // [TILE_K][TILE_N]

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let tid = lid.y * 16u + lid.x;
    let row0 = wid.y * TILE_M;
    let col0 = wid.x * TILE_N;
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = 0.0;
    }

    let n_tiles = (params.k + TILE_K - 1u) / TILE_K;
    for (var t = 0u; t < n_tiles; t++) {
        let k0 = t * TILE_K;
        // Each thread stages 4 elements of A's tile and 4 of B's tile.
        for (var i = 0u; i < 4u; i++) {
            let idx = tid + i * THREADS;
            let ar = row0 + idx / TILE_K;
            let ac = k0 + idx % TILE_K;
            var av = 0.0;
            if (ar < params.m && ac < params.k) {
                av = a[ar * params.k + ac];
            }
            a_tile[idx] = av;
            let br = k0 + idx / TILE_N;
            let bc = col0 + idx % TILE_N;
            var bv = 0.0;
            if (br < params.k && bc < params.n) {
                bv = b[br * params.n + bc];
            }
            b_tile[idx] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            var ar: array<f32, 4>;
            var br: array<f32, 4>;
            for (var i = 0u; i < REG; i++) {
                ar[i] = a_tile[(lid.y * REG + i) * TILE_K + kk];
                br[i] = b_tile[kk * TILE_N + lid.x * REG + i];
            }
            for (var i = 0u; i < REG; i++) {
                for (var j = 0u; j < REG; j++) {
                    acc[i * REG + j] = acc[i * REG + j] + ar[i] * br[j];
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < REG; i++) {
        let r = row0 + lid.y * REG + i;
        for (var j = 0u; j < REG; j++) {
            let col = col0 + lid.x * REG + j;
            if (r < params.m && col < params.n) {
                c[r * params.n + col] = acc[i * REG + j];
            }
        }
    }
}
