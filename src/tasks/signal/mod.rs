//! Continuous-valued tasks: the lag-operator map ("How many heads make an SSM?") and
//! sensor-to-quantity regression (HiSS-like).

use super::TaskInfo;

pub static TASKS: &[&TaskInfo] = &[];
