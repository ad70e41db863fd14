//! The event log: every thing that happens in a study (trial start/end, responses, advice
//! shown/requested/followed, focus/blur/visibility, reloads, errors, consent, completion)
//! as one row, stamped with its context (participant, session, condition, backend, model
//! hash, sequence number, monotonic time) in exactly one place, `Stamper::stamp`.
//!
//! `Log` is append-only: rows must arrive with contiguous sequence numbers; re-appending a
//! row already stored (same seq, same content) is a no-op, so a retried write or upload is
//! idempotent. `Log::resume` says where a participant is after a reload: the next trial to
//! run (a trial started but not ended is run again), the next sequence number and time.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::StudyError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    TrialStart,
    TrialEnd,
    Response,
    AdviceShown,
    AdviceRequested,
    AdviceFollowed,
    Focus,
    Blur,
    Visibility,
    Reload,
    Error,
    Consent,
    Completion,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        EventKind::TrialStart,
        EventKind::TrialEnd,
        EventKind::Response,
        EventKind::AdviceShown,
        EventKind::AdviceRequested,
        EventKind::AdviceFollowed,
        EventKind::Focus,
        EventKind::Blur,
        EventKind::Visibility,
        EventKind::Reload,
        EventKind::Error,
        EventKind::Consent,
        EventKind::Completion,
    ];

    pub fn name(self) -> &'static str {
        [
            "trial_start",
            "trial_end",
            "response",
            "advice_shown",
            "advice_requested",
            "advice_followed",
            "focus",
            "blur",
            "visibility",
            "reload",
            "error",
            "consent",
            "completion",
        ][self as usize]
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == s)
    }
}

/// A bare event as the page (or the simulator) produces it, before context is stamped.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// `(index in the participant's sequence, trial id)` for trial events.
    pub trial: Option<(usize, String)>,
    /// Monotonic milliseconds since the participant's first page load.
    pub t_ms: u64,
    /// Kind-specific fields (answer, rt_ms, ...), sorted by key.
    pub data: Map<String, Value>,
}

impl Event {
    pub fn new(kind: EventKind, trial: Option<(usize, &str)>, t_ms: u64) -> Self {
        Event { kind, trial: trial.map(|(i, id)| (i, id.to_string())), t_ms, data: Map::new() }
    }

    /// Builder: one data field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }
}

/// The context every row carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub study_id: String,
    pub participant: String,
    pub session: String,
    /// The condition cell's label (`factor=level;...`).
    pub condition: String,
    /// "webgpu", "cpu" or "simulated".
    pub backend: String,
    /// sha256 of the model weights in use ("" when the study has no model).
    pub model_hash: String,
}

/// One stored event: an `Event` plus its context and sequence number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    pub study_id: String,
    pub participant: String,
    pub session: String,
    pub condition: String,
    pub seq: u64,
    pub t_ms: u64,
    pub kind: EventKind,
    pub trial_index: Option<usize>,
    pub trial_id: Option<String>,
    pub backend: String,
    pub model_hash: String,
    pub data: Map<String, Value>,
}

/// The one place context is stamped onto events: assigns sequence numbers in order and
/// keeps time monotonic (a clock that stepped back is held at the last stamped time).
#[derive(Clone, Debug)]
pub struct Stamper {
    ctx: Context,
    next_seq: u64,
    last_t_ms: u64,
}

impl Stamper {
    pub fn new(ctx: Context) -> Self {
        Stamper { ctx, next_seq: 0, last_t_ms: 0 }
    }

    /// Continue after `resume` (a reload): the next sequence number and time.
    pub fn resumed(ctx: Context, resume: &Resume) -> Self {
        Stamper { ctx, next_seq: resume.next_seq, last_t_ms: resume.last_t_ms }
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    pub fn last_t_ms(&self) -> u64 {
        self.last_t_ms
    }

    pub fn stamp(&mut self, ev: Event) -> EventRow {
        let t_ms = ev.t_ms.max(self.last_t_ms);
        self.last_t_ms = t_ms;
        let seq = self.next_seq;
        self.next_seq += 1;
        let (trial_index, trial_id) = match ev.trial {
            Some((i, id)) => (Some(i), Some(id)),
            None => (None, None),
        };
        EventRow {
            study_id: self.ctx.study_id.clone(),
            participant: self.ctx.participant.clone(),
            session: self.ctx.session.clone(),
            condition: self.ctx.condition.clone(),
            seq,
            t_ms,
            kind: ev.kind,
            trial_index,
            trial_id,
            backend: self.ctx.backend.clone(),
            model_hash: self.ctx.model_hash.clone(),
            data: ev.data,
        }
    }
}

/// What `Log::append` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    New,
    /// The same row was already stored: nothing changed.
    Duplicate,
}

/// Where a participant stands, computed from their log alone.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Resume {
    /// Index of the first trial without a `trial_end` (0 for an empty log).
    pub next_trial: usize,
    pub next_seq: u64,
    pub last_t_ms: u64,
    /// The condition recorded in the log (`None` for an empty log).
    pub condition: Option<String>,
    pub declined: bool,
    pub completed: bool,
}

/// Check that `rows` are numbered 0, 1, 2, ... with no gap or repeat.
pub fn check_contiguous(rows: &[EventRow]) -> Result<(), StudyError> {
    for (i, r) in rows.iter().enumerate() {
        if r.seq != i as u64 {
            return Err(StudyError::Log(format!(
                "row {i} has sequence number {} (expected {i}): a gap or a repeat",
                r.seq
            )));
        }
    }
    Ok(())
}

/// One participant's append-only log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    rows: Vec<EventRow>,
}

impl Log {
    pub fn new() -> Self {
        Log::default()
    }

    /// A log from stored rows (e.g. read back from IndexedDB), checked for gaps and for a
    /// single participant.
    pub fn from_rows(rows: Vec<EventRow>) -> Result<Self, StudyError> {
        let mut log = Log::new();
        for r in rows {
            log.append(r)?;
        }
        Ok(log)
    }

    pub fn rows(&self) -> &[EventRow] {
        &self.rows
    }

    pub fn into_rows(self) -> Vec<EventRow> {
        self.rows
    }

    /// Append `row`: its seq must be the next one, or an already stored identical row.
    pub fn append(&mut self, row: EventRow) -> Result<Appended, StudyError> {
        if let Some(first) = self.rows.first() {
            if first.participant != row.participant || first.study_id != row.study_id {
                return Err(StudyError::Log(format!(
                    "row {} belongs to participant '{}', not '{}'",
                    row.seq, row.participant, first.participant
                )));
            }
        }
        let n = self.rows.len() as u64;
        match row.seq {
            s if s < n => {
                if self.rows[s as usize] == row {
                    Ok(Appended::Duplicate)
                } else {
                    Err(StudyError::Log(format!(
                        "sequence number {s} is already stored with different content"
                    )))
                }
            }
            s if s == n => {
                self.rows.push(row);
                Ok(Appended::New)
            }
            s => Err(StudyError::Log(format!("sequence number {s} leaves a gap (next expected {n})"))),
        }
    }

    pub fn resume(&self) -> Resume {
        let mut r = Resume { next_seq: self.rows.len() as u64, ..Resume::default() };
        for row in &self.rows {
            r.last_t_ms = r.last_t_ms.max(row.t_ms);
            r.condition.get_or_insert_with(|| row.condition.clone());
            match row.kind {
                EventKind::TrialEnd => {
                    if let Some(i) = row.trial_index {
                        r.next_trial = r.next_trial.max(i + 1);
                    }
                }
                EventKind::Consent => r.declined = row.data.get("consented") == Some(&Value::Bool(false)),
                EventKind::Completion => r.completed = true,
                _ => {}
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            study_id: "s".into(),
            participant: "p".into(),
            session: "x".into(),
            condition: "a=b".into(),
            backend: "cpu".into(),
            model_hash: "h".into(),
        }
    }

    #[test]
    fn stamper_numbers_rows_and_keeps_time_monotonic() {
        let mut s = Stamper::new(ctx());
        let a = s.stamp(Event::new(EventKind::TrialStart, Some((0, "t")), 100));
        let b = s.stamp(Event::new(EventKind::Blur, Some((0, "t")), 40));
        assert_eq!((a.seq, b.seq), (0, 1));
        assert_eq!(b.t_ms, 100, "a clock that stepped back is held");
        assert_eq!((b.participant.as_str(), b.condition.as_str(), b.model_hash.as_str()), ("p", "a=b", "h"));
    }

    #[test]
    fn resume_points_at_the_first_unfinished_trial() {
        let mut s = Stamper::new(ctx());
        let mut log = Log::new();
        for ev in [
            Event::new(EventKind::TrialStart, Some((0, "c")), 1),
            Event::new(EventKind::Consent, Some((0, "c")), 2).with("consented", true),
            Event::new(EventKind::TrialEnd, Some((0, "c")), 3),
            Event::new(EventKind::TrialStart, Some((1, "q")), 4),
        ] {
            log.append(s.stamp(ev)).unwrap();
        }
        let r = log.resume();
        assert_eq!((r.next_trial, r.next_seq, r.last_t_ms, r.declined, r.completed), (1, 4, 4, false, false));
        assert_eq!(r.condition.as_deref(), Some("a=b"));
    }
}
