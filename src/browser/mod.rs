//! The only home of web-sys / js-sys / gloo: the page URL, the clock, yielding to the event
//! loop, and (later) storage, downloads and workers. Everything here is a thin, typed
//! wrapper; JS exceptions become `String` messages at this edge.

pub mod url;

/// Milliseconds from a monotonic clock (`performance.now()`), or 0 where unavailable.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
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
    js_sys::Reflect::has(&w.navigator(), &wasm_bindgen::JsValue::from_str("gpu")).unwrap_or(false)
        && !js_sys::Reflect::get(&w.navigator(), &wasm_bindgen::JsValue::from_str("gpu"))
            .map(|v| v.is_undefined() || v.is_null())
            .unwrap_or(true)
}
