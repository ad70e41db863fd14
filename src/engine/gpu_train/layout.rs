//! Where each parameter lives in the GPU engine's flat buffers (parameters, gradients, Adam
//! moments share one layout). Tensors follow `SeqModel::named_params()` order, so a
//! checkpoint and the CPU model map one to one, and each starts on a 64-float (256-byte)
//! boundary: WebGPU's largest allowed `min_storage_buffer_offset_alignment`, so any tensor
//! can be bound on its own on any device. The gaps stay zero (zero gradient, zero update).

use crate::model::SeqModel;

/// Floats per alignment unit (256 bytes).
pub const ALIGN: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub name: String,
    pub shape: Vec<usize>,
    /// First float in the flat buffer.
    pub offset: usize,
    pub len: usize,
    /// AdamW weight decay (matrices, embeddings included; never gains): as `Trainer::new`.
    pub decay: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub slots: Vec<Slot>,
    /// Floats in each flat buffer (the last tensor's end, aligned).
    pub total: usize,
}

fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

impl Layout {
    pub fn of(model: &dyn SeqModel) -> Layout {
        let mut slots = Vec::new();
        let mut offset = 0;
        for (name, var) in model.named_params() {
            let shape = var.as_tensor().dims().to_vec();
            let len = var.as_tensor().elem_count();
            slots.push(Slot { decay: shape.len() == 2, name, shape, offset, len });
            offset += align(len);
        }
        Layout { slots, total: offset.max(ALIGN) }
    }

    /// The slot named `name`, or an error naming what the model has.
    pub fn get(&self, name: &str) -> Result<&Slot, String> {
        self.slots.iter().find(|s| s.name == name).ok_or_else(|| format!("GPU engine: the model has no parameter '{name}'"))
    }

    /// Byte range of a slot, for `Buffer::slice`.
    pub fn bytes(&self, name: &str) -> Result<std::ops::Range<u64>, String> {
        let s = self.get(name)?;
        Ok((s.offset * 4) as u64..((s.offset + s.len) * 4) as u64)
    }

    /// The model's parameters packed into the layout.
    pub fn pack(&self, model: &dyn SeqModel) -> Result<Vec<f32>, String> {
        let mut flat = vec![0f32; self.total];
        for ((_, var), slot) in model.named_params().iter().zip(&self.slots) {
            let v: Vec<f32> = var.as_tensor().flatten_all().and_then(|t| t.to_vec1()).map_err(|e| format!("GPU engine: reading {}: {e}", slot.name))?;
            flat[slot.offset..slot.offset + slot.len].copy_from_slice(&v);
        }
        Ok(flat)
    }

    /// One float per parameter: 1 where AdamW decays it.
    pub fn decay_mask(&self) -> Vec<f32> {
        let mut mask = vec![0f32; self.total];
        for s in self.slots.iter().filter(|s| s.decay) {
            mask[s.offset..s.offset + s.len].fill(1.0);
        }
        mask
    }

    /// Each tensor's values cut out of a flat buffer, in `named_params()` order.
    pub fn unpack(&self, flat: &[f32]) -> Vec<Vec<f32>> {
        self.slots.iter().map(|s| flat[s.offset..s.offset + s.len].to_vec()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Transformer, TransformerConfig};

    #[test]
    fn slots_are_aligned_ordered_and_round_trip() {
        let cfg = TransformerConfig { vocab: 11, features: 0, max_len: 9, layers: 2, heads: 2, d_model: 8, mlp_ratio: 4, out: 11, mixers: vec![crate::model::mixers::Mixer::Static; 2] };
        let m = Transformer::new(cfg, 1).unwrap();
        let l = Layout::of(&m);
        assert_eq!(l.slots.len(), m.named_params().len());
        assert!(l.slots.iter().all(|s| s.offset % ALIGN == 0));
        assert!(l.slots.windows(2).all(|w| w[0].offset + w[0].len <= w[1].offset));
        assert_eq!(l.get("h.1.attn.static_mix").unwrap().shape, vec![2, 9, 9]);
        assert!(!l.get("ln_f.weight").unwrap().decay && l.get("wte.weight").unwrap().decay);
        let flat = l.pack(&m).unwrap();
        let back = l.unpack(&flat);
        for ((_, v), got) in m.named_params().iter().zip(&back) {
            assert_eq!(&v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(), got);
        }
        assert!(l.get("nope").unwrap_err().contains("'nope'"));
    }
}
