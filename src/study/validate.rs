//! Protocol validation: JSON text → a `Protocol`, or every problem at once, each naming
//! the field path and the 1-based line (`Issue`). Rejects syntax errors (serde_json's line),
//! duplicate JSON keys, unknown keys, missing fields, wrong types, empty conditions, weights
//! ≤ 0, duplicate ids, unknown trial types and tasks, bad task parameters, undeclared or
//! malformed models, non-http(s) redirects and endpoints. Trial bodies are checked in
//! `validate_trial`. Never panics, whatever the input.

use serde_json::{Map, Value};

use super::error::{Issue, StudyError};
use super::jsonlines::{index, join, Reader};
use super::protocol::*;
use super::validate_trial::{self, Ctx};
pub use super::validate_urls::is_http_url;
use super::validate_urls::{read_completion, read_endpoint, read_url_params};

/// Largest protocol file accepted.
pub const MAX_PROTOCOL_BYTES: usize = 1 << 20;
/// Most condition cells (product of the factors' level counts).
pub const MAX_CELLS: usize = 64;

/// Parse and validate a protocol file's text.
pub fn parse_protocol(text: &str) -> Result<Protocol, StudyError> {
    if text.len() > MAX_PROTOCOL_BYTES {
        let message = format!("protocol is {} bytes, over the limit of {MAX_PROTOCOL_BYTES}", text.len());
        return Err(StudyError::Invalid(vec![Issue { path: String::new(), line: 1, message }]));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let message = format!("not valid JSON: {e}");
        StudyError::Invalid(vec![Issue { path: String::new(), line: e.line().max(1), message }])
    })?;
    let mut r = Reader::new(text);
    for (path, line) in std::mem::take(&mut r.lines.duplicate_keys) {
        let key = path.rsplit('.').next().unwrap_or(&path).to_string();
        r.issues.push(Issue { path, line, message: format!("duplicate key '{key}'") });
    }
    let protocol = read_protocol(&mut r, &value);
    if r.issues.is_empty() {
        if let Some(p) = protocol {
            return Ok(p);
        }
        r.err("", "invalid protocol");
    }
    r.issues.sort_by_key(|i| i.line);
    Err(StudyError::Invalid(r.issues))
}

const TOP_REQUIRED: &[&str] = &["schema", "metadata", "consent", "conditions", "blocks", "completion"];
const TOP_OPTIONAL: &[&str] = &["instructions", "url_params", "counterbalance", "models", "endpoint"];

fn read_protocol(r: &mut Reader, v: &Value) -> Option<Protocol> {
    let m = r.object(v, "", TOP_REQUIRED, TOP_OPTIONAL)?;
    let schema = match m.get("schema") {
        Some(Value::Number(n)) if n.as_u64() == Some(SCHEMA_VERSION) => Some(SCHEMA_VERSION),
        Some(other) => {
            r.err("schema", format!("unsupported schema {other} (this build reads {SCHEMA_VERSION})"));
            None
        }
        None => None,
    };
    let metadata = m.get("metadata").and_then(|v| read_metadata(r, v));
    let consent = r.string(m, "", "consent");
    let instructions = match m.get("instructions") {
        None => Some(Vec::new()),
        Some(_) => read_pages(r, m),
    };
    let url_params = match m.get("url_params") {
        None => Some(Vec::new()),
        Some(_) => read_url_params(r, m),
    };
    let conditions = read_conditions(r, m);
    let counterbalance = match (m.get("counterbalance"), &conditions) {
        (None, _) => Some(None),
        (Some(v), conds) => read_counterbalance(r, v, conds.as_deref()).map(Some),
    };
    let models = match m.get("models") {
        None => Some(Vec::new()),
        Some(_) => read_models(r, m),
    };
    let ctx = Ctx {
        factors: conditions.clone().unwrap_or_default(),
        // Names as written, even in entries with other problems, so one bad model or page
        // does not also fail every trial that refers to it.
        pages: raw_names(m, "instructions", "id"),
        models: raw_names(m, "models", "name"),
        factors_valid: conditions.is_some(),
    };
    let blocks = read_blocks(r, m, &ctx);
    let completion =
        m.get("completion").and_then(|v| read_completion(r, v, url_params.as_deref().unwrap_or(&[])));
    let endpoint = match m.get("endpoint") {
        None | Some(Value::Null) => Some(None),
        Some(v) => read_endpoint(r, v).map(Some),
    };
    Some(Protocol {
        schema: schema?,
        metadata: metadata?,
        consent: consent?,
        instructions: instructions?,
        url_params: url_params?,
        conditions: conditions?,
        counterbalance: counterbalance?,
        models: models?,
        blocks: blocks?,
        completion: completion?,
        endpoint: endpoint?,
    })
}

/// The string `key` of each object in the array `list` (invalid entries skipped).
fn raw_names(m: &Map<String, Value>, list: &str, key: &str) -> Vec<String> {
    m.get(list)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.get(key)?.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// An id: non-empty, letters, digits, `-`, `_`, `.` only (ids appear in CSV and URLs).
pub fn read_id(r: &mut Reader, m: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
    let s = r.string(m, path, key)?;
    if s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        r.err(&join(path, key), format!("'{s}' is not a valid id (1-64 letters, digits, '-', '_' or '.')"));
        return None;
    }
    Some(s)
}

/// Record a duplicate id: `seen` holds `(id, path)` of earlier ones.
pub fn check_unique(r: &mut Reader, seen: &mut Vec<(String, String)>, id: &str, path: &str, what: &str) {
    if let Some((_, first)) = seen.iter().find(|(s, _)| s == id) {
        let first_line = r.lines.line(first);
        r.err(path, format!("duplicate {what} id '{id}' (first used at {first}, line {first_line})"));
    } else {
        seen.push((id.to_string(), path.to_string()));
    }
}

fn read_metadata(r: &mut Reader, v: &Value) -> Option<Metadata> {
    let m = r.object(v, "metadata", &["id", "title", "version"], &["seed"])?;
    let id = read_id(r, m, "metadata", "id");
    let title = r.string(m, "metadata", "title");
    let version = r.string(m, "metadata", "version");
    let seed = if m.contains_key("seed") { r.uint(m, "metadata", "seed", 0, u64::MAX) } else { Some(0) };
    Some(Metadata { id: id?, title: title?, version: version?, seed: seed? })
}

fn read_pages(r: &mut Reader, m: &Map<String, Value>) -> Option<Vec<Page>> {
    let items = r.array(m, "", "instructions", 0)?;
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let mut ok = true;
    for (i, v) in items.iter().enumerate() {
        let path = index("instructions", i);
        let Some(pm) = r.object(v, &path, &["id", "text"], &[]) else {
            ok = false;
            continue;
        };
        match (read_id(r, pm, &path, "id"), r.string(pm, &path, "text")) {
            (Some(id), Some(text)) => {
                check_unique(r, &mut seen, &id, &join(&path, "id"), "page");
                out.push(Page { id, text });
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_conditions(r: &mut Reader, m: &Map<String, Value>) -> Option<Vec<Factor>> {
    let items = r.array(m, "", "conditions", 1)?;
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let mut ok = true;
    for (i, v) in items.iter().enumerate() {
        let path = index("conditions", i);
        match read_factor(r, v, &path) {
            Some(f) => {
                check_unique(r, &mut seen, &f.id, &join(&path, "id"), "condition");
                out.push(f);
            }
            None => ok = false,
        }
    }
    let cells: usize = out.iter().map(|f| f.levels.len()).fold(1, |a, n| a.saturating_mul(n));
    if ok && cells > MAX_CELLS {
        r.err(
            "conditions",
            format!("{cells} condition cells (product of level counts), over the limit of {MAX_CELLS}"),
        );
        ok = false;
    }
    ok.then_some(out)
}

fn read_factor(r: &mut Reader, v: &Value, path: &str) -> Option<Factor> {
    let m = r.object(v, path, &["id", "levels"], &[])?;
    let id = read_id(r, m, path, "id");
    let items = r.array(m, path, "levels", 1)?;
    let mut levels = Vec::new();
    let mut seen = Vec::new();
    let mut ok = true;
    for (i, lv) in items.iter().enumerate() {
        let lp = index(&join(path, "levels"), i);
        let Some(lm) = r.object(lv, &lp, &["id", "weight"], &[]) else {
            ok = false;
            continue;
        };
        let lid = read_id(r, lm, &lp, "id");
        let weight = r.number(lm, &lp, "weight", |w| {
            (!(w > 0.0 && w.is_finite() && w <= 1e6))
                .then(|| format!("weight must be > 0 (and at most 1e6), found {w}"))
        });
        match (lid, weight) {
            (Some(lid), Some(weight)) => {
                check_unique(r, &mut seen, &lid, &join(&lp, "id"), "level");
                levels.push(Level { id: lid, weight });
            }
            _ => ok = false,
        }
    }
    if ok && seen.len() == levels.len() {
        Some(Factor { id: id?, levels })
    } else {
        None
    }
}

fn read_counterbalance(r: &mut Reader, v: &Value, factors: Option<&[Factor]>) -> Option<String> {
    let m = r.object(v, "counterbalance", &["factor"], &[])?;
    let f = r.string(m, "counterbalance", "factor")?;
    if let Some(fs) = factors {
        if !fs.iter().any(|x| x.id == f) {
            r.err("counterbalance.factor", format!("unknown condition '{f}'"));
            return None;
        }
    }
    Some(f)
}

fn read_models(r: &mut Reader, m: &Map<String, Value>) -> Option<Vec<ModelRef>> {
    let items = r.array(m, "", "models", 0)?;
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let mut ok = true;
    for (i, v) in items.iter().enumerate() {
        let path = index("models", i);
        let Some(mm) = r.object(v, &path, &["name", "url", "sha256"], &[]) else {
            ok = false;
            continue;
        };
        let name = read_id(r, mm, &path, "name");
        let url = r.string(mm, &path, "url").filter(|u| {
            let good = u
                .strip_prefix("shipped:")
                .map(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
                .unwrap_or_else(|| is_http_url(u));
            if !good {
                r.err(&join(&path, "url"), format!("'{u}' is neither shipped:NAME nor an http(s) URL"));
            }
            good
        });
        let sha = r.string(mm, &path, "sha256").filter(|h| {
            let good = h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit());
            if !good {
                r.err(&join(&path, "sha256"), format!("'{h}' is not a sha256 (64 hex digits)"));
            }
            good
        });
        match (name, url, sha) {
            (Some(name), Some(url), Some(sha)) => {
                check_unique(r, &mut seen, &name, &join(&path, "name"), "model");
                out.push(ModelRef { name, url, sha256: sha.to_ascii_lowercase() });
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_blocks(r: &mut Reader, m: &Map<String, Value>, ctx: &Ctx) -> Option<Vec<Block>> {
    let items = r.array(m, "", "blocks", 1)?;
    let mut out = Vec::new();
    let mut block_ids = Vec::new();
    let mut trial_ids = Vec::new();
    let mut ok = true;
    for (i, v) in items.iter().enumerate() {
        let path = index("blocks", i);
        let Some(bm) = r.object(v, &path, &["id", "trials"], &["order", "repetitions", "counterbalanced"])
        else {
            ok = false;
            continue;
        };
        let id = read_id(r, bm, &path, "id");
        if let Some(id) = &id {
            check_unique(r, &mut block_ids, id, &join(&path, "id"), "block");
        }
        let order = match bm.get("order") {
            None => Some(Order::Fixed),
            Some(_) => r.string(bm, &path, "order").and_then(|o| match o.as_str() {
                "fixed" => Some(Order::Fixed),
                "random" => Some(Order::Random),
                other => {
                    r.err(
                        &join(&path, "order"),
                        format!("unknown order '{other}' (expected fixed or random)"),
                    );
                    None
                }
            }),
        };
        let reps = if bm.contains_key("repetitions") {
            r.uint(bm, &path, "repetitions", 1, 100).map(|x| x as u32)
        } else {
            Some(1)
        };
        let cb = if bm.contains_key("counterbalanced") {
            r.boolean(bm, &path, "counterbalanced")
        } else {
            Some(false)
        };
        let trials = r.array(bm, &path, "trials", 1).map(|items| {
            let tp = join(&path, "trials");
            let parsed: Vec<Option<Trial>> = items
                .iter()
                .enumerate()
                .map(|(j, t)| validate_trial::read_trial(r, t, &index(&tp, j), ctx, &mut trial_ids))
                .collect();
            parsed
        });
        match (id, order, reps, cb, trials) {
            (Some(id), Some(order), Some(repetitions), Some(counterbalanced), Some(ts))
                if ts.iter().all(Option::is_some) =>
            {
                out.push(Block {
                    id,
                    order,
                    repetitions,
                    counterbalanced,
                    trials: ts.into_iter().flatten().collect(),
                });
            }
            _ => ok = false,
        }
    }
    if ok {
        check_consent_first(r, &out);
        check_counterbalance_blocks(r, m, &out);
    }
    ok.then_some(out)
}

/// Exactly one consent trial, first in a fixed, unrepeated, non-rotated first block.
fn check_consent_first(r: &mut Reader, blocks: &[Block]) {
    let mut consents = Vec::new();
    for (bi, b) in blocks.iter().enumerate() {
        for (ti, t) in b.trials.iter().enumerate() {
            if matches!(t.kind, TrialKind::Consent) {
                consents.push((bi, ti));
            }
        }
    }
    match consents.as_slice() {
        [] => r.err(
            "blocks[0].trials[0]",
            "no consent trial: the first trial of the first block must have type 'consent'",
        ),
        [(0, 0), rest @ ..] => {
            for (bi, ti) in rest {
                r.err(&format!("blocks[{bi}].trials[{ti}]"), "a study has exactly one consent trial");
            }
            let b = &blocks[0];
            if b.order != Order::Fixed || b.repetitions != 1 || b.counterbalanced {
                r.err("blocks[0]", "the block holding the consent trial must have order fixed, repetitions 1 and no counterbalancing");
            }
        }
        [(bi, ti), ..] => r.err(
            &format!("blocks[{bi}].trials[{ti}]"),
            "the consent trial must be the first trial of the first block",
        ),
    }
}

fn check_counterbalance_blocks(r: &mut Reader, m: &Map<String, Value>, blocks: &[Block]) {
    let n = blocks.iter().filter(|b| b.counterbalanced).count();
    match (m.contains_key("counterbalance"), n) {
        (true, 0) => r.err("counterbalance", "no block has \"counterbalanced\": true"),
        (false, n) if n > 0 => {
            let i = blocks.iter().position(|b| b.counterbalanced).unwrap_or(0);
            r.err(
                &format!("blocks[{i}].counterbalanced"),
                "counterbalanced blocks need a top-level \"counterbalance\": {\"factor\": ...}",
            );
        }
        _ => {}
    }
}
