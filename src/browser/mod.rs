//! The only home of web-sys / js-sys / gloo: the page URL, the clock, yielding to the event
//! loop, files and downloads, storage and the worker glue. Everything here is a thin, typed
//! wrapper; JS exceptions become `String` messages at this edge.

mod files;
pub mod net;
pub mod storage;
pub mod url;
pub mod worker;

pub use files::{download, read_chosen_file, read_chosen_texts, read_dropped_file};

use wasm_bindgen::JsCast;

/// Milliseconds from a monotonic clock (`performance.now()`), on the page or in a worker
/// (read from the global scope, which has no `window` inside a worker); 0 where unavailable.
pub fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &wasm_bindgen::JsValue::from_str("performance"))
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

/// Wall-clock milliseconds since the epoch (`Date.now()`), comparable between tabs.
pub fn wall_ms() -> f64 {
    js_sys::Date::now()
}

/// Wait `ms` milliseconds.
pub async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Logical processors the browser reports (`navigator.hardwareConcurrency`), at least 1.
pub fn hardware_concurrency() -> usize {
    web_sys::window().map(|w| w.navigator().hardware_concurrency() as usize).unwrap_or(1).max(1)
}

/// Write an error to the browser console (for problems with no better place to show).
pub fn log_error(msg: &str) {
    web_sys::console::error_1(&wasm_bindgen::JsValue::from_str(msg));
}

/// Run a future on the current thread's event loop (page or worker).
pub fn spawn(f: impl std::future::Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(f);
}

/// Let the browser paint and handle input before continuing (a zero-delay timeout; the
/// training loop awaits this between ≤ 30 ms chunks so the page never freezes).
pub async fn yield_now() {
    gloo_timers::future::TimeoutFuture::new(0).await;
}

/// Whether the `<details>` element that fired a `toggle` event is now open.
pub fn details_open(ev: &web_sys::Event) -> bool {
    use wasm_bindgen::JsCast;
    ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlDetailsElement>().ok()).is_some_and(|d| d.open())
}

/// Select the text of the `<input>` an event came from (a field to copy from by hand).
pub fn select_text(ev: &web_sys::Event) {
    use wasm_bindgen::JsCast;
    if let Some(i) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
        i.select();
    }
}

/// Put `text` on the clipboard (`navigator.clipboard.writeText`); Err when the browser
/// refuses (no permission, insecure context), so the caller can show the text instead.
pub async fn copy_text(text: &str) -> Result<(), String> {
    use wasm_bindgen::{JsCast, JsValue};
    let nav = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
        .map_err(|e| format!("{e:?}"))?;
    let clip = js_sys::Reflect::get(&nav, &JsValue::from_str("clipboard")).map_err(|e| format!("{e:?}"))?;
    if clip.is_undefined() || clip.is_null() {
        return Err("this browser gives no clipboard here".into());
    }
    let write: js_sys::Function = js_sys::Reflect::get(&clip, &JsValue::from_str("writeText"))
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "no clipboard.writeText")?;
    let promise: js_sys::Promise = write
        .call1(&clip, &JsValue::from_str(text))
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "clipboard: not a promise")?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|e| e.as_string().unwrap_or_else(|| "the browser refused the clipboard".into()))
}

/// Whether `navigator.gpu` exists (the browser exposes WebGPU at all; an adapter may still
/// be refused).
pub fn has_webgpu_api() -> bool {
    // `navigator.gpu` on the page's window or a worker's global scope alike.
    let global = js_sys::global();
    let Ok(nav) = js_sys::Reflect::get(&global, &wasm_bindgen::JsValue::from_str("navigator")) else {
        return false;
    };
    js_sys::Reflect::get(&nav, &wasm_bindgen::JsValue::from_str("gpu"))
        .map(|v| !v.is_undefined() && !v.is_null())
        .unwrap_or(false)
}

/// Call `f` with each page focus / blur / visibility change: `("focus" | "blur" |
/// "visibility", state)`, state being "hidden" or "visible". Listeners stay for the page's life.
pub fn on_attention(f: impl Fn(&'static str, String) + 'static) {
    let Some(window) = web_sys::window() else { return };
    let Some(document) = window.document() else { return };
    let f = std::rc::Rc::new(f);
    let targets: [(&web_sys::EventTarget, &'static str, &'static str); 3] = [
        (&window, "focus", "focus"),
        (&window, "blur", "blur"),
        (&document, "visibilitychange", "visibility"),
    ];
    for (target, event, name) in targets {
        let (f, document) = (f.clone(), document.clone());
        gloo_events::EventListener::new(target, event, move |_| {
            f(name, if document.hidden() { "hidden" } else { "visible" }.to_string())
        })
        .forget();
    }
}
