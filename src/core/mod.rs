//! Pure foundations shared by every layer: the seeded RNG, error types, the run
//! configuration and the share-link tables. Depends on std, serde and miniz_oxide (link
//! compression) only — never on candle,
//! wgpu, leptos or web-sys.

pub mod base64;
pub mod config;
pub mod error;
pub mod rng;
pub mod share;

pub use config::{ModelDims, TrainConfig};
pub use error::{ConfigError, FieldError};
pub use rng::Rng;
