//! The DLR paper's synthetic suite (Gupta et al., "Simplifying and Understanding State Space
//! Models with Diagonal Linear RNNs"): Shift, Context Shift, CumSum, CumMax, Reverse, Sort,
//! Masked Select, MIPS.

use super::TaskInfo;

pub static TASKS: &[&TaskInfo] = &[];
