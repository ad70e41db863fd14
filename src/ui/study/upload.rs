//! The optional copy of the event log sent to the protocol's `endpoint` (`study::upload`
//! holds the batching and retry rules). Runs in the background after each save, one batch at
//! a time; what the endpoint confirmed is remembered in localStorage so a reload resumes
//! from there (a resent batch is harmless: the endpoint keeps one event per sequence
//! number). The completion screen shows its state (`study-upload`, `data-state` =
//! `sending | sent | failed`) with a retry button (`study-upload-retry`).

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;

use super::session::Session;
use crate::browser::{self, storage};
use crate::study::protocol::Endpoint;
use crate::study::upload::{backoff_ms, next_batch, MAX_BATCH};

/// A POST with no answer after this long counts as failed (and is retried).
const POST_TIMEOUT_MS: u32 = 20_000;

#[derive(Clone, Debug, PartialEq)]
pub enum UploadState {
    Sending,
    /// Every event up to this count was confirmed.
    Sent(u64),
    Failed(String),
}

impl UploadState {
    pub fn name(&self) -> &'static str {
        match self {
            UploadState::Sending => "sending",
            UploadState::Sent(_) => "sent",
            UploadState::Failed(_) => "failed",
        }
    }
}

pub struct Uploader {
    endpoint: Endpoint,
    /// localStorage key of the confirmed count.
    key: String,
    acked: Cell<u64>,
    busy: Cell<bool>,
    again: Cell<bool>,
    pub state: RwSignal<UploadState>,
}

impl Uploader {
    pub fn new(endpoint: Endpoint, key: String, rows: u64) -> Self {
        let acked = storage::local_get(&key).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0).min(rows);
        Uploader {
            endpoint,
            key,
            acked: Cell::new(acked),
            busy: Cell::new(false),
            again: Cell::new(false),
            state: RwSignal::new(UploadState::Sending),
        }
    }

    /// Send what the endpoint has not confirmed; a call while sending runs once more after.
    pub fn sync(self: Rc<Self>, s: Rc<Session>) {
        if self.busy.replace(true) {
            self.again.set(true);
            return;
        }
        browser::spawn(async move {
            self.state.set(UploadState::Sending);
            let mut failed = None;
            while let Some(b) = next_batch(&s.rows(), self.acked.get(), MAX_BATCH) {
                let mut attempt = 0;
                let sent = loop {
                    match browser::net::post_json(&self.endpoint.url, &b.body, POST_TIMEOUT_MS).await {
                        Ok(()) => break true,
                        Err(e) if attempt >= self.endpoint.retries => {
                            failed = Some(e);
                            break false;
                        }
                        Err(_) => {
                            attempt += 1;
                            browser::sleep_ms(backoff_ms(attempt) as u32).await;
                        }
                    }
                };
                if !sent {
                    break;
                }
                self.acked.set(b.end_seq);
                storage::local_set(&self.key, &b.end_seq.to_string());
            }
            self.state.set(match failed {
                Some(e) => UploadState::Failed(e),
                None => UploadState::Sent(self.acked.get()),
            });
            self.busy.set(false);
            if self.again.replace(false) {
                self.sync(s);
            }
        });
    }
}
