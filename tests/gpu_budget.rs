//! Why: the GPU engine exists to train what the CPU path cannot hold — a DLR's CPU training
//! path stores a `[d, l, l]` Toeplitz stack, the GPU's scan only `O(b·l·d)`. A run sent to
//! the GPU (`backend=gpu`) must therefore not be refused by the CPU's memory budget, must
//! train and evaluate entirely on the GPU, and, if the device is lost, must stop with a clear
//! message instead of continuing on a CPU that cannot hold it. The budget and the backend
//! preference are the run's environment (`RunEnv`), passed as a value.

mod common;

use std::sync::Arc;

use interlab::core::TrainConfig;
use interlab::engine::gpu_train::GpuTrainer;
use interlab::engine::{plan, BackendPref, RunEnv, Session, Trainer};

#[test]
fn a_gpu_run_over_the_cpu_budget_trains_and_evaluates_on_the_gpu_only() {
    let Some(ctx) = common::gpu_context() else { return };
    let ctx = Arc::new(ctx);
    let cpu = RunEnv::default().with_budget_mib(64).with_backend(BackendPref::Cpu);
    let gpu = cpu.with_backend(BackendPref::Gpu);
    let cfg = TrainConfig {
        model: "dlr".into(),
        layers: 1,
        d_model: 16,
        state: 4,
        batch: 2,
        steps: 4,
        warmup: 1,
        ..TrainConfig::default()
    }
    .with_task("shift", &[("seq_len", "1024"), ("vocab", "8"), ("max_shift", "4"), ("channels", "1")]);
    let e = plan(&cfg, &cpu).err().expect("over the CPU budget").to_string();
    assert!(e.contains("budget"), "{e}");
    plan(&cfg, &gpu).expect("a GPU run is not held to the CPU budget");
    // The same run in the default environment (512 MiB) fits the CPU: the budget is the env's.
    plan(&cfg, &RunEnv::default()).expect("fits the default budget");
    let build = |lose: Option<usize>| {
        let env = RunEnv { lose_gpu_at: lose, ..gpu };
        let mut s = Session::new(Trainer::with_env(cfg.clone(), env).unwrap());
        s.eval_every = 2;
        let ctx = if lose.is_some() {
            Arc::new(pollster::block_on(interlab::gpu::GpuContext::request()).unwrap())
        } else {
            ctx.clone()
        };
        s.attach_gpu(pollster::block_on(GpuTrainer::new(ctx, &s.trainer)).unwrap());
        s
    };
    let mut s = build(None);
    let (mut steps, mut evals) = (Vec::new(), Vec::new());
    while !s.is_done() {
        let r = s.run_blocking(f64::NEG_INFINITY, &|| 0.0);
        assert!(r.error.is_none() && r.fell_back.is_none(), "{r:?}");
        steps.extend(r.steps.iter().map(|x| x.step));
        evals.extend(r.eval.map(|(k, e)| (k, e.accuracy.unwrap())));
    }
    assert_eq!(steps, vec![1, 2, 3, 4]);
    assert_eq!(evals.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 4]);
    assert!(evals.iter().all(|e| (0.0..=1.0).contains(&e.1)));
    let mut r = Default::default();
    assert!(s.catch_up(&mut r).unwrap(), "the CPU copy is current after the last sync");
    assert_eq!(s.trainer.step_count(), 4);
    // The checkpoint records where the weights were trained.
    let meta = interlab::model::checkpoint::metadata(&s.trainer.checkpoint().unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&meta["interlab"]).unwrap();
    assert!(v["backend"].as_str().unwrap().starts_with("gpu (Vulkan"), "{v}");
    // A lost device: the run stops, naming why, instead of training on a CPU that cannot hold it.
    let mut s = build(Some(3));
    let err = loop {
        let r = s.run_blocking(f64::NEG_INFINITY, &|| 0.0);
        if let Some(e) = r.error {
            break e;
        }
        assert!(!r.done, "the run cannot finish after the loss");
    };
    assert!(
        err.contains("destroyed")
            && err.contains("cannot continue on the CPU")
            && err.contains("weights of step 2 are kept"),
        "{err}"
    );
}
