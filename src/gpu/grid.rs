//! Dispatch geometry shared by the row- and element-wise kernels: a 1-D count of workgroups
//! folded into 2-D when it passes the device's per-dimension limit (65 535 on most adapters),
//! so a 65K-token sequence times a batch still launches in one dispatch. Shaders recover the
//! linear index as `wid.x + wid.y * num_workgroups.x` and skip indices past the end.

use super::{GpuContext, GpuError, Result};

/// Workgroup counts `[x, y, 1]` covering `n_groups` linear workgroups (at least one, so an
/// empty launch is still a valid dispatch whose invocations all skip).
pub fn fold_groups(ctx: &GpuContext, op: &str, n_groups: usize) -> Result<[u32; 3]> {
    let limit = ctx.limits.max_compute_workgroups_per_dimension.max(1) as usize;
    let n = n_groups.max(1);
    let x = n.min(limit);
    let y = n.div_ceil(x);
    if y > limit {
        return Err(GpuError::TooLarge {
            op: op.into(),
            what: "workgroups (x · y)".into(),
            requested: n as u64,
            limit: (limit * limit) as u64,
        });
    }
    Ok([x as u32, y as u32, 1])
}

/// `fold_groups` for `n_items` items handled `per_group` at a time.
pub fn fold_items(ctx: &GpuContext, op: &str, n_items: usize, per_group: usize) -> Result<[u32; 3]> {
    fold_groups(ctx, op, n_items.div_ceil(per_group))
}

/// The error every binding returns for an undersized buffer: names the op, the buffer, its
/// size and the shape that needs more.
pub fn check_len(op: &str, name: &str, buf: wgpu::BufferSlice<'_>, want: usize, shape: &str) -> Result<()> {
    if buf.size() < (want.max(1) * 4) as u64 {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("buffer {name} holds {} values, {shape} needs {want}", buf.size() / 4),
        });
    }
    Ok(())
}
