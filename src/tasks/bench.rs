//! Generation-throughput benchmark cases, shared by `interlab tasks bench` (native) and the
//! gallery's "measure generation speed" (in the tab), so both report the same numbers.

use super::{build, Task};

/// One benchmark: a task at a sequence length, generated in batches of `BENCH_BATCH`.
pub struct BenchCase {
    pub task: &'static str,
    pub params: &'static [(&'static str, &'static str)],
}

pub const BENCH_BATCH: usize = 32;

/// Lengths 1K, 8K and 65K (PathfinderSegmentation: 32², 90² = 8100 and 256²) for tasks that
/// reach them.
pub const CASES: &[BenchCase] = &[
    BenchCase { task: "mqar", params: &[("seq_len", "1024"), ("kv_pairs", "64"), ("vocab", "256")] },
    BenchCase { task: "shift", params: &[("seq_len", "1024")] },
    BenchCase { task: "induction", params: &[("seq_len", "1024"), ("segment", "256"), ("vocab", "512")] },
    BenchCase { task: "listops", params: &[("seq_len", "1024")] },
    BenchCase { task: "pathfinder", params: &[("size", "32")] },
    BenchCase { task: "mqar", params: &[("seq_len", "8192"), ("kv_pairs", "256"), ("vocab", "1024")] },
    BenchCase { task: "shift", params: &[("seq_len", "8192")] },
    BenchCase { task: "listops", params: &[("seq_len", "8192")] },
    BenchCase { task: "pathfinder", params: &[("size", "90")] },
    BenchCase {
        task: "mqar",
        params: &[("seq_len", "65536"), ("kv_pairs", "1024"), ("vocab", "4096"), ("power_a", "0.01")],
    },
    BenchCase { task: "shift", params: &[("seq_len", "65536")] },
    BenchCase { task: "sensor", params: &[("seq_len", "65536")] },
    BenchCase { task: "pathfinder", params: &[("size", "256")] },
];

/// The result of one case.
#[cfg(test)]
mod tests {
    #[test]
    fn every_case_builds() {
        for c in super::CASES {
            super::case_task(c).unwrap();
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BenchResult {
    pub label: String,
    pub seq_len: usize,
    pub batches: usize,
    pub seconds: f64,
}

impl BenchResult {
    pub fn sequences_per_sec(&self) -> f64 {
        (self.batches * BENCH_BATCH) as f64 / self.seconds.max(1e-9)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "case": self.label,
            "seq_len": self.seq_len,
            "batch": BENCH_BATCH,
            "sequences_per_sec": self.sequences_per_sec(),
            "positions_per_sec": self.sequences_per_sec() * self.seq_len as f64,
        })
    }
}

/// Build a case's task (an error names the case; the cases are fixed, so it means a bug).
pub fn case_task(case: &BenchCase) -> Result<Box<dyn Task>, String> {
    build(case.task, case.params.iter().copied()).map_err(|e| format!("bench case {}: {e}", case.task))
}

/// Generate batches of one case until `min_ms` has passed (at least two batches);
/// `now` is a millisecond clock.
pub fn run_case(case: &BenchCase, min_ms: f64, now: &dyn Fn() -> f64) -> Result<BenchResult, String> {
    let task = case_task(case)?;
    let seq_len = task.shape().seq_len;
    let label = format!(
        "{} {}",
        case.task,
        case.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    );
    std::hint::black_box(task.generate(0, BENCH_BATCH)); // warm-up
    let t0 = now();
    let mut batches = 0;
    while batches < 2 || now() - t0 < min_ms {
        std::hint::black_box(task.generate(batches as u64 + 1, BENCH_BATCH));
        batches += 1;
    }
    Ok(BenchResult { label, seq_len, batches, seconds: (now() - t0) / 1000.0 })
}
