//! Recall tasks: Zoology's MQAR, MAD's six synthetic tasks, induction heads.

pub mod mqar;

use super::TaskInfo;

pub static TASKS: &[&TaskInfo] = &[&mqar::INFO];
