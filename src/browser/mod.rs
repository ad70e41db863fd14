//! The only home of web-sys / js-sys / gloo: the page URL, the clock, yielding to the event
//! loop, and (later) storage, downloads and workers. Everything here is a thin, typed
//! wrapper; JS exceptions become `String` messages at this edge.

pub mod url;
pub mod worker;

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

/// Whether `navigator.gpu` exists (the browser exposes WebGPU at all; an adapter may still
/// be refused).
pub fn has_webgpu_api() -> bool {
    let Some(w) = web_sys::window() else { return false };
    js_sys::Reflect::get(&w.navigator(), &wasm_bindgen::JsValue::from_str("gpu"))
        .map(|v| !v.is_undefined() && !v.is_null())
        .unwrap_or(false)
}
