//! Reading a JSON protocol with field paths and line numbers. `LineMap` scans the text once
//! and records the 1-based line where each field path (`blocks[1].trials[0].advice`) starts
//! — serde_json's `Value` keeps no positions. `Reader` reads typed fields out of a `Value`,
//! collecting every problem as an `Issue` (path + line + message) instead of stopping at the
//! first. It never panics, whatever the input.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::Issue;

/// Deepest nesting the scanner follows (serde_json refuses deeper documents first).
const MAX_DEPTH: usize = 256;

/// `path.key`, or `key` at the root.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[i]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Path → 1-based line of the field's key (object members) or value (array items).
#[derive(Debug, Default)]
pub struct LineMap {
    lines: HashMap<String, usize>,
    /// `(path, line)` of keys that appear twice in one object.
    pub duplicate_keys: Vec<(String, usize)>,
}

impl LineMap {
    /// Scan syntactically valid JSON text (call after serde_json accepted it).
    pub fn build(text: &str) -> Self {
        let mut s = Scan { b: text.as_bytes(), i: 0, line: 1, map: LineMap::default() };
        s.value(String::new(), 0);
        s.map
    }

    /// The line of `path`, or of its nearest recorded ancestor (1 when none).
    pub fn line(&self, path: &str) -> usize {
        let mut p = path;
        loop {
            if let Some(&l) = self.lines.get(p) {
                return l;
            }
            match p.rfind(['.', '[']) {
                Some(cut) => p = &p[..cut],
                None => return self.lines.get("").copied().unwrap_or(1),
            }
        }
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    map: LineMap,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn bump(&mut self) {
        if self.peek() == Some(b'\n') {
            self.line += 1;
        }
        self.i += 1;
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    fn value(&mut self, path: String, depth: usize) {
        self.ws();
        self.map.lines.entry(path.clone()).or_insert(self.line);
        if depth > MAX_DEPTH {
            return;
        }
        match self.peek() {
            Some(b'{') => self.object(&path, depth),
            Some(b'[') => self.array(&path, depth),
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.bump();
                }
            }
            None => {}
        }
    }

    /// A string literal's decoded text (escapes other than `\"` and `\\` kept as written:
    /// keys are only compared, and protocol keys are plain ASCII).
    fn string(&mut self) -> String {
        let mut out = Vec::new();
        self.bump(); // opening quote
        while let Some(c) = self.peek() {
            self.bump();
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(e) = self.peek() {
                        self.bump();
                        if e != b'"' && e != b'\\' {
                            out.push(b'\\');
                        }
                        out.push(e);
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn object(&mut self, path: &str, depth: usize) {
        self.bump();
        let mut seen: Vec<String> = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b'"') => {
                    let line = self.line;
                    let key = self.string();
                    let child = join(path, &key);
                    if seen.contains(&key) {
                        self.map.duplicate_keys.push((child.clone(), line));
                    } else {
                        seen.push(key);
                        self.map.lines.insert(child.clone(), line);
                    }
                    self.ws();
                    if self.peek() == Some(b':') {
                        self.bump();
                    }
                    self.value(child, depth + 1);
                    self.ws();
                    if self.peek() == Some(b',') {
                        self.bump();
                    }
                }
                Some(b'}') => {
                    self.bump();
                    return;
                }
                _ => return,
            }
        }
    }

    fn array(&mut self, path: &str, depth: usize) {
        self.bump();
        let mut n = 0;
        loop {
            self.ws();
            match self.peek() {
                Some(b']') => {
                    self.bump();
                    return;
                }
                None => return,
                _ => {
                    self.value(index(path, n), depth + 1);
                    n += 1;
                    self.ws();
                    if self.peek() == Some(b',') {
                        self.bump();
                    }
                }
            }
        }
    }
}

/// The JSON type of a value, in words.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed field access that records every problem with its path and line.
pub struct Reader {
    pub lines: LineMap,
    pub issues: Vec<Issue>,
}

impl Reader {
    pub fn new(text: &str) -> Self {
        Reader { lines: LineMap::build(text), issues: Vec::new() }
    }

    pub fn err(&mut self, path: &str, message: impl Into<String>) {
        let line = self.lines.line(path);
        self.issues.push(Issue { path: path.to_string(), line, message: message.into() });
    }

    /// `v` as an object with exactly the allowed keys: reports a wrong type, each unknown
    /// key and each missing required key.
    pub fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
        required: &[&str],
        optional: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(m) = v.as_object() else {
            self.err(path, format!("expected an object, found {}", type_name(v)));
            return None;
        };
        for k in m.keys() {
            if !required.contains(&k.as_str()) && !optional.contains(&k.as_str()) {
                let mut allowed: Vec<&str> = required.iter().chain(optional).copied().collect();
                allowed.sort_unstable();
                self.err(&join(path, k), format!("unknown key '{k}' (allowed: {})", allowed.join(", ")));
            }
        }
        for k in required {
            if !m.contains_key(*k) {
                self.err(path, format!("missing field '{k}'"));
            }
        }
        Some(m)
    }

    /// A string field; `None` when absent (already reported if required) or invalid.
    pub fn string(&mut self, m: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        let v = m.get(key)?;
        let p = join(path, key);
        match v.as_str() {
            None => {
                self.err(&p, format!("expected a string, found {}", type_name(v)));
                None
            }
            Some(s) if s.trim().is_empty() => {
                self.err(&p, "must not be empty");
                None
            }
            Some(s) => Some(s.to_string()),
        }
    }

    /// A whole number in `min..=max`.
    pub fn uint(&mut self, m: &Map<String, Value>, path: &str, key: &str, min: u64, max: u64) -> Option<u64> {
        let v = m.get(key)?;
        let p = join(path, key);
        match v.as_u64() {
            Some(x) if (min..=max).contains(&x) => Some(x),
            Some(x) => {
                self.err(&p, format!("{x} is out of range {min}..={max}"));
                None
            }
            None if v.is_number() => {
                self.err(&p, format!("{v} is not a whole number >= 0 (expected {min}..={max})"));
                None
            }
            None => {
                self.err(&p, format!("expected a whole number, found {}", type_name(v)));
                None
            }
        }
    }

    /// A real number; `check` returns a complaint for an out-of-range value.
    pub fn number(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
        check: impl Fn(f64) -> Option<String>,
    ) -> Option<f64> {
        let v = m.get(key)?;
        let p = join(path, key);
        match v.as_f64() {
            Some(x) => match check(x) {
                Some(why) => {
                    self.err(&p, why);
                    None
                }
                None => Some(x),
            },
            None => {
                self.err(&p, format!("expected a number, found {}", type_name(v)));
                None
            }
        }
    }

    pub fn boolean(&mut self, m: &Map<String, Value>, path: &str, key: &str) -> Option<bool> {
        let v = m.get(key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.err(&join(path, key), format!("expected true or false, found {}", type_name(v)));
                None
            }
        }
    }

    /// An array with at least `min_len` items.
    pub fn array<'v>(
        &mut self,
        m: &'v Map<String, Value>,
        path: &str,
        key: &str,
        min_len: usize,
    ) -> Option<&'v Vec<Value>> {
        let v = m.get(key)?;
        let p = join(path, key);
        match v.as_array() {
            None => {
                self.err(&p, format!("expected an array, found {}", type_name(v)));
                None
            }
            Some(a) if a.len() < min_len => {
                let what = if a.is_empty() {
                    "must not be empty".to_string()
                } else {
                    format!("needs at least {min_len} items, found {}", a.len())
                };
                self.err(&p, what);
                None
            }
            Some(a) => Some(a),
        }
    }

    /// An array of non-empty strings (`min_len` items at least, no duplicates).
    pub fn strings(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
        min_len: usize,
    ) -> Option<Vec<String>> {
        let items = self.array(m, path, key, min_len)?;
        let p = join(path, key);
        let mut out = Vec::new();
        let mut ok = true;
        for (i, v) in items.iter().enumerate() {
            match v.as_str() {
                Some(s) if !s.trim().is_empty() => {
                    if out.iter().any(|o: &String| o == s) {
                        self.err(&index(&p, i), format!("duplicate value '{s}'"));
                        ok = false;
                    }
                    out.push(s.to_string());
                }
                Some(_) => {
                    self.err(&index(&p, i), "must not be empty");
                    ok = false;
                }
                None => {
                    self.err(&index(&p, i), format!("expected a string, found {}", type_name(v)));
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_map_finds_keys_items_and_duplicates() {
        let text = "{\n  \"a\": 1,\n  \"b\": [\n    {\"c\": \"x\\\"y\"},\n    2\n  ],\n  \"a\": 3\n}\n";
        let m = LineMap::build(text);
        assert_eq!(m.line("a"), 2);
        assert_eq!(m.line("b"), 3);
        assert_eq!(m.line("b[0]"), 4);
        assert_eq!(m.line("b[0].c"), 4);
        assert_eq!(m.line("b[1]"), 5);
        assert_eq!(m.line("b[0].missing.deeper"), 4, "falls back to the nearest ancestor");
        assert_eq!(m.duplicate_keys, vec![("a".to_string(), 7)]);
    }

    #[test]
    fn reader_reports_unknown_missing_and_wrong_types_with_lines() {
        let text = "{\n  \"x\": \"s\",\n  \"n\": -1,\n  \"extra\": true\n}";
        let v: Value = serde_json::from_str(text).unwrap();
        let mut r = Reader::new(text);
        let m = r.object(&v, "", &["x", "n", "need"], &[]).unwrap();
        assert_eq!(r.uint(m, "", "n", 0, 5), None);
        assert_eq!(r.number(m, "", "x", |_| None), None);
        let got: Vec<String> = r.issues.iter().map(|i| i.to_string()).collect();
        assert!(
            got.contains(&"line 4: extra: unknown key 'extra' (allowed: n, need, x)".to_string()),
            "{got:?}"
        );
        assert!(got.contains(&"line 1: (document): missing field 'need'".to_string()), "{got:?}");
        assert!(got.iter().any(|g| g.starts_with("line 3: n: -1 is not a whole number")), "{got:?}");
        assert!(got.contains(&"line 2: x: expected a number, found a string".to_string()), "{got:?}");
    }
}
