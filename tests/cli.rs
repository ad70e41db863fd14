//! Why: the native CLI is how results are reproduced outside the tab. A config file run twice
//! must give byte-identical outputs; its metrics must equal the library's for the same
//! config; its checkpoint must evaluate to the same numbers; bad files must be named.

use std::process::Command;

use interlab::core::TrainConfig;
use interlab::engine::Trainer;

const CONFIG: &str = r#"{"task": "shift", "task_params": {"seq_len": 16, "vocab": 8, "channels": 2, "max_shift": 2},
 "layers": 1, "heads": 2, "d_model": 16, "batch": 8, "steps": 60, "warmup": 5, "seed": 4}"#;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_interlab")).args(args).output().unwrap();
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("interlab-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn config_file_runs_are_identical_and_match_the_library() {
    let dir = tmp("cfg");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg_path = dir.join("config.json");
    std::fs::write(&cfg_path, CONFIG).unwrap();
    let outs: Vec<_> = (0..2).map(|i| dir.join(format!("out{i}"))).collect();
    for o in &outs {
        let (ok, log) = run(&[
            "train",
            "--config",
            cfg_path.to_str().unwrap(),
            "--eval-every",
            "20",
            "--out",
            o.to_str().unwrap(),
        ]);
        assert!(ok, "{log}");
    }
    for f in ["metrics.csv", "weights.safetensors", "config.json"] {
        assert_eq!(
            std::fs::read(outs[0].join(f)).unwrap(),
            std::fs::read(outs[1].join(f)).unwrap(),
            "{f} differs between two runs"
        );
    }
    // The library, same config: the same loss at every logged step, bit for bit.
    let csv = std::fs::read_to_string(outs[0].join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,loss,accuracy,lr,heldout_loss,heldout_accuracy,heldout_exact_match,heldout_mse"
    );
    let logged: Vec<(usize, f64)> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].parse().unwrap(), c[1].parse().unwrap())
        })
        .collect();
    assert_eq!(logged.iter().map(|x| x.0).collect::<Vec<_>>(), vec![20, 40, 60]);
    let mut t = Trainer::new(TrainConfig::from_json(CONFIG).unwrap()).unwrap();
    let losses: Vec<f64> = (0..60).map(|_| t.step().unwrap().loss).collect();
    for (step, loss) in logged {
        assert_eq!(
            loss.to_bits(),
            losses[step - 1].to_bits(),
            "step {step}: CLI {loss} vs library {}",
            losses[step - 1]
        );
    }
    // The checkpoint evaluates to the library's held-out numbers.
    let (ok, log) = run(&["eval", "--checkpoint", outs[0].join("weights.safetensors").to_str().unwrap()]);
    assert!(ok, "{log}");
    let e = t.evaluate().unwrap();
    assert!(log.contains(&format!("heldout_loss {:.4}", e.loss)), "{log} vs {e:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_config_and_checkpoint_files_are_named() {
    let dir = tmp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\n  \"task\": \"shift\",\n  \"dmodel\": 16\n}").unwrap();
    let (ok, log) = run(&["train", "--config", bad.to_str().unwrap()]);
    assert!(!ok && log.contains("unknown field `dmodel`") && log.contains("line 3"), "{log}");
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    let (ok, log) = run(&["eval", "--checkpoint", junk.to_str().unwrap()]);
    assert!(!ok && log.contains("not a safetensors file"), "{log}");
    let (ok, log) = run(&["train", "model=mamba"]);
    assert!(!ok && log.contains("unknown model 'mamba'"), "{log}");
    let (ok, log) = run(&["train", "mixers=attn,static,attn", "layers=2"]);
    assert!(!ok && log.contains("3 mixers listed for 2 layers"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn experiment_files_run_every_arm_and_write_the_results_table() {
    use interlab::engine::experiment::Experiment;
    let base = interlab::core::TrainConfig {
        layers: 1,
        heads: 1,
        d_model: 8,
        batch: 4,
        steps: 6,
        warmup: 2,
        ..Default::default()
    }
    .with_task("mqar", &[("vocab", "12"), ("seq_len", "9"), ("kv_pairs", "3")]);
    let exp = Experiment::compare(&base, &["attn", "dlr"]).unwrap();
    let dir = tmp("experiment");
    let file = dir.join("exp.json");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&file, exp.to_json()).unwrap();
    let out_dir = dir.join("out");
    let (ok, text) =
        run(&["train", "--experiment", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
    assert!(ok, "{text}");
    let csv = std::fs::read_to_string(out_dir.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].contains(",transformer,attn,mqar,") && lines[2].contains(",dlr,,mqar,"), "{csv}");
    // The arm's final loss is the library's loss for the same config.
    let mut t = interlab::engine::Trainer::new(exp.arms[1].config.clone()).unwrap();
    let mut loss = 0.0;
    while !t.is_done() {
        loss = t.step().unwrap().loss;
    }
    assert_eq!(lines[2].split(',').nth(7).unwrap().parse::<f64>().unwrap(), loss);
    assert!(out_dir.join("DLR").join("weights.safetensors").exists());

    let mut bad = exp.clone();
    bad.arms[0].config.mixers = "attn,warp".into();
    std::fs::write(&file, bad.to_json()).unwrap();
    let (ok, text) = run(&["train", "--experiment", file.to_str().unwrap()]);
    assert!(!ok && text.contains("arms[0].config") && text.contains("warp"), "{text}");
}
