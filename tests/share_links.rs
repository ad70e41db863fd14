//! Why: a share link is the lab's promise that a run can be reproduced, and it is also
//! untrusted input pasted into a browser. These tests check that every piece of shareable
//! state survives the trip through a link (plain and compressed), and that hostile links —
//! too long, decompression bombs, damaged data, unknown formats, out-of-range values, wrong
//! types — are refused with a message naming the key, never a panic. A structured fuzzer
//! (proptest: mutations of real links) prints how many inputs it tried and how long the
//! slowest decode took (the page's budget is 50 ms).

use interlab::core::config::FIELDS;
use interlab::core::share::{
    self, decode, encode, parse_query, to_query, Kind, APP, HIDEABLE, MAX_EXPANDED_BYTES, MAX_LINK_BYTES,
};
const _: () = assert!(MAX_EXPANDED_BYTES == 32768);
use interlab::core::TrainConfig;
use interlab::engine::{plan, RunEnv};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const V: &str = interlab::VERSION;

/// What the address bar carries: the pairs as written by `encode`, as one query string.
fn through_the_address_bar(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let q = to_query(&encode(pairs));
    decode(&parse_query(&q), V).unwrap_or_else(|e| panic!("{e}\n{q}")).pairs
}

/// A valid value of each app key (drawn from `pick`).
fn app_value(kind: Kind, pick: u64) -> String {
    match kind {
        Kind::Flag => ["1", "0", "true", "false"][pick as usize % 4].into(),
        Kind::Int { min, max } => (min + pick % (max - min + 1).max(1)).to_string(),
        Kind::Choice(all) => all[pick as usize % all.len()].into(),
        Kind::Text { max } => {
            "arm a: model=dlr; arm b, é & = ?".chars().cycle().take((pick as usize % 60).min(max)).collect()
        }
        Kind::List(all) => (0..=pick as usize % all.len())
            .map(|i| all[(i + pick as usize) % all.len()])
            .collect::<Vec<_>>()
            .join(","),
    }
}

const TASKS: &[&str] = &["mqar", "shift", "copy_reverse", "induction", "sort", "selective_copy"];

prop_compose! {
    /// A valid run config: every numeric field drawn in its range, with the relations the
    /// config checks (heads divide d_model, warmup < steps).
    fn any_config()(seed in 0u64..=u32::MAX as u64, layers in 1usize..=4, heads_pow in 0u32..=2, width in 1usize..=8,
                    lr in 1e-5f64..0.5, batch in 1usize..=32, steps in 2usize..=100_000, warm in 0.0f64..1.0,
                    state in 1usize..=64, task in 0usize..TASKS.len(), model in 0usize..6) -> TrainConfig {
        let heads = 1usize << heads_pow;
        let model = ["transformer", "dlr", "s4d", "mhssm", "lstm", "gru"][model];
        TrainConfig { seed, layers, heads, d_model: heads * 4 * width, lr, batch, steps, warmup: ((steps - 1) as f64 * warm) as usize, state, model: model.into(), ..TrainConfig::default() }
            .with_task(TASKS[task], &[])
    }
}

#[test]
fn every_state_field_survives_a_link_plain_and_compressed() {
    let mut runner = TestRunner::new(Config { cases: 1500, failure_persistence: None, ..Config::default() });
    let app = proptest::collection::vec(any::<u64>(), APP.len());
    let steer = proptest::collection::vec(0u64..1000, interlab::engine::steering::KEYS.len());
    let compressed = std::cell::Cell::new(0);
    runner
        .run(&(any_config(), app, steer, any::<bool>()), |(cfg, app, steer, long)| {
            let p = plan(&cfg, &RunEnv::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut pairs = p.share_pairs(&cfg);
            // Every app key (but the link's own `z` / `lf`), with a valid value.
            for (a, pick) in APP.iter().zip(&app).filter(|(a, _)| !matches!(a.key, "z" | "lf" | "v")) {
                pairs.push((a.key.to_string(), app_value(a.kind, *pick)));
            }
            pairs.push(("v".into(), V.into()));
            for ((k, _), n) in interlab::engine::steering::KEYS.iter().zip(&steer) {
                pairs.push((
                    k.to_string(),
                    if long { format!("{n} {}", "x".repeat(*n as usize % 90)) } else { n.to_string() },
                ));
            }
            let back = through_the_address_bar(&pairs);
            prop_assert_eq!(&back, &pairs);
            if to_query(&encode(&pairs)).contains("z=") {
                compressed.set(compressed.get() + 1);
            }
            // The run the link opens is the run it was made from.
            let cfg2 = TrainConfig::from_pairs(back.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                &cfg2,
                &TrainConfig {
                    task_params: p
                        .task
                        .params()
                        .to_pairs()
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    ..cfg.clone()
                }
            );
            let p2 = plan(&cfg2, &RunEnv::default()).unwrap();
            prop_assert_eq!(p2.task.params(), p.task.params());
            Ok(())
        })
        .unwrap();
    let compressed = compressed.get();
    println!("link round trip: 1500 random states, {compressed} of them long enough to be compressed");
    assert!(compressed > 100 && compressed < 1500, "both forms exercised: {compressed}");
    // Every field of the tables took part.
    assert!(FIELDS.len() >= 9 && APP.len() >= 14);
}

#[test]
fn typical_link_sizes() {
    let cfg = TrainConfig::default();
    let p = plan(&cfg, &RunEnv::default()).unwrap();
    let mut pairs = p.share_pairs(&cfg);
    pairs.push(("v".into(), V.into()));
    let plain = to_query(&encode(&pairs)).len();
    pairs.push(("autorun".into(), "1".into()));
    pairs.push(("embed".into(), "1".into()));
    pairs.push(("hide".into(), "controls,gpu,views,steer,status".into()));
    let embed = to_query(&encode(&pairs)).len();
    for (k, _) in interlab::engine::steering::KEYS {
        pairs.push((
            k.to_string(),
            "a longer value, as a sweep's scales 0 0.25 0.5 0.75 1 1.5 2 would be".into(),
        ));
    }
    let raw = to_query(&pairs).len();
    let packed = to_query(&encode(&pairs)).len();
    println!("typical link query sizes (bytes): default run {plain}; embed + autorun {embed}; with every steering field set {raw} plain -> {packed} compressed");
    assert!(packed < raw, "compression must pay for itself: {packed} vs {raw}");
}

fn pairs(q: &str) -> Vec<(String, String)> {
    parse_query(q)
}

fn b64url(data: &[u8]) -> String {
    interlab::core::base64::encode(data).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

#[test]
fn hostile_links_are_refused_by_name() {
    let bomb = b64url(&miniz_oxide::deflate::compress_to_vec(&vec![b'a'; 5 * 1024 * 1024], 9));
    assert!(bomb.len() < MAX_LINK_BYTES, "a bomb small enough to pass the first cap: {}", bomb.len());
    let nested = b64url(&miniz_oxide::deflate::compress_to_vec(
        format!("z={}", b64url(&miniz_oxide::deflate::compress_to_vec(b"seed=1", 9))).as_bytes(),
        9,
    ));
    let cases: Vec<(String, &str, &str)> = vec![
        (format!("seed={}", "9".repeat(MAX_LINK_BYTES)), "", "the lab reads at most 8192"),
        ((0..300).map(|i| format!("k{i}=1")).collect::<Vec<_>>().join("&"), "", "at most 256"),
        (format!("z={bomb}"), "z", "more than 32768 bytes"),
        ("z=AAAA".into(), "z", "not a compressed link"),
        ("z=ab+/==".into(), "z", "not base64url"),
        ("z=a".into(), "z", "base64url"),
        (format!("z={nested}"), "z", "inside a compressed link"),
        ("z=AAAA&z=AAAA".into(), "z", "more than one compressed part"),
        ("lf=2&seed=1".into(), "lf", "link format 2 is not known"),
        ("lf=x".into(), "lf", "not a whole number"),
        ("autorun=maybe".into(), "autorun", "not 1, true, 0 or false"),
        ("page=admin".into(), "page", "'admin' is not one of lab, gallery"),
        ("budget=99999".into(), "budget", "out of range"),
        ("budget=-1".into(), "budget", "not a whole number"),
        ("gseed=1e9".into(), "gseed", "not a whole number"),
        ("hide=controls,everything".into(), "hide", "'everything' is not one of"),
        ("backend=tpu".into(), "backend", "'tpu' is not one of"),
        ("steer=delete".into(), "steer", "'delete' is not one of"),
        (format!("preset={}", "p".repeat(100)), "preset", "at most 64"),
    ];
    for (q, key, want) in &cases {
        let e = decode(&pairs(q), V).expect_err(q);
        assert_eq!(e.key, *key, "{q}: {e}");
        assert!(e.to_string().contains(want), "{}: '{e}' should say '{want}'", &q[..q.len().min(60)]);
    }
    // Values the gate lets through are checked by their readers, which name the field.
    for (q, field) in [
        ("seed=-4", "seed"),
        ("lr=abc", "lr"),
        ("steps=0", "steps"),
        ("heads=3&d_model=32", "heads"),
        ("layers=1e400", "layers"),
    ] {
        let link = decode(&pairs(q), V).unwrap();
        let e =
            TrainConfig::from_pairs(link.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect_err(q);
        assert!(e.for_field(field).is_some(), "{q}: {e}");
    }
    let e =
        plan(&TrainConfig::from_pairs([("task", "mqar"), ("kv_pairs", "zero")]).unwrap(), &RunEnv::default())
            .err()
            .expect("bad task value");
    assert!(e.for_field("kv_pairs").is_some(), "{e}");
    // Another version opens, with a note; a link without one is this version's.
    let link = decode(&pairs("v=0.0.1&seed=3"), V).unwrap();
    assert!(
        link.warnings[0].contains("made with interlab 0.0.1") && link.warnings[0].contains(V),
        "{:?}",
        link.warnings
    );
    assert!(decode(&pairs(&format!("v={V}&seed=3")), V).unwrap().warnings.is_empty());
    println!("hostile link corpus: {} links refused by the gate, 6 by the run's readers", cases.len());
}

/// Mutate `link` with `edits` (position, byte, op) → a string (lossy UTF-8).
fn mutate(link: &str, edits: &[(usize, u8, u8)]) -> String {
    const TOKENS: &[&str] = &[
        "%",
        "%ZZ",
        "&",
        "=",
        "z=",
        "lf=1&",
        "+",
        "%00",
        "é",
        "\u{202e}",
        "99999999999999999999",
        "-1",
        "NaN",
        "1e999",
        "&&&&",
        "st_scales=",
        "page=study&",
    ];
    let mut b = link.as_bytes().to_vec();
    for &(pos, byte, op) in edits {
        let at = if b.is_empty() { 0 } else { pos % (b.len() + 1) };
        match op % 5 {
            0 => b.insert(at, byte),
            1 if at < b.len() => {
                b.remove(at);
            }
            2 if at < b.len() => b[at] = byte,
            3 => {
                let t = TOKENS[byte as usize % TOKENS.len()].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn fuzz_the_link_decoder_with_mutated_links() {
    let cfg = TrainConfig::default();
    let p = plan(&cfg, &RunEnv::default()).unwrap();
    let mut base = p.share_pairs(&cfg);
    base.push(("autorun".into(), "1".into()));
    let plain = to_query(&base);
    let mut long = base.clone();
    long.push(("arms".into(), "a: model=dlr; b: model=transformer mixers=none; ".repeat(12)));
    let compressed = to_query(&encode(&long));
    assert!(compressed.contains("z="));
    let seeds = [plain, compressed, "page=study&study=x&PROLIFIC_PID=1".to_string(), String::new()];
    const CASES: u32 = 40_000;
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    use std::cell::Cell;
    let (tried, opened, refused, slowest) =
        (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64), Cell::new(0f64));
    let strategy =
        (0usize..seeds.len(), proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12));
    runner
        .run(&strategy, |(which, edits)| {
            let q = mutate(&seeds[which], &edits);
            let t0 = std::time::Instant::now();
            // The page's path: gate, then the run's readers. None may panic.
            match decode(&parse_query(&q), V) {
                Ok(link) => {
                    opened.set(opened.get() + 1);
                    if let Ok(cfg) =
                        TrainConfig::from_pairs(link.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    {
                        let _ = plan(&cfg, &RunEnv::default());
                    }
                }
                Err(e) => {
                    refused.set(refused.get() + 1);
                    prop_assert!(!e.message.is_empty());
                    prop_assert!(e.key.is_empty() || APP.iter().any(|a| a.key == e.key), "{}", e);
                }
            }
            slowest.set(slowest.get().max(t0.elapsed().as_secs_f64() * 1e3));
            tried.set(tried.get() + 1);
            Ok(())
        })
        .unwrap();
    let (tried, opened, refused, slowest) = (tried.get(), opened.get(), refused.get(), slowest.get());
    println!("link fuzzer: {tried} mutated links tried ({opened} opened, {refused} refused with a named key), slowest gate + config + plan {slowest:.2} ms");
    assert_eq!(tried, CASES as u64);
    assert!(opened > 0 && refused > 0);
    let _ = HIDEABLE;
    let _ = share::LINK_FORMAT;
}
