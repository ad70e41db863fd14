//! Pure foundations shared by every layer: the seeded RNG, error types, the run
//! configuration, the share-link tables, the one CSV writer/reader and export file names. Depends on std, serde and miniz_oxide (link
//! compression) only — never on candle,
//! wgpu, leptos or web-sys.

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
