//! Concept steering and causal interpretability on the CPU models: named-site interventions
//! (`intervene`), concept directions from two input sets (`directions`), scale sweeps against
//! random directions of equal norm with percentiles and paired p-values (`sweep`), linear
//! probes (`probe`) and activation patching (`patch`). Depends on `model` (and `core`,
//! `tasks`); the engine and the UI sit on top.

pub mod directions;
pub mod intervene;
pub mod patch;
pub mod probe;
pub mod sweep;

use std::fmt;

pub use intervene::{run, Edit, Intervention, Output, Positions};

/// The steering layer's error: what (a site, an input set, an op) and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SteerError {
    pub what: String,
    pub detail: String,
}

impl fmt::Display for SteerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.detail)
    }
}

impl std::error::Error for SteerError {}

pub type Result<T> = std::result::Result<T, SteerError>;

pub(crate) fn err(what: &str, detail: String) -> SteerError {
    SteerError { what: what.to_string(), detail }
}

/// Attach what failed to a candle or model result.
pub(crate) trait Ctx<T> {
    fn at(self, what: &str) -> Result<T>;
}

impl<T, E: fmt::Display> Ctx<T> for std::result::Result<T, E> {
    fn at(self, what: &str) -> Result<T> {
        self.map_err(|e| err(what, e.to_string()))
    }
}
