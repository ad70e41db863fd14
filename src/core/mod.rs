//! Pure foundations shared by every layer: the seeded RNG, error types, the run
//! configuration (`config::FIELDS`, one table for the form, the URL and the CLI), base64url,
//! the share-link gate (`share`), the one CSV writer/reader (`csv`) and export file names
//! (`names`). Uses no other module of the crate, and no outside crate but serde, serde_json
//! (config files) and miniz_oxide (link compression) — never candle, wgpu, leptos or web-sys.

pub mod base64;
pub mod config;
pub mod csv;
pub mod error;
pub mod names;
pub mod rng;
pub mod share;

pub use config::{ModelDims, TrainConfig};
pub use error::{ConfigError, FieldError};
pub use rng::Rng;
