//! Why: steering and patching claims are only as good as the interventions under them. An
//! intervention of scale 0 must be the identity bit for bit; adding a direction must change
//! the site by exactly that vector and nothing else; patching every site from a clean run
//! must reproduce the clean output exactly; probes must find a linearly decodable label and
//! not a random one; a sweep must separate a real direction from its random baseline (small
//! p) and not a random split (p not small); bad requests must name what is wrong.

use candle_core::{Device, Tensor};
use interlab::model::dlr::{Dlr, DlrConfig};
use interlab::model::mixers::Mixer;
use interlab::model::{SeqModel, Transformer, TransformerConfig};
use interlab::steer::directions::{diff_of_means, mean_activation};
use interlab::steer::sweep::SweepSpec;
use interlab::steer::{patch, probe, run, sweep, Edit, Intervention, Positions};

const L: usize = 12;

fn transformer(seed: u64) -> Transformer {
    let cfg = TransformerConfig {
        vocab: 10,
        features: 0,
        max_len: L,
        layers: 2,
        heads: 2,
        d_model: 16,
        mlp_ratio: 4,
        out: 10,
        mixers: vec![Mixer::Attention; 2],
    };
    Transformer::new(cfg, seed).unwrap()
}

fn dlr(seed: u64) -> Dlr {
    Dlr::new(
        DlrConfig {
            vocab: 10,
            features: 0,
            max_len: L,
            layers: 2,
            d_model: 16,
            state: 4,
            out: 10,
            discretised: false,
        },
        seed,
    )
    .unwrap()
}

fn tokens(seed: u64, b: usize) -> Tensor {
    let mut rng = interlab::core::Rng::new(seed);
    let v: Vec<u32> = (0..b * L).map(|_| (rng.next_u64() % 10) as u32).collect();
    Tensor::from_vec(v, (b, L), &Device::Cpu).unwrap()
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn models() -> Vec<(&'static str, Box<dyn SeqModel>)> {
    use interlab::model::rnn::{Cell, Rnn, RnnConfig};
    use interlab::model::ssm_heads::{MhSsm, MhSsmConfig};
    let rnn = |cell| {
        Rnn::new(RnnConfig { cell, vocab: 10, features: 0, layers: 2, d_model: 16, out: 10 }, 1).unwrap()
    };
    let mh = MhSsm::new(
        MhSsmConfig {
            vocab: 10,
            features: 0,
            max_len: L,
            layers: 2,
            d_model: 16,
            heads: 4,
            state: 4,
            out: 10,
        },
        1,
    )
    .unwrap();
    let s4d = Dlr::new(
        DlrConfig {
            vocab: 10,
            features: 0,
            max_len: L,
            layers: 2,
            d_model: 16,
            state: 4,
            out: 10,
            discretised: true,
        },
        1,
    )
    .unwrap();
    vec![
        ("transformer", Box::new(transformer(1))),
        ("dlr", Box::new(dlr(1))),
        ("s4d", Box::new(s4d)),
        ("mhssm", Box::new(mh)),
        ("lstm", Box::new(rnn(Cell::Lstm))),
        ("gru", Box::new(rnn(Cell::Gru))),
    ]
}

#[test]
fn scale_zero_is_the_identity_and_adding_moves_the_site_by_exactly_the_vector() {
    let x = tokens(3, 4);
    for (name, m) in models() {
        let plain = flat(&m.forward(&x, None).unwrap());
        let zero: Vec<Intervention> = m
            .sites()
            .iter()
            .map(|s| {
                Intervention::new(
                    &s.name,
                    Positions::All,
                    Edit::Add { vector: vec![1.0; s.width], scale: 0.0 },
                )
            })
            .collect();
        assert_eq!(
            flat(&run(m.as_ref(), &x, None, &zero).unwrap().logits),
            plain,
            "{name}: scale 0 at every site"
        );
        assert_eq!(flat(&run(m.as_ref(), &x, None, &[]).unwrap().logits), plain, "{name}: no interventions");
        let site = m.sites()[2].name.clone();
        let v: Vec<f32> = (0..16).map(|i| i as f32 * 0.1 - 0.7).collect();
        let list = [
            Intervention::new(&site, Positions::All, Edit::Capture),
            Intervention::new(&site, Positions::Range(3, 7), Edit::Add { vector: v.clone(), scale: 2.5 }),
            Intervention::new(&site, Positions::All, Edit::Capture),
        ];
        let out = run(m.as_ref(), &x, None, &list).unwrap();
        let (before, after) =
            (out.captures[0].1.to_vec3::<f32>().unwrap(), out.captures[1].1.to_vec3::<f32>().unwrap());
        for (b, (sb, sa)) in before.iter().zip(&after).enumerate() {
            for t in 0..L {
                for j in 0..16 {
                    let want = if (3..7).contains(&t) { sb[t][j] + v[j] * 2.5 } else { sb[t][j] };
                    assert_eq!(sa[t][j], want, "{name} {site}: row {b} position {t} channel {j}");
                }
            }
        }
        assert_ne!(flat(&out.logits), plain, "{name}: the edit reaches the output");
    }
}

#[test]
fn patching_every_site_from_the_clean_run_reproduces_the_clean_output() {
    let (clean, corrupt) = (tokens(5, 3), tokens(6, 3));
    for (name, m) in models() {
        let sites: Vec<String> = m.sites().iter().map(|s| s.name.clone()).collect();
        let cache = patch::cache(m.as_ref(), &clean, &sites).unwrap();
        let list: Vec<Intervention> = cache
            .iter()
            .map(|(s, t)| Intervention::new(s, Positions::All, Edit::Patch { cache: t.clone() }))
            .collect();
        let patched = flat(&run(m.as_ref(), &corrupt, None, &list).unwrap().logits);
        assert_eq!(patched, flat(&m.forward(&clean, None).unwrap()), "{name}");
        assert_ne!(patched, flat(&m.forward(&corrupt, None).unwrap()));
    }
}

#[test]
fn a_patching_sweep_localises_the_corrupted_position_and_head_ablation_changes_the_output() {
    let m = transformer(2);
    let clean = tokens(7, 4);
    // Corrupt one position only: patching the residual stream there restores everything.
    let mut v: Vec<u32> = clean.flatten_all().unwrap().to_vec1().unwrap();
    for b in 0..4 {
        v[b * L + 4] = (v[b * L + 4] + 5) % 10;
    }
    let corrupt = Tensor::from_vec(v, (4, L), &Device::Cpu).unwrap();
    let target: Vec<u32> = m.forward(&clean, None).unwrap().argmax(1).unwrap().to_vec1().unwrap();
    let metric = |logits: &Tensor| -> interlab::steer::Result<f64> {
        let rows: Vec<Vec<f32>> = logits.to_vec2().unwrap();
        Ok(rows.iter().zip(&target).map(|(r, &t)| r[t as usize] as f64).sum::<f64>() / rows.len() as f64)
    };
    let sites = vec!["blocks.0.resid_pre".to_string(), "blocks.1.resid_post".to_string()];
    let (r, secs) = patch::timed_sweep(&m, &clean, &corrupt, &sites, &metric).unwrap();
    eprintln!("patching sweep: {} runs in {secs:.3} s", r.runs);
    assert!((r.restored[0][4] - 1.0).abs() < 1e-9, "{:?}", r.restored[0]);
    assert!(
        r.restored[0].iter().enumerate().filter(|(p, _)| *p != 4).all(|(_, x)| x.abs() < 1e-9),
        "{:?}",
        r.restored[0]
    );
    let base = metric(&m.forward(&clean, None).unwrap()).unwrap();
    let ablated = patch::ablate_head(&m, &clean, 0, 1, 8, &metric).unwrap();
    assert_ne!(base, ablated);
    // Per-head patching: a layers x heads grid of finite fractions; a head count that does not
    // divide the width is refused.
    let heads = patch::sweep_heads(&m, &clean, &corrupt, 2, 2, &metric).unwrap();
    assert_eq!((heads.len(), heads[0].len()), (2, 2));
    assert!(heads.iter().flatten().all(|x| x.is_finite()));
    assert!(
        patch::sweep_heads(&m, &clean, &corrupt, 2, 3, &metric).is_err(),
        "16 columns do not split into 3 heads"
    );
}

#[test]
fn probes_find_a_linear_label_and_not_a_random_one() {
    // Synthetic: label = sign of a fixed projection (separable) vs coin flips.
    let mut rng = interlab::core::Rng::new(11);
    let x: Vec<Vec<f32>> = (0..400).map(|_| (0..16).map(|_| rng.normal()).collect()).collect();
    let w: Vec<f32> = (0..16).map(|i| (i as f32 - 7.5) / 8.0).collect();
    let lin: Vec<bool> = x.iter().map(|r| r.iter().zip(&w).map(|(a, b)| a * b).sum::<f32>() > 0.0).collect();
    let coin: Vec<bool> = (0..400).map(|_| rng.next_u64() & 1 == 1).collect();
    let p = probe::fit(&x, &lin, 1).unwrap();
    assert!(p.test_accuracy >= 0.95, "separable label: {}", p.test_accuracy);
    let q = probe::fit(&x, &coin, 1).unwrap();
    assert!((q.test_accuracy - 0.5).abs() < 0.12, "random label: {}", q.test_accuracy);
    // On a model: whether the token at position 5 is < 5 is linear in the residual stream there.
    let m = transformer(3);
    let toks = tokens(12, 160);
    let t: Vec<u32> = toks.flatten_all().unwrap().to_vec1().unwrap();
    let labels: Vec<bool> = (0..160).map(|b| t[b * L + 5] < 5).collect();
    let grid = probe::grid(&m, &toks, &labels, &["blocks.0.resid_pre".into()], &[2, 5], 1).unwrap();
    assert!(grid[0][1] >= 0.95, "token identity at its own position: {:?}", grid);
    assert!(grid[0][0] < 0.75, "an earlier position knows nothing of it: {:?}", grid);
    // Read along the context: the probe for position 5 fires where that token is, and its
    // weights point the way a diff-of-means direction of the two label groups does.
    let acts = interlab::steer::directions::capture(&m, &toks, "blocks.0.resid_pre").unwrap();
    let x5: Vec<Vec<f32>> = acts.iter().map(|s| s[5].clone()).collect();
    let pr = probe::fit(&x5, &labels, 1).unwrap();
    let read = probe::readout(&m, &toks, "blocks.0.resid_pre", &pr).unwrap();
    let hits = (0..160).filter(|&b| (read[b][5] > 0.5) == labels[b]).count();
    assert!(hits >= 150, "{hits} of 160");
    let (yes, no): (Vec<usize>, Vec<usize>) = (0..160).partition(|&b| labels[b]);
    let pick = |rows: &[usize]| {
        Tensor::from_vec(
            rows.iter().flat_map(|&b| t[b * L..(b + 1) * L].to_vec()).collect::<Vec<u32>>(),
            (rows.len(), L),
            &Device::Cpu,
        )
        .unwrap()
    };
    let dir = diff_of_means(&m, &pick(&yes), &pick(&no), "blocks.0.resid_pre", Positions::One(5)).unwrap();
    assert!(
        probe::cosine_with(&pr, &dir).unwrap() > 0.3,
        "probe and direction agree in sign and roughly in direction"
    );
    assert!(probe::readout(
        &dlr(1),
        &toks,
        "blocks.0.resid_pre",
        &probe::Probe { weights: vec![0.0; 3], bias: 0.0, train_accuracy: 0.0, test_accuracy: 0.0 }
    )
    .is_err());
}

#[test]
fn a_real_direction_beats_its_random_baseline_and_a_random_split_does_not() {
    let m = transformer(4);
    let a = Tensor::from_vec(vec![3u32; 8 * L], (8, L), &Device::Cpu).unwrap();
    let b = Tensor::from_vec(vec![7u32; 8 * L], (8, L), &Device::Cpu).unwrap();
    let site = "blocks.0.resid_pre";
    let dir = diff_of_means(&m, &a, &b, site, Positions::All).unwrap();
    // Steering B by +1 · (mean A − mean B) at the embeddings turns B's residual stream into
    // A's (same positions): B's outputs become A's.
    let want: Vec<u32> = m.forward(&a, None).unwrap().argmax(1).unwrap().to_vec1().unwrap();
    let targets: Vec<Vec<u32>> = want.chunks(L).map(<[u32]>::to_vec).collect();
    let mask = vec![vec![true; L]; 8];
    let metric = sweep::flip_rate(&targets, &mask, 10);
    let r = sweep::sweep(
        &m,
        &b,
        &dir,
        &SweepSpec { positions: Positions::All, scales: &[0.0, 0.5, 1.0], random: 20, seed: 9 },
        &metric,
    )
    .unwrap();
    assert_eq!(r.random.len(), 20);
    assert!(r.effect[2] > 0.99, "{:?}", r.effect);
    assert!(r.p_value[2] < 0.01 && r.percentile[2] == 1.0, "{r:?}");
    assert!(r.p_value[0] > 0.4, "scale 0 has no effect: {:?}", r.p_value);
    assert!(r.to_csv().lines().count() == 4);
    // A direction from a random split of one input set: no better than random directions.
    let small = (0..5u64)
        .filter(|&seed| {
            let set = tokens(100 + seed, 16);
            let (x, y) = (set.narrow(0, 0, 8).unwrap(), set.narrow(0, 8, 8).unwrap());
            let d = diff_of_means(&m, &x, &y, site, Positions::All).unwrap();
            let r = sweep::sweep(
                &m,
                &y,
                &d,
                &SweepSpec { positions: Positions::All, scales: &[1.0], random: 20, seed },
                &metric,
            )
            .unwrap();
            r.p_value[0] < 0.05
        })
        .count();
    assert!(small <= 1, "{small} of 5 random-split directions look significant");
}

#[test]
fn bad_requests_name_what_is_wrong() {
    let m = transformer(1);
    let x = tokens(1, 2);
    let e = |list: &[Intervention]| run(&m, &x, None, list).err().unwrap().to_string();
    assert!(e(&[Intervention::new("blocks.7.resid_post", Positions::All, Edit::Zero)])
        .contains("layer 7 out of range: the model has 2 layers"));
    assert!(e(&[Intervention::new("blocks.0.nope", Positions::All, Edit::Zero)]).contains("unknown site"));
    assert!(e(&[Intervention::new(
        "blocks.0.resid_post",
        Positions::All,
        Edit::Add { vector: vec![1.0; 5], scale: 1.0 }
    )])
    .contains("a vector of 5 values for a site 16 wide"));
    assert!(e(&[Intervention::new("blocks.0.resid_post", Positions::Range(4, 40), Edit::Zero)])
        .contains("outside the sequence of 12"));
    let empty = Tensor::zeros((0, L), candle_core::DType::U32, &Device::Cpu).unwrap();
    assert!(mean_activation(&m, &empty, "blocks.0.resid_post", Positions::All)
        .err()
        .unwrap()
        .to_string()
        .contains("empty input set"));
    // A family that declares no sites (every family here has them; the trait's default).
    struct NoSites;
    impl SeqModel for NoSites {
        fn forward(&self, tokens: &Tensor, _: Option<&Tensor>) -> interlab::model::Result<Tensor> {
            Ok(tokens.to_dtype(candle_core::DType::F32).unwrap())
        }
        fn named_params(&self) -> Vec<(String, &candle_core::Var)> {
            Vec::new()
        }
    }
    assert!(run(&NoSites, &x, None, &[]).err().unwrap().to_string().contains("no named activation sites"));
}

/// The flagship claim, with the reported configuration (`interlab steer flagship`, ~1 min
/// here): a Transformer trained on Copy-or-Reverse carries
/// a task direction whose injection beats 20 random directions of equal norm (small paired
/// p-value, top percentile) while directions from random splits of one regime do not.
#[test]
fn the_flagship_task_direction_beats_its_baseline_and_random_splits_do_not() {
    use interlab::engine::flagship::{run as flagship, FlagshipConfig};
    let cfg = FlagshipConfig::default();
    let r = flagship(&cfg, &mut |line| eprintln!("{line}")).unwrap();
    let sw = &r.sweep.result;
    eprintln!("{}", sw.to_csv());
    assert!(r.heldout_accuracy > 0.95, "the flagship model must learn both tasks: {}", r.heldout_accuracy);
    let best = (0..sw.scales.len()).min_by(|&a, &b| sw.p_value[a].total_cmp(&sw.p_value[b])).unwrap();
    assert!(sw.p_value[best] < 0.01 && sw.percentile[best] >= 0.95, "{sw:?}");
    assert!(
        sw.effect[best] > sw.effect[0],
        "steering must raise the flip rate above scale 0: {:?}",
        sw.effect
    );
    // At the task token, one direction's worth turns copy into reverse.
    let one = sw.scales.iter().position(|&s| s == 1.0).unwrap();
    assert!(sw.effect[one] > 0.9, "flip rate at scale 1: {:?}", sw.effect);
    // Mid-network, at the answer positions, the direction still beats its baseline.
    let m = &r.mid.result;
    let mb = (0..m.scales.len()).min_by(|&a, &b| m.p_value[a].total_cmp(&m.p_value[b])).unwrap();
    assert!(m.p_value[mb] < 0.01 && m.effect[mb] > m.effect[0], "{m:?}");
    assert!(r.random_split_p.iter().filter(|&&p| p < 0.05).count() <= 1, "{:?}", r.random_split_p);
    // Patching the residual stream at the task token from the clean run restores it fully.
    let p = &r.patch.result;
    let pre0 = p.sites.iter().position(|s| s == "blocks.0.resid_pre").unwrap();
    assert!((p.restored[pre0][0] - 1.0).abs() < 1e-9, "{:?}", p.restored[pre0]);
    // "Reverse or copy?" is written at the task token from the start: a probe there is exact.
    let row = r.probe.sites.iter().position(|s| s == "blocks.0.resid_pre").unwrap();
    assert!(r.probe.accuracy[row][0] > 0.99, "{:?}", r.probe.accuracy[row]);
    // The per-layer directions at resid_post: one per layer, unit cosine with themselves.
    assert_eq!(r.direction.layers.len(), 2);
    assert!((r.direction.cosines[0][0] - 1.0).abs() < 1e-9 && r.direction.cosines[0][1].abs() <= 1.0 + 1e-9);
}

#[test]
fn directions_save_with_their_model_and_another_model_refuses_them() {
    let (m, other) = (transformer(1), transformer(2));
    let a = Tensor::from_vec(vec![3u32; 4 * L], (4, L), &Device::Cpu).unwrap();
    let b = Tensor::from_vec(vec![7u32; 4 * L], (4, L), &Device::Cpu).unwrap();
    let d = diff_of_means(&m, &a, &b, "blocks.1.resid_mid", Positions::LastK(3)).unwrap();
    let pc = interlab::steer::directions::paired_pc1(&m, &a, &b, "blocks.1.resid_mid", Positions::LastK(3))
        .unwrap();
    assert!(
        interlab::steer::directions::cosine(&d.vector, &pc.vector) > 0.99,
        "identical pairs: PC1 is the mean difference"
    );
    let json = d.to_json();
    assert_eq!(interlab::steer::directions::Direction::from_json(&json, &m).unwrap(), d);
    let e = interlab::steer::directions::Direction::from_json(&json, &other).unwrap_err().to_string();
    assert!(e.contains("made on another model"), "{e}");
    let e = interlab::steer::directions::Direction::from_json(&json.replace("resid_mid", "resid_nope"), &m)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown site"), "{e}");
    assert!(interlab::steer::directions::Direction::from_json("{", &m)
        .unwrap_err()
        .to_string()
        .starts_with("direction file"));
    let cos = interlab::steer::directions::cosine_matrix(&[d.clone(), d]);
    assert!((cos[0][1] - 1.0).abs() < 1e-9);
}

/// The tab's steering requests (`engine::steering`) on a small untrained run: the spec goes
/// through the link and back unchanged, every request answers, and bad input is named.
#[test]
fn panel_requests_answer_and_name_bad_input() {
    use interlab::engine::steering::{handle, Op, SteerReply, SteerRequest, SteerSpec, KEYS};
    use interlab::engine::Trainer;
    let cfg = interlab::core::TrainConfig {
        seed: 5,
        layers: 2,
        heads: 2,
        d_model: 16,
        batch: 4,
        steps: 1,
        warmup: 0,
        ..Default::default()
    }
    .with_task("copy_reverse", &[("length", "3"), ("vocab", "6"), ("mode", "mixed")]);
    let t = Trainer::new(cfg).unwrap();
    let ask = |op: Op, spec: &SteerSpec| {
        handle(&t, &SteerRequest { op, spec: spec.clone(), direction: None }, &|| 0.0, &mut |_| {})
    };
    // The link: only what differs from the task's defaults, and back.
    let base = SteerSpec::from_pairs("copy_reverse", &[]);
    assert_eq!(
        (base.a.as_str(), base.b.as_str(), base.site.as_str()),
        ("mode=reverse", "mode=copy", "blocks.0.resid_pre")
    );
    let spec = SteerSpec {
        n: "16".into(),
        site: "blocks.1.resid_mid".into(),
        positions: "last3".into(),
        unit: "norm".into(),
        scales: "0,1,2".into(),
        ..base.clone()
    };
    let pairs = spec.to_pairs(&base);
    assert!(
        pairs.iter().all(
            |(k, _)| k.starts_with(interlab::core::share::APP_PREFIX) && KEYS.iter().any(|(x, _)| x == k)
        ),
        "{pairs:?}"
    );
    assert_eq!(SteerSpec::from_pairs("copy_reverse", &pairs), spec);
    // Every request answers on a model with sites, and reports its direction.
    for op in Op::ALL {
        let out = ask(op, &spec);
        let reply = out.reply.unwrap_or_else(|e| panic!("{op:?}: {e}"));
        assert!(out.direction.as_ref().is_some_and(|d| d.norm > 0.0 && d.layers.len() == 2));
        match reply {
            SteerReply::Sweep(s) => {
                assert_eq!((s.result.scales.len(), s.result.random.len(), s.n), (3, 20, 16))
            }
            SteerReply::Probe(p) => assert_eq!((p.accuracy.len(), p.positions.len()), (12, 7)),
            SteerReply::Patch(p) => assert_eq!(
                (p.result.restored.len(), p.result.restored[0].len(), p.heads.len(), p.ablation[0].len()),
                (10, 7, 2, 2)
            ),
            SteerReply::Example(e) => assert_eq!(
                (e.tokens.len(), e.toward.len(), e.scored.iter().filter(|&&x| x).count()),
                (7, 7, 3)
            ),
            SteerReply::Direction(d) => assert_eq!(d.direction.vector.len(), 16),
        }
    }
    // Sweeping scales one at a time gives the numbers of one sweep (the tab reports progress per scale).
    let one = |scales: &str| match ask(Op::Sweep, &SteerSpec { scales: scales.into(), ..spec.clone() })
        .reply
        .unwrap()
    {
        SteerReply::Sweep(s) => s.result,
        _ => unreachable!(),
    };
    let (all, last) = (one("0,1,2"), one("2"));
    assert_eq!(
        (all.effect[2], all.p_value[2], all.percentile[2]),
        (last.effect[0], last.p_value[0], last.percentile[0])
    );
    // Written sequences work for directions and "changed"; "toward A" needs task answers.
    let written = SteerSpec {
        a: "tokens: REV 1 2 3 · · · | REV 4 5 0 · · ·".into(),
        b: "tokens: COPY 1 2 3 · · · | COPY 4 5 0 · · ·".into(),
        metric: "changed".into(),
        ..spec.clone()
    };
    assert!(ask(Op::Sweep, &written).reply.is_ok());
    let e = ask(Op::Sweep, &SteerSpec { metric: "toward_a".into(), ..written.clone() }).reply.unwrap_err();
    assert!(e.contains("toward_a needs set A from a task"), "{e}");
    // Bad input, each named.
    let bad = |f: &dyn Fn(&mut SteerSpec), want: &str| {
        let mut s = spec.clone();
        f(&mut s);
        let e = ask(Op::Sweep, &s).reply.unwrap_err();
        assert!(e.contains(want), "expected '{want}' in: {e}");
    };
    bad(&|s| s.site = "blocks.7.resid_post".into(), "layer 7 out of range");
    bad(&|s| s.site = "blocks.0.attn".into(), "unknown site");
    bad(&|s| s.a = "mode=sideways".into(), "set A: mode");
    bad(&|s| s.b = "colour=red".into(), "set B");
    bad(&|s| s.a = "tokens: 1 2 99".into(), "token 99 outside the vocabulary");
    bad(&|s| s.a = "tokens: 1 2 | 3".into(), "sequence 2 has 1 tokens");
    bad(&|s| s.a = "tokens: 1 2 3 4 5 6 7 8".into(), "at most 7");
    bad(&|s| s.a = "tokens:".into(), "no sequences");
    bad(&|s| s.random = "5".into(), "random directions: '5'");
    bad(&|s| s.n = "0".into(), "sequences per set");
    bad(&|s| s.scales = "1,x".into(), "scales: 'x'");
    bad(&|s| s.positions = "last".into(), "positions");
    bad(&|s| s.positions = "9".into(), "positions: '9' selects nothing in sequences of 7");
    let same = SteerSpec {
        a: "mode=copy".into(),
        positions: "last3".into(),
        site: "blocks.0.resid_pre".into(),
        ..spec.clone()
    };
    let e = ask(Op::Direction, &same).reply.unwrap_err();
    assert!(e.contains("the direction is zero"), "{e}");
    let e = ask(Op::Patch, &SteerSpec { a: "mode=copy".into(), ..spec.clone() }).reply.unwrap_err();
    assert!(e.contains("nothing for patching to restore"), "{e}");
    // Every family has sites: the panel offers exactly the ones the model has.
    for model in ["transformer", "dlr", "s4d", "mhssm", "lstm", "gru"] {
        let cfg = interlab::core::TrainConfig {
            model: model.into(),
            layers: 2,
            heads: 2,
            d_model: 8,
            batch: 4,
            steps: 1,
            warmup: 0,
            ..Default::default()
        }
        .with_task("copy_reverse", &[("length", "3"), ("vocab", "6")]);
        let t = Trainer::new(cfg.clone()).unwrap();
        let names: Vec<String> = t.model.sites().into_iter().map(|s| s.name).collect();
        assert_eq!(interlab::engine::steering::site_names(&cfg), names, "{model}");
        let out = handle(
            &t,
            &SteerRequest {
                op: Op::Direction,
                spec: SteerSpec {
                    site: "blocks.1.resid_post".into(),
                    positions: "last3".into(),
                    ..spec.clone()
                },
                direction: None,
            },
            &|| 0.0,
            &mut |_| {},
        );
        assert!(out.reply.is_ok(), "{model}: {:?}", out.reply);
    }
}
