//! Pure foundations shared by every layer: the seeded RNG, error types, the run
//! configuration and its URL table. Depends on std and serde only — never on candle,
//! wgpu, leptos or web-sys.

pub mod base64;
pub mod config;
pub mod error;
pub mod rng;

pub use config::{ModelDims, TrainConfig};
pub use error::{ConfigError, FieldError};
pub use rng::Rng;
