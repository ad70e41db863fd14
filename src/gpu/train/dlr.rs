//! The DLR's step on the GPU: the same computation as `model::dlr` (blocks
//! `u = LN x; y = DLR(u); x += c_proj(relu(c_fc(y)))`), with the recurrence run as the
//! chunked scan of `shaders/dlr_scan.wgsl` instead of the CPU's kernel + Toeplitz matmul (the
//! same function: `tests/gpu_train.rs` checks whole steps against the CPU model), and the
//! direct parametrisation `Λ = exp(−exp ν + iθ)` mapped and differentiated by
//! `shaders/elementwise.wgsl`.

use super::super::dlr_scan::{record_dlr_scan_backward, record_dlr_scan_forward, ScanShape, DEFAULT_CHUNK};
use super::super::elementwise::{record_dlr_modes, record_dlr_modes_backward, Op};

use super::e;
use super::graph::{
    embed_backward, embed_forward, head_and_loss, mlp_backward, mlp_forward, Dims, Inputs, Recorder, R,
};

/// Time steps per scan chunk: the default, or the whole sequence when it is shorter.
pub fn chunk_for(l: usize) -> usize {
    DEFAULT_CHUNK.min(l.max(1))
}

struct Saved {
    x_in: wgpu::Buffer,
    ln: [wgpu::Buffer; 3],
    modes: wgpu::Buffer,
    carry: wgpu::Buffer,
    y: wgpu::Buffer,
    hidden: wgpu::Buffer,
}

/// The parameters ν, θ, W_re, W_im of block `i` as one binding: they are consecutive in the
/// layout, each `[d, n]` at the same aligned stride. Returns `(binding range, stride)`.
fn mode_params(r: &Recorder<'_>, i: usize) -> R<(std::ops::Range<u64>, usize)> {
    let names = ["nu", "theta", "w_re", "w_im"].map(|k| format!("h.{i}.dlr.{k}"));
    let slots = names.iter().map(|n| r.layout.get(n)).collect::<R<Vec<_>>>()?;
    let stride = slots[1].offset - slots[0].offset;
    if slots.windows(2).any(|w| w[1].offset - w[0].offset != stride || w[0].len != w[1].len) {
        return Err(format!("GPU engine: block {i}'s DLR parameters are not evenly laid out"));
    }
    Ok(((slots[0].offset * 4) as u64..((slots[3].offset + slots[3].len) * 4) as u64, stride))
}

pub async fn record(
    r: &mut Recorder<'_>,
    io: &Inputs,
    dm: Dims,
    layers: usize,
    state: usize,
    stats: &wgpu::Buffer,
    train: bool,
) -> R<Option<wgpu::Buffer>> {
    let (n, d) = (dm.n(), dm.d);
    let s = ScanShape { b: dm.b, l: dm.l, d, n: state };
    let chunk = chunk_for(dm.l);
    let dn = d * state;
    let mut x = embed_forward(r, io, dm, false).await?;
    let mut saved = Vec::with_capacity(layers);
    for i in 0..layers {
        let p = format!("h.{i}");
        let ln = r.layer_norm(&format!("{p}.ln"), &x, &format!("{p}.ln.weight"), n, d).await?;
        let (range, stride) = mode_params(r, i)?;
        let modes = r.buf(&format!("{p}.modes"), 4 * dn)?;
        let params = r.params.slice(range);
        record_dlr_modes(&mut r.program, r.ctx, params, modes.slice(..), dn, stride, &format!("{p}.modes"))
            .await
            .map_err(e)?;
        let (carry, y) =
            (r.buf(&format!("{p}.carry_x"), s.carry_len(chunk))?, r.buf(&format!("{p}.y"), n * d)?);
        record_dlr_scan_forward(
            &mut r.program,
            r.ctx,
            ln[0].slice(..),
            modes.slice(..),
            carry.slice(..),
            y.slice(..),
            s,
            chunk,
        )
        .await
        .map_err(e)?;
        let (hidden, x_out) = mlp_forward(r, &p, &x, &y, n, d, 2 * d).await?;
        saved.push(Saved { x_in: x, ln, modes, carry, y, hidden });
        x = x_out;
    }
    let head = head_and_loss(r, io, dm, &x, stats, train).await?;
    let Some(dres) = head.dx else { return Ok(head.correct) };
    let dtmp = r.buf("dtmp", n * d)?;
    let carry_g = r.buf("carry_g", s.carry_len(chunk))?;
    let scratch = r.buf("scan.scratch", 2 * n * d)?;
    let partials = r.buf("scan.partials", 2 * s.carry_len(chunk))?;
    let (du, d_modes) = (r.buf("du", n * d)?, r.buf("d_modes", 4 * dn)?);
    for (i, sv) in saved.iter().enumerate().rev() {
        let p = format!("h.{i}");
        let dy = mlp_backward(r, &p, &dres, &sv.y, &sv.hidden, n, d, 2 * d).await?;
        let ins = [sv.ln[0].slice(..), sv.modes.slice(..), dy.slice(..), sv.carry.slice(..)];
        let tmp = [carry_g.slice(..), scratch.slice(..), partials.slice(..)];
        record_dlr_scan_backward(
            &mut r.program,
            r.ctx,
            ins,
            tmp,
            [du.slice(..), d_modes.slice(..)],
            s,
            chunk,
        )
        .await
        .map_err(e)?;
        let (range, stride) = mode_params(r, i)?;
        let (params, grads) = (r.params.slice(range.clone()), r.grads.slice(range));
        record_dlr_modes_backward(
            &mut r.program,
            r.ctx,
            params,
            d_modes.slice(..),
            grads,
            dn,
            stride,
            &format!("{p}.modes'"),
        )
        .await
        .map_err(e)?;
        r.layer_norm_backward(&sv.x_in, &format!("{p}.ln.weight"), &du, &sv.ln, &dtmp, n, d).await?;
        r.ew(Op::Add, Some(dtmp.slice(..)), dres.slice(..), n * d, "dres += ln'").await?;
    }
    embed_backward(r, io, dm, &dres, false).await?;
    Ok(head.correct)
}
