//! The DLR paper's synthetic suite (Gupta et al., "Simplifying and Understanding State Space
//! Models with Diagonal Linear RNNs"): Shift, Context Shift, CumSum, CumMax, Reverse, Sort,
//! Masked Select, MIPS; and Copy-or-Reverse, the steering lab's mixture of two of them.

pub mod context_shift;
pub mod copy_reverse;
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
    &copy_reverse::INFO,
];
