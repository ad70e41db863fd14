//! Recall tasks: Zoology's MQAR, MAD's six synthetic tasks, induction heads.

pub mod compression;
pub mod fuzzy_recall;
pub mod in_context_recall;
pub mod induction;
pub mod memorization;
pub mod mqar;
pub mod noisy_recall;
pub mod selective_copy;

use super::TaskInfo;

pub static TASKS: &[&TaskInfo] = &[
    &mqar::INFO,
    &in_context_recall::INFO,
    &fuzzy_recall::INFO,
    &noisy_recall::INFO,
    &selective_copy::INFO,
    &compression::INFO,
    &memorization::INFO,
    &induction::INFO,
];
