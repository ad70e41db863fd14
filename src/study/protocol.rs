//! The protocol file's schema (`"schema": 1`) as Rust types. `validate::parse_protocol`
//! is the only way to build one from text, so a `Protocol` value is always valid: ids are
//! unique, references resolve, weights are positive, URLs are http(s).
//!
//! Top level: `schema`, `metadata {id, title, version, seed?}`, `consent` (markdown),
//! `instructions [{id, text}]`, `url_params?` (extra URL parameters to record),
//! `conditions [{id, levels [{id, weight}]}]` (between-subject factors; cells are the
//! cross product), `counterbalance? {factor}`, `models [{name, url, sha256}]`,
//! `blocks [{id, order, repetitions?, counterbalanced?, trials [...]}]`,
//! `completion {code, redirect}`, `endpoint? {url, retries?}` (off when absent).
//! The README's "Studies" section documents each trial type's fields.

use std::collections::BTreeMap;

use serde::Serialize;

/// The schema version this build reads.
pub const SCHEMA_VERSION: u64 = 1;

/// URL parameters always recorded and usable in the redirect template.
pub const STANDARD_URL_PARAMS: &[&str] = &["PROLIFIC_PID", "STUDY_ID", "SESSION_ID"];

/// Every trial type name, in documentation order.
pub const TRIAL_TYPES: &[&str] = &[
    "consent",
    "instructions",
    "puzzle",
    "attention_edit",
    "two_choice",
    "likert",
    "multiple_choice",
    "free_text",
    "attention_check",
    "trace_view",
];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Protocol {
    pub schema: u64,
    pub metadata: Metadata,
    pub consent: String,
    pub instructions: Vec<Page>,
    pub url_params: Vec<String>,
    pub conditions: Vec<Factor>,
    /// The factor whose level index rotates the `counterbalanced` blocks.
    pub counterbalance: Option<String>,
    pub models: Vec<ModelRef>,
    pub blocks: Vec<Block>,
    pub completion: Completion,
    pub endpoint: Option<Endpoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metadata {
    pub id: String,
    pub title: String,
    pub version: String,
    /// Seed of every random choice in the study (assignment, orders, puzzles). Default 0.
    pub seed: u64,
}

/// One instructions page (markdown).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page {
    pub id: String,
    pub text: String,
}

/// A between-subject factor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Factor {
    pub id: String,
    pub levels: Vec<Level>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Level {
    pub id: String,
    /// Relative assignment weight (> 0).
    pub weight: f64,
}

/// A model the study loads: `url` is `shipped:NAME` (a file under `public/`) or an
/// http(s) URL; `sha256` is checked before the first trial uses it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelRef {
    pub name: String,
    pub url: String,
    /// 64 lowercase hex digits.
    pub sha256: String,
}

impl ModelRef {
    /// The shipped asset's name, when the model ships with the app.
    pub fn shipped(&self) -> Option<&str> {
        self.url.strip_prefix("shipped:")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Fixed,
    Random,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Block {
    pub id: String,
    pub order: Order,
    /// How many times the trial list runs (each pass reshuffled when `order` is random).
    pub repetitions: u32,
    /// Whether this block takes part in the counterbalancing rotation.
    pub counterbalanced: bool,
    pub trials: Vec<Trial>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trial {
    pub id: String,
    pub kind: TrialKind,
}

impl Trial {
    /// The trial type's name as written in the file.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }
}

/// A value fixed for everyone, or chosen by the participant's level of one factor.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ByCondition<T> {
    Fixed(T),
    By { factor: String, levels: BTreeMap<String, T> },
}

impl<T: Clone> ByCondition<T> {
    /// The value for a participant whose levels are `cell` (factor id → level id).
    /// Validation guarantees every level of the factor has a value, so `None` only comes
    /// from a cell that does not belong to this protocol.
    pub fn resolve(&self, cell: &BTreeMap<String, String>) -> Option<T> {
        match self {
            ByCondition::Fixed(v) => Some(v.clone()),
            ByCondition::By { factor, levels } => cell.get(factor).and_then(|l| levels.get(l)).cloned(),
        }
    }

    /// Every value this can take.
    pub fn values(&self) -> Vec<T> {
        match self {
            ByCondition::Fixed(v) => vec![v.clone()],
            ByCondition::By { levels, .. } => levels.values().cloned().collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdviceMode {
    None,
    OnRequest,
    Always,
    Misleading,
}

impl AdviceMode {
    pub const NAMES: &'static [&'static str] = &["none", "on_request", "always", "misleading"];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AdviceMode::None, AdviceMode::OnRequest, AdviceMode::Always, AdviceMode::Misleading]
            .into_iter()
            .find(|m| m.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvisorKind {
    Neutral,
    Manipulative,
}

impl AdvisorKind {
    pub const NAMES: &'static [&'static str] = &["neutral", "manipulative"];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AdvisorKind::Neutral, AdvisorKind::Manipulative].into_iter().find(|m| m.name() == s)
    }
}

/// A task from `crate::tasks` and its parameters (as text, the same as URL values).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskSpec {
    pub name: String,
    pub params: Vec<(String, String)>,
}

/// A sequence puzzle with AI advice by condition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Puzzle {
    pub task: TaskSpec,
    pub advice: ByCondition<AdviceMode>,
    /// Share of `misleading` advice that is deliberately wrong (0..=1).
    pub mislead_rate: f64,
    /// Probability the advisor is right when it is not misleading (0..=1, default 1).
    pub advice_accuracy: f64,
    /// Steering scale recorded with misleading advice produced through a steering vector.
    pub steering_scale: f64,
    /// When set, a give-up button appears after this many ms.
    pub give_up_after_ms: Option<u64>,
    /// The advising model (required unless advice is `none` in every condition).
    pub model: Option<String>,
}

/// CHM-Corr++ analogue: the participant toggles which tokens the model attends to
/// (`interactive`) or sees a static explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttentionEdit {
    pub task: TaskSpec,
    pub interactive: ByCondition<bool>,
    pub model: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChoiceOption {
    pub id: String,
    pub label: String,
    /// Hidden from the participant; scored as the harmful choice.
    pub harmful: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TwoChoice {
    pub prompt: String,
    /// Exactly two options.
    pub options: Vec<ChoiceOption>,
    pub advisor: ByCondition<AdvisorKind>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrialKind {
    Consent,
    Instructions { pages: Vec<String> },
    Puzzle(Puzzle),
    AttentionEdit(AttentionEdit),
    TwoChoice(TwoChoice),
    Likert { prompt: String, points: u32, labels: Vec<String> },
    MultipleChoice { prompt: String, options: Vec<String> },
    FreeText { prompt: String, max_len: usize },
    AttentionCheck { prompt: String, options: Vec<String>, correct: usize },
    TraceView,
}

impl TrialKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            TrialKind::Consent => "consent",
            TrialKind::Instructions { .. } => "instructions",
            TrialKind::Puzzle(_) => "puzzle",
            TrialKind::AttentionEdit(_) => "attention_edit",
            TrialKind::TwoChoice(_) => "two_choice",
            TrialKind::Likert { .. } => "likert",
            TrialKind::MultipleChoice { .. } => "multiple_choice",
            TrialKind::FreeText { .. } => "free_text",
            TrialKind::AttentionCheck { .. } => "attention_check",
            TrialKind::TraceView => "trace_view",
        }
    }
}

/// What the participant sees at the end, after the data is durably saved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Completion {
    pub code: String,
    /// http(s) URL template; `{PROLIFIC_PID}`, `{STUDY_ID}`, `{SESSION_ID}`, `{CODE}` and
    /// any `url_params` name are replaced.
    pub redirect: String,
}

impl Completion {
    /// The redirect URL with placeholders filled (values percent-encoded; unknown → empty).
    pub fn redirect_url(&self, params: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = self.redirect.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let name = &after[..close];
                    let value = if name == "CODE" {
                        self.code.as_str()
                    } else {
                        params.get(name).map(String::as_str).unwrap_or("")
                    };
                    out.push_str(&percent_encode(value));
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Where exported data is POSTed when the protocol asks for it (never otherwise).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Endpoint {
    pub url: String,
    pub retries: u32,
}

impl Protocol {
    /// Every trial, in file order, with its block.
    pub fn trials(&self) -> impl Iterator<Item = (&Block, &Trial)> {
        self.blocks.iter().flat_map(|b| b.trials.iter().map(move |t| (b, t)))
    }

    pub fn factor(&self, id: &str) -> Option<&Factor> {
        self.conditions.iter().find(|f| f.id == id)
    }
}
