//! Checkpoints as safetensors bytes (no file system here, so the same code serves the tab
//! and the CLI). Tensor names are each model's `named_params()` names (GPT-2-like for the
//! Transformer: `wte.weight`, `h.0.attn.c_attn.weight`, ...); all tensors are f32. The run's
//! config, the crate version and the step travel in the header's `__metadata__` as one JSON
//! entry `interlab` = `{"config", "version", "step"}`. Run bundles (`engine::bundle`) add the
//! optimiser's moments as tensors named `optim.m.NAME` / `optim.v.NAME` (`OPTIM_PREFIX`),
//! which loading weights skips.

use std::collections::HashMap;

use candle_core::Device;

use super::{ModelError, Result, SeqModel};

fn err(detail: String) -> ModelError {
    ModelError { op: "checkpoint".into(), detail }
}

/// Serialise every parameter, with `metadata` in the header.
pub fn to_bytes(model: &dyn SeqModel, metadata: &[(&str, String)]) -> Result<Vec<u8>> {
    let params = model.named_params();
    let tensors: Vec<(String, candle_core::Tensor)> =
        params.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
    let info: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(info))
        .map_err(|e| err(format!("could not serialise: {e}")))
}

/// The header metadata of a checkpoint (e.g. its config), without loading tensors.
pub fn metadata(bytes: &[u8]) -> Result<HashMap<String, String>> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| err(format!("not a safetensors file: {e}")))?;
    Ok(header.metadata().clone().unwrap_or_default())
}

/// Tensors of a run bundle's optimiser state; never model parameters.
pub const OPTIM_PREFIX: &str = "optim.";

/// Copy a checkpoint's tensors into `model` (a bundle's `optim.*` tensors are skipped). Every parameter must be present with the same
/// shape and no other tensor may be there; nothing is changed unless all of them match.
pub fn load_into(model: &dyn SeqModel, bytes: &[u8]) -> Result<()> {
    let mut tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| err(format!("not a safetensors file: {e}")))?;
    tensors.retain(|name, _| !name.starts_with(OPTIM_PREFIX));
    let params = model.named_params();
    let mut ready = Vec::with_capacity(params.len());
    for (name, var) in &params {
        let t = tensors
            .remove(name)
            .ok_or_else(|| err(format!("tensor '{name}' is missing from the checkpoint")))?;
        let want = var.as_tensor().dims().to_vec();
        if t.dims() != want.as_slice() {
            return Err(err(format!(
                "tensor '{name}' has shape {:?} in the checkpoint but the config builds {want:?}",
                t.dims()
            )));
        }
        if t.dtype() != candle_core::DType::F32 {
            return Err(err(format!("tensor '{name}' is {:?}, expected F32", t.dtype())));
        }
        ready.push((var, t));
    }
    if let Some(extra) = tensors.keys().min() {
        return Err(err(format!(
            "the checkpoint has tensor '{extra}', which this config's model does not have"
        )));
    }
    for (var, t) in ready {
        var.set(&t)?;
    }
    Ok(())
}
