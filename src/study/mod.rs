//! Human-AI interaction studies with no server: the pure core.
//!
//! A study is a JSON protocol file (`protocol`), checked before any participant sees it
//! (`validate`, every message names the field path and the line). Each participant gets a
//! seeded, balanced condition and trial sequence from their id alone (`assign`); everything
//! they do becomes an append-only, sequence-numbered event log that a reload resumes from
//! (`events`); logs become tidy CSV / JSON (`export`) and per-condition statistics
//! (`analyze`). `simulate` runs whole studies with seeded simulated participants, and
//! `markdown` renders consent and instruction text with all HTML escaped.
//!
//! Pure: depends on `core`, `tasks`, std and serde only — never on model, engine, gpu,
//! browser, ui, steer or worker (`tests/architecture.rs` checks). The in-tab model plugs
//! in from above through the `puzzle::Advisor` trait.

pub mod analyze;
pub mod assign;
pub mod error;
pub mod events;
pub mod export;
pub mod jsonlines;
pub mod markdown;
pub mod protocol;
pub mod puzzle;
pub mod record;
pub mod simulate;
pub mod stats;
pub mod upload;
pub mod validate;
pub mod validate_trial;
pub mod validate_urls;

pub use error::{Issue, StudyError};
pub use protocol::Protocol;
pub use validate::parse_protocol;
