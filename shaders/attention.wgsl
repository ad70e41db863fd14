// attention.wgsl — causal softmax attention (forward + backward) and the `static` mixer
// (causal softmax of a learned [h, L, L] logits matrix applied to v), all f32, row-major.
//
// Determinism: no atomics; every sum runs in one fixed order (keys/queries increasing, the
//   batch increasing, tree reductions of fixed shape), so runs repeat bit for bit.
// CPU reference: model::attention::causal_attention (fused CPU op with its hand-written
//   backward) and model::mixers::{static_weights, mix} through candle autograd.
// Tests: tests/gpu_attention.rs (native, software Vulkan).
// Bindings (group 0; each entry point binds only the ones it uses):
//   0  q       storage, read        f32[B * H * Lq * DH]   queries           [b, h, l, dh]
//   1  k       storage, read        f32[B * H * Lq * DH]   keys              [b, h, l, dh]
//   2  v       storage, read        f32[B * H * Lq * DH]   values            [b, h, l, dh]
//   3  dout    storage, read        f32[B * H * Lq * DH]   upstream gradient [b, h, l, dh]
//   4  logits  storage, read        f32[H * LM * LM]       static logits     [h, L, L]
//   5  out     storage, read_write  f32[B * H * Lq * DH]   forward output    [b, h, l, dh]
//   6  lse     storage, read_write  f32[B * H * Lq] (attention) or f32[H * Lq] (static)
//   7  delta   storage, read_write  f32[B * H * Lq]        rowsum(dout ∘ out) [b, h, l]
//   8  dq      storage, read_write  f32[B * H * Lq * DH]   (static: unused)
//   9  dk      storage, read_write  f32[B * H * Lq * DH]
//  10  dv      storage, read_write  f32[B * H * Lq * DH]
//  11  dlogits storage, read_write  f32[H * LM * LM]       (zero outside the causal l × l block)
//  12  params  uniform              { b, h, l, dh, lmax, _pad×3: u32, scale: f32, _pad×3 } (48 B)
// Dispatch per entry point (workgroup_size 64 everywhere; BH = b·h):
//   fwd_fused   q k v → out lse      (l, BH, 1): one workgroup per query row; the row's scores
//               live in workgroup memory (l ≤ FUSED_MAX_L); exact two-pass softmax. Fast for
//               short sequences (l·BH workgroups).
//   fwd_tiled   q k v → out lse      (⌈l/64⌉, BH, 1): one thread per query row, keys staged
//               in tiles of 16 in workgroup memory, online softmax (any l).
//   bwd_delta   out dout → delta      (⌈l/64⌉, BH, 1): one thread per row.
//   bwd_dq      q k v dout lse delta → dq    (⌈l/64⌉, BH, 1): thread per query row, key
//               tiles 0..=i in increasing order; probabilities recomputed from lse.
//   bwd_dkdv    q k v dout lse delta → dk dv (⌈l/64⌉, BH, 1): thread per key row j, query
//               tiles from j's tile to l − 1 in increasing order.
//   static_lse  logits → lse[h, l]   (l, H, 1): one workgroup per row, strided partial max /
//               sum per thread, then a fixed tree reduction.
//   static_fwd  logits lse v → out   (⌈l·dh/64⌉, BH, 1): one thread per output element.
//   static_bwd_dv  logits lse dout → dv  (⌈l·dh/64⌉, BH, 1): one thread per element.
//   static_bwd_dlogits  logits lse v dout → dlogits  (LM, H, 1): one workgroup per row of
//               the full [L, L] matrix; rows/cols ≥ l are written as 0.
//   dh ≤ MAX_DH (64): per-thread rows live in registers.

struct Params {
    b: u32,
    h: u32,
    l: u32,
    dh: u32,
    lmax: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
    scale: f32,
    _f0: f32,
    _f1: f32,
    _f2: f32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> logits: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;
@group(0) @binding(9) var<storage, read_write> dk: array<f32>;
@group(0) @binding(10) var<storage, read_write> dv: array<f32>;
@group(0) @binding(11) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(12) var<uniform> params: Params;

const WG: u32 = 64u;
const MAX_DH: u32 = 64u;
const TK: u32 = 16u;            // rows per staged tile
const FUSED_MAX_L: u32 = 1024u;
const NEG_BIG: f32 = -3.0e38;

var<workgroup> row_s: array<f32, 1024>; // fwd_fused: one row of scores / exps
var<workgroup> red: array<f32, 64>;     // tree reductions
var<workgroup> tile_a: array<f32, 1024>; // [TK][MAX_DH]
var<workgroup> tile_b: array<f32, 1024>; // [TK][MAX_DH]
var<workgroup> tile_r0: array<f32, 16>;  // per tile row scalars (lse)
var<workgroup> tile_r1: array<f32, 16>;  // (delta)

// Fixed-shape tree reduction over red[0..64] (max when is_max, else sum); result in red[0].
fn reduce(tid: u32, is_max: bool) {
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        workgroupBarrier();
        if (tid < s) {
            if (is_max) {
                red[tid] = max(red[tid], red[tid + s]);
            } else {
                red[tid] = red[tid] + red[tid + s];
            }
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(64, 1, 1)
fn fwd_fused(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.x;
    let i = wid.x;
    let dh = params.dh;
    let base = wid.y * params.l * dh; // start of this (b, h) slice
    let qi = base + i * dh;
    var m = NEG_BIG;
    for (var j = tid; j <= i; j += WG) {
        var s = 0.0;
        for (var d = 0u; d < dh; d++) {
            s += q[qi + d] * k[base + j * dh + d];
        }
        s *= params.scale;
        row_s[j] = s;
        m = max(m, s);
    }
    red[tid] = m;
    reduce(tid, true);
    let mx = red[0];
    workgroupBarrier();
    var sum = 0.0;
    for (var j = tid; j <= i; j += WG) {
        let e = exp(row_s[j] - mx);
        row_s[j] = e;
        sum += e;
    }
    red[tid] = sum;
    reduce(tid, false);
    let total = red[0];
    if (tid < dh) {
        var o = 0.0;
        for (var j = 0u; j <= i; j++) {
            o += row_s[j] * v[base + j * dh + tid];
        }
        out[qi + tid] = o / total;
    }
    if (tid == 0u) {
        lse[wid.y * params.l + i] = mx + log(total);
    }
}

@compute @workgroup_size(64, 1, 1)
fn fwd_tiled(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.x;
    let dh = params.dh;
    let l = params.l;
    let base = wid.y * l * dh;
    let row0 = wid.x * WG;
    let i = row0 + tid;
    let live = i < l;
    var qr: array<f32, 64>;
    var o: array<f32, 64>;
    for (var d = 0u; d < dh; d++) {
        qr[d] = select(0.0, q[base + min(i, l - 1u) * dh + d] * params.scale, live);
        o[d] = 0.0;
    }
    var m = NEG_BIG;
    var sum = 0.0;
    let last = min(row0 + WG, l); // keys 0..last cover every row of the block
    for (var j0 = 0u; j0 < last; j0 += TK) {
        workgroupBarrier();
        for (var e = tid; e < TK * dh; e += WG) {
            let jr = j0 + e / dh;
            let val_ok = jr < l;
            tile_a[e] = select(0.0, k[base + min(jr, l - 1u) * dh + e % dh], val_ok);
            tile_b[e] = select(0.0, v[base + min(jr, l - 1u) * dh + e % dh], val_ok);
        }
        workgroupBarrier();
        if (live && j0 <= i) {
            let n = min(TK, i + 1u - j0); // keys j0..j0+n are visible to row i
            var s: array<f32, 16>;
            var tm = m;
            for (var t = 0u; t < n; t++) {
                var acc = 0.0;
                for (var d = 0u; d < dh; d++) {
                    acc += qr[d] * tile_a[t * dh + d];
                }
                s[t] = acc;
                tm = max(tm, acc);
            }
            let corr = exp(m - tm);
            sum *= corr;
            for (var d = 0u; d < dh; d++) {
                o[d] *= corr;
            }
            for (var t = 0u; t < n; t++) {
                let p = exp(s[t] - tm);
                sum += p;
                for (var d = 0u; d < dh; d++) {
                    o[d] += p * tile_b[t * dh + d];
                }
            }
            m = tm;
        }
    }
    if (live) {
        for (var d = 0u; d < dh; d++) {
            out[base + i * dh + d] = o[d] / sum;
        }
        lse[wid.y * l + i] = m + log(sum);
    }
}

@compute @workgroup_size(64, 1, 1)
fn bwd_delta(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let i = wid.x * WG + lid.x;
    if (i >= params.l) {
        return;
    }
    let r = (wid.y * params.l + i) * params.dh;
    var acc = 0.0;
    for (var d = 0u; d < params.dh; d++) {
        acc += dout[r + d] * out[r + d];
    }
    delta[wid.y * params.l + i] = acc;
}

@compute @workgroup_size(64, 1, 1)
fn bwd_dq(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.x;
    let dh = params.dh;
    let l = params.l;
    let base = wid.y * l * dh;
    let row0 = wid.x * WG;
    let i = row0 + tid;
    let live = i < l;
    let ic = min(i, l - 1u);
    var qr: array<f32, 64>;
    var gr: array<f32, 64>;
    var acc: array<f32, 64>;
    for (var d = 0u; d < dh; d++) {
        qr[d] = q[base + ic * dh + d] * params.scale;
        gr[d] = dout[base + ic * dh + d];
        acc[d] = 0.0;
    }
    let li = lse[wid.y * l + ic];
    let di = delta[wid.y * l + ic];
    let last = min(row0 + WG, l);
    for (var j0 = 0u; j0 < last; j0 += TK) {
        workgroupBarrier();
        for (var e = tid; e < TK * dh; e += WG) {
            let jr = min(j0 + e / dh, l - 1u);
            tile_a[e] = k[base + jr * dh + e % dh];
            tile_b[e] = v[base + jr * dh + e % dh];
        }
        workgroupBarrier();
        if (live && j0 <= i) {
            let n = min(TK, i + 1u - j0);
            for (var t = 0u; t < n; t++) {
                var s = 0.0;
                var dp = 0.0;
                for (var d = 0u; d < dh; d++) {
                    s += qr[d] * tile_a[t * dh + d];
                    dp += gr[d] * tile_b[t * dh + d];
                }
                let ds = exp(s - li) * (dp - di);
                for (var d = 0u; d < dh; d++) {
                    acc[d] += ds * tile_a[t * dh + d];
                }
            }
        }
    }
    if (live) {
        for (var d = 0u; d < dh; d++) {
            dq[base + i * dh + d] = acc[d] * params.scale;
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn bwd_dkdv(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.x;
    let dh = params.dh;
    let l = params.l;
    let base = wid.y * l * dh;
    let row0 = wid.x * WG;
    let j = row0 + tid;
    let live = j < l;
    let jc = min(j, l - 1u);
    var kr: array<f32, 64>;
    var vr: array<f32, 64>;
    var gk: array<f32, 64>;
    var gv: array<f32, 64>;
    for (var d = 0u; d < dh; d++) {
        kr[d] = k[base + jc * dh + d] * params.scale;
        vr[d] = v[base + jc * dh + d];
        gk[d] = 0.0;
        gv[d] = 0.0;
    }
    for (var i0 = row0; i0 < l; i0 += TK) {
        workgroupBarrier();
        for (var e = tid; e < TK * dh; e += WG) {
            let ir = min(i0 + e / dh, l - 1u);
            tile_a[e] = q[base + ir * dh + e % dh];
            tile_b[e] = dout[base + ir * dh + e % dh];
        }
        if (tid < TK) {
            let ir = min(i0 + tid, l - 1u);
            tile_r0[tid] = lse[wid.y * l + ir];
            tile_r1[tid] = delta[wid.y * l + ir];
        }
        workgroupBarrier();
        if (live) {
            let n = min(TK, l - i0);
            for (var t = 0u; t < n; t++) {
                if (i0 + t < j) {
                    continue; // query before the key: masked
                }
                var s = 0.0;
                var dp = 0.0;
                for (var d = 0u; d < dh; d++) {
                    s += kr[d] * tile_a[t * dh + d];
                    dp += vr[d] * tile_b[t * dh + d];
                }
                let p = exp(s - tile_r0[t]);
                let ds = p * (dp - tile_r1[t]);
                for (var d = 0u; d < dh; d++) {
                    gv[d] += p * tile_b[t * dh + d];
                    gk[d] += ds * tile_a[t * dh + d];
                }
            }
        }
    }
    if (live) {
        for (var d = 0u; d < dh; d++) {
            dk[base + j * dh + d] = gk[d] * params.scale;
            dv[base + j * dh + d] = gv[d];
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn static_lse(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.x;
    let i = wid.x;
    let row = (wid.y * params.lmax + i) * params.lmax;
    var m = NEG_BIG;
    for (var j = tid; j <= i; j += WG) {
        m = max(m, logits[row + j]);
    }
    red[tid] = m;
    reduce(tid, true);
    let mx = red[0];
    workgroupBarrier();
    var sum = 0.0;
    for (var j = tid; j <= i; j += WG) {
        sum += exp(logits[row + j] - mx);
    }
    red[tid] = sum;
    reduce(tid, false);
    if (tid == 0u) {
        lse[wid.y * params.l + i] = mx + log(red[0]);
    }
}

// Weight W[hh, i, j] = exp(logits[hh, i, j] − lse[hh, i]) for j ≤ i.
fn static_w(hh: u32, i: u32, j: u32) -> f32 {
    return exp(logits[(hh * params.lmax + i) * params.lmax + j] - lse[hh * params.l + i]);
}

@compute @workgroup_size(64, 1, 1)
fn static_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let e = gid.x; // i * dh + d within the (b, h) slice
    if (e >= params.l * params.dh) {
        return;
    }
    let i = e / params.dh;
    let d = e % params.dh;
    let hh = wid.y % params.h;
    let base = wid.y * params.l * params.dh;
    var acc = 0.0;
    for (var j = 0u; j <= i; j++) {
        acc += static_w(hh, i, j) * v[base + j * params.dh + d];
    }
    out[base + e] = acc;
}

@compute @workgroup_size(64, 1, 1)
fn static_bwd_dv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let e = gid.x; // j * dh + d
    if (e >= params.l * params.dh) {
        return;
    }
    let j = e / params.dh;
    let d = e % params.dh;
    let hh = wid.y % params.h;
    let base = wid.y * params.l * params.dh;
    var acc = 0.0;
    for (var i = j; i < params.l; i++) {
        acc += static_w(hh, i, j) * dout[base + i * params.dh + d];
    }
    dv[base + e] = acc;
}

// dW[i, j] = Σ_b dout[b, hh, i, :] · v[b, hh, j, :] (b increasing).
fn static_dw(hh: u32, i: u32, j: u32) -> f32 {
    var acc = 0.0;
    let dh = params.dh;
    for (var bb = 0u; bb < params.b; bb++) {
        let base = (bb * params.h + hh) * params.l * dh;
        for (var d = 0u; d < dh; d++) {
            acc += dout[base + i * dh + d] * v[base + j * dh + d];
        }
    }
    return acc;
}

@compute @workgroup_size(64, 1, 1)
fn static_bwd_dlogits(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.x;
    let i = wid.x;
    let hh = wid.y;
    let row = (hh * params.lmax + i) * params.lmax;
    // Pass 1: dW into dlogits (each thread keeps its own columns), partial Σ_j W dW.
    var part = 0.0;
    if (i < params.l) {
        for (var j = tid; j <= i; j += WG) {
            let g = static_dw(hh, i, j);
            dlogits[row + j] = g;
            part += static_w(hh, i, j) * g;
        }
    }
    red[tid] = part;
    reduce(tid, false);
    let dot = red[0];
    // Pass 2: dM = W (dW − Σ W dW) on the causal block, zero elsewhere.
    for (var j = tid; j < params.lmax; j += WG) {
        var g = 0.0;
        if (i < params.l && j <= i) {
            g = static_w(hh, i, j) * (dlogits[row + j] - dot);
        }
        dlogits[row + j] = g;
    }
}
