//! The Transformer's step on the GPU, layer for layer the same computation as
//! `model::transformer` (pre-norm blocks `x += c_proj(mix(c_attn(LN x)))`,
//! `x += c_proj(relu(c_fc(LN x)))`), with the mixers the engine supports: softmax attention
//! (fused / tiled kernels), the static mixer and no mixing.

use super::super::attention::{
    record_attention_backward, record_attention_forward, record_static_backward, record_static_forward,
    AttnPath, AttnShape, MAX_DH,
};
use super::super::elementwise::{record_merge_heads, record_split_heads, Heads, Op};
use super::super::gemm::Gemm;

use super::e;
use super::graph::{
    embed_backward, embed_forward, head_and_loss, mlp_backward, mlp_forward, residual, residual_backward,
    Dims, Inputs, Recorder, R,
};

/// The token mixers with GPU kernels (`model::mixers` names: `attn`, `static`, `none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mixer {
    Attention,
    Static,
    None,
}

impl Mixer {
    /// The mixer named `name` in `model::mixers`, if it has GPU kernels.
    pub fn from_name(name: &str) -> Option<Mixer> {
        match name {
            "attn" => Some(Mixer::Attention),
            "static" => Some(Mixer::Static),
            "none" => Some(Mixer::None),
            _ => None,
        }
    }
}

/// Why a Transformer with these mixers (by name) cannot run on the GPU engine, if it cannot.
pub fn unsupported(mixers: &[&str], d: usize, heads: usize) -> Option<String> {
    if let Some(m) = mixers.iter().find(|m| Mixer::from_name(m).is_none()) {
        return Some(format!("the '{m}' mixer has no GPU kernels yet (GPU mixers: attn, static, none)"));
    }
    if mixers.contains(&"attn") && d / heads.max(1) > MAX_DH {
        return Some(format!(
            "head width d_model/heads = {} exceeds the attention kernels' {MAX_DH}; use more heads",
            d / heads.max(1)
        ));
    }
    None
}

/// What a block keeps from its forward pass for the backward.
struct Saved {
    x_in: wgpu::Buffer,
    ln1: [wgpu::Buffer; 3],
    /// Attention: q, k, v, out, lse (`[b, h, l, dh]`, lse `[b, h, l]`); static: v, out, lse.
    heads: Vec<wgpu::Buffer>,
    y: wgpu::Buffer,
    x_mid: wgpu::Buffer,
    ln2: [wgpu::Buffer; 3],
    hidden: wgpu::Buffer,
}

pub async fn record(
    r: &mut Recorder<'_>,
    io: &Inputs,
    dm: Dims,
    mixers: &[Mixer],
    heads: usize,
    stats: &wgpu::Buffer,
    train: bool,
) -> R<Option<wgpu::Buffer>> {
    let (n, d, l) = (dm.n(), dm.d, dm.l);
    let dh = d / heads;
    let hs = Heads { b: dm.b, l, h: heads, dh, parts: 3 };
    let attn = AttnShape { b: dm.b, h: heads, l, dh };
    let scale = 1.0 / (dh as f32).sqrt();
    let mut x = embed_forward(r, io, dm, true).await?;
    let mut saved = Vec::with_capacity(mixers.len());
    for (i, &mixer) in mixers.iter().enumerate() {
        let p = format!("h.{i}");
        let ln1 = r.layer_norm(&format!("{p}.ln_1"), &x, &format!("{p}.ln_1.weight"), n, d).await?;
        let qkv = r.buf(&format!("{p}.qkv"), n * 3 * d)?;
        let w = r.p(&format!("{p}.attn.c_attn.weight"))?;
        r.gemm(Gemm::new(n, d, 3 * d), ln1[0].slice(..), w, qkv.slice(..)).await?; // [n, 3d]
        let y = r.buf(&format!("{p}.y"), n * d)?;
        let mut hb = Vec::new();
        match mixer {
            Mixer::None => {
                // y = v: part 2 of [b, l, 3, 1, d] is [b, l, d].
                let whole = Heads { h: 1, dh: d, ..hs };
                record_split_heads(
                    &mut r.program,
                    r.ctx,
                    qkv.slice(..),
                    y.slice(..),
                    whole,
                    2,
                    &format!("{p}.v"),
                )
                .await
                .map_err(e)?;
            }
            Mixer::Static => {
                let (v, out, lse) =
                    (r.buf("v", attn.len())?, r.buf("out", attn.len())?, r.buf("lse", heads * l)?);
                record_split_heads(
                    &mut r.program,
                    r.ctx,
                    qkv.slice(..),
                    v.slice(..),
                    hs,
                    2,
                    &format!("{p}.v"),
                )
                .await
                .map_err(e)?;
                let logits = r.p(&format!("{p}.attn.static_mix"))?;
                record_static_forward(
                    &mut r.program,
                    r.ctx,
                    logits,
                    v.slice(..),
                    out.slice(..),
                    lse.slice(..),
                    attn,
                    l,
                )
                .await
                .map_err(e)?;
                record_merge_heads(
                    &mut r.program,
                    r.ctx,
                    out.slice(..),
                    y.slice(..),
                    Heads { parts: 1, ..hs },
                    0,
                    &format!("{p}.y"),
                )
                .await
                .map_err(e)?;
                hb = vec![v, out, lse];
            }
            Mixer::Attention => {
                let qkvh: Vec<wgpu::Buffer> =
                    (0..3).map(|_| r.buf("qkv.head", attn.len())).collect::<R<_>>()?;
                for (part, buf) in qkvh.iter().enumerate() {
                    record_split_heads(
                        &mut r.program,
                        r.ctx,
                        qkv.slice(..),
                        buf.slice(..),
                        hs,
                        part,
                        &format!("{p}.split"),
                    )
                    .await
                    .map_err(e)?;
                }
                let (out, lse) = (r.buf("out", attn.len())?, r.buf("lse", dm.b * heads * l)?);
                let [q, k, v] = [&qkvh[0], &qkvh[1], &qkvh[2]];
                record_attention_forward(
                    &mut r.program,
                    r.ctx,
                    q.slice(..),
                    k.slice(..),
                    v.slice(..),
                    out.slice(..),
                    lse.slice(..),
                    attn,
                    scale,
                    AttnPath::Auto,
                )
                .await
                .map_err(e)?;
                record_merge_heads(
                    &mut r.program,
                    r.ctx,
                    out.slice(..),
                    y.slice(..),
                    Heads { parts: 1, ..hs },
                    0,
                    &format!("{p}.y"),
                )
                .await
                .map_err(e)?;
                hb = qkvh;
                hb.extend([out, lse]);
            }
        }
        let x_mid =
            residual(r, &format!("{p}.x_mid"), &x, &y, &format!("{p}.attn.c_proj.weight"), n, d, d).await?;
        let ln2 = r.layer_norm(&format!("{p}.ln_2"), &x_mid, &format!("{p}.ln_2.weight"), n, d).await?;
        let (hidden, x_out) = mlp_forward(r, &p, &x_mid, &ln2[0], n, d, 4 * d).await?;
        saved.push(Saved { x_in: x, ln1, heads: hb, y, x_mid, ln2, hidden });
        x = x_out;
    }
    let head = head_and_loss(r, io, dm, &x, stats, train).await?;
    let Some(dres) = head.dx else { return Ok(head.correct) };
    let dtmp = r.buf("dtmp", n * d)?;
    for (i, s) in saved.iter().enumerate().rev() {
        let p = format!("h.{i}");
        let dxn2 = mlp_backward(r, &p, &dres, &s.ln2[0], &s.hidden, n, d, 4 * d).await?;
        r.layer_norm_backward(&s.x_mid, &format!("{p}.ln_2.weight"), &dxn2, &s.ln2, &dtmp, n, d).await?;
        r.ew(Op::Add, Some(dtmp.slice(..)), dres.slice(..), n * d, "dres += ln_2'").await?;
        let dy = residual_backward(
            r,
            &format!("{p}.dy"),
            &dres,
            &s.y,
            &format!("{p}.attn.c_proj.weight"),
            n,
            d,
            d,
        )
        .await?;
        let dqkv = r.buf(&format!("{p}.dqkv"), n * 3 * d)?;
        match mixers[i] {
            Mixer::None => {
                r.ew(Op::Zero, None, dqkv.slice(..), n * 3 * d, "dqkv = 0").await?;
                let whole = Heads { h: 1, dh: d, ..hs };
                record_merge_heads(
                    &mut r.program,
                    r.ctx,
                    dy.slice(..),
                    dqkv.slice(..),
                    whole,
                    2,
                    &format!("{p}.dv"),
                )
                .await
                .map_err(e)?;
            }
            Mixer::Static => {
                let (dout, dv) = (r.buf("dout", attn.len())?, r.buf("dv", attn.len())?);
                record_split_heads(
                    &mut r.program,
                    r.ctx,
                    dy.slice(..),
                    dout.slice(..),
                    Heads { parts: 1, ..hs },
                    0,
                    &format!("{p}.dout"),
                )
                .await
                .map_err(e)?;
                let (logits, dlogits) =
                    (r.p(&format!("{p}.attn.static_mix"))?, r.g(&format!("{p}.attn.static_mix"))?);
                let [v, _, lse] = [&s.heads[0], &s.heads[1], &s.heads[2]];
                record_static_backward(
                    &mut r.program,
                    r.ctx,
                    [logits, v.slice(..), dout.slice(..), lse.slice(..)],
                    dv.slice(..),
                    dlogits,
                    attn,
                    l,
                )
                .await
                .map_err(e)?;
                r.ew(Op::Zero, None, dqkv.slice(..), n * 3 * d, "dqkv = 0").await?;
                record_merge_heads(
                    &mut r.program,
                    r.ctx,
                    dv.slice(..),
                    dqkv.slice(..),
                    hs,
                    2,
                    &format!("{p}.dv"),
                )
                .await
                .map_err(e)?;
            }
            Mixer::Attention => {
                let dout = r.buf("dout", attn.len())?;
                record_split_heads(
                    &mut r.program,
                    r.ctx,
                    dy.slice(..),
                    dout.slice(..),
                    Heads { parts: 1, ..hs },
                    0,
                    &format!("{p}.dout"),
                )
                .await
                .map_err(e)?;
                let grads: Vec<wgpu::Buffer> = (0..4)
                    .map(|j| r.buf("attn.grad", if j == 0 { dm.b * heads * l } else { attn.len() }))
                    .collect::<R<_>>()?;
                let h = &s.heads;
                let ins = [
                    h[0].slice(..),
                    h[1].slice(..),
                    h[2].slice(..),
                    h[3].slice(..),
                    dout.slice(..),
                    h[4].slice(..),
                ];
                let outs = [grads[0].slice(..), grads[1].slice(..), grads[2].slice(..), grads[3].slice(..)];
                record_attention_backward(&mut r.program, r.ctx, ins, outs, attn, scale).await.map_err(e)?;
                for part in 0..3 {
                    record_merge_heads(
                        &mut r.program,
                        r.ctx,
                        grads[part + 1].slice(..),
                        dqkv.slice(..),
                        hs,
                        part,
                        &format!("{p}.dqkv"),
                    )
                    .await
                    .map_err(e)?;
                }
            }
        }
        let dxn1 = residual_backward(
            r,
            &format!("{p}.dxn1"),
            &dqkv,
            &s.ln1[0],
            &format!("{p}.attn.c_attn.weight"),
            n,
            d,
            3 * d,
        )
        .await?;
        r.layer_norm_backward(&s.x_in, &format!("{p}.ln_1.weight"), &dxn1, &s.ln1, &dtmp, n, d).await?;
        r.ew(Op::Add, Some(dtmp.slice(..)), dres.slice(..), n * d, "dres += ln_1'").await?;
    }
    embed_backward(r, io, dm, &dres, true).await?;
    Ok(head.correct)
}
