//! Why: the native CLI is how results are reproduced outside the tab. A config file run twice
//! must give byte-identical outputs; its metrics must equal the library's for the same
//! config; its checkpoint must evaluate to the same numbers; bad files must be named. Every
//! command must refuse a misspelt flag or a malformed `key=value` pair with exit 2 and a
//! message naming it, rather than run with the input silently dropped.

use std::process::Command;

use interlab::core::TrainConfig;
use interlab::engine::Trainer;

const CONFIG: &str = r#"{"task": "shift", "task_params": {"seq_len": 16, "vocab": 8, "channels": 2, "max_shift": 2},
 "layers": 1, "heads": 2, "d_model": 16, "batch": 8, "steps": 60, "warmup": 5, "seed": 4}"#;

fn run(args: &[&str]) -> (bool, String) {
    let (code, stdout, stderr) = run_split(args);
    (code == 0, format!("{stdout}{stderr}"))
}

/// Exit code, stdout, stderr. `INTERLAB_BIN` overrides the binary: worktrees that share one
/// `CARGO_TARGET_DIR` also share `target/debug/interlab`, which the last build wins.
fn run_split(args: &[&str]) -> (i32, String, String) {
    let exe = std::env::var("INTERLAB_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_interlab").to_string());
    let out = Command::new(exe).args(args).output().unwrap();
    (
        out.status.code().expect("killed by a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
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
        let (code, stdout, stderr) = run_split(&[
            "train",
            "--config",
            cfg_path.to_str().unwrap(),
            "--eval-every",
            "20",
            "--out",
            o.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        // The result on stdout, the progress (one line per evaluation) on stderr.
        assert!(stdout.starts_with("done: 60 steps") && stdout.lines().count() == 1, "{stdout}");
        assert_eq!(stderr.lines().filter(|l| l.starts_with("step ")).count(), 3, "{stderr}");
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
    // A config the library refuses is a usage error (exit 2), like a bad flag.
    let (code, _, log) = run_split(&["train", "--config", bad.to_str().unwrap()]);
    assert!(code == 2 && log.contains("unknown field `dmodel`") && log.contains("line 3"), "{log}");
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    let (ok, log) = run(&["eval", "--checkpoint", junk.to_str().unwrap()]);
    assert!(!ok && log.contains("not a safetensors file"), "{log}");
    let (code, _, log) = run_split(&["train", "model=mamba"]);
    assert!(code == 2 && log.contains("unknown model 'mamba'"), "{log}");
    let (code, _, log) = run_split(&["train", "mixers=attn,static,attn", "layers=2"]);
    assert!(code == 2 && log.contains("3 mixers listed for 2 layers"), "{log}");
    // A missing input file is named and refused before anything runs.
    let missing = dir.join("missing.json");
    let (code, _, log) = run_split(&["train", "--config", missing.to_str().unwrap()]);
    assert!(code == 2 && log.contains("missing.json"), "{log}");
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

/// Every command and subcommand, with the arguments it needs to get past parsing (any
/// existing file stands in for an input file: usage errors come before files are read).
fn every_command() -> Vec<Vec<String>> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    // `--config` is read before the pairs are checked against it, so it must be a valid one.
    let dir = tmp("every");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.to_str().unwrap();
    let cmds: &[&[&str]] = &[
        &["train"],
        &["train", "--config", config],
        &["train", "--from", file],
        &["train", "--preset", "dlr-shift"],
        &["train", "--experiment", file],
        &["eval", "--checkpoint", file],
        &["bundle", "--file", file],
        &["bench"],
        &["tasks", "list"],
        &["tasks", "sample", "shift"],
        &["tasks", "bench"],
        &["tasks", "survey"],
        &["gpu-check"],
        &["gpu-bench"],
        &["steer", "flagship"],
        &["steer", "run", "--checkpoint", file],
        &["study", "validate", file],
        &["study", "simulate", file],
        &["study", "analyze", file],
    ];
    cmds.iter().map(|c| c.iter().map(|s| s.to_string()).collect()).collect()
}

#[test]
fn every_command_refuses_misspelt_flags_and_malformed_pairs_with_exit_2() {
    // (extra arguments, what stderr must name)
    let bad: &[(&[&str], &str)] = &[
        (&["--stepz", "5"], "--stepz"),
        (&["--stepz", "5", "steps=3"], "--stepz"),
        (&["steps"], "'steps'"),
        (&["steps=abc"], "steps"),
        (&["bogus=1"], "bogus"),
    ];
    for cmd in every_command() {
        for (extra, named) in bad {
            let mut args: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
            args.extend_from_slice(extra);
            let (code, stdout, stderr) = run_split(&args);
            assert_eq!(code, 2, "interlab {}: exit {code}\n{stdout}{stderr}", args.join(" "));
            assert!(
                stderr.contains(named),
                "interlab {}: stderr does not name {named}:\n{stderr}",
                args.join(" ")
            );
            assert!(
                stdout.is_empty(),
                "interlab {}: usage errors print nothing on stdout:\n{stdout}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn the_schedule_is_steps_pairs_only_and_flags_are_not_swallowed() {
    // `--steps` is not a flag of train (the schedule is `steps=N`), nor of bench (which times
    // `--timed-steps N`): both are refused rather than ignored.
    for cmd in [&["train"][..], &["bench"], &["tasks", "survey"], &["steer", "flagship"]] {
        let mut args = cmd.to_vec();
        args.extend(["--steps", "500"]);
        let (code, _, stderr) = run_split(&args);
        assert!(code == 2 && stderr.contains("--steps"), "{args:?}: {stderr}");
    }
    // Link keys that are not a run's are refused too, naming the flag to use.
    let (code, _, stderr) = run_split(&["train", "backend=gpu"]);
    assert!(code == 2 && stderr.contains("backend=gpu") && stderr.contains("--backend"), "{stderr}");
    let (code, _, stderr) = run_split(&["bench", "--backend", "tpu"]);
    assert!(code == 2 && stderr.contains("tpu"), "{stderr}");
    let (code, _, stderr) = run_split(&["bench", "--timed-steps", "0"]);
    assert!(code == 2 && stderr.contains("--timed-steps"), "{stderr}");
    // The options of one run conflict with a preset's, rather than being dropped.
    let (code, _, stderr) = run_split(&["train", "--preset", "x", "seed=3"]);
    assert!(code == 2 && stderr.contains("--preset"), "{stderr}");
    let (code, _, stderr) = run_split(&["train", "--preset", "no-such-preset"]);
    assert!(code == 2 && stderr.contains("no-such-preset"), "{stderr}");
    // No command at all, or an unknown one.
    assert_eq!(run_split(&[]).0, 2);
    let (code, _, stderr) = run_split(&["trian"]);
    assert!(code == 2 && stderr.contains("trian"), "{stderr}");
}

#[test]
fn help_exits_0_for_every_command_and_version_prints_the_crate_version() {
    let paths: Vec<Vec<&str>> = [
        "",
        "train",
        "eval",
        "bundle",
        "bench",
        "tasks",
        "tasks list",
        "tasks sample",
        "tasks bench",
        "tasks survey",
        "gpu-check",
        "gpu-bench",
        "steer",
        "steer flagship",
        "steer run",
        "study",
        "study validate",
        "study simulate",
        "study analyze",
    ]
    .iter()
    .map(|p| p.split_whitespace().collect())
    .collect();
    // Every command of `every_command` has its help checked.
    for cmd in every_command() {
        assert!(paths
            .iter()
            .any(|p| cmd.starts_with(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()) && !p.is_empty()));
    }
    for path in &paths {
        let mut args = path.clone();
        args.push("--help");
        let (code, stdout, stderr) = run_split(&args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let usage = format!("Usage: interlab {}", path.join(" "));
        assert!(stdout.contains(usage.trim_end()), "{args:?}: no '{usage}' in\n{stdout}");
    }
    // The top-level help lists every command and the exit codes.
    let (_, top, _) = run_split(&["--help"]);
    for name in
        ["train", "eval", "bundle", "bench", "tasks", "steer", "study", "gpu-check", "gpu-bench", "exit code"]
    {
        assert!(top.contains(name), "--help does not mention {name}:\n{top}");
    }
    let (code, stdout, _) = run_split(&["--version"]);
    assert_eq!((code, stdout.trim()), (0, format!("interlab {}", env!("CARGO_PKG_VERSION")).as_str()));
}
