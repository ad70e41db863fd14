//! Continuous-valued tasks: the lag-operator map ("How many heads make an SSM?") and
//! sensor-to-quantity regression (HiSS-like).

pub mod lag_map;
pub mod sensor;

use super::TaskInfo;

pub static TASKS: &[&TaskInfo] = &[&lag_map::INFO, &sensor::INFO];
