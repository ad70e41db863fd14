//! interlab: a lab that lives in a browser tab.
//!
//! Layers (arrows point down; `tests/architecture.rs` keeps this true, see
//! `docs/architecture.md`): `core` ← `tasks` ← `model` ← `steer` ← `engine`; `gpu` sits
//! under `engine` and may use only `core`; `study` (human-AI studies: protocols, assignment,
//! event log, exports, analysis) is pure and uses only `core`, `tasks` and serde; `browser`
//! (the only home of web-sys, js-sys, gloo and wasm-bindgen) sits on `core`; `ui` (Leptos)
//! is on top. `browser`, `ui` and `worker` (the training Web Worker) exist only on wasm32;
//! `ui` and `worker` are imported by nothing.

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
