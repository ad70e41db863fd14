//! The researcher view's numbers: load many exported trial CSVs (or event CSVs, turned into
//! trial rows the same way the export does) and report per condition n participants,
//! accuracy, give-up rate, advice-follow rate, harmful-choice rate and mean RT, each with a
//! 95% CI (Wilson for proportions; t over participant means for RT) and a between-condition
//! test (Pearson chi-square for proportions; a seeded permutation test on participant mean
//! RTs). Output: one tidy CSV row per (metric, condition), `ANALYSIS_COLUMNS`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::error::StudyError;
use super::events::{EventKind, EventRow};
use super::export::{trial_rows, EVENT_COLUMNS, TRIAL_COLUMNS};
use super::stats::{chi_square, mean_ci, permutation_test, wilson};
use crate::core::csv::{parse, write_row, Table};

/// The analysis CSV's columns.
pub const ANALYSIS_COLUMNS: &[&str] = &[
    "metric",
    "condition",
    "n_participants",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "test",
    "statistic",
    "df",
    "p_value",
];

/// Permutations of the RT test, and its seed (results are reproducible).
pub const PERMUTATIONS: usize = 1999;
pub const PERMUTATION_SEED: u64 = 20_240_601;

/// The columns analysis reads from a trial CSV.
const NEEDED: &[&str] = &[
    "participant",
    "condition",
    "trial_type",
    "rt_ms",
    "correct",
    "gave_up",
    "advice_shown",
    "advice_followed",
    "harmful_choice",
];

/// One trial, as far as analysis cares.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRecord {
    pub participant: String,
    pub condition: String,
    pub trial_type: String,
    pub rt_ms: Option<f64>,
    pub correct: Option<bool>,
    pub gave_up: Option<bool>,
    pub advice_shown: Option<bool>,
    pub advice_followed: Option<bool>,
    pub harmful_choice: Option<bool>,
}

fn data_err(source: &str, line: usize, message: String) -> StudyError {
    StudyError::Data { source: source.to_string(), line, message }
}

/// Records from CSV text: a trial CSV (header has `trial_type`) or an event CSV (header
/// equals `EVENT_COLUMNS`).
pub fn load_csv(text: &str, source: &str) -> Result<Vec<TrialRecord>, StudyError> {
    let rows = parse(text, source)?;
    let Some(header) = rows.first() else { return Err(data_err(source, 1, "empty file".into())) };
    if header.iter().map(String::as_str).eq(EVENT_COLUMNS.iter().copied()) {
        let events = events_from_rows(&rows[1..], source)?;
        let mut by_participant: BTreeMap<&str, Vec<EventRow>> = BTreeMap::new();
        for e in &events {
            by_participant.entry(e.participant.as_str()).or_default().push(e.clone());
        }
        let mut trial_text = String::new();
        write_row(&mut trial_text, TRIAL_COLUMNS);
        for log in by_participant.values() {
            for r in trial_rows(log) {
                write_row(&mut trial_text, &r);
            }
        }
        return load_csv(&trial_text, source);
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut idx = Vec::new();
    for n in NEEDED {
        idx.push(col(n).ok_or_else(|| {
            data_err(source, 1, format!("missing column '{n}' (not a trial or event export?)"))
        })?);
    }
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        let line = i + 1;
        if r.len() != header.len() {
            return Err(data_err(
                source,
                line,
                format!("row {line} has {} fields, the header has {}", r.len(), header.len()),
            ));
        }
        let get = |k: usize| r[idx[k]].as_str();
        let b = |k: usize| -> Result<Option<bool>, StudyError> {
            match get(k) {
                "" => Ok(None),
                "TRUE" | "true" | "True" | "1" => Ok(Some(true)),
                "FALSE" | "false" | "False" | "0" => Ok(Some(false)),
                other => Err(data_err(
                    source,
                    line,
                    format!("column '{}': '{other}' is not TRUE or FALSE", NEEDED[k]),
                )),
            }
        };
        let rt =
            match get(3) {
                "" => None,
                s => Some(s.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                    data_err(source, line, format!("column 'rt_ms': '{s}' is not a number"))
                })?),
            };
        out.push(TrialRecord {
            participant: get(0).to_string(),
            condition: get(1).to_string(),
            trial_type: get(2).to_string(),
            rt_ms: rt,
            correct: b(4)?,
            gave_up: b(5)?,
            advice_shown: b(6)?,
            advice_followed: b(7)?,
            harmful_choice: b(8)?,
        });
    }
    Ok(out)
}

/// Records from any export: the JSON export (its `trials`), a trial CSV or an event CSV.
pub fn load_any(text: &str, source: &str) -> Result<Vec<TrialRecord>, StudyError> {
    if !text.trim_start().starts_with('{') {
        return load_csv(text, source);
    }
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| data_err(source, e.line(), format!("not a JSON export: {e}")))?;
    let trials = doc
        .get("trials")
        .and_then(Value::as_array)
        .ok_or_else(|| data_err(source, 1, "a JSON export needs a \"trials\" list".into()))?;
    let mut csv = String::new();
    write_row(&mut csv, TRIAL_COLUMNS);
    for (i, t) in trials.iter().enumerate() {
        let obj =
            t.as_object().ok_or_else(|| data_err(source, 1, format!("trials[{i}] is not an object")))?;
        let cells: Vec<String> = TRIAL_COLUMNS
            .iter()
            .map(|c| obj.get(*c).and_then(Value::as_str).unwrap_or("").to_string())
            .collect();
        write_row(&mut csv, &cells);
    }
    load_csv(&csv, source)
}

/// Event rows back from event-CSV records (header already checked).
pub fn events_from_rows(rows: &[Vec<String>], source: &str) -> Result<Vec<EventRow>, StudyError> {
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let line = i + 2;
        if r.len() != EVENT_COLUMNS.len() {
            return Err(data_err(
                source,
                line,
                format!("row has {} fields, expected {}", r.len(), EVENT_COLUMNS.len()),
            ));
        }
        let num = |k: usize| {
            r[k].parse::<u64>().map_err(|_| {
                data_err(
                    source,
                    line,
                    format!("column '{}': '{}' is not a whole number", EVENT_COLUMNS[k], r[k]),
                )
            })
        };
        let kind = EventKind::parse(&r[6])
            .ok_or_else(|| data_err(source, line, format!("unknown event kind '{}'", r[6])))?;
        let trial_index = if r[7].is_empty() { None } else { Some(num(7)? as usize) };
        let data: Map<String, Value> = serde_json::from_str(&r[11])
            .map_err(|e| data_err(source, line, format!("column 'data': {e}")))?;
        out.push(EventRow {
            study_id: r[0].clone(),
            participant: r[1].clone(),
            session: r[2].clone(),
            condition: r[3].clone(),
            seq: num(4)?,
            t_ms: num(5)?,
            kind,
            trial_index,
            trial_id: (!r[8].is_empty()).then(|| r[8].clone()),
            backend: r[9].clone(),
            model_hash: r[10].clone(),
            data,
        });
    }
    Ok(out)
}

/// One output row.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    pub metric: &'static str,
    pub condition: String,
    pub n_participants: usize,
    pub n: usize,
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub test: &'static str,
    pub statistic: f64,
    pub df: f64,
    pub p_value: f64,
}

type Pick = fn(&TrialRecord) -> Option<bool>;

/// The proportion metrics: name and which trials count (Some(success) or None = not counted).
const PROPORTIONS: &[(&str, Pick)] = &[
    (
        "accuracy",
        |r| if matches!(r.trial_type.as_str(), "puzzle" | "attention_edit") { r.correct } else { None },
    ),
    ("give_up_rate", |r| r.gave_up),
    ("advice_follow_rate", |r| if r.advice_shown == Some(true) { r.advice_followed } else { None }),
    ("harmful_choice_rate", |r| r.harmful_choice),
];

/// Trial types whose RT enters `mean_rt_ms`.
const RT_TYPES: &[&str] = &["puzzle", "attention_edit", "two_choice"];

/// Per-condition metrics with CIs and tests (metrics no condition has data for are left out).
pub fn analyze(records: &[TrialRecord]) -> Vec<MetricRow> {
    let conditions: BTreeSet<&str> = records.iter().map(|r| r.condition.as_str()).collect();
    let participants = |c: &str| {
        records
            .iter()
            .filter(|r| r.condition == c)
            .map(|r| r.participant.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    };
    let mut out = Vec::new();
    for &(metric, pick) in PROPORTIONS {
        let counts: Vec<(u64, u64)> = conditions
            .iter()
            .map(|c| {
                records.iter().filter(|r| r.condition == *c).filter_map(pick).fold((0, 0), |(s, f), x| {
                    if x {
                        (s + 1, f)
                    } else {
                        (s, f + 1)
                    }
                })
            })
            .collect();
        if counts.iter().all(|(s, f)| s + f == 0) {
            continue;
        }
        let test = chi_square(&counts);
        for (c, &(s, f)) in conditions.iter().zip(&counts) {
            let n = s + f;
            let (lo, hi) = wilson(s, n);
            let est = if n > 0 { s as f64 / n as f64 } else { f64::NAN };
            let (stat, df, p) =
                test.map(|(a, b, c)| (a, b as f64, c)).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
            out.push(MetricRow {
                metric,
                condition: c.to_string(),
                n_participants: participants(c),
                n: n as usize,
                estimate: est,
                ci_low: lo,
                ci_high: hi,
                test: "chi_square",
                statistic: stat,
                df,
                p_value: p,
            });
        }
    }
    let means: Vec<Vec<f64>> = conditions
        .iter()
        .map(|c| {
            let mut per: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
            for r in records.iter().filter(|r| r.condition == *c && RT_TYPES.contains(&r.trial_type.as_str()))
            {
                if let Some(rt) = r.rt_ms {
                    let e = per.entry(r.participant.as_str()).or_default();
                    e.0 += rt;
                    e.1 += 1.0;
                }
            }
            per.values().map(|(s, n)| s / n).collect()
        })
        .collect();
    if means.iter().any(|m| !m.is_empty()) {
        let test = permutation_test(&means, PERMUTATIONS, PERMUTATION_SEED);
        for (c, m) in conditions.iter().zip(&means) {
            let (est, lo, hi) = mean_ci(m);
            let (stat, p) = test.unwrap_or((f64::NAN, f64::NAN));
            out.push(MetricRow {
                metric: "mean_rt_ms",
                condition: c.to_string(),
                n_participants: participants(c),
                n: m.len(),
                estimate: est,
                ci_low: lo,
                ci_high: hi,
                test: "permutation",
                statistic: stat,
                df: (means.len() - 1) as f64,
                p_value: p,
            });
        }
    }
    out
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{}", (x * 1e6).round() / 1e6)
    } else {
        String::new()
    }
}

/// The analysis table as CSV (`ANALYSIS_COLUMNS`; undefined values empty).
pub fn analysis_csv(rows: &[MetricRow]) -> String {
    let mut t = Table::new(ANALYSIS_COLUMNS);
    for r in rows {
        t.push(&[
            r.metric.to_string(),
            r.condition.clone(),
            r.n_participants.to_string(),
            r.n.to_string(),
            num(r.estimate),
            num(r.ci_low),
            num(r.ci_high),
            r.test.to_string(),
            num(r.statistic),
            num(r.df),
            num(r.p_value),
        ]);
    }
    t.finish()
}
