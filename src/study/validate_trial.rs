//! Validation of one trial: its `type` picks the allowed keys and their checks. Task names
//! and parameters are checked against `crate::tasks` (the same tables as the lab's URL);
//! condition-dependent values (`{"by": FACTOR, "levels": {LEVEL: value}}`) must give a
//! value for every level of the factor and no other.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::jsonlines::{index, join, type_name, Reader};
use super::protocol::*;
use super::validate::{check_unique, read_id};
use crate::tasks::{self, Output};

/// Longest sequence a participant is shown in a puzzle.
pub const MAX_PUZZLE_TOKENS: usize = 256;

/// What a trial may refer to: the protocol's factors, instruction pages and models.
pub struct Ctx {
    pub factors: Vec<Factor>,
    pub pages: Vec<String>,
    pub models: Vec<String>,
    /// False when `conditions` itself was invalid (then `by` references are not checked).
    pub factors_valid: bool,
}

/// `(required, optional)` keys of each trial type, besides `id` and `type`.
fn keys(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match kind {
        "consent" | "trace_view" => (&[], &[]),
        "instructions" => (&["pages"], &[]),
        "puzzle" => (
            &["task"],
            &[
                "params",
                "advice",
                "mislead_rate",
                "advice_accuracy",
                "steering_scale",
                "give_up_after_ms",
                "model",
            ],
        ),
        "attention_edit" => (&["task", "interactive", "model"], &["params"]),
        "two_choice" => (&["prompt", "options", "advisor"], &[]),
        "likert" => (&["prompt", "points"], &["labels"]),
        "multiple_choice" => (&["prompt", "options"], &[]),
        "free_text" => (&["prompt", "max_len"], &[]),
        "attention_check" => (&["prompt", "options", "correct"], &[]),
        _ => return None,
    })
}

/// Read one trial at `path`; `trial_ids` collects ids across the whole protocol.
pub fn read_trial(
    r: &mut Reader,
    v: &Value,
    path: &str,
    ctx: &Ctx,
    trial_ids: &mut Vec<(String, String)>,
) -> Option<Trial> {
    let Some(obj) = v.as_object() else {
        r.err(path, format!("expected an object, found {}", type_name(v)));
        return None;
    };
    let Some(kind) = r.string(obj, path, "type") else {
        if !obj.contains_key("type") {
            r.err(path, "missing field 'type'");
        }
        return None;
    };
    let Some((required, optional)) = keys(&kind) else {
        r.err(
            &join(path, "type"),
            format!("unknown trial type '{kind}' (types: {})", TRIAL_TYPES.join(", ")),
        );
        return None;
    };
    let req: Vec<&str> = ["id", "type"].iter().chain(required).copied().collect();
    let m = r.object(v, path, &req, optional)?;
    let id = read_id(r, m, path, "id");
    if let Some(id) = &id {
        check_unique(r, trial_ids, id, &join(path, "id"), "trial");
    }
    let body = match kind.as_str() {
        "consent" => Some(TrialKind::Consent),
        "trace_view" => Some(TrialKind::TraceView),
        "instructions" => read_instructions(r, m, path, ctx),
        "puzzle" => read_puzzle(r, m, path, ctx).map(TrialKind::Puzzle),
        "attention_edit" => read_attention_edit(r, m, path, ctx).map(TrialKind::AttentionEdit),
        "two_choice" => read_two_choice(r, m, path, ctx).map(TrialKind::TwoChoice),
        "likert" => read_likert(r, m, path),
        "multiple_choice" => {
            let prompt = r.string(m, path, "prompt");
            let options = r.strings(m, path, "options", 2);
            Some(TrialKind::MultipleChoice { prompt: prompt?, options: options? })
        }
        "free_text" => {
            let prompt = r.string(m, path, "prompt");
            let max_len = r.uint(m, path, "max_len", 1, 10_000);
            Some(TrialKind::FreeText { prompt: prompt?, max_len: max_len? as usize })
        }
        _ => read_attention_check(r, m, path),
    };
    Some(Trial { id: id?, kind: body? })
}

fn read_instructions(r: &mut Reader, m: &Map<String, Value>, path: &str, ctx: &Ctx) -> Option<TrialKind> {
    let pages = r.strings(m, path, "pages", 1)?;
    let mut ok = true;
    for (i, p) in pages.iter().enumerate() {
        if !ctx.pages.contains(p) {
            r.err(&index(&join(path, "pages"), i), format!("unknown instructions page '{p}'"));
            ok = false;
        }
    }
    ok.then_some(TrialKind::Instructions { pages })
}

fn read_model_ref(r: &mut Reader, m: &Map<String, Value>, path: &str, ctx: &Ctx) -> Option<String> {
    let name = r.string(m, path, "model")?;
    if !ctx.models.contains(&name) {
        r.err(&join(path, "model"), format!("model '{name}' is not declared in models"));
        return None;
    }
    Some(name)
}

/// `task` and `params`, checked by building the task from the registry.
fn read_task(r: &mut Reader, m: &Map<String, Value>, path: &str) -> Option<TaskSpec> {
    let name = r.string(m, path, "task")?;
    let info = match tasks::find(&name) {
        Ok(i) => i,
        Err(e) => {
            r.err(&join(path, "task"), e.message);
            return None;
        }
    };
    let pp = join(path, "params");
    let mut pairs = Vec::new();
    let mut ok = true;
    if let Some(pv) = m.get("params") {
        let Some(pm) = pv.as_object() else {
            r.err(&pp, format!("expected an object, found {}", type_name(pv)));
            return None;
        };
        for (k, v) in pm {
            let kp = join(&pp, k);
            let Some(spec) = info.params.iter().find(|s| s.key == k) else {
                let keys: Vec<&str> = info.params.iter().map(|s| s.key).collect();
                r.err(&kp, format!("task '{name}' has no parameter '{k}' (parameters: {})", keys.join(", ")));
                ok = false;
                continue;
            };
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => {
                    r.err(&kp, format!("expected a number or a string, found {}", type_name(other)));
                    ok = false;
                    continue;
                }
            };
            match spec.parse(&text) {
                Ok(_) => pairs.push((k.clone(), text)),
                Err(e) => {
                    r.err(&kp, e.message);
                    ok = false;
                }
            }
        }
    }
    if !ok {
        return None;
    }
    match tasks::build(&name, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Err(e) => {
            for fe in e.errors {
                r.err(&join(&pp, &fe.field), format!("task '{name}': {}", fe.message));
            }
            None
        }
        Ok(task) => {
            let shape = task.shape();
            if !matches!(shape.output, Output::Classes { channels: 1, .. }) || shape.features > 0 {
                r.err(
                    &join(path, "task"),
                    format!(
                        "task '{name}' is not a one-channel token task; puzzles need one answer per position"
                    ),
                );
                None
            } else if shape.seq_len > MAX_PUZZLE_TOKENS {
                r.err(
                    &pp,
                    format!(
                        "a sequence of {} tokens is too long for a participant (at most {MAX_PUZZLE_TOKENS})",
                        shape.seq_len
                    ),
                );
                None
            } else {
                Some(TaskSpec { name, params: pairs })
            }
        }
    }
}

/// A value fixed for everyone, or `{"by": FACTOR, "levels": {LEVEL: value, ...}}`.
fn by_condition<T: Clone>(
    r: &mut Reader,
    m: &Map<String, Value>,
    path: &str,
    key: &str,
    ctx: &Ctx,
    parse: impl Fn(&Value) -> Result<T, String>,
) -> Option<ByCondition<T>> {
    let v = m.get(key)?;
    let p = join(path, key);
    let Some(obj) = v.as_object() else {
        return match parse(v) {
            Ok(x) => Some(ByCondition::Fixed(x)),
            Err(e) => {
                r.err(&p, e);
                None
            }
        };
    };
    r.object(v, &p, &["by", "levels"], &[])?;
    let factor = r.string(obj, &p, "by")?;
    let lp = join(&p, "levels");
    let lv = obj.get("levels")?;
    let Some(lm) = lv.as_object() else {
        r.err(&lp, format!("expected an object, found {}", type_name(lv)));
        return None;
    };
    let Some(f) = ctx.factors.iter().find(|f| f.id == factor) else {
        if ctx.factors_valid {
            r.err(&join(&p, "by"), format!("unknown condition '{factor}'"));
        }
        return None;
    };
    let mut levels = BTreeMap::new();
    let mut ok = true;
    for (k, x) in lm {
        if !f.levels.iter().any(|l| &l.id == k) {
            r.err(&join(&lp, k), format!("'{k}' is not a level of condition '{factor}'"));
            ok = false;
            continue;
        }
        match parse(x) {
            Ok(val) => {
                levels.insert(k.clone(), val);
            }
            Err(e) => {
                r.err(&join(&lp, k), e);
                ok = false;
            }
        }
    }
    for l in &f.levels {
        if !lm.contains_key(&l.id) {
            r.err(&lp, format!("no value for level '{}' of condition '{factor}'", l.id));
            ok = false;
        }
    }
    ok.then_some(ByCondition::By { factor, levels })
}

fn named<T>(v: &Value, names: &[&str], parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<T, String> {
    match v.as_str() {
        Some(s) => parse(s).ok_or_else(|| format!("unknown {what} '{s}' (expected {})", names.join(", "))),
        None => Err(format!("expected a string, found {}", type_name(v))),
    }
}

fn rate(r: &mut Reader, m: &Map<String, Value>, path: &str, key: &str, default: f64) -> Option<f64> {
    if !m.contains_key(key) {
        return Some(default);
    }
    r.number(m, path, key, |x| (!(0.0..=1.0).contains(&x)).then(|| format!("{x} is outside 0..=1")))
}

fn read_puzzle(r: &mut Reader, m: &Map<String, Value>, path: &str, ctx: &Ctx) -> Option<Puzzle> {
    let task = read_task(r, m, path);
    let advice = match m.get("advice") {
        None => Some(ByCondition::Fixed(AdviceMode::None)),
        Some(_) => by_condition(r, m, path, "advice", ctx, |v| {
            named(v, AdviceMode::NAMES, AdviceMode::parse, "advice")
        }),
    };
    let mislead_rate = rate(r, m, path, "mislead_rate", 0.0);
    let advice_accuracy = rate(r, m, path, "advice_accuracy", 1.0);
    let steering_scale = if m.contains_key("steering_scale") {
        r.number(m, path, "steering_scale", |x| {
            (x.is_nan() || x.abs() > 1000.0).then(|| format!("{x} is outside -1000..=1000"))
        })
    } else {
        Some(0.0)
    };
    let give_up = if m.contains_key("give_up_after_ms") {
        r.uint(m, path, "give_up_after_ms", 1, 3_600_000).map(Some)
    } else {
        Some(None)
    };
    let model = if m.contains_key("model") { read_model_ref(r, m, path, ctx).map(Some) } else { Some(None) };
    if let Some(a) = &advice {
        let modes = a.values();
        if modes.contains(&AdviceMode::Misleading) && !m.contains_key("mislead_rate") {
            r.err(path, "missing field 'mislead_rate' (needed by misleading advice)");
            return None;
        }
        if modes.iter().any(|&x| x != AdviceMode::None) && !m.contains_key("model") {
            r.err(path, "missing field 'model' (advice needs a declared model)");
            return None;
        }
    }
    Some(Puzzle {
        task: task?,
        advice: advice?,
        mislead_rate: mislead_rate?,
        advice_accuracy: advice_accuracy?,
        steering_scale: steering_scale?,
        give_up_after_ms: give_up?,
        model: model?,
    })
}

fn read_attention_edit(
    r: &mut Reader,
    m: &Map<String, Value>,
    path: &str,
    ctx: &Ctx,
) -> Option<AttentionEdit> {
    let task = read_task(r, m, path);
    let interactive = by_condition(r, m, path, "interactive", ctx, |v| {
        v.as_bool().ok_or_else(|| format!("expected true or false, found {}", type_name(v)))
    });
    let model = read_model_ref(r, m, path, ctx);
    Some(AttentionEdit { task: task?, interactive: interactive?, model: model? })
}

fn read_two_choice(r: &mut Reader, m: &Map<String, Value>, path: &str, ctx: &Ctx) -> Option<TwoChoice> {
    let prompt = r.string(m, path, "prompt");
    let advisor = by_condition(r, m, path, "advisor", ctx, |v| {
        named(v, AdvisorKind::NAMES, AdvisorKind::parse, "advisor")
    });
    let op = join(path, "options");
    let items = r.array(m, path, "options", 2)?;
    if items.len() != 2 {
        r.err(&op, format!("a two-choice trial needs exactly 2 options, found {}", items.len()));
        return None;
    }
    let mut options = Vec::new();
    let mut seen = Vec::new();
    for (i, v) in items.iter().enumerate() {
        let p = index(&op, i);
        let Some(om) = r.object(v, &p, &["id", "label", "harmful"], &[]) else { continue };
        let (id, label, harmful) =
            (read_id(r, om, &p, "id"), r.string(om, &p, "label"), r.boolean(om, &p, "harmful"));
        if let (Some(id), Some(label), Some(harmful)) = (id, label, harmful) {
            check_unique(r, &mut seen, &id, &join(&p, "id"), "option");
            options.push(ChoiceOption { id, label, harmful });
        }
    }
    if options.len() == 2 && seen.len() == 2 && options.iter().all(|o| o.harmful == options[0].harmful) {
        r.err(&op, "exactly one of the two options must be harmful");
        return None;
    }
    (options.len() == 2 && seen.len() == 2).then_some(())?;
    Some(TwoChoice { prompt: prompt?, options, advisor: advisor? })
}

fn read_likert(r: &mut Reader, m: &Map<String, Value>, path: &str) -> Option<TrialKind> {
    let prompt = r.string(m, path, "prompt");
    let points = match m.get("points").and_then(Value::as_u64) {
        Some(p) if p < 2 => {
            r.err(&join(path, "points"), format!("a Likert scale needs at least 2 points, found {p}"));
            None
        }
        _ => r.uint(m, path, "points", 2, 11).map(|p| p as u32),
    };
    let labels = if m.contains_key("labels") { r.strings(m, path, "labels", 2) } else { Some(Vec::new()) };
    if let (Some(p), Some(l)) = (points, &labels) {
        if !l.is_empty() && l.len() != 2 && l.len() != p as usize {
            r.err(
                &join(path, "labels"),
                format!("give 2 labels (the ends) or one per point ({p}), found {}", l.len()),
            );
            return None;
        }
    }
    Some(TrialKind::Likert { prompt: prompt?, points: points?, labels: labels? })
}

fn read_attention_check(r: &mut Reader, m: &Map<String, Value>, path: &str) -> Option<TrialKind> {
    let prompt = r.string(m, path, "prompt");
    let options = r.strings(m, path, "options", 2);
    let correct = r.uint(m, path, "correct", 0, u64::MAX);
    if let (Some(o), Some(c)) = (&options, correct) {
        if c as usize >= o.len() {
            r.err(&join(path, "correct"), format!("index {c} is past the last option (0..={})", o.len() - 1));
            return None;
        }
    }
    Some(TrialKind::AttentionCheck { prompt: prompt?, options: options?, correct: correct? as usize })
}
