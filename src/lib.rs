//! interlab: a lab that lives in a browser tab.
//!
//! Layers (arrows point down; a test in `tests/architecture.rs` keeps this true):
//! `core` ← `tasks` ← `model` ← `engine`; `gpu` under `engine`; `study` (human-AI studies:
//! protocols, assignment, event log, exports, analysis) is pure and uses only `tasks` and
//! `core`; `browser` and `ui` exist only on wasm32; `ui` and `worker` (the training Web
//! Worker) are imported by nothing.

pub mod core;
pub mod engine;
pub mod gpu;
pub mod model;
pub mod steer;
pub mod study;
pub mod tasks;

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod worker;

/// The crate version, stamped on every exported record and share link.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
