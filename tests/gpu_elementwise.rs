//! Why: the glue kernels of a training step (fills, residual adds, the ReLU mask, the head
//! permutes, the DLR parameter map) sit between every pair of big kernels; a wrong index
//! here corrupts the whole step silently. Each must equal its plain-loop oracle exactly (one
//! invocation per element, no sums), over awkward sizes, and bind ranges of a larger buffer
//! (how the engine addresses one tensor of its flat parameter buffer). Runs on lavapipe in CI.

mod common;

use interlab::engine::gpu_check::random_matrix;
use interlab::gpu::elementwise::{
    dlr_modes_reference, elementwise_reference, record_dlr_modes, record_dlr_modes_backward,
    record_elementwise, record_merge_heads, record_split_heads, split_heads_reference, Heads, Op,
};
use interlab::gpu::{GpuContext, GpuError, Program};

fn run(ctx: &GpuContext, program: Program, out: &wgpu::Buffer, len: usize) -> Vec<f32> {
    program.submit(ctx).unwrap();
    pollster::block_on(ctx.read_f32(out, len)).unwrap()
}

#[test]
fn elementwise_ops_equal_their_oracle_exactly() {
    let Some(ctx) = common::gpu_context() else { return };
    for n in [1usize, 7, 64, 257] {
        let src: Vec<f32> = random_matrix(n as u64, n);
        let dst0: Vec<f32> = random_matrix(100 + n as u64, n);
        for op in [Op::Zero, Op::Copy, Op::Add, Op::AddCyclic { m: n.div_ceil(3) }, Op::ReluMask] {
            let sb = ctx.upload_f32("test", "src", &src).unwrap();
            let db = ctx.upload_f32("test", "dst", &dst0).unwrap();
            let mut p = Program::new();
            pollster::block_on(record_elementwise(
                &mut p,
                &ctx,
                op,
                Some(sb.slice(..)),
                db.slice(..),
                n,
                "test",
            ))
            .unwrap();
            let got = run(&ctx, p, &db, n);
            let mut want = dst0.clone();
            elementwise_reference(op, &src, &mut want);
            assert_eq!(got, want, "{op:?} n={n}");
        }
    }
}

#[test]
fn ranges_of_a_flat_buffer_bind_at_aligned_offsets_only() {
    let Some(ctx) = common::gpu_context() else { return };
    // Two 100-float tensors at offsets 0 and 128 floats (512 bytes) of one buffer.
    let flat: Vec<f32> = random_matrix(3, 256);
    let fb = ctx.upload_f32("test", "flat", &flat).unwrap();
    let out = ctx.output_f32("test", "out", 100).unwrap();
    let mut p = Program::new();
    pollster::block_on(record_elementwise(
        &mut p,
        &ctx,
        Op::Copy,
        Some(fb.slice(512..912)),
        out.slice(..),
        100,
        "view",
    ))
    .unwrap();
    assert_eq!(run(&ctx, p, &out, 100), flat[128..228].to_vec());
    // An offset of 4 bytes is refused with a message, not a device error.
    let mut p = Program::new();
    let e = pollster::block_on(record_elementwise(
        &mut p,
        &ctx,
        Op::Copy,
        Some(fb.slice(4..404)),
        out.slice(..),
        100,
        "view",
    ))
    .unwrap_err();
    assert!(matches!(&e, GpuError::Shape { detail, .. } if detail.contains("alignment")), "{e}");
    assert!(p.is_empty());
}

#[test]
fn head_split_and_merge_permute_exactly_and_round_trip() {
    let Some(ctx) = common::gpu_context() else { return };
    for (b, l, h, dh) in [(1, 1, 1, 1), (2, 7, 3, 5), (1, 257, 2, 4), (3, 64, 4, 16)] {
        let s = Heads { b, l, h, dh, parts: 3 };
        let packed: Vec<f32> = random_matrix((b * l * h) as u64, 3 * s.part_len());
        let src = ctx.upload_f32("test", "packed", &packed).unwrap();
        let back = ctx.output_f32("test", "back", 3 * s.part_len()).unwrap();
        let parts: Vec<_> = (0..3).map(|_| ctx.output_f32("test", "part", s.part_len()).unwrap()).collect();
        let mut p = Program::new();
        for (i, part) in parts.iter().enumerate() {
            pollster::block_on(record_split_heads(
                &mut p,
                &ctx,
                src.slice(..),
                part.slice(..),
                s,
                i,
                "split",
            ))
            .unwrap();
            pollster::block_on(record_merge_heads(
                &mut p,
                &ctx,
                part.slice(..),
                back.slice(..),
                s,
                i,
                "merge",
            ))
            .unwrap();
        }
        p.submit(&ctx).unwrap();
        for (i, part) in parts.iter().enumerate() {
            let got = pollster::block_on(ctx.read_f32(part, s.part_len())).unwrap();
            assert_eq!(got, split_heads_reference(&packed, s, i), "{s:?} part {i}");
        }
        assert_eq!(
            pollster::block_on(ctx.read_f32(&back, packed.len())).unwrap(),
            packed,
            "{s:?} round trip"
        );
    }
    let mut p = Program::new();
    let buf = ctx.output_f32("test", "x", 8).unwrap();
    let e = pollster::block_on(record_split_heads(
        &mut p,
        &ctx,
        buf.slice(..),
        buf.slice(..),
        Heads { b: 1, l: 2, h: 1, dh: 4, parts: 3 },
        0,
        "split",
    ))
    .unwrap_err();
    assert!(e.to_string().contains("split: buffer src holds 8 values"), "{e}");
}

/// The map is a few transcendental functions of one element: f32 on the GPU vs f64.
const MODES_ATOL: f32 = 2e-6;

#[test]
fn dlr_parameter_map_and_its_backward_match_f64_and_finite_differences() {
    let Some(ctx) = common::gpu_context() else { return };
    for dn in [1usize, 7, 64, 257] {
        let stride = dn.div_ceil(64) * 64;
        let mut params = vec![0f32; 3 * stride + dn];
        let r = random_matrix(dn as u64, 4 * dn);
        for i in 0..dn {
            params[i] = -6.9 + 6.5 * (r[i] + 1.0) / 2.0; // ν: |Λ| from 0.999 to ~0.2
            params[stride + i] = r[dn + i] * 3.0; // θ
            params[2 * stride + i] = r[2 * dn + i];
            params[3 * stride + i] = r[3 * dn + i];
        }
        let d_modes = random_matrix(50 + dn as u64, 4 * dn);
        let pb = ctx.upload_f32("test", "params", &params).unwrap();
        let gb = ctx.upload_f32("test", "d_modes", &d_modes).unwrap();
        let mb = ctx.output_f32("test", "modes", 4 * dn).unwrap();
        let db = ctx.output_f32("test", "d_params", params.len()).unwrap();
        let mut p = Program::new();
        pollster::block_on(record_dlr_modes(&mut p, &ctx, pb.slice(..), mb.slice(..), dn, stride, "modes"))
            .unwrap();
        pollster::block_on(record_dlr_modes_backward(
            &mut p,
            &ctx,
            pb.slice(..),
            gb.slice(..),
            db.slice(..),
            dn,
            stride,
            "modes_bwd",
        ))
        .unwrap();
        p.submit(&ctx).unwrap();
        let modes = pollster::block_on(ctx.read_f32(&mb, 4 * dn)).unwrap();
        let dp = pollster::block_on(ctx.read_f32(&db, params.len())).unwrap();
        let (want_m, want_d) = dlr_modes_reference(&params, &d_modes, dn, stride);
        for (i, (g, w)) in modes.iter().zip(&want_m).enumerate() {
            assert!((*g as f64 - w).abs() < MODES_ATOL as f64, "dn={dn} modes[{i}] {g} vs {w}");
        }
        for k in 0..4 {
            for i in 0..dn {
                let j = k * stride + i;
                assert!(
                    (dp[j] as f64 - want_d[j]).abs() < MODES_ATOL as f64 * 4.0,
                    "dn={dn} d_params[{k}][{i}] {} vs {}",
                    dp[j],
                    want_d[j]
                );
            }
        }
        // The oracle's derivative against central differences of L = Σ d_modes · modes(params).
        let loss = |q: &[f32]| -> f64 {
            dlr_modes_reference(q, &d_modes, dn, stride)
                .0
                .iter()
                .zip(&d_modes)
                .map(|(m, g)| m * *g as f64)
                .sum()
        };
        for &j in &[0, stride, 2 * stride, 3 * stride + dn - 1] {
            let (mut up, mut dn_) = (params.clone(), params.clone());
            let eps = 1e-3f32;
            up[j] += eps;
            dn_[j] -= eps;
            let fd = (loss(&up) - loss(&dn_)) / (up[j] as f64 - dn_[j] as f64);
            assert!(
                (fd - want_d[j]).abs() < 1e-4 * (1.0 + fd.abs()),
                "dn={dn} d_params[{j}]: oracle {} vs finite difference {fd}",
                want_d[j]
            );
        }
    }
}
