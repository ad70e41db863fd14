// dlr_scan.wgsl — the DLR layer as a chunked parallel scan over time, forward and backward.
// Per batch row b, channel h and complex state n (Λ, W complex, u, y real):
//   x_t = Λ x_{t−1} + u_t (x_{−1} = 0),  y_t = Re(Σ_n W_n x_{t,n}).
// Backward (G_t = ∂L/∂Re x_t + i ∂L/∂Im x_t, the adjoint, run in reverse time):
//   G_t = conj(Λ) G_{t+1} + dy_t conj(W),  du_t = Σ_n Re G_{t,n},
//   dΛ = Σ_t G_t conj(x_{t−1}),  dW = Σ_t dy_t conj(x_t)   (as re + i·im, summed over b).
//
// Bindings (group 0; each entry point binds only the ones it uses):
//   0  u        storage, read        f32[B * L * D]          input          [b, l, d]
//   1  modes    storage, read        f32[4 * D * N]          Λ_re, Λ_im, W_re, W_im: [4, d, n]
//   2  dy       storage, read        f32[B * L * D]          upstream grad  [b, l, d]
//   3  carry_x  storage, read_write  f32[B * C * D * N * 2]  state entering each chunk
//   4  carry_g  storage, read_write  f32[B * C * D * N * 2]  adjoint leaving each chunk
//   5  y        storage, read_write  f32[B * L * D]          output         [b, l, d]
//   6  du       storage, read_write  f32[B * L * D]          input grad     [b, l, d]
//   7  scratch  storage, read_write  f32[B * D * L * 2]      states x_t of the chunk in hand
//   8  partials storage, read_write  f32[B * C * D * N * 4]  per-(b, chunk) dΛ_re, dΛ_im, dW_re, dW_im
//   9  grads    storage, read_write  f32[4 * D * N]          dΛ_re, dΛ_im, dW_re, dW_im: [4, d, n]
//  10  params   uniform              { b, l, d, n, chunk T, chunks C, _pad×2: u32 } (32 B)
// Dispatch (workgroup_size 64; a "chunk thread" owns (b, h, c), a "mode thread" (b, h, n)):
//   fwd_local  u modes → carry_x         (⌈D·C/64⌉, B, 1) chunk threads: scan each chunk from
//              a zero state, keep its end state.
//   fwd_carry  modes carry_x             (⌈D·N/64⌉, B, 1) mode threads: sequential over the C
//              chunks, S_{c+1} = Λ^T S_c + end_c; overwrites carry_x with each chunk's entry state.
//   fwd_fixup  u modes carry_x → y       (⌈D·C/64⌉, B, 1) chunk threads: rescan from the entry
//              state, y summed over n in increasing order.
//   bwd_local  modes dy → carry_g        reverse-time local adjoint scans (as fwd_local).
//   bwd_carry  modes carry_g             reverse over chunks with conj(Λ)^T (as fwd_carry).
//   bwd_fixup  u modes dy carry_x carry_g → du scratch partials   chunk threads: rescan
//              states forward into scratch, then the adjoint backward; du summed over n.
//   bwd_reduce partials → grads          (⌈D·N/64⌉, 1, 1): Σ over b, then chunks, increasing.
//   Sequential depth 2·T·N + C steps per thread instead of L·N.
// Determinism: no atomics; every sum has one fixed order, so runs repeat bit for bit.
// CPU reference: model::dlr::dlr_scan_reference (f64 recurrence) for y;
//   gpu::dlr_scan::dlr_scan_backward_reference (f64 adjoint) and candle autograd through
//   Dlr::mix for the gradients.
// Tests: tests/gpu_dlr_scan.rs (native, software Vulkan).

struct Params {
    b: u32,
    l: u32,
    d: u32,
    n: u32,
    chunk: u32,
    chunks: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<storage, read> u: array<f32>;
@group(0) @binding(1) var<storage, read> modes: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> carry_x: array<f32>;
@group(0) @binding(4) var<storage, read_write> carry_g: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> du: array<f32>;
@group(0) @binding(7) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;
@group(0) @binding(9) var<storage, read_write> grads: array<f32>;
@group(0) @binding(10) var<uniform> params: Params;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn conj(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x, -a.y);
}

fn lam(h: u32, j: u32) -> vec2<f32> {
    let dn = params.d * params.n;
    return vec2<f32>(modes[h * params.n + j], modes[dn + h * params.n + j]);
}

fn wgt(h: u32, j: u32) -> vec2<f32> {
    let dn = params.d * params.n;
    return vec2<f32>(modes[2u * dn + h * params.n + j], modes[3u * dn + h * params.n + j]);
}

// Index (in complex pairs) of (b, chunk c, h, j) in carry_x / carry_g.
fn cidx(b: u32, c: u32, h: u32, j: u32) -> u32 {
    return ((b * params.chunks + c) * params.d + h) * params.n + j;
}

// Λ^T by T − 1 multiplications (f32; error grows like T ulps).
fn pow_chunk(z: vec2<f32>) -> vec2<f32> {
    var p = vec2<f32>(1.0, 0.0);
    for (var t = 0u; t < params.chunk; t++) {
        p = cmul(p, z);
    }
    return p;
}

@compute @workgroup_size(64, 1, 1)
fn fwd_local(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.d * params.chunks) {
        return;
    }
    let h = gid.x % params.d;
    let c = gid.x / params.d;
    let b = gid.y;
    let t0 = c * params.chunk;
    let t1 = min(t0 + params.chunk, params.l);
    for (var j = 0u; j < params.n; j++) {
        let lj = lam(h, j);
        var x = vec2<f32>(0.0, 0.0);
        for (var t = t0; t < t1; t++) {
            x = cmul(lj, x) + vec2<f32>(u[(b * params.l + t) * params.d + h], 0.0);
        }
        let i = cidx(b, c, h, j) * 2u;
        carry_x[i] = x.x;
        carry_x[i + 1u] = x.y;
    }
}

@compute @workgroup_size(64, 1, 1)
fn fwd_carry(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.d * params.n) {
        return;
    }
    let h = gid.x / params.n;
    let j = gid.x % params.n;
    let b = gid.y;
    let lt = pow_chunk(lam(h, j));
    var s = vec2<f32>(0.0, 0.0);
    for (var c = 0u; c < params.chunks; c++) {
        let i = cidx(b, c, h, j) * 2u;
        let end = vec2<f32>(carry_x[i], carry_x[i + 1u]);
        carry_x[i] = s.x;
        carry_x[i + 1u] = s.y;
        s = cmul(lt, s) + end;
    }
}

@compute @workgroup_size(64, 1, 1)
fn fwd_fixup(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.d * params.chunks) {
        return;
    }
    let h = gid.x % params.d;
    let c = gid.x / params.d;
    let b = gid.y;
    let t0 = c * params.chunk;
    let t1 = min(t0 + params.chunk, params.l);
    for (var j = 0u; j < params.n; j++) {
        let lj = lam(h, j);
        let wj = wgt(h, j);
        let i = cidx(b, c, h, j) * 2u;
        var x = vec2<f32>(carry_x[i], carry_x[i + 1u]);
        for (var t = t0; t < t1; t++) {
            let o = (b * params.l + t) * params.d + h;
            x = cmul(lj, x) + vec2<f32>(u[o], 0.0);
            let contrib = wj.x * x.x - wj.y * x.y;
            if (j == 0u) {
                y[o] = contrib;
            } else {
                y[o] = y[o] + contrib;
            }
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn bwd_local(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.d * params.chunks) {
        return;
    }
    let h = gid.x % params.d;
    let c = gid.x / params.d;
    let b = gid.y;
    let t0 = c * params.chunk;
    let t1 = min(t0 + params.chunk, params.l);
    for (var j = 0u; j < params.n; j++) {
        let lc = conj(lam(h, j));
        let wc = conj(wgt(h, j));
        var g = vec2<f32>(0.0, 0.0);
        for (var t = t1; t > t0; t--) {
            g = cmul(lc, g) + dy[(b * params.l + t - 1u) * params.d + h] * wc;
        }
        let i = cidx(b, c, h, j) * 2u;
        carry_g[i] = g.x;
        carry_g[i + 1u] = g.y;
    }
}

@compute @workgroup_size(64, 1, 1)
fn bwd_carry(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.d * params.n) {
        return;
    }
    let h = gid.x / params.n;
    let j = gid.x % params.n;
    let b = gid.y;
    let lt = pow_chunk(conj(lam(h, j)));
    var g = vec2<f32>(0.0, 0.0);
    for (var c = params.chunks; c > 0u; c--) {
        let i = cidx(b, c - 1u, h, j) * 2u;
        let start = vec2<f32>(carry_g[i], carry_g[i + 1u]);
        carry_g[i] = g.x;
        carry_g[i + 1u] = g.y;
        g = cmul(lt, g) + start;
    }
}

@compute @workgroup_size(64, 1, 1)
fn bwd_fixup(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.d * params.chunks) {
        return;
    }
    let h = gid.x % params.d;
    let c = gid.x / params.d;
    let b = gid.y;
    let t0 = c * params.chunk;
    let t1 = min(t0 + params.chunk, params.l);
    let srow = (b * params.d + h) * params.l;
    for (var j = 0u; j < params.n; j++) {
        let lj = lam(h, j);
        let wc = conj(wgt(h, j));
        let i = cidx(b, c, h, j) * 2u;
        let s0 = vec2<f32>(carry_x[i], carry_x[i + 1u]);
        var x = s0;
        for (var t = t0; t < t1; t++) {
            x = cmul(lj, x) + vec2<f32>(u[(b * params.l + t) * params.d + h], 0.0);
            scratch[(srow + t) * 2u] = x.x;
            scratch[(srow + t) * 2u + 1u] = x.y;
        }
        var g = vec2<f32>(carry_g[i], carry_g[i + 1u]);
        let lc = conj(lj);
        var dlam = vec2<f32>(0.0, 0.0);
        var dw = vec2<f32>(0.0, 0.0);
        for (var t = t1; t > t0; t--) {
            let tt = t - 1u;
            let o = (b * params.l + tt) * params.d + h;
            let gy = dy[o];
            g = cmul(lc, g) + gy * wc;
            let xt = vec2<f32>(scratch[(srow + tt) * 2u], scratch[(srow + tt) * 2u + 1u]);
            var xp = s0;
            if (tt > t0) {
                xp = vec2<f32>(scratch[(srow + tt - 1u) * 2u], scratch[(srow + tt - 1u) * 2u + 1u]);
            }
            dlam += cmul(g, conj(xp));
            dw += gy * conj(xt);
            if (j == 0u) {
                du[o] = g.x;
            } else {
                du[o] = du[o] + g.x;
            }
        }
        let p = cidx(b, c, h, j) * 4u;
        partials[p] = dlam.x;
        partials[p + 1u] = dlam.y;
        partials[p + 2u] = dw.x;
        partials[p + 3u] = dw.y;
    }
}

@compute @workgroup_size(64, 1, 1)
fn bwd_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
    let dn = params.d * params.n;
    if (gid.x >= dn) {
        return;
    }
    let h = gid.x / params.n;
    let j = gid.x % params.n;
    var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
    for (var b = 0u; b < params.b; b++) {
        for (var c = 0u; c < params.chunks; c++) {
            let p = cidx(b, c, h, j) * 4u;
            acc += vec4<f32>(partials[p], partials[p + 1u], partials[p + 2u], partials[p + 3u]);
        }
    }
    grads[gid.x] = acc.x;
    grads[dn + gid.x] = acc.y;
    grads[2u * dn + gid.x] = acc.z;
    grads[3u * dn + gid.x] = acc.w;
}
