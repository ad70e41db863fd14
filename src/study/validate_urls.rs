//! Validation of the protocol's URLs: the completion redirect template (http(s) only, known
//! placeholders only), the optional data endpoint (http(s) only) and the extra URL
//! parameters to record. Split from `validate` so each file has one reason to change.

use serde_json::{Map, Value};

use super::jsonlines::{index, Reader};
use super::protocol::{Completion, Endpoint, STANDARD_URL_PARAMS};

/// `http://…` or `https://…` with a host and no whitespace or control characters.
pub fn is_http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>')
        }
        None => false,
    }
}

pub fn read_url_params(r: &mut Reader, m: &Map<String, Value>) -> Option<Vec<String>> {
    let names = r.strings(m, "", "url_params", 0)?;
    let mut ok = true;
    for (i, n) in names.iter().enumerate() {
        let path = index("url_params", i);
        if !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            r.err(&path, format!("'{n}' is not a valid URL parameter name (letters, digits, '_')"));
            ok = false;
        } else if STANDARD_URL_PARAMS.contains(&n.as_str()) || n == "CODE" {
            r.err(&path, format!("'{n}' is always recorded; do not list it"));
            ok = false;
        }
    }
    ok.then_some(names)
}

pub fn read_completion(r: &mut Reader, v: &Value, url_params: &[String]) -> Option<Completion> {
    let m = r.object(v, "completion", &["code", "redirect"], &[])?;
    let code = r.string(m, "completion", "code");
    let redirect = r.string(m, "completion", "redirect").filter(|u| {
        let path = "completion.redirect";
        if !is_http_url(u) {
            r.err(path, format!("'{u}' is not an http(s) URL"));
            return false;
        }
        let mut rest = u.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                r.err(path, "unclosed '{' in the redirect template");
                return false;
            };
            let name = &after[..close];
            if !(STANDARD_URL_PARAMS.contains(&name) || name == "CODE" || url_params.iter().any(|p| p == name)) {
                r.err(path, format!("unknown placeholder '{{{name}}}' (known: PROLIFIC_PID, STUDY_ID, SESSION_ID, CODE and url_params)"));
                return false;
            }
            rest = &after[close + 1..];
        }
        true
    });
    Some(Completion { code: code?, redirect: redirect? })
}

pub fn read_endpoint(r: &mut Reader, v: &Value) -> Option<Endpoint> {
    let m = r.object(v, "endpoint", &["url"], &["retries"])?;
    let url = r.string(m, "endpoint", "url").filter(|u| {
        let good = is_http_url(u);
        if !good {
            r.err("endpoint.url", format!("'{u}' is not an http(s) URL"));
        }
        good
    });
    let retries = if m.contains_key("retries") {
        r.uint(m, "endpoint", "retries", 0, 20).map(|x| x as u32)
    } else {
        Some(3)
    };
    Some(Endpoint { url: url?, retries: retries? })
}
