//! Shared plumbing for the fused CPU ops (`attention`, `layer_norm`): reading a candle
//! storage as a contiguous f32 slice, with an error that names the op and the argument.

use candle_core::{CpuStorage, Layout};

/// The f32 values of `s` under `l`, which must be contiguous.
pub(crate) fn contiguous_f32<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    op: &str,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        return Err(candle_core::Error::Msg(format!("{op}: {what} must be f32")));
    };
    let (start, end) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{op}: {what} must be contiguous")))?;
    Ok(&v[start..end])
}
