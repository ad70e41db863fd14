//! Why: a run bundle is how a run leaves the tab and comes back — to a reviewer, to the CLI,
//! or to the same researcher next week. It must carry everything needed to continue the run
//! exactly (weights *and* optimiser state), its curve bit for bit, and its link; a damaged
//! or foreign file must be refused by name.

use std::process::Command;

use interlab::core::TrainConfig;
use interlab::engine::bundle::{self, metrics_csv, parse_metrics};
use interlab::engine::history::History;
use interlab::engine::Trainer;

fn cfg() -> TrainConfig {
    TrainConfig {
        layers: 1,
        heads: 2,
        d_model: 16,
        batch: 8,
        steps: 24,
        warmup: 3,
        seed: 5,
        ..TrainConfig::default()
    }
    .with_task("mqar", &[("vocab", "16"), ("seq_len", "12"), ("kv_pairs", "3")])
}

fn train(t: &mut Trainer, n: usize, h: &mut History) -> Vec<u64> {
    (0..n)
        .map(|_| {
            let s = t.step().unwrap();
            h.loss.push((s.step as f64, s.loss));
            if let Some(a) = s.accuracy {
                h.accuracy.push((s.step as f64, a));
            }
            s.loss.to_bits()
        })
        .collect()
}

#[test]
fn a_bundle_continues_the_run_bit_for_bit_and_keeps_its_curve_and_link() {
    let mut whole = Trainer::new(cfg()).unwrap();
    let mut h_whole = History::default();
    let all = train(&mut whole, 24, &mut h_whole);

    let mut first = Trainer::new(cfg()).unwrap();
    let mut h = History::default();
    let head = train(&mut first, 10, &mut h);
    h.eval_accuracy.push((10.0, first.evaluate().unwrap().accuracy.unwrap()));
    let link = "https://lab.example/?seed=5&task=mqar&v=0.1.0";
    let bytes = bundle::write(&first, &metrics_csv(&h), link).unwrap();
    assert_eq!(
        bytes,
        bundle::write(&first, &metrics_csv(&h), link).unwrap(),
        "the same run writes the same bytes"
    );

    let info = bundle::info(&bytes).unwrap().expect("a bundle");
    let sorted = |mut c: TrainConfig| {
        c.task_params.sort();
        c
    };
    assert_eq!((info.step, info.link.as_str(), sorted(info.config.clone())), (10, link, sorted(cfg())));
    let curve = parse_metrics(&info.metrics_csv, false).unwrap();
    assert_eq!(curve, h, "the curve comes back exactly");

    let mut resumed = bundle::restore(&bytes).unwrap();
    assert_eq!(resumed.step_count(), 10);
    let tail = train(&mut resumed, 14, &mut History::default());
    assert_eq!([head, tail].concat(), all, "continuing from the bundle reproduces the uninterrupted losses");
    assert_eq!(resumed.checkpoint().unwrap(), whole.checkpoint().unwrap(), "and the same final weights");

    // A plain checkpoint restores the weights with fresh moments: the next losses differ.
    let mut plain = bundle::restore(&first.checkpoint().unwrap()).unwrap();
    assert!(bundle::info(&first.checkpoint().unwrap()).unwrap().is_none());
    assert_ne!(train(&mut plain, 14, &mut History::default()), all[10..]);
    // The weights-only readers take a bundle too (the CLI's eval, the steering tools).
    assert_eq!(Trainer::from_checkpoint(&bytes).unwrap().checkpoint().unwrap(), first.checkpoint().unwrap());
}

#[test]
fn metrics_round_trip_exactly_and_bad_rows_are_named() {
    let mut h = History::default();
    let mut x = 0.1f64;
    for s in 1..200 {
        x = (x * 3.7 + 0.123456789).fract() * 10f64.powi((s % 9) - 4);
        h.loss.push((s as f64, x));
        h.eval_mse.push((s as f64, 1.0 / (s as f64 * 7.0)));
    }
    h.loss.push((200.0, f64::NAN));
    h.eval_exact.push((200.0, f64::INFINITY));
    let back = parse_metrics(&metrics_csv(&h), false).unwrap();
    let bits = |v: &Vec<(f64, f64)>| v.iter().map(|p| (p.0.to_bits(), p.1.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&back.loss), bits(&h.loss));
    assert_eq!(bits(&back.eval_mse), bits(&h.eval_mse));
    assert_eq!(bits(&back.eval_exact), bits(&h.eval_exact));
    for (text, want) in [
        ("step,metric\n", "first line"),
        ("step,metric,value\n1,train_loss\n", "line 2: expected step,metric,value"),
        ("step,metric,value\n1,train_loss,0.5\nx,train_loss,1\n", "line 3: step 'x'"),
        ("step,metric,value\n1,loss_of_faith,1\n", "unknown metric 'loss_of_faith'"),
        ("step,metric,value\n1,train_loss,one\n", "value 'one' is not a number"),
    ] {
        let e = parse_metrics(text, false).unwrap_err();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn damaged_or_foreign_bundles_are_refused_by_name() {
    let mut t = Trainer::new(cfg()).unwrap();
    train(&mut t, 2, &mut History::default());
    let good = bundle::write(&t, "step,metric,value\n", "l").unwrap();
    let e = bundle::restore(&good[..good.len() / 2]).err().unwrap();
    assert!(e.contains("safetensors") || e.contains("checkpoint"), "{e}");
    // Another format number.
    let (from, to) = (br#"\"format\":1"#, br#"\"format\":7"#);
    let at = good.windows(from.len()).position(|w| w == from).expect("the format entry");
    let mut other = good.clone();
    other[at..at + from.len()].copy_from_slice(to);
    let e = bundle::info(&other).err().unwrap();
    assert!(e.contains("bundle format 7 is not known"), "{e}");
    // An optimiser tensor missing: rebuild the bundle without one.
    let st = safetensors::SafeTensors::deserialize(&good).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&good).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> =
        st.tensors().into_iter().filter(|(n, _)| n != "optim.v.wte.weight").collect();
    let cut =
        safetensors::serialize(kept.iter().map(|(n, v)| (n.as_str(), v.clone())), meta.metadata().clone())
            .unwrap();
    assert!(bundle::restore(&cut).err().unwrap().contains("tensor 'optim.v.wte.weight' is missing"));
}

#[test]
fn the_cli_reads_a_bundle_and_continues_it() {
    let mut t = Trainer::new(cfg()).unwrap();
    let mut h = History::default();
    train(&mut t, 10, &mut h);
    let dir = std::env::temp_dir().join(format!("interlab-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("run.safetensors");
    std::fs::write(&file, bundle::write(&t, &metrics_csv(&h), "https://lab.example/?seed=5").unwrap())
        .unwrap();
    let exe = env!("CARGO_BIN_EXE_interlab");
    let out = Command::new(exe)
        .args(["bundle", "--file", file.to_str().unwrap(), "--metrics", dir.join("m.csv").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && text.contains("step: 10 of 24")
            && text.contains("link: https://lab.example/?seed=5")
            && text.contains("10 training losses"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(dir.join("m.csv")).unwrap(), metrics_csv(&h));
    let out = Command::new(exe)
        .args(["train", "--from", file.to_str().unwrap(), "--print-every", "1", "--eval-every", "1000"])
        .output()
        .unwrap();
    // Progress lines (`step ...`) go to stderr; the result line to stdout.
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stdout));
    let mut whole = Trainer::new(cfg()).unwrap();
    let all = train(&mut whole, 24, &mut History::default());
    let printed: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("step "))
        .map(|l| l.split_whitespace().nth(3).unwrap().parse().unwrap())
        .collect();
    assert_eq!(printed.len(), 14, "{text}");
    assert_eq!(
        printed.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        all[10..],
        "the CLI continues the tab's run exactly"
    );
    std::fs::remove_dir_all(&dir).ok();
}
