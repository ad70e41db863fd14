//! Why: a task suite is only worth having if the lab's model can learn its tasks. A small
//! Transformer must learn Shift, Reverse, MQAR and induction heads well above chance
//! within the test budget (native, CPU). Held-out accuracy is measured on sequences never
//! trained on; each threshold is far above the task's chance level (stated per case).

use interlab::core::TrainConfig;
use interlab::engine::Trainer;

struct Case {
    task: &'static str,
    params: &'static [(&'static str, &'static str)],
    steps: usize,
    /// Accuracy of guessing (1 / number of classes a target can take).
    chance: f64,
    /// Held-out token accuracy the run must reach.
    needed: f64,
}

fn learn(c: &Case) -> f64 {
    let cfg = TrainConfig { layers: 2, heads: 2, d_model: 32, batch: 16, steps: c.steps, warmup: 20, lr: 3e-3, seed: 7, ..TrainConfig::default() }
        .with_task(c.task, c.params);
    let mut t = Trainer::new(cfg).unwrap_or_else(|e| panic!("{}: {e}", c.task));
    let mut best: f64 = 0.0;
    while !t.is_done() {
        let s = t.step().unwrap();
        assert!(s.loss.is_finite(), "{}: loss diverged at step {}", c.task, s.step);
        if s.step % 100 == 0 || t.is_done() {
            let acc = t.evaluate().unwrap().accuracy.unwrap();
            best = best.max(acc);
            if best >= c.needed {
                println!("{}: held-out accuracy {acc:.3} at step {} (chance {:.3})", c.task, s.step, c.chance);
                return best;
            }
        }
    }
    println!("{}: best held-out accuracy {best:.3} after {} steps (chance {:.3})", c.task, c.steps, c.chance);
    best
}

fn check(c: Case) {
    assert!(c.needed > 3.0 * c.chance, "threshold must be well above chance");
    let acc = learn(&c);
    assert!(acc >= c.needed, "{} reached only {acc:.3} (needed {}, chance {:.3})", c.task, c.needed, c.chance);
}

#[test]
fn shift_is_learned() {
    check(Case { task: "shift", params: &[("seq_len", "16"), ("vocab", "8"), ("channels", "2"), ("max_shift", "3")], steps: 600, chance: 1.0 / 8.0, needed: 0.9 });
}

#[test]
fn reverse_is_learned() {
    check(Case { task: "reverse", params: &[("length", "6"), ("vocab", "8")], steps: 1200, chance: 1.0 / 8.0, needed: 0.8 });
}

#[test]
fn mqar_is_learned() {
    check(Case { task: "mqar", params: &[("vocab", "20"), ("seq_len", "12"), ("kv_pairs", "3")], steps: 1500, chance: 1.0 / 10.0, needed: 0.6 });
}

#[test]
fn induction_heads_are_learned() {
    check(Case { task: "induction", params: &[("seq_len", "24"), ("vocab", "16"), ("segment", "8")], steps: 1500, chance: 1.0 / 16.0, needed: 0.6 });
}
