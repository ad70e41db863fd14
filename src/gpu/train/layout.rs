//! Where each parameter lives in the GPU engine's flat buffers (parameters, gradients, Adam
//! moments share one layout). Tensors come in the order the caller lists them (the engine
//! passes the CPU model's `named_params()` order, so a checkpoint and the CPU model map one
//! to one), and each starts on a 64-float (256-byte)
//! boundary: WebGPU's largest allowed `min_storage_buffer_offset_alignment`, so any tensor
//! can be bound on its own on any device. The gaps stay zero (zero gradient, zero update).

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
    /// Slots for `(name, shape)` tensors in order; 2-D tensors get weight decay.
    pub fn new(tensors: &[(String, Vec<usize>)]) -> Layout {
        let mut slots = Vec::new();
        let mut offset = 0;
        for (name, shape) in tensors {
            let len = shape.iter().product();
            slots.push(Slot {
                decay: shape.len() == 2,
                name: name.clone(),
                shape: shape.clone(),
                offset,
                len,
            });
            offset += align(len);
        }
        Layout { slots, total: offset.max(ALIGN) }
    }

    /// The slot named `name`, or an error naming what the model has.
    pub fn get(&self, name: &str) -> Result<&Slot, String> {
        self.slots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| format!("GPU engine: the model has no parameter '{name}'"))
    }

    /// Byte range of a slot, for `Buffer::slice`.
    pub fn bytes(&self, name: &str) -> Result<std::ops::Range<u64>, String> {
        let s = self.get(name)?;
        Ok((s.offset * 4) as u64..((s.offset + s.len) * 4) as u64)
    }

    /// Tensors (in slot order) packed into one flat buffer.
    pub fn pack(&self, tensors: &[Vec<f32>]) -> Result<Vec<f32>, String> {
        if tensors.len() != self.slots.len() {
            return Err(format!("GPU engine: {} tensors for {} parameters", tensors.len(), self.slots.len()));
        }
        let mut flat = vec![0f32; self.total];
        for (t, slot) in tensors.iter().zip(&self.slots) {
            if t.len() != slot.len {
                return Err(format!(
                    "GPU engine: {} has {} values, its shape {:?} needs {}",
                    slot.name,
                    t.len(),
                    slot.shape,
                    slot.len
                ));
            }
            flat[slot.offset..slot.offset + slot.len].copy_from_slice(t);
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

    #[test]
    fn slots_are_aligned_ordered_and_round_trip() {
        let tensors = vec![
            ("wte.weight".to_string(), vec![11, 8]),
            ("ln_f.weight".to_string(), vec![8]),
            ("mix".to_string(), vec![2, 9, 9]),
        ];
        let l = Layout::new(&tensors);
        assert_eq!(l.slots.len(), 3);
        assert!(l.slots.iter().all(|s| s.offset % ALIGN == 0));
        assert!(l.slots.windows(2).all(|w| w[0].offset + w[0].len <= w[1].offset));
        assert_eq!(l.get("mix").unwrap().len, 162);
        assert!(
            !l.get("ln_f.weight").unwrap().decay
                && l.get("wte.weight").unwrap().decay
                && !l.get("mix").unwrap().decay
        );
        let data: Vec<Vec<f32>> = l.slots.iter().map(|s| (0..s.len).map(|i| i as f32).collect()).collect();
        let flat = l.pack(&data).unwrap();
        assert_eq!(l.unpack(&flat), data);
        assert!(l.get("nope").unwrap_err().contains("'nope'"));
        assert!(l.pack(&data[..2]).unwrap_err().contains("2 tensors for 3"));
    }
}
