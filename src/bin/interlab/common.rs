//! What several commands share: the error type and its exit codes, the `key=value` pair
//! parser, the run environment flags (`--backend`, `--budget-mib`), the run config built from
//! pairs, and small printing helpers.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use interlab::core::share::is_app_key;
use interlab::core::TrainConfig;
use interlab::engine::{BackendPref, RunEnv};

/// Why a command failed: the user's input (exit 2) or the run itself (exit 1).
#[derive(Debug)]
pub enum CliError {
    /// A bad flag value, key or input file: exit 2, like clap's own usage errors.
    Usage(String),
    /// The command was well formed but did not succeed (training diverged, a write failed):
    /// exit 1.
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
        }
    }
}

/// Library errors are run failures unless a command says otherwise with `usage`.
impl From<String> for CliError {
    fn from(m: String) -> Self {
        CliError::Failed(m)
    }
}

impl From<&str> for CliError {
    fn from(m: &str) -> Self {
        CliError::Failed(m.to_string())
    }
}

/// A usage error (exit 2) from anything printable.
pub fn usage(e: impl fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

pub type CliResult = Result<(), CliError>;

/// clap value parser for positional `key=value` pairs: refuses a word without `=` or with an
/// empty key, naming it.
pub fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not key=value")),
    }
}

/// clap value parser for an input file: it must exist, so a mistyped path is a usage error.
pub fn existing_file(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if p.is_file() {
        Ok(p)
    } else if p.exists() {
        Err(format!("'{s}' is not a file"))
    } else {
        Err(format!("no such file '{s}'"))
    }
}

fn parse_backend(s: &str) -> Result<BackendPref, String> {
    BackendPref::parse(s)
}

/// Where a run may train: the run environment (`interlab::engine::RunEnv`), passed by value.
#[derive(Args, Debug, Clone)]
pub struct EnvArgs {
    /// Where to train: cpu; gpu (wgpu, an error if the model has no GPU kernels or there is no
    /// adapter); or auto (the lab's rule: the GPU when it is estimated faster).
    #[arg(long, value_name = "cpu|gpu|auto", default_value = "cpu", value_parser = parse_backend)]
    pub backend: BackendPref,
    /// Memory budget of the CPU path in MiB [default: 512, the tab's]. A run on the GPU is not
    /// held to it.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub budget_mib: Option<u64>,
}

impl EnvArgs {
    pub fn env(&self) -> RunEnv {
        let env = RunEnv::default().with_backend(self.backend);
        match self.budget_mib {
            Some(mib) => env.with_budget_mib(mib),
            None => env,
        }
    }
}

/// Refuse link keys that are not a run's (`backend=`, `budget=`, `st_*`, ...): on the
/// command line those are flags or belong to another command, and the config would drop them
/// silently.
pub fn refuse_app_keys(pairs: &[(String, String)]) -> CliResult {
    match pairs.iter().find(|(k, _)| is_app_key(k)) {
        None => Ok(()),
        Some((k, v)) => {
            let hint = match k.as_str() {
                "backend" => "; use --backend",
                "budget" => "; use --budget-mib",
                _ => "",
            };
            Err(usage(format!("{k}={v}: '{k}' is a key of the lab's links, not of a run{hint}")))
        }
    }
}

/// The run config: `--config FILE` (JSON) if given, then the `key=value` pairs on top, checked
/// by `TrainConfig::from_pairs` and `engine::plan` in `env`. Every problem with the input is a
/// usage error; only an unreadable file is a failure.
pub fn run_config(
    pairs: &[(String, String)],
    config: Option<&Path>,
    env: &RunEnv,
) -> Result<TrainConfig, CliError> {
    refuse_app_keys(pairs)?;
    let mut all = Vec::new();
    if let Some(path) = config {
        let p = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("--config {p}: {e}"))?;
        let base = TrainConfig::from_json(&text).map_err(|e| usage(format!("--config {p}: {e}")))?;
        all = base.to_pairs();
    }
    all.extend(pairs.iter().cloned());
    let cfg = TrainConfig::from_pairs(all.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(usage)?;
    interlab::engine::plan(&cfg, env).map_err(usage)?;
    Ok(cfg)
}

/// A metric for printing: 4 decimals, or "-" where the task has no such metric.
pub fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into())
}

/// Create `dir` and write `name` in it, naming the path on failure.
pub fn write_in(dir: &Path, name: &str, bytes: &[u8]) -> CliResult {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_need_an_equals_sign_and_a_key() {
        assert_eq!(parse_pair("seed=3").unwrap(), ("seed".into(), "3".into()));
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_pair("steps").unwrap_err().contains("'steps'"));
        assert!(parse_pair("=3").unwrap_err().contains("'=3'"));
    }

    #[test]
    fn link_keys_that_are_not_a_runs_are_refused() {
        let pairs = vec![("seed".to_string(), "1".to_string()), ("backend".into(), "gpu".into())];
        let e = refuse_app_keys(&pairs).unwrap_err();
        assert!(matches!(&e, CliError::Usage(m) if m.contains("backend=gpu") && m.contains("--backend")));
        assert!(refuse_app_keys(&pairs[..1]).is_ok());
    }
}
