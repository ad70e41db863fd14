//! The DLR paper's synthetic suite (Gupta et al., "Simplifying and Understanding State Space
//! Models with Diagonal Linear RNNs"): Shift, Context Shift, CumSum, CumMax, Reverse, Sort,
//! Masked Select, MIPS.

pub mod context_shift;
pub mod cummax;
pub mod cumsum;
pub mod masked_select;
pub mod mips;
pub mod reorder;
pub mod shift;

use super::TaskInfo;

pub static TASKS: &[&TaskInfo] = &[
    &shift::INFO,
    &context_shift::INFO,
    &cumsum::INFO,
    &cummax::INFO,
    &reorder::REVERSE,
    &reorder::SORT,
    &masked_select::INFO,
    &mips::INFO,
];
