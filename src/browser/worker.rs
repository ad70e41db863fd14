//! Web Worker glue, both sides. The page spawns the training worker (built by Trunk from
//! `src/bin/worker.rs` as `interlab-worker_loader.js`) and exchanges JSON text with it;
//! inside the worker, the same text travels through the global scope's `postMessage`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The page's handle on a running worker. Dropping it terminates the worker.
pub struct WorkerHandle {
    worker: web_sys::Worker,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl WorkerHandle {
    /// Start the worker script at `url`; `on_message` gets each text message, `on_error` a
    /// description when the script fails to load or throws.
    pub fn spawn(
        url: &str,
        mut on_message: impl FnMut(String) + 'static,
        mut on_error: impl FnMut(String) + 'static,
    ) -> Result<Self, String> {
        let worker =
            web_sys::Worker::new(url).map_err(|e| format!("could not start the worker {url}: {e:?}"))?;
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(text) = ev.data().as_string() {
                    on_message(text);
                }
            });
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let detail = ev
                .dyn_ref::<web_sys::ErrorEvent>()
                .map(|e| e.message())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "the worker script failed to load".into());
            on_error(detail);
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(WorkerHandle { worker, _on_message: on_message, _on_error: on_error })
    }

    pub fn post(&self, text: &str) -> Result<(), String> {
        self.worker
            .post_message(&JsValue::from_str(text))
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

/// Inside the worker: call `f` with every text message from the page, for the worker's life.
pub fn on_message_in_worker(mut f: impl FnMut(String) + 'static) -> Result<(), String> {
    let scope = worker_scope()?;
    let closure = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        if let Some(text) = ev.data().as_string() {
            f(text);
        }
    });
    scope.set_onmessage(Some(closure.as_ref().unchecked_ref()));
    // The handler lives as long as the worker: hand its ownership to JS.
    closure.forget();
    Ok(())
}

/// Inside the worker: send text to the page.
pub fn post_to_page(text: &str) -> Result<(), String> {
    worker_scope()?
        .post_message(&JsValue::from_str(text))
        .map_err(|e| format!("postMessage to the page failed: {e:?}"))
}
