//! Sending the event log to the protocol's `endpoint` (off unless the protocol names one).
//!
//! The log is the truth and lives in the tab; the endpoint gets copies. Each POST carries the
//! events from the first one the endpoint has not confirmed (`acked`), as JSON:
//! `{"schema": 1, "study_id", "participant", "session", "first_seq", "events": [EventRow]}`.
//! A 2xx answer confirms them all. Sequence numbers make it idempotent: an endpoint keeps
//! one copy per `(participant, seq)`, so a batch resent after a lost answer or a reload
//! changes nothing. A failed POST is retried `retries` times with doubling delays
//! (`backoff_ms`); after that the upload waits for the next event (or the completion) and
//! starts again from `acked`. The tab's own copy and downloads never depend on it.

use serde_json::json;

use super::events::EventRow;

/// At most this many events per POST (a long study sends in several).
pub const MAX_BATCH: usize = 500;

/// One POST: the events `first_seq..end_seq` as the request body.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub first_seq: u64,
    pub end_seq: u64,
    pub body: String,
}

/// The next batch after `acked` events were confirmed (`None` when all are).
pub fn next_batch(rows: &[EventRow], acked: u64, max: usize) -> Option<Batch> {
    let pending: Vec<&EventRow> = rows.iter().filter(|r| r.seq >= acked).take(max.max(1)).collect();
    let first = pending.first()?;
    let body = json!({
        "schema": 1,
        "study_id": first.study_id,
        "participant": first.participant,
        "session": first.session,
        "first_seq": first.seq,
        "events": pending,
    });
    Some(Batch {
        first_seq: first.seq,
        end_seq: pending.last().map_or(first.seq, |r| r.seq) + 1,
        body: body.to_string(),
    })
}

/// Delay before retry `attempt` (1-based): 500 ms doubling, at most 8 s.
pub fn backoff_ms(attempt: u32) -> u64 {
    500u64.saturating_mul(1 << attempt.saturating_sub(1).min(4))
}

/// What an endpoint does with the batches it receives: keep one event per sequence number.
/// (The reference for endpoint writers, and what the tests check uploads against.)
pub fn merge(store: &mut std::collections::BTreeMap<u64, EventRow>, body: &str) -> Result<usize, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("upload body: {e}"))?;
    let events = v.get("events").and_then(|e| e.as_array()).ok_or("upload body: no 'events' list")?;
    let mut added = 0;
    for e in events {
        let row: EventRow =
            serde_json::from_value(e.clone()).map_err(|e| format!("upload body: event: {e}"))?;
        if store.insert(row.seq, row).is_none() {
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::events::{Context, Event, EventKind, Stamper};

    fn rows(n: usize) -> Vec<EventRow> {
        let mut st = Stamper::new(Context {
            study_id: "s".into(),
            participant: "p".into(),
            session: "x".into(),
            condition: "c=a".into(),
            backend: "cpu".into(),
            model_hash: String::new(),
        });
        (0..n).map(|i| st.stamp(Event::new(EventKind::Focus, None, i as u64 * 10))).collect()
    }

    #[test]
    fn batches_start_at_the_first_unconfirmed_event_and_resending_changes_nothing() {
        let log = rows(7);
        let b = next_batch(&log, 0, 3).unwrap();
        assert_eq!((b.first_seq, b.end_seq), (0, 3));
        let b2 = next_batch(&log, 3, 3).unwrap();
        assert_eq!((b2.first_seq, b2.end_seq), (3, 6));
        assert_eq!(next_batch(&log, 6, 3).unwrap().end_seq, 7);
        assert!(next_batch(&log, 7, 3).is_none());
        let mut store = std::collections::BTreeMap::new();
        assert_eq!(merge(&mut store, &b.body).unwrap(), 3);
        assert_eq!(merge(&mut store, &b.body).unwrap(), 0, "a resent batch adds nothing");
        // A lost answer: the client resends from its last confirmed event, overlapping.
        merge(&mut store, &next_batch(&log, 1, 10).unwrap().body).unwrap();
        assert_eq!(store.values().cloned().collect::<Vec<_>>(), log);
        let v: serde_json::Value = serde_json::from_str(&b2.body).unwrap();
        assert_eq!(
            (v["participant"].as_str(), v["first_seq"].as_u64(), v["events"].as_array().map(Vec::len)),
            (Some("p"), Some(3), Some(3))
        );
        assert!(merge(&mut store, "{}").unwrap_err().contains("'events'"));
    }

    #[test]
    fn retries_back_off_doubling_to_a_cap() {
        assert_eq!(
            (1..=7).map(backoff_ms).collect::<Vec<_>>(),
            vec![500, 1000, 2000, 4000, 8000, 8000, 8000]
        );
    }
}
