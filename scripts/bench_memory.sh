#!/usr/bin/env bash
# Peak resident memory of one native training step per model family and size, beside the
# lab's estimate (`TrainConfig::estimated_bytes`, the number the memory budget is checked
# against). Prints numbers, asserts nothing; the measured table lives in src/core/config.rs's
# tests. Usage: scripts/bench_memory.sh [model ...]   (default: every family)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cargo build --release --bin interlab >/dev/null
B=target/release/interlab
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(transformer dlr s4d mhssm lstm gru)
for fam in "${models[@]}"; do for d in 64 128 256; do for sb in "256 32" "1024 8"; do
  set -- $sb
  args=(task=mqar seq_len=$1 kv_pairs=16 vocab=64 batch=$2 layers=2 heads=2 model=$fam d_model=$d --timed-steps 1)
  est=$($B bench "${args[@]}" --budget-mib 1 2>&1 | grep -o 'needs about [0-9]*' | grep -o '[0-9]*$' || true)
  kb=$( { /usr/bin/time -f "%M" $B bench "${args[@]}" --budget-mib 65536 >/dev/null; } 2>&1 | tail -1)
  echo "$fam d_model=$d seq_len=$1 batch=$2 estimate_mib=$est peak_rss_mib=$((kb / 1024))"
done; done; done
