//! Web Worker glue, both sides. The page spawns the training worker (built by Trunk from
//! `src/bin/worker.rs` as `interlab-worker_loader.js`) and exchanges messages with it: JSON
//! text for the small control fields, and, for checkpoints and run bundles, the bytes beside
//! it as a `Uint8Array` whose buffer is *transferred* (moved to the other thread, not copied
//! or encoded). On the wire a message is either a string, or `[string, Uint8Array]`.
//!
//! Why not `gloo-worker`: it owns both ends (its own registrar, codec and loader script), where
//! this worker is a plain Trunk `data-type="worker"` binary speaking `engine::messages`; so the
//! worker and its transfer list stay web-sys. The listeners are `gloo-events`.

use gloo_events::EventListener;
use wasm_bindgen::{JsCast, JsValue};

/// One message as it crosses: its JSON text and, for bulk data, bytes.
pub type Wire = (String, Option<Vec<u8>>);

/// The page's handle on a running worker. Dropping it terminates the worker.
pub struct WorkerHandle {
    worker: web_sys::Worker,
    _on_message: EventListener,
    _on_error: EventListener,
}

/// The JS value for `(text, bytes)` and its transfer list (the bytes' buffer, if any).
fn encode(text: &str, bytes: Option<&[u8]>) -> (JsValue, js_sys::Array) {
    let transfer = js_sys::Array::new();
    let Some(bytes) = bytes else { return (JsValue::from_str(text), transfer) };
    // One copy out of wasm memory into a fresh buffer, which is then moved to the other thread.
    let array = js_sys::Uint8Array::from(bytes);
    transfer.push(&array.buffer());
    (js_sys::Array::of2(&JsValue::from_str(text), &array).into(), transfer)
}

/// The `(text, bytes)` inside a message event; None for anything else.
fn decode(ev: &web_sys::Event) -> Option<Wire> {
    let data = ev.dyn_ref::<web_sys::MessageEvent>()?.data();
    if let Some(text) = data.as_string() {
        return Some((text, None));
    }
    let parts = data.dyn_into::<js_sys::Array>().ok()?;
    let text = parts.get(0).as_string()?;
    let bytes = parts.get(1).dyn_into::<js_sys::Uint8Array>().ok()?.to_vec();
    Some((text, Some(bytes)))
}

impl WorkerHandle {
    /// Start the worker script at `url`; `on_message` gets each message, `on_error` a
    /// description when the script fails to load or throws.
    pub fn spawn(
        url: &str,
        mut on_message: impl FnMut(Wire) + 'static,
        mut on_error: impl FnMut(String) + 'static,
    ) -> Result<Self, String> {
        let worker =
            web_sys::Worker::new(url).map_err(|e| format!("could not start the worker {url}: {e:?}"))?;
        let on_message = EventListener::new(&worker, "message", move |ev| {
            if let Some(wire) = decode(ev) {
                on_message(wire);
            }
        });
        let on_error = EventListener::new(&worker, "error", move |ev| {
            let detail = ev
                .dyn_ref::<web_sys::ErrorEvent>()
                .map(|e| e.message())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "the worker script failed to load".into());
            on_error(detail);
        });
        Ok(WorkerHandle { worker, _on_message: on_message, _on_error: on_error })
    }

    /// Send `text`, and `bytes` as a transferred buffer when given.
    pub fn post(&self, text: &str, bytes: Option<&[u8]>) -> Result<(), String> {
        let (data, transfer) = encode(text, bytes);
        self.worker
            .post_message_with_transfer(&data, &transfer)
            .map_err(|e| format!("postMessage to the worker failed: {e:?}"))
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

fn worker_scope() -> Result<web_sys::DedicatedWorkerGlobalScope, String> {
    js_sys::global()
        .dyn_into::<web_sys::DedicatedWorkerGlobalScope>()
        .map_err(|_| "not running inside a dedicated worker".to_string())
}

/// Inside the worker: call `f` with every message from the page, for the worker's life.
pub fn on_message_in_worker(mut f: impl FnMut(Wire) + 'static) -> Result<(), String> {
    let scope = worker_scope()?;
    EventListener::new(&scope, "message", move |ev| {
        if let Some(wire) = decode(ev) {
            f(wire);
        }
    })
    // The handler lives as long as the worker.
    .forget();
    Ok(())
}

/// Inside the worker: send `text` to the page, and `bytes` as a transferred buffer when given.
pub fn post_to_page(text: &str, bytes: Option<&[u8]>) -> Result<(), String> {
    let (data, transfer) = encode(text, bytes);
    worker_scope()?
        .post_message_with_transfer(&data, &transfer)
        .map_err(|e| format!("postMessage to the page failed: {e:?}"))
}
