//! Tidy exports: one CSV row per trial (`TRIAL_COLUMNS`), one per event (`EVENT_COLUMNS`),
//! and JSON holding both. The column lists are fixed constants (documented in the README),
//! so every study's files share one schema; cells that do not apply are empty (NA in
//! pandas and R), booleans are `TRUE`/`FALSE`, numbers plain.
//!
//! Trial rows are derived from the event log alone: a trial's row is its `trial_end` event
//! (whose data holds the trial's outcome) with the time of the latest `trial_start` of the
//! same trial, so a trial restarted after a reload still gives exactly one row.

use serde_json::{json, Map, Value};

use super::events::{EventKind, EventRow};
use crate::core::csv::Table;

/// The trial CSV's columns, in order.
pub const TRIAL_COLUMNS: &[&str] = &[
    "study_id",
    "participant",
    "session",
    "condition",
    "trial_index",
    "block_id",
    "rep",
    "trial_id",
    "trial_type",
    "t_start_ms",
    "t_end_ms",
    "rt_ms",
    "response",
    "correct",
    "task",
    "puzzle_seed",
    "advice_mode",
    "advice_requested",
    "advice_shown",
    "advice_answer",
    "advice_confidence",
    "advice_misleading",
    "advice_followed",
    "steering_scale",
    "gave_up",
    "give_up_ms",
    "interactive",
    "n_edits",
    "hidden_positions",
    "advisor",
    "harmful_choice",
    "backend",
    "model_hash",
];

/// The event CSV's columns, in order (`data` is the event's fields as a JSON object).
pub const EVENT_COLUMNS: &[&str] = &[
    "study_id",
    "participant",
    "session",
    "condition",
    "seq",
    "t_ms",
    "kind",
    "trial_index",
    "trial_id",
    "backend",
    "model_hash",
    "data",
];

/// A JSON value as a CSV cell.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::Bool(true)) => "TRUE".into(),
        Some(Value::Bool(false)) => "FALSE".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The trial rows of one participant's events, in trial order, as `TRIAL_COLUMNS` cells.
pub fn trial_rows(rows: &[EventRow]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if r.kind != EventKind::TrialEnd {
            continue;
        }
        let start = rows[..i].iter().rev().find(|s| {
            s.kind == EventKind::TrialStart
                && s.trial_index == r.trial_index
                && s.participant == r.participant
        });
        let row = TRIAL_COLUMNS
            .iter()
            .map(|&c| match c {
                "study_id" => r.study_id.clone(),
                "participant" => r.participant.clone(),
                "session" => r.session.clone(),
                "condition" => r.condition.clone(),
                "trial_index" => r.trial_index.map(|x| x.to_string()).unwrap_or_default(),
                "trial_id" => r.trial_id.clone().unwrap_or_default(),
                "t_start_ms" => start.map(|s| s.t_ms.to_string()).unwrap_or_default(),
                "t_end_ms" => r.t_ms.to_string(),
                "backend" => r.backend.clone(),
                "model_hash" => r.model_hash.clone(),
                other => cell(r.data.get(other)),
            })
            .collect();
        out.push(row);
    }
    out
}

/// One event as `EVENT_COLUMNS` cells.
pub fn event_cells(r: &EventRow) -> Vec<String> {
    vec![
        r.study_id.clone(),
        r.participant.clone(),
        r.session.clone(),
        r.condition.clone(),
        r.seq.to_string(),
        r.t_ms.to_string(),
        r.kind.name().to_string(),
        r.trial_index.map(|x| x.to_string()).unwrap_or_default(),
        r.trial_id.clone().unwrap_or_default(),
        r.backend.clone(),
        r.model_hash.clone(),
        Value::Object(r.data.clone()).to_string(),
    ]
}

/// The trial CSV of many participants' logs (each slice one participant, in order).
pub fn trials_csv<'a>(logs: impl IntoIterator<Item = &'a [EventRow]>) -> String {
    let mut t = Table::new(TRIAL_COLUMNS);
    for log in logs {
        for row in trial_rows(log) {
            t.push(&row);
        }
    }
    t.finish()
}

/// The event CSV of many participants' logs.
pub fn events_csv<'a>(logs: impl IntoIterator<Item = &'a [EventRow]>) -> String {
    let mut t = Table::new(EVENT_COLUMNS);
    for log in logs {
        for r in log {
            t.push(&event_cells(r));
        }
    }
    t.finish()
}

/// JSON export: `{"schema", "study_id", "protocol_version", "trial_columns",
/// "event_columns", "trials": [{column: cell}], "events": [EventRow]}`.
pub fn export_json<'a>(
    study_id: &str,
    protocol_version: &str,
    logs: impl IntoIterator<Item = &'a [EventRow]> + Clone,
) -> String {
    let trials: Vec<Value> = logs
        .clone()
        .into_iter()
        .flat_map(trial_rows)
        .map(|row| {
            Value::Object(
                TRIAL_COLUMNS
                    .iter()
                    .zip(row)
                    .map(|(k, v)| (k.to_string(), Value::String(v)))
                    .collect::<Map<_, _>>(),
            )
        })
        .collect();
    let events: Vec<Value> =
        logs.into_iter().flatten().map(|r| serde_json::to_value(r).unwrap_or(Value::Null)).collect();
    let doc = json!({
        "schema": 1,
        "study_id": study_id,
        "protocol_version": protocol_version,
        "trial_columns": TRIAL_COLUMNS,
        "event_columns": EVENT_COLUMNS,
        "trials": trials,
        "events": events,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
