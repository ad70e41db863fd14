//! Share links: the lab's state in the URL query, through one table.
//!
//! A link's keys come from four tables, each owned by the layer that reads it: the run's
//! model and optimiser fields (`config::FIELDS`, plus `task`, `model`, `mixers`), the task's
//! own parameters (checked by the task), the steering panel's `st_*` keys
//! (`engine::steering::KEYS`) and the app's keys here (`APP`). `decode` is the one gate every
//! link passes before anything reads it: it caps sizes before and after decompression,
//! expands a compressed link (`z=`), checks the link format (`lf`) and every app key's value,
//! and says when the link was made by another lab version (`v`). Its errors name the key;
//! the page then shows the message and opens the default lab. `encode` writes a link,
//! compressing it (deflate + base64url in `z`) when the plain query would be long.

use std::fmt;

/// The link format this lab writes and reads (`lf`, present in compressed links).
pub const LINK_FORMAT: u32 = 1;
/// A query longer than this (bytes, as given) is refused before anything is parsed.
pub const MAX_LINK_BYTES: usize = 8192;
/// A compressed link may expand to at most this many bytes.
pub const MAX_EXPANDED_BYTES: usize = 32768;
/// At most this many `key=value` pairs.
pub const MAX_PAIRS: usize = 256;
/// Plain queries longer than this are written compressed.
pub const COMPRESS_OVER: usize = 600;

/// What an app key's value may be.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `1`/`true`/`0`/`false`.
    Flag,
    Int {
        min: u64,
        max: u64,
    },
    Choice(&'static [&'static str]),
    /// Free text up to `max` bytes (checked further by its reader).
    Text {
        max: usize,
    },
    /// A comma list of these words.
    List(&'static [&'static str]),
}

pub struct AppKey {
    pub key: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// Pages of the lab (`page=`).
pub const PAGES: &[&str] = &["lab", "gallery", "experiments", "results", "study"];
/// Parts of the lab page an embed link can hide (`hide=`).
pub const HIDEABLE: &[&str] = &["topbar", "controls", "gpu", "runbar", "charts", "views", "steer", "status"];

/// The app's keys: everything in a link that is not the run, the task or the steering panel.
pub const APP: &[AppKey] = &[
    AppKey { key: "v", kind: Kind::Text { max: 32 }, help: "the lab version that wrote the link" },
    AppKey { key: "lf", kind: Kind::Int { min: 0, max: u32::MAX as u64 }, help: "link format (1)" },
    AppKey {
        key: "z",
        kind: Kind::Text { max: MAX_LINK_BYTES },
        help: "the whole link, deflated and base64url-encoded",
    },
    AppKey { key: "page", kind: Kind::Choice(PAGES), help: "which page opens" },
    AppKey { key: "autorun", kind: Kind::Flag, help: "start the run (or experiment) when the page opens" },
    AppKey { key: "embed", kind: Kind::Flag, help: "embed mode: no top bar, for an iframe" },
    AppKey { key: "hide", kind: Kind::List(HIDEABLE), help: "parts of the lab page to hide" },
    AppKey {
        key: "backend",
        kind: Kind::Choice(&["auto", "cpu", "gpu", "webgpu"]),
        help: "where new runs train",
    },
    AppKey {
        key: "budget",
        kind: Kind::Int { min: super::config::MIN_BUDGET_MIB, max: super::config::MAX_BUDGET_MIB },
        help: "memory budget (MiB)",
    },
    AppKey {
        key: "lose_gpu_at",
        kind: Kind::Int { min: 0, max: 1_000_000 },
        help: "diagnostic: lose the GPU device at this step",
    },
    AppKey {
        key: "gseed",
        kind: Kind::Int { min: 0, max: u32::MAX as u64 },
        help: "the gallery's example seed",
    },
    AppKey { key: "preset", kind: Kind::Text { max: 64 }, help: "the experiments page's preset" },
    AppKey { key: "arms", kind: Kind::Text { max: 4096 }, help: "the experiments page's arms" },
    AppKey { key: "views", kind: Kind::Flag, help: "open the model-internals views" },
    AppKey {
        key: "vseed",
        kind: Kind::Int { min: 0, max: u32::MAX as u64 },
        help: "the views' example seed",
    },
    AppKey {
        key: "steer",
        kind: Kind::Choice(&["direction", "example", "sweep", "probe", "patch"]),
        help: "run this steering analysis when the run is done",
    },
];

/// URL keys that belong to the app, not to the run (never read as task parameters): the
/// keys of `share::APP`, and all keys starting with `APP_PREFIX` (the steering panel's
/// `st_*`, `engine::steering::KEYS`).
pub const APP_PREFIX: &str = "st_";

/// Whether a URL key belongs to the app (see `APP_PREFIX`).
pub fn is_app_key(k: &str) -> bool {
    APP.iter().any(|a| a.key == k) || k.starts_with(APP_PREFIX)
}

/// Why a link was refused (the page opens the default lab and shows this).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkError {
    /// The key at fault (`""` for the link as a whole).
    pub key: String,
    pub message: String,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "this link cannot be opened: {}", self.message)
        } else {
            write!(f, "this link cannot be opened: {}: {}", self.key, self.message)
        }
    }
}

fn fail<T>(key: &str, message: String) -> Result<T, LinkError> {
    Err(LinkError { key: key.into(), message })
}

/// A link that passed the gate: its pairs (a compressed link expanded) and notes for the
/// user (another lab version).
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub pairs: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

fn size(pairs: &[(String, String)]) -> usize {
    pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum()
}

/// Check and expand a link's query pairs (percent-decoded, in order). `version` is this lab's.
pub fn decode(pairs: &[(String, String)], version: &str) -> Result<Link, LinkError> {
    let n = size(pairs);
    if n > MAX_LINK_BYTES {
        return fail("", format!("its query is {n} bytes; the lab reads at most {MAX_LINK_BYTES}"));
    }
    if pairs.len() > MAX_PAIRS {
        return fail("", format!("it has {} parameters; the lab reads at most {MAX_PAIRS}", pairs.len()));
    }
    if pairs.iter().filter(|(k, _)| k == "z").count() > 1 {
        return fail("z", "more than one compressed part".into());
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in pairs {
        if k == "z" {
            out.extend(expand(v)?);
        } else {
            out.push((k.clone(), v.clone()));
        }
        if out.len() > MAX_PAIRS {
            return fail("z", format!("it expands to more than {MAX_PAIRS} parameters"));
        }
    }
    for (k, v) in &out {
        if let Some(app) = APP.iter().find(|a| a.key == k) {
            check(app, v)?;
        }
    }
    let last = |key: &str| out.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if let Some(lf) = last("lf") {
        if lf.trim().parse::<u64>().ok() != Some(LINK_FORMAT as u64) {
            return fail("lf", format!("link format {lf} is not known to this lab (version {version} reads format {LINK_FORMAT})"));
        }
    }
    let mut warnings = Vec::new();
    if let Some(v) = last("v").filter(|v| v != version) {
        warnings.push(format!("This link was made with interlab {v}; this is {version}. It opens with the same settings, but if the training code changed between the versions the curve may differ."));
    }
    let pairs = out.into_iter().filter(|(k, _)| k != "lf").collect();
    Ok(Link { pairs, warnings })
}

/// Check one app key's value against its kind.
fn check(app: &AppKey, v: &str) -> Result<(), LinkError> {
    let key = app.key;
    match app.kind {
        Kind::Flag => match v {
            "1" | "true" | "0" | "false" | "" => Ok(()),
            _ => fail(key, format!("'{}' is not 1, true, 0 or false", clip(v))),
        },
        Kind::Int { min, max } => match v.trim().parse::<u64>() {
            Ok(x) if (min..=max).contains(&x) => Ok(()),
            Ok(x) => fail(key, format!("{x} is out of range {min}..={max}")),
            Err(_) => fail(key, format!("'{}' is not a whole number ({min}..={max})", clip(v))),
        },
        Kind::Choice(all) if all.contains(&v.trim()) => Ok(()),
        Kind::Choice(all) => fail(key, format!("'{}' is not one of {}", clip(v), all.join(", "))),
        Kind::Text { max } if v.len() <= max => Ok(()),
        Kind::Text { max } => fail(key, format!("{} bytes; at most {max}", v.len())),
        Kind::List(all) => match v.split(',').map(str::trim).find(|w| !w.is_empty() && !all.contains(w)) {
            None => Ok(()),
            Some(w) => fail(key, format!("'{}' is not one of {}", clip(w), all.join(", "))),
        },
    }
}

/// At most 40 characters of user text in a message.
fn clip(s: &str) -> String {
    let mut t: String = s.chars().take(40).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

/// The pairs inside `z`: base64url → inflate (capped) → UTF-8 → query.
fn expand(z: &str) -> Result<Vec<(String, String)>, LinkError> {
    let bytes = b64url_decode(z.trim()).map_err(|e| LinkError { key: "z".into(), message: e })?;
    let raw =
        miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes, MAX_EXPANDED_BYTES).map_err(|e| {
            LinkError {
                key: "z".into(),
                message: match e.status {
                    miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                        format!("it expands to more than {MAX_EXPANDED_BYTES} bytes")
                    }
                    _ => "not a compressed link (the data is damaged or cut short)".into(),
                },
            }
        })?;
    let text = String::from_utf8(raw)
        .map_err(|_| LinkError { key: "z".into(), message: "the expanded link is not text".into() })?;
    let pairs = parse_query(&text);
    if pairs.iter().any(|(k, _)| k == "z") {
        return fail("z", "a compressed link inside a compressed link".into());
    }
    Ok(pairs)
}

/// A link's pairs as written: plain when short, else `lf` + `z` (deflated, base64url).
pub fn encode(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let query = to_query(pairs);
    if query.len() <= COMPRESS_OVER {
        return pairs.to_vec();
    }
    let z = b64url_encode(&miniz_oxide::deflate::compress_to_vec(query.as_bytes(), 9));
    vec![("lf".into(), LINK_FORMAT.to_string()), ("z".into(), z)]
}

/// `k=v&k=v`, form-encoded (the inverse of `parse_query`).
pub fn to_query(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", pct(k), pct(v))).collect::<Vec<_>>().join("&")
}

fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Parse `k=v&k=v` (form encoding: `+` is a space, `%XX` a byte; malformed escapes are kept
/// as text, invalid UTF-8 replaced), as a browser's `URLSearchParams` does.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.trim_start_matches('?')
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .map(|(k, v)| (unpct(k), unpct(v)))
        .collect()
}

fn unpct(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn b64url_encode(data: &[u8]) -> String {
    super::base64::encode(data).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

fn b64url_decode(text: &str) -> Result<Vec<u8>, String> {
    if text.contains(['+', '/', '=']) {
        return Err("not base64url (use - and _, no padding)".into());
    }
    let mut t = text.replace('-', "+").replace('_', "/");
    while !t.len().is_multiple_of(4) {
        t.push('=');
    }
    super::base64::decode(&t).map_err(|e| e.replace("base64", "base64url"))
}
