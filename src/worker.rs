//! The training worker: owns the `Session` and trains it in chunks off the page's main
//! thread, so a slow step never freezes the UI. Speaks `engine::messages` in their wire form
//! (JSON text, with checkpoint bytes beside it as a transferred buffer).
//! Uses `engine` and `browser`; imported by nothing (its entry is `src/bin/worker.rs`).

use std::cell::RefCell;

use std::sync::Arc;

use crate::browser;
use crate::engine::backend::{self, BackendInfo, BackendPref};
use crate::engine::gpu_train::GpuTrainer;
use crate::engine::messages::{FromWorker, ToWorker};
use crate::engine::{RunState, Session, Trainer};
use crate::gpu::GpuContext;

/// Work per chunk before the worker yields (to read messages) and reports.
const CHUNK_MS: f64 = 50.0;

#[derive(Default)]
struct State {
    run: u64,
    session: Option<Session>,
    running: bool,
    loop_active: bool,
    /// A `Start` is deciding its backend: training begins when it is done.
    choosing: bool,
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
    let (text, bytes) = msg.into_wire();
    if let Err(e) = browser::worker::post_to_page(&text, bytes.as_deref()) {
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

fn handle(wire: browser::worker::Wire) {
    let msg = match ToWorker::from_wire(wire) {
        Ok(m) => m,
        Err(e) => return post(FromWorker::state(0, RunState::Error, Some(e))),
    };
    let start_loop = STATE.with(|s| {
        let mut s = s.borrow_mut();
        match msg {
            ToWorker::Start { run, config, env } => {
                s.run = run;
                match Trainer::with_env(config, env) {
                    Ok(t) => {
                        s.session = Some(Session::new(t));
                        s.running = true;
                        s.choosing = true;
                        post(FromWorker::state(run, RunState::Running, None));
                        // The backend is decided (and a GPU engine built) before training starts.
                        browser::spawn(choose_backend(run, env.backend));
                    }
                    Err(e) => {
                        s.session = None;
                        s.running = false;
                        post(FromWorker::state(
                            run,
                            RunState::Error,
                            Some(format!("could not build the run: {e}")),
                        ));
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
            ToWorker::Export { run, bundle } if run == s.run && s.session.is_some() => {
                browser::spawn(after_catch_up(run, move |m, session| {
                    let bytes = match &bundle {
                        Some(b) => crate::engine::bundle::write(&session.trainer, &b.metrics_csv, &b.link),
                        None => session.trainer.checkpoint().map_err(|e| e.to_string()),
                    };
                    match bytes {
                        Ok(bytes) => m.checkpoint = Some(bytes),
                        Err(e) => m.error = Some(format!("could not save the run: {e}")),
                    }
                }));
            }
            ToWorker::Load { run, checkpoint } => {
                s.run = run;
                s.choosing = false; // a loaded run trains on the CPU
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
            ToWorker::Inspect { run, seed } if run == s.run && s.session.is_some() => {
                browser::spawn(after_catch_up(run, move |m, session| match crate::engine::inspect::inspect(
                    &session.trainer,
                    seed,
                ) {
                    Ok(v) => m.view = Some(v),
                    Err(e) => m.error = Some(format!("could not inspect the model: {e}")),
                }));
            }
            ToWorker::Steer { run, request } if run == s.run && s.session.is_some() => {
                browser::spawn(after_catch_up(run, move |m, session| {
                    let state = m.state;
                    let mut progress = |p: crate::engine::steering::SteerProgress| {
                        let mut u = FromWorker::state(run, state, None);
                        u.steer_progress = Some(p);
                        post(u);
                    };
                    m.steer = Some(crate::engine::steering::handle(
                        &session.trainer,
                        &request,
                        &browser::now_ms,
                        &mut progress,
                    ));
                }));
            }
            ToWorker::Reset => {
                s.session = None;
                s.running = false;
                s.run = 0; // a backend choice under way for the old run must not revive it
                s.choosing = false;
            }
            _ => {} // a stale run id: ignore
        }
        let start = s.running && !s.loop_active && !s.choosing;
        if start {
            s.loop_active = true;
        }
        start
    });
    if start_loop {
        browser::spawn(run_loop());
    }
}

/// Once the CPU copy of the weights is current (a paused GPU run syncs them back first,
/// yielding meanwhile), let `fill` answer with them and post the reply, with any steps the sync
/// delivered.
async fn after_catch_up(run: u64, fill: impl FnOnce(&mut FromWorker, &Session) + 'static) {
    let mut report = crate::engine::ChunkReport::default();
    loop {
        let ready = STATE.with(|s| {
            let mut s = s.borrow_mut();
            if s.run != run {
                return None;
            }
            // While training, the last synced weights (at most `SYNC_EVERY` steps old) serve.
            let running = s.running;
            let session = s.session.as_mut()?;
            Some(if running { Ok(true) } else { session.catch_up(&mut report) })
        });
        match ready {
            None => return, // the run was replaced or is deciding its backend
            Some(Ok(true)) => break,
            Some(Ok(false)) => browser::yield_now().await,
            Some(Err(e)) => report.error = Some(e),
        }
        if report.error.is_some() {
            break;
        }
    }
    STATE.with(|s| {
        let s = s.borrow();
        let Some(session) = s.session.as_ref() else { return };
        let mut m = FromWorker::from_report(run, &report);
        m.state = s.state();
        m.error = report.error.clone();
        if m.error.is_none() {
            fill(&mut m, session);
        }
        post(m);
    });
}

thread_local! {
    /// The worker's GPU device, requested at the first GPU run and kept for the next ones
    /// (dropped after a device loss).
    static GPU: RefCell<Option<Arc<GpuContext>>> = const { RefCell::new(None) };
}

// `GpuTrainer` takes an `Arc` because native runs share the context across threads; the
// worker is single-threaded, where wgpu's WebGPU types are neither `Send` nor `Sync`.
#[allow(clippy::arc_with_non_send_sync)]
async fn gpu_context() -> Result<Arc<GpuContext>, String> {
    if let Some(ctx) = GPU.with(|g| g.borrow().clone()) {
        return Ok(ctx);
    }
    if !browser::has_webgpu_api() {
        return Err("this browser exposes no WebGPU to workers".into());
    }
    // wgpu's handles are not Send on wasm32 (one thread here); `Arc` is what the GPU engine's
    // API takes, so the lint's advice (use `Rc`) does not apply.
    #[allow(clippy::arc_with_non_send_sync)]
    let ctx = Arc::new(GpuContext::request().await.map_err(|e| e.to_string())?);
    GPU.with(|g| *g.borrow_mut() = Some(ctx.clone()));
    Ok(ctx)
}

/// Decide run `run`'s backend (building its GPU engine if the GPU wins), report it, and let
/// the training loop start.
async fn choose_backend(run: u64, pref: BackendPref) {
    // The session leaves the state while the engine is built (that takes awaits).
    let Some(mut session) = STATE.with(|s| s.borrow_mut().session.take()) else { return };
    let cfg = session.trainer.cfg.clone();
    let info = if pref == BackendPref::Cpu || backend::unsupported(&cfg).is_some() {
        let dims = crate::engine::plan::dims_of(&session.trainer.task.shape());
        let c = backend::choose(pref, &cfg, dims, None);
        let reason = backend::unsupported(&cfg).map(|w| format!("CPU: {w}")).unwrap_or(c.reason);
        BackendInfo { gpu: false, adapter: None, reason }
    } else {
        match gpu_context().await {
            Err(e) => {
                BackendInfo { gpu: false, adapter: None, reason: format!("CPU: no WebGPU device ({e})") }
            }
            Ok(ctx) => {
                let dims = crate::engine::plan::dims_of(&session.trainer.task.shape());
                let c = backend::choose(pref, &cfg, dims, Some(&ctx.summary));
                if !c.gpu {
                    BackendInfo { gpu: false, adapter: None, reason: c.reason }
                } else {
                    match GpuTrainer::new(ctx.clone(), &session.trainer).await {
                        Ok(g) => {
                            session.attach_gpu(g);
                            BackendInfo {
                                gpu: true,
                                adapter: Some(ctx.summary.name.clone()),
                                reason: c.reason,
                            }
                        }
                        Err(e) => BackendInfo {
                            gpu: false,
                            adapter: None,
                            reason: format!("CPU: the GPU engine could not be built: {e}"),
                        },
                    }
                }
            }
        }
    };
    let start = STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.run != run {
            return false; // replaced meanwhile
        }
        s.session = Some(session);
        s.choosing = false;
        let mut m = FromWorker::state(run, s.state(), None);
        m.backend = Some(info);
        post(m);
        let start = s.running && !s.loop_active;
        if start {
            s.loop_active = true;
        }
        start
    });
    if start {
        run_loop().await;
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
        if report.fell_back.is_some() {
            GPU.with(|g| *g.borrow_mut() = None); // a lost device is not reused
        }
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
