//! The training worker: owns the `Session` and trains it in chunks off the page's main
//! thread, so a slow step never freezes the UI. Speaks `engine::messages` as JSON text.
//! Uses `engine` and `browser`; imported by nothing (its entry is `src/bin/worker.rs`).

use std::cell::RefCell;

use crate::browser;
use crate::engine::messages::{FromWorker, ToWorker};
use crate::engine::{RunState, Session, Trainer};

/// Work per chunk before the worker yields (to read messages) and reports.
const CHUNK_MS: f64 = 50.0;

#[derive(Default)]
struct State {
    run: u64,
    session: Option<Session>,
    running: bool,
    loop_active: bool,
}

impl State {
    /// The state of a run that exists: running, done, or paused.
    fn state(&self) -> RunState {
        if self.running {
            RunState::Running
        } else if self.session.as_ref().is_some_and(Session::is_done) {
            RunState::Done
        } else {
            RunState::Paused
        }
    }
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn post(msg: FromWorker) {
    if let Err(e) = browser::worker::post_to_page(&msg.to_json()) {
        browser::log_error(&e);
    }
}

/// Install the message handler; training starts when the page sends `start`.
pub fn serve() {
    match browser::worker::on_message_in_worker(handle) {
        // Tell the page the handler is in place (run 0 is never a real run).
        Ok(()) => post(FromWorker::state(0, RunState::Idle, None)),
        Err(e) => browser::log_error(&e),
    }
}

fn handle(text: String) {
    let msg = match ToWorker::from_json(&text) {
        Ok(m) => m,
        Err(e) => return post(FromWorker::state(0, RunState::Error, Some(e))),
    };
    let start_loop = STATE.with(|s| {
        let mut s = s.borrow_mut();
        match msg {
            ToWorker::Start { run, config, budget_mib } => {
                s.run = run;
                if budget_mib > 0 {
                    crate::core::config::set_memory_budget(budget_mib << 20);
                }
                match Trainer::new(config) {
                    Ok(t) => {
                        s.session = Some(Session::new(t));
                        s.running = true;
                        post(FromWorker::state(run, RunState::Running, None));
                    }
                    Err(e) => {
                        s.session = None;
                        s.running = false;
                        post(FromWorker::state(run, RunState::Error, Some(format!("could not build the run: {e}"))));
                    }
                }
            }
            ToWorker::Resume { run } if run == s.run && s.session.as_ref().is_some_and(|x| !x.is_done()) => {
                s.running = true;
                post(FromWorker::state(run, RunState::Running, None));
            }
            ToWorker::Pause { run } if run == s.run && s.running => {
                // No chunk is in progress while this handler runs, so no step follows.
                s.running = false;
                post(FromWorker::state(run, RunState::Paused, None));
            }
            ToWorker::Export { run } if run == s.run => {
                let state = s.state();
                match s.session.as_ref().map(|x| x.trainer.checkpoint()) {
                    Some(Ok(bytes)) => {
                        let mut m = FromWorker::state(run, state, None);
                        m.checkpoint = Some(crate::core::base64::encode(&bytes));
                        post(m);
                    }
                    Some(Err(e)) => post(FromWorker::state(run, state, Some(format!("could not save the checkpoint: {e}")))),
                    None => {}
                }
            }
            ToWorker::Load { run, checkpoint } => {
                s.run = run;
                s.running = false;
                s.session = None;
                match crate::engine::session::load_checkpoint(&checkpoint) {
                    Ok((session, eval)) => {
                        s.session = Some(session);
                        let mut m = FromWorker::state(run, s.state(), None);
                        m.eval = Some(eval);
                        post(m);
                    }
                    Err(e) => post(FromWorker::state(run, RunState::Error, Some(e))),
                }
            }
            ToWorker::Inspect { run, seed } if run == s.run => {
                let state = s.state();
                match s.session.as_ref().map(|x| crate::engine::inspect::inspect(&x.trainer, seed)) {
                    Some(Ok(v)) => {
                        let mut m = FromWorker::state(run, state, None);
                        m.view = Some(v);
                        post(m);
                    }
                    Some(Err(e)) => post(FromWorker::state(run, state, Some(format!("could not inspect the model: {e}")))),
                    None => {}
                }
            }
            ToWorker::Reset => {
                s.session = None;
                s.running = false;
            }
            _ => {} // a stale run id: ignore
        }
        let start = s.running && !s.loop_active;
        if start {
            s.loop_active = true;
        }
        start
    });
    if start_loop {
        browser::spawn(run_loop());
    }
}

async fn run_loop() {
    loop {
        // Yield first, so queued messages (pause, reset) are handled between chunks.
        browser::yield_now().await;
        let out = STATE.with(|s| {
            let mut s = s.borrow_mut();
            let run = s.run;
            let running = s.running;
            match s.session.as_mut() {
                Some(session) if running => {
                    let deadline = browser::now_ms() + CHUNK_MS;
                    Some((run, session.run_until(deadline, &browser::now_ms)))
                }
                _ => {
                    s.loop_active = false;
                    None
                }
            }
        });
        let Some((run, report)) = out else { return };
        let update = FromWorker::from_report(run, &report);
        let state = update.state;
        post(update);
        if state != RunState::Running {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.running = false;
                s.loop_active = false;
            });
            return;
        }
    }
}
