// elementwise.wgsl — the small glue a training step needs between the big kernels: fills,
//   copies, residual adds, the ReLU mask, the head-layout permutes of attention, and the DLR
//   parameter map with its backward. Every output element is written by exactly one
//   invocation, with no sums across invocations, so results are bit-exact and repeatable.
//     fill_zero   dst[i] = 0
//     copy_into   dst[i] = src[i]
//     add_into    dst[i] += src[i]
//     add_cyclic  dst[i] += src[i mod m]           (position embeddings over a batch, m = l·d)
//     relu_mask   dst[i] = src[i] > 0 ? dst[i] : 0 (src = the ReLU's output, dst = its grad)
//     split_heads dst[b, hh, t, j] = src[b, t, part, hh, j]   src [b, l, parts, h, dh]
//     merge_heads dst[b, t, part, hh, j] = src[b, hh, t, j]   dst [b, l, parts, h, dh]
//     dlr_modes   src = (ν, θ, W_re, W_im), each [d, n] at a stride of m floats →
//                 dst [4, d, n] = (Λ_re, Λ_im, W_re, W_im), Λ = exp(−exp ν)·(cos θ + i sin θ)
//     dlr_modes_bwd src = the same parameters, src2 = ∂L/∂(Λ_re, Λ_im, W_re, W_im) [4, d, n] →
//                 dst (stride m) = (∂ν, ∂θ, ∂W_re, ∂W_im):
//                 ∂ν = −exp(ν)·(∂Λ_re Λ_re + ∂Λ_im Λ_im),  ∂θ = ∂Λ_im Λ_re − ∂Λ_re Λ_im
//
// Bindings (group 0; each entry point binds only the ones it uses):
//   0  src     storage, read        f32[...]  copy_into, add_into, add_cyclic, relu_mask,
//                                             split/merge_heads, dlr_modes, dlr_modes_bwd
//   1  src2    storage, read        f32[4 * n]  dlr_modes_bwd
//   2  dst     storage, read_write  f32[...]  every entry point
//   3  params  uniform  { n, m, b, l, h, dh, parts, part: u32 }  (32 bytes)
//   n is the number of items: elements of dst (fill_zero, copy_into, add_into, add_cyclic, relu_mask),
//   of the [b, h, l, dh] side (split_heads, merge_heads), or d·n (dlr_modes, _bwd).
// Dispatch (linear workgroup index w = wid.x + wid.y · num_workgroups.x; see gpu::grid):
//   one invocation per item, 256 per workgroup, ceil(n / 256) workgroups.
// CPU reference: gpu::elementwise::*_reference (plain loops); the DLR map against
//   model::dlr (Λ = exp(−exp ν + iθ) through candle autograd).
// Tests: tests/gpu_elementwise.rs (native, software Vulkan; sizes 1, 7, 64, 257).

struct Params {
    n: u32,
    m: u32,
    b: u32,
    l: u32,
    h: u32,
    dh: u32,
    parts: u32,
    part: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> src2: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 256u;

fn item(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid.x;
}

@compute @workgroup_size(256)
fn fill_zero(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    if (i < params.n) {
        dst[i] = 0.0;
    }
}

@compute @workgroup_size(256)
fn copy_into(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    if (i < params.n) {
        dst[i] = src[i];
    }
}

@compute @workgroup_size(256)
fn add_into(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    if (i < params.n) {
        dst[i] = dst[i] + src[i];
    }
}

@compute @workgroup_size(256)
fn add_cyclic(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    if (i < params.n) {
        dst[i] = dst[i] + src[i % params.m];
    }
}

@compute @workgroup_size(256)
fn relu_mask(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    if (i < params.n) {
        dst[i] = select(0.0, dst[i], src[i] > 0.0);
    }
}

// The offset in [b, l, parts, h, dh] of item i of [b, h, l, dh].
fn packed_index(i: u32) -> u32 {
    let dh = params.dh;
    let j = i % dh;
    let t = (i / dh) % params.l;
    let hh = (i / (dh * params.l)) % params.h;
    let bb = i / (dh * params.l * params.h);
    return ((bb * params.l + t) * params.parts + params.part) * params.h * dh + hh * dh + j;
}

@compute @workgroup_size(256)
fn split_heads(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    if (i < params.n) {
        dst[i] = src[packed_index(i)];
    }
}

@compute @workgroup_size(256)
fn merge_heads(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    if (i < params.n) {
        dst[packed_index(i)] = src[i];
    }
}

// Λ = exp(−exp ν) · (cos θ + i sin θ) for mode i, with ν at src[i] and θ at src[m + i].
fn dlr_lambda(i: u32) -> vec2<f32> {
    let r = exp(-exp(src[i]));
    let th = src[params.m + i];
    return vec2<f32>(r * cos(th), r * sin(th));
}

@compute @workgroup_size(256)
fn dlr_modes(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    let n = params.n;
    let m = params.m;
    if (i < n) {
        let lam = dlr_lambda(i);
        dst[i] = lam.x;
        dst[n + i] = lam.y;
        dst[2u * n + i] = src[2u * m + i];
        dst[3u * n + i] = src[3u * m + i];
    }
}

@compute @workgroup_size(256)
fn dlr_modes_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = item(wid, nwg, lid);
    let n = params.n;
    let m = params.m;
    if (i < n) {
        let en = exp(src[i]);
        let lam = dlr_lambda(i);
        let lr = lam.x;
        let li = lam.y;
        let gr = src2[i];
        let gi = src2[n + i];
        dst[i] = -en * (gr * lr + gi * li);
        dst[m + i] = gi * lr - gr * li;
        dst[2u * m + i] = src2[2u * n + i];
        dst[3u * m + i] = src2[3u * n + i];
    }
}
