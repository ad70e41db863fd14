//! Task parameters: each task declares a table of `ParamSpec`s (key, label, help, default,
//! valid range); `Params` holds one setting of them. The same table drives the URL, the
//! lab's form, the gallery and the CLI (`--set key=value`), so a parameter is declared once.
//!
//! Range checks live here; relations between parameters (e.g. "kv pairs must fit in the
//! length") are checked by each task's `build`, which names the parameter and the limit.

use crate::core::{ConfigError, FieldError};

/// How a parameter's text is read and which values are allowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// A whole number in `min..=max`.
    Int { min: u64, max: u64 },
    /// A real number in `min..=max`.
    Float { min: f64, max: f64 },
    /// One of the named options; the value is the option's index.
    Choice(&'static [&'static str]),
}

/// One documented parameter of a task.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    /// URL / CLI key, e.g. `seq_len`.
    pub key: &'static str,
    pub label: &'static str,
    /// One line: what it changes, and any relation to other parameters.
    pub help: &'static str,
    pub kind: ParamKind,
    /// Default value (for a choice: the index of the default option).
    pub default: f64,
}

impl ParamSpec {
    pub const fn int(
        key: &'static str,
        label: &'static str,
        help: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Self {
        ParamSpec { key, label, help, kind: ParamKind::Int { min, max }, default: default as f64 }
    }

    pub const fn float(
        key: &'static str,
        label: &'static str,
        help: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Self {
        ParamSpec { key, label, help, kind: ParamKind::Float { min, max }, default }
    }

    pub const fn choice(
        key: &'static str,
        label: &'static str,
        help: &'static str,
        default: usize,
        options: &'static [&'static str],
    ) -> Self {
        ParamSpec { key, label, help, kind: ParamKind::Choice(options), default: default as f64 }
    }

    /// Parse one value's text, checking its kind and range.
    pub fn parse(&self, text: &str) -> Result<f64, FieldError> {
        let t = text.trim();
        let err = |m: String| FieldError::new(self.key, m);
        match self.kind {
            ParamKind::Int { min, max } => {
                let v: u64 = t
                    .parse()
                    .map_err(|_| err(format!("'{t}' is not a whole number (expected {min}..={max})")))?;
                if v < min || v > max {
                    return Err(err(format!("{v} is out of range {min}..={max}")));
                }
                Ok(v as f64)
            }
            ParamKind::Float { min, max } => {
                let v: f64 = t
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| err(format!("'{t}' is not a number")))?;
                if v < min || v > max {
                    return Err(err(format!("{v} is out of range {min}..={max}")));
                }
                Ok(v)
            }
            ParamKind::Choice(options) => options
                .iter()
                .position(|o| *o == t)
                .map(|i| i as f64)
                .ok_or_else(|| err(format!("'{t}' is not one of: {}", options.join(", ")))),
        }
    }

    /// The text form of a value (integers without a decimal point, choices by name).
    pub fn format(&self, v: f64) -> String {
        match self.kind {
            ParamKind::Int { .. } => format!("{}", v as u64),
            ParamKind::Float { .. } => format!("{v}"),
            ParamKind::Choice(options) => options.get(v as usize).copied().unwrap_or("?").to_string(),
        }
    }

    /// The valid range in words, for docs and `interlab tasks list`.
    pub fn range_text(&self) -> String {
        match self.kind {
            ParamKind::Int { min, max } => format!("{min}..={max}"),
            ParamKind::Float { min, max } => format!("{min}..={max}"),
            ParamKind::Choice(options) => options.join(" | "),
        }
    }
}

/// One setting of a task's parameters, in the order of its table.
#[derive(Clone, Debug)]
pub struct Params {
    specs: &'static [ParamSpec],
    values: Vec<f64>,
}

impl Params {
    /// Every parameter at its default.
    pub fn defaults(specs: &'static [ParamSpec]) -> Self {
        Params { specs, values: specs.iter().map(|s| s.default).collect() }
    }

    /// Defaults overridden by `key=value` text pairs; every bad value is reported with its
    /// key. Keys that are not parameters of this task are ignored (the caller decides
    /// whether an unknown key is an error: the URL carries model keys too, the CLI does not).
    pub fn from_pairs<'a>(
        specs: &'static [ParamSpec],
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        let mut p = Params::defaults(specs);
        let mut errors = Vec::new();
        for (k, v) in pairs {
            if let Some(i) = specs.iter().position(|s| s.key == k) {
                match specs[i].parse(v) {
                    Ok(x) => p.values[i] = x,
                    Err(e) => errors.push(e),
                }
            }
        }
        if errors.is_empty() {
            Ok(p)
        } else {
            Err(ConfigError { errors })
        }
    }

    pub fn specs(&self) -> &'static [ParamSpec] {
        self.specs
    }

    /// The value of `key`. Panics only on a key the task never declared (a programming
    /// error caught by the registry tests, never by user input).
    pub fn get(&self, key: &str) -> f64 {
        let i = self
            .specs
            .iter()
            .position(|s| s.key == key)
            .unwrap_or_else(|| panic!("task has no parameter '{key}'"));
        self.values[i]
    }

    pub fn usize(&self, key: &str) -> usize {
        self.get(key) as usize
    }

    /// Defaults with some values set directly (already in range; for code and tests).
    pub fn with(specs: &'static [ParamSpec], values: &[(&str, f64)]) -> Self {
        let mut p = Params::defaults(specs);
        for &(k, v) in values {
            p.set(k, v);
        }
        p
    }

    /// Set a value directly (already in range; used by tests and property sweeps).
    pub fn set(&mut self, key: &str, v: f64) {
        let i = self
            .specs
            .iter()
            .position(|s| s.key == key)
            .unwrap_or_else(|| panic!("task has no parameter '{key}'"));
        self.values[i] = v;
    }

    /// `(key, text)` pairs in table order, for URLs and JSON.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        self.specs.iter().zip(&self.values).map(|(s, &v)| (s.key, s.format(v))).collect()
    }
}

impl PartialEq for Params {
    /// Same parameter table (by keys) and same values.
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values && self.specs.iter().map(|s| s.key).eq(other.specs.iter().map(|s| s.key))
    }
}

/// Collects relation errors inside a task's `build`.
#[derive(Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// Record an error for `key` when `bad` holds.
    pub fn check(&mut self, bad: bool, key: &str, message: impl FnOnce() -> String) {
        if bad {
            self.errors.push(FieldError::new(key, message()));
        }
    }

    pub fn finish(self) -> Result<(), ConfigError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { errors: self.errors })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec::int("len", "Length", "tokens", 16, 2, 64),
        ParamSpec::float("noise", "Noise", "std", 0.1, 0.0, 1.0),
        ParamSpec::choice("mode", "Mode", "layout", 0, &["fixed", "variable"]),
    ];

    #[test]
    fn parses_formats_and_round_trips() {
        let p = Params::from_pairs(SPECS, [("len", "20"), ("mode", "variable"), ("other", "x")]).unwrap();
        assert_eq!(p.usize("len"), 20);
        assert_eq!(p.get("noise"), 0.1);
        assert_eq!(p.get("mode"), 1.0);
        let pairs = p.to_pairs();
        let back = Params::from_pairs(SPECS, pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn bad_values_name_the_parameter_and_the_limit() {
        let e = Params::from_pairs(SPECS, [("len", "65"), ("noise", "nan"), ("mode", "both")]).unwrap_err();
        assert!(e.for_field("len").unwrap().contains("2..=64"), "{e}");
        assert!(e.for_field("noise").unwrap().contains("not a number"), "{e}");
        assert!(e.for_field("mode").unwrap().contains("fixed, variable"), "{e}");
    }
}
