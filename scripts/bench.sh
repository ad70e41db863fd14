#!/usr/bin/env bash
# Benchmark (prints numbers; asserts nothing):
# 1. steps/s of a config (default: the lab's defaults; key=value arguments override, e.g.
#    `scripts/bench.sh task=shift`) natively (release) and in headless Chromium, and the ratio;
# 2. task-generation throughput (sequences/s, batch 32, lengths 1K/8K/65K) natively and in
#    the tab (`GEN=0` skips it).
set -euo pipefail
source "$(dirname "$0")/env.sh"
scripts/setup.sh
cargo build --release --bin interlab
native=$(target/release/interlab bench --timed-steps "${BENCH_STEPS:-40}" "$@" | tee /dev/stderr | sed -n 's/.*steps_per_sec=\([0-9.]*\).*/\1/p')
[ -f dist/index.html ] || scripts/build.sh
wasm=$(node tests/browser/bench.mjs "$@" | tee /dev/stderr | sed -n 's/.*steps_per_sec=\([0-9.]*\).*/\1/p')
python3 -c "print(f'bench ratio native/wasm = {float($native)/float($wasm):.2f}x  (native {float($native):.2f} steps/s, wasm {float($wasm):.2f} steps/s)')"
if [ "${GEN:-1}" = 1 ]; then
  target/release/interlab tasks bench
  node tests/browser/bench.mjs --gen
fi
