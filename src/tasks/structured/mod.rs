//! Long structured tasks from the DLR suite: ListOpsSubTrees and PathfinderSegmentation.

use super::TaskInfo;

pub static TASKS: &[&TaskInfo] = &[];
