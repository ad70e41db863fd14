//! The steering requests on a trained run. Seeds: the direction is built from set A drawn
//! with the spec's seed and set B with seed + 1 (so one regime twice is a random split);
//! steering, patching and probe read-outs use held-out sets A and B drawn with one seed
//! (`EVAL_SEED_OFFSET` on), paired: same data, each regime's task token.

use candle_core::{Tensor, D};

use super::sets::{InputSet, Limits, Materialized, Targets};
use super::{
    DirectionReport, ExampleReport, Method, Metric, Op, Parsed, PatchReport, ProbeReport, SteerOutcome,
    SteerProgress, SteerReply, SteerRequest, SweepReport,
};
use crate::core::Rng;
use crate::engine::Trainer;
use crate::model::SeqModel;
use crate::steer::directions::{self, Direction};
use crate::steer::{self, patch, probe, sweep, Edit, Intervention, Positions};

/// The held-out sets' seed is the spec's seed plus this.
pub const EVAL_SEED_OFFSET: u64 = 1_000_003;
/// Sequences patched (clean and corrupted each).
pub const PATCH_SEQUENCES: usize = 16;
/// Positions probed per site (evenly spaced when the sequence is longer).
pub const PROBE_POSITIONS: usize = 64;

type Progress<'a> = dyn FnMut(SteerProgress) + 'a;

/// Run one request on the trainer's current weights.
pub fn handle(
    trainer: &Trainer,
    req: &SteerRequest,
    clock: &dyn Fn() -> f64,
    progress: &mut Progress,
) -> SteerOutcome {
    let mut direction = None;
    let reply = run(trainer, req, clock, progress, &mut direction);
    SteerOutcome { op: req.op, reply, direction }
}

fn s<T>(r: steer::Result<T>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// Everything a request needs: the model, the parsed spec, both sets, their held-out twins.
struct Setup<'a> {
    model: &'a dyn SeqModel,
    trainer: &'a Trainer,
    p: Parsed,
    a: Materialized,
    b: Materialized,
    a_eval: Materialized,
    b_eval: Materialized,
    classes: usize,
}

fn setup<'a>(trainer: &'a Trainer, req: &SteerRequest) -> Result<Setup<'a>, String> {
    let mut p = req.spec.parse()?;
    let model = trainer.model.as_ref();
    let sites = model.sites();
    if sites.is_empty() {
        return Err(format!("the {} model has no named activation sites", trainer.cfg.model));
    }
    let shape = trainer.task.shape();
    let classes = match shape.output {
        crate::tasks::Output::Classes { classes, .. } if shape.features == 0 => classes,
        _ => {
            return Err(format!(
                "steering needs a task with token inputs and class outputs; {} is not one",
                trainer.cfg.task
            ))
        }
    };
    if let Some(json) = &req.direction {
        // A loaded direction decides the site.
        p.site = s(Direction::from_json(json, model))?.site;
    }
    s(steer::intervene::find(&sites, &p.site))?;
    let limits = Limits { vocab: shape.vocab, max_len: Some(shape.seq_len) };
    let task = trainer.task.as_ref();
    let (sa, sb) =
        (InputSet::parse(&req.spec.a, "set A", task)?, InputSet::parse(&req.spec.b, "set B", task)?);
    let eval_seed = p.seed.wrapping_add(EVAL_SEED_OFFSET);
    let (a, b) =
        (sa.build("set A", p.seed, p.n, limits)?, sb.build("set B", p.seed.wrapping_add(1), p.n, limits)?);
    for m in [&a, &b] {
        if p.positions.select(m.seq_len()).is_empty() {
            return Err(format!(
                "positions: '{}' selects nothing in sequences of {} ({})",
                p.positions,
                m.seq_len(),
                m.desc
            ));
        }
    }
    Ok(Setup {
        a,
        b,
        a_eval: sa.build("set A", eval_seed, p.n, limits)?,
        b_eval: sb.build("set B", eval_seed, p.n, limits)?,
        model,
        trainer,
        p,
        classes,
    })
}

fn run(
    trainer: &Trainer,
    req: &SteerRequest,
    clock: &dyn Fn() -> f64,
    progress: &mut Progress,
    out: &mut Option<DirectionReport>,
) -> Result<SteerReply, String> {
    let st = setup(trainer, req)?;
    let report = build_direction(&st, req.direction.as_deref())?;
    *out = Some(report.clone());
    match req.op {
        Op::Direction => Ok(SteerReply::Direction(report)),
        Op::Example => example(&st, &report).map(SteerReply::Example),
        Op::Sweep => sweep_op(&st, &report, progress).map(SteerReply::Sweep),
        Op::Probe => probe_op(&st, &report, progress).map(SteerReply::Probe),
        Op::Patch => patch_op(&st, clock, progress).map(SteerReply::Patch),
    }
}

fn make(st: &Setup, site: &str) -> Result<Direction, String> {
    let (m, a, b, pos) = (st.model, &st.a.tokens, &st.b.tokens, st.p.positions);
    s(match st.p.method {
        Method::Mean => directions::diff_of_means(m, a, b, site, pos),
        Method::Pc1 => directions::paired_pc1(m, a, b, site, pos),
    })
}

fn build_direction(st: &Setup, loaded: Option<&str>) -> Result<DirectionReport, String> {
    let site = st.p.site.clone();
    let direction = match loaded {
        Some(json) => s(Direction::from_json(json, st.model))?,
        None => make(st, &site)?,
    };
    if direction.norm() == 0.0 {
        return Err(format!(
            "{site}: sets A and B give the same mean activation at positions {}, so the direction is zero",
            st.p.positions
        ));
    }
    let typical_norm = s(sweep::typical_norm(st.model, &st.b.tokens, &site))?;
    let kind = st.model.sites().into_iter().find(|x| x.name == site).map(|x| x.kind).unwrap_or("");
    let (mut layers, mut dirs) = (Vec::new(), Vec::new());
    if loaded.is_none() {
        for info in st.model.sites().into_iter().filter(|x| x.kind == kind) {
            dirs.push(if info.name == site { direction.clone() } else { make(st, &info.name)? });
            layers.push(info.name);
        }
    }
    Ok(DirectionReport {
        norm: direction.norm(),
        typical_norm,
        a: st.a.desc.clone(),
        b: st.b.desc.clone(),
        layer_norms: dirs.iter().map(Direction::norm).collect(),
        cosines: directions::cosine_matrix(&dirs),
        layers,
        direction,
    })
}

/// The vector scale 1 adds.
fn unit_vector(st: &Setup, r: &DirectionReport) -> Vec<f32> {
    let k = if st.p.norm_unit { r.typical_norm / r.norm } else { 1.0 };
    r.direction.vector.iter().map(|&x| (x as f64 * k) as f32).collect()
}

/// Set A's answers on set B's held-out data (paired task sets of one shape).
fn toward_targets(st: &Setup) -> Result<Targets, String> {
    let Some(t) = &st.a_eval.targets else {
        return Err("effect metric toward_a needs set A from a task (its answers); use 'changed' for written sequences".into());
    };
    if st.a_eval.len() != st.b_eval.len()
        || st.a_eval.seq_len() != st.b_eval.seq_len()
        || st.a_eval.classes != st.classes
    {
        return Err(format!("effect metric toward_a needs sets A and B of one shape with the model's {} classes (A: {}, B: {})", st.classes, st.a_eval.desc, st.b_eval.desc));
    }
    Ok(t.clone())
}

fn argmax(logits: &Tensor, classes: usize) -> Result<Vec<u32>, String> {
    logits
        .reshape(((), classes))
        .and_then(|x| x.argmax(D::Minus1))
        .and_then(|x| x.to_vec1())
        .map_err(|e| format!("predictions: {e}"))
}

fn predict(st: &Setup, tokens: &Tensor, list: &[Intervention]) -> Result<Vec<u32>, String> {
    argmax(&s(steer::run(st.model, tokens, None, list))?.logits, st.classes)
}

/// Scored positions of set B's held-out rows (every position for written sequences).
fn b_mask(st: &Setup) -> Vec<Vec<bool>> {
    match &st.b_eval.targets {
        Some((_, m)) => m.clone(),
        None => st.b_eval.rows.iter().map(|r| vec![true; r.len()]).collect(),
    }
}

fn example(st: &Setup, r: &DirectionReport) -> Result<ExampleReport, String> {
    let i = st.p.example;
    if i >= st.b_eval.len() {
        return Err(format!("example: {i} is past the {} sequences of set B", st.b_eval.len()));
    }
    let tokens = st.b_eval.tokens.narrow(0, i, 1).map_err(|e| e.to_string())?; // [1, l]
    let v = unit_vector(st, r);
    let base = predict(st, &tokens, &[])?;
    let iv = Intervention::new(
        &r.direction.site,
        st.p.positions,
        Edit::Add { vector: v.clone(), scale: st.p.scale },
    );
    let steered = predict(st, &tokens, &[iv])?;
    let task = st.trainer.task.as_ref();
    let label = |c: &u32| task.class_label(*c);
    let toward = toward_targets(st).map(|(t, _)| t[i].iter().map(label).collect()).unwrap_or_default();
    let norm = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt() * st.p.scale.abs() as f64;
    Ok(ExampleReport {
        scale: st.p.scale,
        added_norm: norm,
        tokens: st.b_eval.rows[i].iter().map(|&t| task.token_label(t)).collect(),
        base: base.iter().map(label).collect(),
        steered: steered.iter().map(label).collect(),
        toward,
        scored: b_mask(st)[i].clone(),
    })
}

fn sweep_op(st: &Setup, r: &DirectionReport, progress: &mut Progress) -> Result<SweepReport, String> {
    let dir = Direction { vector: unit_vector(st, r), ..r.direction.clone() };
    let unit_norm = dir.norm();
    let tokens = &st.b_eval.tokens;
    let toward;
    let base;
    let mask = b_mask(st);
    let metric: Box<sweep::Metric> = match st.p.metric {
        Metric::TowardA => {
            toward = toward_targets(st)?;
            Box::new(sweep::flip_rate(&toward.0, &toward.1, st.classes))
        }
        Metric::Changed => {
            base = predict(st, tokens, &[])?;
            let (base, mask, classes) = (&base, &mask, st.classes);
            Box::new(move |logits: &Tensor| {
                let pred = argmax(logits, classes)
                    .map_err(|e| steer::SteerError { what: "changed".into(), detail: e })?;
                Ok(mask
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let l = m.len();
                        let scored = m.iter().filter(|&&x| x).count().max(1);
                        (0..l).filter(|&t| m[t] && pred[i * l + t] != base[i * l + t]).count() as f64
                            / scored as f64
                    })
                    .collect())
            })
        }
    };
    let total = st.p.scales.len();
    let mut out: Option<sweep::SweepResult> = None;
    for (j, &scale) in st.p.scales.iter().enumerate() {
        progress(SteerProgress {
            what: format!("sweep: scale {scale} with {} random directions", st.p.random),
            done: j,
            total,
        });
        let spec = sweep::SweepSpec {
            positions: st.p.positions,
            scales: &[scale],
            random: st.p.random,
            seed: st.p.seed,
        };
        let one = s(sweep::sweep(st.model, tokens, &dir, &spec, metric.as_ref()))?;
        match &mut out {
            None => out = Some(one),
            Some(acc) => {
                acc.scales.push(scale);
                acc.effect.extend(one.effect);
                acc.percentile.extend(one.percentile);
                acc.p_value.extend(one.p_value);
                for (k, row) in acc.random.iter_mut().enumerate() {
                    row.extend(&one.random[k]);
                }
            }
        }
    }
    let result = out.ok_or("sweep: no scales")?;
    let metric = match st.p.metric {
        Metric::TowardA => "share of set B's scored positions answered as set A's task would (flip rate)",
        Metric::Changed => "share of set B's scored positions whose prediction changes",
    };
    Ok(SweepReport {
        result,
        unit_norm,
        typical_norm: r.typical_norm,
        metric: metric.into(),
        n: st.b_eval.len(),
    })
}

/// Probe positions: all of the shorter set's, or `PROBE_POSITIONS` evenly spaced.
fn probe_positions(l: usize) -> Vec<usize> {
    if l <= PROBE_POSITIONS {
        (0..l).collect()
    } else {
        (0..PROBE_POSITIONS).map(|i| i * (l - 1) / (PROBE_POSITIONS - 1)).collect()
    }
}

fn labels(st: &Setup, na: usize, nb: usize, tag: &str) -> Vec<bool> {
    if st.p.random_labels {
        let mut rng = Rng::fork(st.p.seed, tag);
        (0..na + nb).map(|_| rng.below(2) == 1).collect()
    } else {
        (0..na + nb).map(|i| i < na).collect()
    }
}

fn probe_op(st: &Setup, r: &DirectionReport, progress: &mut Progress) -> Result<ProbeReport, String> {
    let sites: Vec<String> = st.model.sites().into_iter().map(|x| x.name).collect();
    let positions = probe_positions(st.a.seq_len().min(st.b.seq_len()));
    let (na, nb) = (st.a.len(), st.b.len());
    let y = labels(st, na, nb, "steer.probe.labels");
    let mut accuracy = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        progress(SteerProgress { what: format!("probes at {site}"), done: i, total: sites.len() + 1 });
        let (xa, xb) = (
            s(directions::capture(st.model, &st.a.tokens, site))?,
            s(directions::capture(st.model, &st.b.tokens, site))?,
        );
        let row = positions
            .iter()
            .map(|&p| {
                let x: Vec<Vec<f32>> = xa.iter().chain(&xb).map(|seq| seq[p].clone()).collect();
                s(probe::fit(&x, &y, st.p.seed)).map(|pr| pr.test_accuracy)
            })
            .collect::<Result<Vec<f64>, String>>()?;
        accuracy.push(row);
    }
    progress(SteerProgress {
        what: "pooled probe and read-out".into(),
        done: sites.len(),
        total: sites.len() + 1,
    });
    // The pooled probe at the direction's site: every selected position of every sequence.
    let site = &r.direction.site;
    let (xa, xb) = (
        s(directions::capture(st.model, &st.a.tokens, site))?,
        s(directions::capture(st.model, &st.b.tokens, site))?,
    );
    let pick = |acts: &Vec<Vec<Vec<f32>>>, sel: &Positions| -> Vec<Vec<f32>> {
        acts.iter().flat_map(|seq| sel.select(seq.len()).into_iter().map(move |t| seq[t].clone())).collect()
    };
    let (pa, pb) = (pick(&xa, &st.p.positions), pick(&xb, &st.p.positions));
    let py = labels(st, pa.len(), pb.len(), "steer.probe.pooled_labels");
    let pooled: Vec<Vec<f32>> = pa.into_iter().chain(pb).collect();
    let pr = s(probe::fit(&pooled, &py, st.p.seed))?;
    let mean_along = |m: &Materialized| -> Result<Vec<f64>, String> {
        let rows = s(probe::readout(st.model, &m.tokens, site, &pr))?;
        let l = rows.first().map_or(0, Vec::len);
        Ok((0..l).map(|t| rows.iter().map(|r| r[t]).sum::<f64>() / rows.len().max(1) as f64).collect())
    };
    Ok(ProbeReport {
        labels: if st.p.random_labels { "random" } else { "sets" }.into(),
        sites,
        positions,
        accuracy,
        site: site.clone(),
        pooled_accuracy: pr.test_accuracy,
        cosine: s(probe::cosine_with(&pr, &r.direction))?,
        readout_a: mean_along(&st.a_eval)?,
        readout_b: mean_along(&st.b_eval)?,
    })
}

fn patch_op(st: &Setup, clock: &dyn Fn() -> f64, progress: &mut Progress) -> Result<PatchReport, String> {
    let k = st.p.n.min(PATCH_SEQUENCES);
    let (clean, corrupt) = (st.a_eval.head(k)?, st.b_eval.head(k)?);
    if clean.len() != corrupt.len() || clean.seq_len() != corrupt.seq_len() {
        return Err(format!(
            "patching needs sets A (clean) and B (corrupted) of one shape: {} vs {}",
            clean.desc, corrupt.desc
        ));
    }
    // The clean answer: set A's targets where they are the model's classes, else the clean
    // run's own predictions at every position.
    let (targets, mask, what) = match &clean.targets {
        Some((t, m)) if clean.classes == st.classes => {
            (t.concat(), m.concat(), "mean logit of set A's answers at its scored positions")
        }
        _ => (
            predict(st, &clean.tokens, &[])?,
            vec![true; k * clean.seq_len()],
            "mean logit of the clean run's predictions",
        ),
    };
    let score = move |logits: &Tensor| -> steer::Result<f64> {
        let rows: Vec<Vec<f32>> = logits
            .to_vec2()
            .map_err(|e| steer::SteerError { what: "patch metric".into(), detail: e.to_string() })?;
        let picked: Vec<f64> = rows
            .iter()
            .zip(&targets)
            .zip(&mask)
            .filter(|(_, &m)| m)
            .map(|((r, &y), _)| r[y as usize] as f64)
            .collect();
        Ok(picked.iter().sum::<f64>() / picked.len().max(1) as f64)
    };
    let sites: Vec<String> =
        st.model.sites().into_iter().filter(|x| x.kind != "mixer.heads").map(|x| x.name).collect();
    let t0 = clock();
    let l = clean.seq_len();
    let result = s(patch::sweep(st.model, &clean.tokens, &corrupt.tokens, &sites, &score, &mut |i, n| {
        progress(SteerProgress {
            what: format!("patching {} at each of {l} positions", sites[i]),
            done: i,
            total: n,
        });
    }))?;
    let ms = clock() - t0;
    let layers = st.model.sites().iter().filter(|x| x.kind == "mixer.heads").count();
    let (mut heads, mut ablation) = (Vec::new(), Vec::new());
    if layers > 0 {
        let h = st.trainer.cfg.heads.max(1);
        heads = s(patch::sweep_heads(st.model, &clean.tokens, &corrupt.tokens, layers, h, &score))?;
        let dh = st.trainer.cfg.d_model / h;
        let span = result.clean - result.corrupt;
        for l in 0..layers {
            ablation.push(
                (0..h)
                    .map(|hh| {
                        s(patch::ablate_head(st.model, &clean.tokens, l, hh, dh, &score))
                            .map(|m| (m - result.corrupt) / span)
                    })
                    .collect::<Result<Vec<f64>, String>>()?,
            );
        }
    }
    Ok(PatchReport { result, metric: what.into(), heads, ablation, ms, sequences: k })
}
