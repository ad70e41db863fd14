//! Synthetic sequence tasks behind one interface. Pure: depends on `core` only.
//!
//! A task turns `(seed, batch size)` into a `Batch`: input tokens, target tokens and a mask
//! of the positions that are scored. Generation is deterministic in the seed.

pub mod mqar;

pub use mqar::Mqar;

/// One batch of token sequences, row-major `[batch, seq_len]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub batch: usize,
    pub seq_len: usize,
    /// Input token ids, `[batch, seq_len]`.
    pub inputs: Vec<u32>,
    /// Target token ids, `[batch, seq_len]` (meaningful only where `mask` is 1).
    pub targets: Vec<u32>,
    /// 1.0 at scored positions, 0.0 elsewhere, `[batch, seq_len]`.
    pub mask: Vec<f32>,
}

impl Batch {
    /// Number of scored positions.
    pub fn scored(&self) -> usize {
        self.mask.iter().filter(|&&m| m > 0.0).count()
    }
}

/// A seeded generator of token-classification batches.
pub trait Task {
    /// Short name, e.g. "mqar".
    fn name(&self) -> &'static str;
    /// One line saying what the task tests.
    fn description(&self) -> &'static str;
    /// Vocabulary size the model needs.
    fn vocab(&self) -> usize;
    fn seq_len(&self) -> usize;
    /// A batch fixed entirely by `seed`.
    fn generate(&self, seed: u64, batch: usize) -> Batch;
    /// A human-readable rendering of one token.
    fn token_label(&self, token: u32) -> String;
}
