//! Synthetic sequence tasks behind one interface. Pure: depends on `core` only.
//!
//! A task is declared once in the registry (`registry::FAMILIES`) as a `TaskInfo`: name, one-line
//! description, source, documented parameters, and a `build` that checks the parameters'
//! relations and returns the generator. A generator fills one sequence at a time
//! (`Task::fill_row`); `Task::generate(seed, batch)` is fixed entirely by the seed.
//!
//! Data layout of a `Batch` (row-major):
//! - `inputs`   `[batch, seq_len]` input token ids (every task has them; continuous tasks
//!   use a constant token and put their signal in `features`),
//! - `features` `[batch, seq_len, features]` continuous inputs (empty when `features == 0`),
//! - `targets`  `[batch, seq_len, channels]` class ids (classification tasks; zeros otherwise),
//! - `values`   `[batch, seq_len, channels]` real targets (regression tasks; zeros otherwise),
//! - `mask`     `[batch, seq_len, channels]` 1.0 where a target is scored.

/// The two `Task` methods every task writes the same way: its registry entry (the `INFO`
/// static in the task's file) and its `params` field. Defined before the family modules so
/// they can use it.
macro_rules! task_meta {
    () => {
        fn info(&self) -> &'static $crate::tasks::TaskInfo {
            &INFO
        }

        fn params(&self) -> &$crate::tasks::Params {
            &self.params
        }
    };
}

pub mod bench;
pub mod dlr;
pub mod example;
pub mod params;
pub mod recall;
pub mod registry;
pub mod signal;
pub mod structured;

pub use example::Example;
pub use params::{Checks, ParamKind, ParamSpec, Params};
pub use recall::mqar::Mqar;
pub use registry::{all, build, find};

use crate::core::{ConfigError, Rng};

/// Longest sequence any task generates (PathfinderSegmentation at 256 x 256).
pub const MAX_SEQ_LEN: usize = 65_536;
/// Most positions (batch x seq_len) one `generate` call may produce: 2^24, i.e. batch 256 at
/// 65K. Keeps a typo from allocating gigabytes: the trainer checks its batch and held-out
/// set with `check_batch` (the memory budget usually refuses first).
pub const MAX_BATCH_POSITIONS: usize = 1 << 24;

/// What the model must produce at each position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `channels` independent classifications over `classes` classes per position.
    Classes { channels: usize, classes: usize },
    /// `channels` real numbers per position, scored by mean squared error.
    Regression { channels: usize },
}

impl Output {
    pub fn channels(&self) -> usize {
        match *self {
            Output::Classes { channels, .. } | Output::Regression { channels } => channels,
        }
    }

    pub fn is_regression(&self) -> bool {
        matches!(self, Output::Regression { .. })
    }
}

/// The sizes a model needs to fit a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub seq_len: usize,
    /// Number of distinct input tokens (ids are `0..vocab`).
    pub vocab: usize,
    /// Continuous input channels per position (0 when the input is tokens only).
    pub features: usize,
    pub output: Output,
}

/// One batch of sequences; see the module docs for the layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub batch: usize,
    pub seq_len: usize,
    pub features: usize,
    pub channels: usize,
    pub inputs: Vec<u32>,
    pub features_data: Vec<f32>,
    pub targets: Vec<u32>,
    pub values: Vec<f32>,
    pub mask: Vec<f32>,
}

/// One sequence of a batch, as mutable slices (all zero when handed to `fill_row`).
pub struct RowMut<'a> {
    /// `[seq_len]`
    pub inputs: &'a mut [u32],
    /// `[seq_len, features]`
    pub features: &'a mut [f32],
    /// `[seq_len, channels]`
    pub targets: &'a mut [u32],
    /// `[seq_len, channels]`
    pub values: &'a mut [f32],
    /// `[seq_len, channels]`
    pub mask: &'a mut [f32],
}

/// One sequence of a batch, read-only.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    pub inputs: &'a [u32],
    pub features: &'a [f32],
    pub targets: &'a [u32],
    pub values: &'a [f32],
    pub mask: &'a [f32],
}

impl Batch {
    /// An all-zero batch for `shape`.
    pub fn zeros(shape: &Shape, batch: usize) -> Self {
        let (l, f, c) = (shape.seq_len, shape.features, shape.output.channels());
        Batch {
            batch,
            seq_len: l,
            features: f,
            channels: c,
            inputs: vec![0; batch * l],
            features_data: vec![0.0; batch * l * f],
            targets: vec![0; batch * l * c],
            values: vec![0.0; batch * l * c],
            mask: vec![0.0; batch * l * c],
        }
    }

    pub fn row(&self, b: usize) -> Row<'_> {
        let (l, f, c) = (self.seq_len, self.features, self.channels);
        Row {
            inputs: &self.inputs[b * l..(b + 1) * l],
            features: &self.features_data[b * l * f..(b + 1) * l * f],
            targets: &self.targets[b * l * c..(b + 1) * l * c],
            values: &self.values[b * l * c..(b + 1) * l * c],
            mask: &self.mask[b * l * c..(b + 1) * l * c],
        }
    }

    pub fn row_mut(&mut self, b: usize) -> RowMut<'_> {
        let (l, f, c) = (self.seq_len, self.features, self.channels);
        RowMut {
            inputs: &mut self.inputs[b * l..(b + 1) * l],
            features: &mut self.features_data[b * l * f..(b + 1) * l * f],
            targets: &mut self.targets[b * l * c..(b + 1) * l * c],
            values: &mut self.values[b * l * c..(b + 1) * l * c],
            mask: &mut self.mask[b * l * c..(b + 1) * l * c],
        }
    }

    /// Rows `start..end` as a batch of their own (for sliced evaluation).
    pub fn slice(&self, start: usize, end: usize) -> Batch {
        let (l, f, c) = (self.seq_len, self.features, self.channels);
        Batch {
            batch: end - start,
            seq_len: l,
            features: f,
            channels: c,
            inputs: self.inputs[start * l..end * l].to_vec(),
            features_data: self.features_data[start * l * f..end * l * f].to_vec(),
            targets: self.targets[start * l * c..end * l * c].to_vec(),
            values: self.values[start * l * c..end * l * c].to_vec(),
            mask: self.mask[start * l * c..end * l * c].to_vec(),
        }
    }

    /// Number of scored targets (positions x channels with mask 1).
    pub fn scored(&self) -> usize {
        self.mask.iter().filter(|&&m| m > 0.0).count()
    }
}

/// Refuse a `generate` call that would allocate more than `MAX_BATCH_POSITIONS` positions.
pub fn check_batch(shape: &Shape, batch: usize) -> Result<(), ConfigError> {
    let mut c = Checks::default();
    c.check(batch == 0, "batch", || "must be at least 1".into());
    c.check(batch.saturating_mul(shape.seq_len) > MAX_BATCH_POSITIONS, "batch", || {
        format!(
            "{batch} sequences of length {} is {} positions, over the limit of {MAX_BATCH_POSITIONS}",
            shape.seq_len,
            batch.saturating_mul(shape.seq_len)
        )
    });
    c.finish()
}

/// A seeded generator of batches, built (and validated) from its `Params` by its
/// `TaskInfo::build`.
pub trait Task: Send + Sync {
    /// The registry entry this task was built from.
    fn info(&self) -> &'static TaskInfo;
    /// The parameter setting it was built with.
    fn params(&self) -> &Params;
    fn shape(&self) -> Shape;
    /// Fill one all-zero sequence. All randomness comes from `rng`.
    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>);
    /// How an input token reads, e.g. "k3", "[MAX", "·".
    fn token_label(&self, token: u32) -> String;
    /// How an output class reads (defaults to the input token of the same id).
    fn class_label(&self, class: u32) -> String {
        self.token_label(class)
    }
    /// `Some((width, height))` when a sequence is an image in row-major order.
    fn image(&self) -> Option<(usize, usize)> {
        None
    }

    /// A batch fixed entirely by `seed`: rows are filled in order from one stream.
    fn generate(&self, seed: u64, batch: usize) -> Batch {
        let mut b = Batch::zeros(&self.shape(), batch);
        let mut rng = Rng::new(seed);
        for i in 0..batch {
            self.fill_row(&mut rng, b.row_mut(i));
        }
        b
    }
}

/// A task's registry entry.
pub struct TaskInfo {
    /// Short name used in URLs and the CLI, e.g. `shift`.
    pub name: &'static str,
    /// Display name, e.g. "Shift".
    pub title: &'static str,
    /// Family shown in the gallery: "DLR suite", "Recall (Zoology/MAD)", ...
    pub family: &'static str,
    /// One line: what the task tests.
    pub description: &'static str,
    /// Where it comes from (paper / code), in words.
    pub source: &'static str,
    pub params: &'static [ParamSpec],
    /// Check relations between parameters and build the generator.
    pub build: fn(Params) -> Result<Box<dyn Task>, ConfigError>,
}

impl std::fmt::Debug for TaskInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskInfo({})", self.name)
    }
}
