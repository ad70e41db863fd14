//! Reading and writing the page's query string. What the keys mean lives in
//! `core::config::FIELDS` and `core::share`; this file only moves text. Links are written
//! through `share::encode` (compressed when long) and read back expanded.

use crate::core::share;

/// The page's link as the app reads it: the address bar's query through the gate
/// (`share::decode`: sizes capped, a compressed link expanded, app keys checked). This is the
/// one place the address bar is read; everything else goes through it.
pub fn read_link() -> Result<share::Link, share::LinkError> {
    share::decode(&raw_query_pairs(), crate::VERSION)
}

/// The current query's pairs, a compressed link expanded (empty when the link does not pass
/// the gate; the app says why at start-up, from `read_link`).
pub fn query_pairs() -> Vec<(String, String)> {
    read_link().map(|l| l.pairs).unwrap_or_default()
}

/// The page's address, for "Copy link".
pub fn href() -> String {
    web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default()
}

/// The current query string as ordered `(key, value)` pairs, exactly as in the address bar.
fn raw_query_pairs() -> Vec<(String, String)> {
    let Some(w) = web_sys::window() else { return Vec::new() };
    let search = w.location().search().unwrap_or_default();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else { return Vec::new() };
    let mut out = Vec::new();
    // UrlSearchParams is iterable as [key, value] arrays.
    if let Ok(Some(iter)) = js_sys::try_iter(&params) {
        for entry in iter.flatten() {
            let arr = js_sys::Array::from(&entry);
            if let (Some(k), Some(v)) = (arr.get(0).as_string(), arr.get(1).as_string()) {
                out.push((k, v));
            }
        }
    }
    out
}

/// Replace the query string (no reload, no history entry), keeping the path; a long link is
/// written compressed (`share::encode`).
pub fn replace_query(pairs: &[(String, String)]) -> Result<(), String> {
    let w = web_sys::window().ok_or("no window")?;
    let params = web_sys::UrlSearchParams::new().map_err(|e| format!("{e:?}"))?;
    for (k, v) in &share::encode(pairs) {
        params.append(k, v);
    }
    let path = w.location().pathname().map_err(|e| format!("{e:?}"))?;
    let query: String = params.to_string().into();
    let url = if query.is_empty() { path } else { format!("{path}?{query}") };
    w.history()
        .map_err(|e| format!("{e:?}"))?
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
        .map_err(|e| format!("{e:?}"))
}

/// Set (or with `None` remove) one key of the current link, keeping the others.
pub fn set_key(key: &str, value: Option<&str>) {
    let mut pairs: Vec<(String, String)> = query_pairs().into_iter().filter(|(k, _)| k != key).collect();
    if let Some(v) = value {
        pairs.push((key.to_string(), v.to_string()));
    }
    let _ = replace_query(&pairs);
}
