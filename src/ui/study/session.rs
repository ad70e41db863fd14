//! One participant's session in the tab: the validated protocol, their plan (condition and
//! trial sequence from their id), the event log and where it is saved. Stamping (sequence
//! numbers, context) happens in `study::events::Stamper`; this file only adds the tab's
//! clock, the IndexedDB writes and the one-tab lock.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::Screen;
use crate::browser;
use crate::browser::storage::{self, Db};
use crate::engine::advisor::ModelAdvisor;
use crate::study::assign::{self, Plan};
use crate::study::events::{Context, Event, EventKind, EventRow, Log, Stamper};
use crate::study::protocol::{Protocol, TrialKind, STANDARD_URL_PARAMS};
use crate::study::{export, record};

/// IndexedDB database holding every study's rows (keys start with study and participant).
const DB_NAME: &str = "interlab-studies";
/// A lock younger than this (ms) belongs to a live tab.
const LOCK_FRESH_MS: f64 = 5000.0;

pub enum Start {
    Ready(Box<Session>, Option<String>),
    Broken(Vec<String>),
    Blocked,
}

pub struct Session {
    pub protocol: Protocol,
    pub plan: Plan,
    /// URL parameters recorded and used in the redirect.
    pub params: BTreeMap<String, String>,
    stamper: RefCell<Stamper>,
    log: RefCell<Log>,
    db: RefCell<Option<Rc<Db>>>,
    prefix: String,
    /// The log's clock: the last stored time plus the time since this page loaded.
    base_ms: u64,
    load_ms: f64,
    /// `performance.now()` when the current trial was shown (for response times).
    pub shown_at: RefCell<f64>,
    /// The protocol's models by name, as they finish loading (or fail).
    advisors: RefCell<BTreeMap<String, Result<Rc<ModelAdvisor>, String>>>,
    /// The copy sent to the protocol's endpoint (None: no endpoint, nothing leaves the page).
    pub upload: Option<Rc<super::upload::Uploader>>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 80 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Fetch and parse study `name`'s protocol (`public/studies/NAME.json`); Err lists every issue.
async fn load_protocol(name: &str) -> Result<Protocol, Vec<String>> {
    let text = browser::net::fetch_text(&format!("public/studies/{name}.json")).await.map_err(|e| vec![e])?;
    crate::study::parse_protocol(&text).map_err(|e| {
        e.issues().iter().map(|i| i.to_string()).chain(e.issues().is_empty().then(|| e.to_string())).collect()
    })
}

/// The participant's id: the one the link gives, else the one this browser remembers for study
/// `id`, else a new anonymous one (remembered from now on).
fn participant_id(id: &str, given: Option<String>) -> String {
    let pid_key = format!("interlab.study.{id}.participant");
    match given {
        Some(p) if !p.trim().is_empty() => p.trim().chars().take(128).collect(),
        _ => storage::local_get(&pid_key).unwrap_or_else(|| {
            let p = format!("anon-{}", storage::random_hex(8));
            storage::local_set(&pid_key, &p);
            p
        }),
    }
}

/// The log saved under `prefix` (empty without a database) and how many rows after a gap were
/// dropped; Err says why the saved data cannot be used (it is left untouched).
async fn saved_log(db: Option<&Db>, prefix: &str) -> Result<(Log, usize), String> {
    let mut rows: Vec<EventRow> = match db {
        Some(db) => {
            let texts = db
                .rows(prefix)
                .await
                .map_err(|e| format!("the saved data of this study could not be read ({e})"))?;
            texts.iter().map(|t| serde_json::from_str(t)).collect::<Result<Vec<EventRow>, _>>().map_err(
                |e| format!("the saved data of this study could not be read ({e}); it was left untouched"),
            )?
        }
        None => Vec::new(),
    };
    // Rows are written in order, but a background write (a focus change) can be cut off
    // by closing the tab: keep the unbroken run of sequence numbers, and say so.
    rows.sort_by_key(|r| r.seq);
    let kept = rows.iter().enumerate().take_while(|(i, r)| r.seq == *i as u64).count();
    let dropped = rows.len() - kept;
    rows.truncate(kept);
    let log = Log::from_rows(rows)
        .map_err(|e| format!("the saved data of this study is inconsistent ({e}); it was left untouched"))?;
    Ok((log, dropped))
}

impl Session {
    pub async fn start(query: &[(String, String)]) -> Start {
        let get = |k: &str| query.iter().rev().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let name = get("study").unwrap_or_default();
        if !valid_name(&name) {
            return Start::Broken(vec![format!("study: '{name}' is not a study name (letters, digits, - and _; the file public/studies/NAME.json served with the lab)")]);
        }
        let protocol = match load_protocol(&name).await {
            Ok(p) => p,
            Err(issues) => return Start::Broken(issues),
        };
        let id = protocol.metadata.id.clone();
        let mut params = BTreeMap::new();
        for k in STANDARD_URL_PARAMS.iter().map(|s| s.to_string()).chain(protocol.url_params.iter().cloned())
        {
            if let Some(v) = get(&k) {
                params.insert(k, v.chars().take(200).collect::<String>());
            }
        }
        let participant =
            participant_id(&id, params.get("PROLIFIC_PID").cloned().or_else(|| get("participant")));
        // One tab per participant: a fresh lock held by another tab blocks this one.
        let tab = storage::session_value("interlab.tab", || storage::random_hex(8)).unwrap_or_default();
        let lock_key = format!("interlab.study.{id}.{participant}.lock");
        if let Some((owner, at)) = storage::local_get(&lock_key)
            .and_then(|v| v.split_once('@').map(|(a, b)| (a.to_string(), b.parse::<f64>().unwrap_or(0.0))))
        {
            if owner != tab && browser::wall_ms() - at < LOCK_FRESH_MS {
                return Start::Blocked;
            }
        }
        hold_lock(lock_key, tab.clone());
        let mut warning = None;
        let db = match Db::open(DB_NAME).await {
            Ok(db) => Some(Rc::new(db)),
            Err(e) => {
                warning = Some(format!("This browser is not saving the study's data ({e}), for example in a private window. You can still take part: keep this tab open until the end, where you can download your data."));
                None
            }
        };
        let prefix = format!("{id}|{participant}|");
        let (log, dropped) = match saved_log(db.as_deref(), &prefix).await {
            Ok(x) => x,
            Err(e) => return Start::Broken(vec![e]),
        };
        let plan = assign::plan(&protocol, &participant);
        let resume = log.resume();
        if let Some(c) = resume.condition.as_ref().filter(|c| **c != plan.assignment.label()) {
            return Start::Broken(vec![format!(
                "the saved data has condition '{c}' but this link assigns '{}'",
                plan.assignment.label()
            )]);
        }
        let session = params.get("SESSION_ID").cloned().unwrap_or_else(|| format!("tab-{tab}"));
        let backend = if protocol.models.is_empty() { "none" } else { "cpu" };
        let ctx = Context {
            study_id: id,
            participant,
            session,
            condition: plan.assignment.label(),
            backend: backend.into(),
            model_hash: protocol.models.first().map(|m| m.sha256.clone()).unwrap_or_default(),
        };
        let resumed = !log.rows().is_empty();
        let upload = protocol.endpoint.clone().map(|ep| {
            Rc::new(super::upload::Uploader::new(
                ep,
                format!("interlab.upload.{prefix}"),
                log.rows().len() as u64,
            ))
        });
        let s = Session {
            stamper: RefCell::new(Stamper::resumed(ctx, &resume)),
            log: RefCell::new(log),
            db: RefCell::new(db),
            prefix,
            base_ms: if resumed { resume.last_t_ms + 1 } else { 0 },
            load_ms: browser::now_ms(),
            shown_at: RefCell::new(browser::now_ms()),
            advisors: RefCell::new(BTreeMap::new()),
            upload,
            protocol,
            plan,
            params,
        };
        if resumed {
            let ev = Event::new(EventKind::Reload, None, s.t_ms())
                .with("resumed_at_trial", resume.next_trial as u64)
                .with("rows_after_a_gap_dropped", dropped as u64);
            if let Err(e) = s.record(vec![ev]).await {
                warning = Some(format!("Saving failed ({e}); your answers are kept in this tab."));
            }
        }
        Start::Ready(Box::new(s), warning)
    }

    /// Milliseconds on the log's clock.
    pub fn t_ms(&self) -> u64 {
        self.base_ms + (browser::now_ms() - self.load_ms).max(0.0) as u64
    }

    /// Where the participant is, from the log.
    pub fn screen(&self) -> Screen {
        let r = self.log.borrow().resume();
        if r.declined {
            Screen::Declined
        } else if r.completed || r.next_trial >= self.plan.trials.len() {
            Screen::Done
        } else {
            Screen::Trial(r.next_trial)
        }
    }

    /// Stamp `events`, append them to the log, then write them; resolves once saved.
    pub async fn record(&self, events: Vec<Event>) -> Result<(), String> {
        let mut rows = Vec::with_capacity(events.len());
        {
            let (mut st, mut log) = (self.stamper.borrow_mut(), self.log.borrow_mut());
            for ev in events {
                let row = st.stamp(ev);
                log.append(row.clone()).map_err(|e| e.to_string())?;
                rows.push(row);
            }
        }
        // Never hold the RefCell across an await: a failed save may drop storage meanwhile.
        let Some(db) = self.db.borrow().clone() else { return Ok(()) };
        for row in rows {
            let text = serde_json::to_string(&row).map_err(|e| e.to_string())?;
            db.put(&format!("{}{:012}", self.prefix, row.seq), &text).await?;
        }
        Ok(())
    }

    /// Send new events to the protocol's endpoint, when it names one (in the background).
    pub fn send(self: &Rc<Self>) {
        if let Some(u) = &self.upload {
            u.clone().sync(self.clone());
        }
    }

    /// Writing failed: keep the rest of the study in memory only.
    pub fn lose_storage(&self) {
        self.db.borrow_mut().take();
    }

    pub fn saves(&self) -> bool {
        self.db.borrow().is_some()
    }

    /// Load every model of the protocol (shipped with the lab; checked against its sha256),
    /// while consent and instructions are on screen.
    pub async fn load_models(self: Rc<Self>) {
        for m in &self.protocol.models {
            let r = match m.shipped() {
                Some(file) => match browser::net::fetch_bytes(&format!("public/models/{file}")).await {
                    Ok(bytes) => ModelAdvisor::load(&m.name, &bytes, &m.sha256).map(Rc::new),
                    Err(e) => Err(format!("model '{}': {e}", m.name)),
                },
                None => Err(format!(
                    "model '{}': only models shipped with the lab are loaded (no request leaves the page)",
                    m.name
                )),
            };
            self.advisors.borrow_mut().insert(m.name.clone(), r);
        }
    }

    /// Model `name`, waiting (up to a minute) while it loads.
    pub async fn advisor(&self, name: &str) -> Result<Rc<ModelAdvisor>, String> {
        for _ in 0..1200 {
            if let Some(r) = self.advisors.borrow().get(name) {
                return r.clone();
            }
            browser::sleep_ms(50).await;
        }
        Err(format!("model '{name}' did not load within a minute"))
    }

    /// Show trial `i`: record its start (and the advice shown with it, if any).
    pub async fn begin(&self, i: usize) {
        let Some(pt) = self.plan.trials.get(i) else { return };
        let levels = self.plan.assignment.levels();
        let mut shown = Vec::new();
        match &pt.trial(&self.protocol).kind {
            TrialKind::TwoChoice(tc) => {
                let kind =
                    tc.advisor.resolve(&levels).unwrap_or(crate::study::protocol::AdvisorKind::Neutral);
                shown.push(record::advice_shown(pt, tc, kind, record::recommendation(tc, kind, pt.seed), 0));
            }
            TrialKind::Puzzle(z) => match super::advice::upfront(self, pt, z).await {
                Ok(Some(a)) => shown.push(record::advice(pt, &a, 0)),
                Ok(None) => {}
                Err(e) => shown.push(Event::new(EventKind::Error, record::tag(pt), 0).with("message", e)),
            },
            // The unedited prediction, once (a reload keeps the edits made so far).
            TrialKind::AttentionEdit(ae)
                if !self
                    .log
                    .borrow()
                    .rows()
                    .iter()
                    .any(|r| r.kind == EventKind::AdviceShown && r.trial_index == Some(i)) =>
            {
                match super::attention_edit::predict(self, pt, ae, &[]).await {
                    Ok((a, _)) => shown.push(record::advice(pt, &a, 0)),
                    Err(e) => shown.push(Event::new(EventKind::Error, record::tag(pt), 0).with("message", e)),
                }
            }
            _ => {}
        }
        // Timed from when the trial is on screen (after any model wait).
        *self.shown_at.borrow_mut() = browser::now_ms();
        let t = self.t_ms();
        let mut start = record::start(pt, t);
        if i == 0 && !self.params.is_empty() {
            start = start.with("url_params", serde_json::to_value(&self.params).unwrap_or_default());
        }
        let mut evs = vec![start];
        evs.extend(shown.into_iter().map(|mut e| {
            e.t_ms = t;
            e
        }));
        let _ = self.record(evs).await;
    }

    /// Record the completion (the code is shown only after this resolves).
    pub async fn complete(&self) -> Result<(), String> {
        if self.log.borrow().resume().completed {
            return Ok(());
        }
        self.record(vec![Event::new(EventKind::Completion, None, self.t_ms())
            .with("code", self.protocol.completion.code.clone())])
            .await
    }

    /// A focus / blur / visibility change, tagged with the trial on screen.
    pub fn attention(self: &Rc<Self>, kind: &'static str, state: String) {
        let r = self.log.borrow().resume();
        let tag = self.plan.trials.get(r.next_trial).map(|pt| (pt.index, pt.trial_id.as_str()));
        let ev = match kind {
            "focus" => Event::new(EventKind::Focus, tag, self.t_ms()),
            "blur" => Event::new(EventKind::Blur, tag, self.t_ms()),
            _ => Event::new(EventKind::Visibility, tag, self.t_ms()).with("state", state),
        };
        // Stamped now (in order) when the spawned save first runs; written in the background.
        let s = self.clone();
        browser::spawn(async move {
            let _ = s.record(vec![ev]).await;
        });
    }

    /// Response time of the trial on screen.
    pub fn rt_ms(&self) -> u64 {
        (browser::now_ms() - *self.shown_at.borrow()).max(0.0) as u64
    }

    pub fn rows(&self) -> Vec<EventRow> {
        self.log.borrow().rows().to_vec()
    }

    pub fn trials_csv(&self) -> String {
        let rows = self.rows();
        export::trials_csv([rows.as_slice()])
    }

    pub fn events_csv(&self) -> String {
        let rows = self.rows();
        export::events_csv([rows.as_slice()])
    }

    pub fn json(&self) -> String {
        let rows = self.rows();
        export::export_json(&self.protocol.metadata.id, &self.protocol.metadata.version, [rows.as_slice()])
    }

    /// The default name of one of this participant's files:
    /// `<study id>-<participant>-v<protocol version>[-<what>].<ext>`.
    pub fn file_name(&self, what: &str, ext: &str) -> String {
        let m = &self.protocol.metadata;
        crate::core::names::study_export_name(&m.id, &self.plan.participant, &m.version, what, ext)
    }
}

/// Write the lock now and refresh it every second while this page lives.
fn hold_lock(key: String, tab: String) {
    let write = move || storage::local_set(&key, &format!("{tab}@{}", browser::wall_ms()));
    write();
    browser::spawn(async move {
        loop {
            browser::sleep_ms(1000).await;
            write();
        }
    });
}
