//! Durable storage for the study pages: IndexedDB as an append-only store of text rows keyed
//! by strings (`put` resolves only once its transaction has committed, so a caller that
//! awaits it knows the row survives a reload), read back by key prefix in key order; and
//! `localStorage` for small values (a participant id, the one-tab lock). Every failure —
//! a private window, storage denied, a quota — becomes a `String` the page shows.
//!
//! Why web-sys and not gloo here: gloo has no IndexedDB module, and `gloo-storage` throws a
//! JS exception (`expect_throw`) when storage is denied and stores every value JSON-encoded,
//! where these helpers must degrade to `None` / `false` and keep the stored text as it was.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbKeyRange, IdbRequest, IdbTransaction, IdbTransactionMode};

const STORE: &str = "rows";

fn js_err(what: &str, e: JsValue) -> String {
    let text = e
        .dyn_ref::<js_sys::Error>()
        .map(|x| String::from(x.message()))
        .or_else(|| e.dyn_ref::<web_sys::DomException>().map(|x| x.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    format!("{what}: {text}")
}

/// A one-shot signal from two JS callbacks (success / failure), whichever fires first.
fn pair() -> (JsValue, JsValue, oneshot::Receiver<bool>) {
    let (tx, rx) = oneshot::channel::<bool>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let (a, b) = (tx.clone(), tx);
    let ok = Closure::once_into_js(move |_: web_sys::Event| {
        if let Some(t) = a.borrow_mut().take() {
            let _ = t.send(true);
        }
    });
    let bad = Closure::once_into_js(move |_: web_sys::Event| {
        if let Some(t) = b.borrow_mut().take() {
            let _ = t.send(false);
        }
    });
    (ok, bad, rx)
}

async fn request(req: &IdbRequest, what: &str) -> Result<JsValue, String> {
    let (ok, bad, rx) = pair();
    req.set_onsuccess(Some(ok.unchecked_ref()));
    req.set_onerror(Some(bad.unchecked_ref()));
    match rx.await {
        Ok(true) => req.result().map_err(|e| js_err(what, e)),
        _ => Err(format!(
            "{what}: {}",
            req.error().ok().flatten().map(|d| d.message()).unwrap_or_else(|| "failed".into())
        )),
    }
}

async fn committed(tx: &IdbTransaction, what: &str) -> Result<(), String> {
    let (ok, bad, rx) = pair();
    tx.set_oncomplete(Some(ok.unchecked_ref()));
    tx.set_onerror(Some(bad.unchecked_ref()));
    tx.set_onabort(Some(bad.unchecked_ref()));
    match rx.await {
        Ok(true) => Ok(()),
        _ => Err(format!(
            "{what}: {}",
            tx.error().map(|d| d.message()).unwrap_or_else(|| "the transaction was aborted".into())
        )),
    }
}

/// An open IndexedDB database with one store of text rows.
pub struct Db {
    db: IdbDatabase,
}

impl Db {
    /// Open (creating if needed) database `name`, then prove a write and a read work.
    pub async fn open(name: &str) -> Result<Db, String> {
        let window = web_sys::window().ok_or("no window")?;
        let factory = window
            .indexed_db()
            .map_err(|e| js_err("IndexedDB", e))?
            .ok_or("IndexedDB is not available in this browser")?;
        let open = factory.open_with_u32(name, 1).map_err(|e| js_err("opening IndexedDB", e))?;
        let req = open.clone();
        let upgrade = Closure::once_into_js(move |_: web_sys::Event| {
            if let Ok(db) = req.result().map(|r| r.unchecked_into::<IdbDatabase>()) {
                let _ = db.create_object_store(STORE);
            }
        });
        open.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
        let db: IdbDatabase = request(&open, "opening IndexedDB").await?.unchecked_into();
        let db = Db { db };
        db.put("~probe", "ok").await?;
        if db.rows("~probe").await?.first().map(String::as_str) != Some("ok") {
            return Err("IndexedDB did not return what was written".into());
        }
        Ok(db)
    }

    /// Store `value` under `key`; resolves once the write has committed.
    pub async fn put(&self, key: &str, value: &str) -> Result<(), String> {
        let tx = self
            .db
            .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
            .map_err(|e| js_err("saving", e))?;
        let store = tx.object_store(STORE).map_err(|e| js_err("saving", e))?;
        store
            .put_with_key(&JsValue::from_str(value), &JsValue::from_str(key))
            .map_err(|e| js_err("saving", e))?;
        committed(&tx, "saving").await
    }

    /// Every value whose key starts with `prefix`, in key order.
    pub async fn rows(&self, prefix: &str) -> Result<Vec<String>, String> {
        let tx = self.db.transaction_with_str(STORE).map_err(|e| js_err("reading", e))?;
        let store = tx.object_store(STORE).map_err(|e| js_err("reading", e))?;
        let range =
            IdbKeyRange::bound(&JsValue::from_str(prefix), &JsValue::from_str(&format!("{prefix}\u{ffff}")))
                .map_err(|e| js_err("reading", e))?;
        let req = store.get_all_with_key(&range).map_err(|e| js_err("reading", e))?;
        let all: js_sys::Array =
            request(&req, "reading").await?.dyn_into().map_err(|_| "reading: not a list".to_string())?;
        Ok(all.iter().filter_map(|v| v.as_string()).collect())
    }
}

fn local() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// A `localStorage` value (None when unset or storage is unavailable).
pub fn local_get(key: &str) -> Option<String> {
    local().and_then(|s| s.get_item(key).ok().flatten())
}

/// Set a `localStorage` value; false when storage is unavailable or full.
pub fn local_set(key: &str, value: &str) -> bool {
    local().is_some_and(|s| s.set_item(key, value).is_ok())
}

pub fn local_remove(key: &str) {
    if let Some(s) = local() {
        let _ = s.remove_item(key);
    }
}

/// A `sessionStorage` value, created with `make` when unset (kept across reloads of this
/// tab, not shared with other tabs); None when session storage is unavailable.
pub fn session_value(key: &str, make: impl FnOnce() -> String) -> Option<String> {
    let s = web_sys::window().and_then(|w| w.session_storage().ok().flatten())?;
    if let Some(v) = s.get_item(key).ok().flatten() {
        return Some(v);
    }
    let v = make();
    s.set_item(key, &v).ok()?;
    Some(v)
}

/// Random hex (`bytes` bytes) from the browser's crypto source, for ids only (never for
/// anything an experiment's outcome depends on).
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    let _ = getrandom_03::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
