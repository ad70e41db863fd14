//! The study layer's one error type. Protocol problems are `Issue`s that name the field
//! path (`blocks[1].trials[0].advice`) and the 1-based line of the protocol file, so a
//! researcher can fix every problem in one pass.

use std::fmt;

/// One problem in a protocol file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// JSON path of the offending field, e.g. `conditions[0].levels[1].weight` (empty: the
    /// whole document).
    pub path: String,
    /// 1-based line in the protocol text where that field (or its nearest parent) starts.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "(document)" } else { &self.path };
        write!(f, "line {}: {}: {}", self.line, path, self.message)
    }
}

/// Everything that can go wrong in the study layer.
#[derive(Clone, Debug, PartialEq)]
pub enum StudyError {
    /// The protocol is invalid; every problem found, in file order.
    Invalid(Vec<Issue>),
    /// An event log that cannot be appended to or resumed (gap, conflict, wrong participant).
    Log(String),
    /// A CSV or JSON export that cannot be read back: file (or source name), line, reason.
    Data { source: String, line: usize, message: String },
    /// A participant id or option the caller passed is unusable.
    Input(String),
}

impl StudyError {
    /// The protocol issues, if this is an invalid-protocol error.
    pub fn issues(&self) -> &[Issue] {
        match self {
            StudyError::Invalid(v) => v,
            _ => &[],
        }
    }
}

impl fmt::Display for StudyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StudyError::Invalid(issues) => {
                write!(
                    f,
                    "invalid protocol ({} problem{})",
                    issues.len(),
                    if issues.len() == 1 { "" } else { "s" }
                )?;
                for i in issues {
                    write!(f, "\n  {i}")?;
                }
                Ok(())
            }
            StudyError::Log(m) => write!(f, "event log: {m}"),
            StudyError::Data { source, line, message } => write!(f, "{source}:{line}: {message}"),
            StudyError::Input(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for StudyError {}

impl From<crate::core::csv::CsvError> for StudyError {
    fn from(e: crate::core::csv::CsvError) -> Self {
        StudyError::Data { source: e.source, line: e.line, message: e.message }
    }
}
