//! Long structured tasks from the DLR suite: ListOpsSubTrees and PathfinderSegmentation.

pub mod listops;
pub mod pathfinder;

use super::TaskInfo;

pub static TASKS: &[&TaskInfo] = &[&listops::INFO, &pathfinder::INFO];
