//! The training loop and backend choice: what the UI and the CLI drive. Depends on `core`,
//! `tasks`, `model` (and `gpu` for the GPU backend); never on leptos or web-sys.

pub mod advisor;
pub mod backend;
pub mod bundle;
pub mod env;
pub mod experiment;
pub mod flagship;
pub mod gpu_check;
pub mod gpu_train;
pub mod history;
pub mod inspect;
pub mod messages;
pub mod metrics;
pub mod plan;
pub mod presets;
pub mod session;
pub mod status;
pub mod steering;
pub mod trainer;

pub use env::{BackendPref, RunEnv};
pub use plan::{plan, Plan};
pub use session::{ChunkReport, Session};
pub use status::{Backend, RunState, RunStatus, Runner};
pub use trainer::{EvalProgress, EvalStats, StepStats, Trainer};
