//! HTTP through `gloo-net`: same-origin files shipped with the lab (study protocols, model
//! weights) and the one POST a study may send to the endpoint its protocol names. Errors name
//! the path or URL.

use gloo_net::http::{Request, Response};

/// GET a same-origin file (a relative path) and check its status; anything else is refused,
/// so no request leaves the page.
async fn fetch_ok(path: &str) -> Result<Response, String> {
    if path.contains(':') || path.starts_with("//") {
        return Err(format!("'{path}': only files served with the lab (a relative path) can be opened"));
    }
    let resp = Request::get(path).send().await.map_err(|e| format!("'{path}': {e}"))?;
    if !resp.ok() {
        return Err(format!("'{path}': HTTP {}", resp.status()));
    }
    Ok(resp)
}

/// A same-origin text file (a protocol).
pub async fn fetch_text(path: &str) -> Result<String, String> {
    fetch_ok(path).await?.text().await.map_err(|e| format!("'{path}': {e}"))
}

/// A same-origin binary file (shipped model weights).
pub async fn fetch_bytes(path: &str) -> Result<Vec<u8>, String> {
    fetch_ok(path).await?.binary().await.map_err(|e| format!("'{path}': {e}"))
}

/// POST `body` (JSON) to a study's endpoint, the one request a study may send off the page
/// (only when its protocol names the endpoint). Ok on a 2xx answer; a request with no answer
/// after `timeout_ms` is aborted (an error, so the caller retries).
pub async fn post_json(url: &str, body: &str, timeout_ms: u32) -> Result<(), String> {
    let abort = web_sys::AbortController::new().map_err(|e| format!("'{url}': {e:?}"))?;
    let request = Request::post(url)
        .abort_signal(Some(&abort.signal()))
        .header("content-type", "application/json")
        .body(body)
        .map_err(|e| format!("'{url}': {e}"))?;
    super::spawn(async move {
        super::sleep_ms(timeout_ms).await;
        abort.abort();
    });
    let resp = request.send().await.map_err(|e| format!("'{url}': {e}"))?;
    if !resp.ok() {
        return Err(format!("'{url}': HTTP {}", resp.status()));
    }
    Ok(())
}
