#!/usr/bin/env bash
# Benchmark (prints numbers; asserts nothing): steps/s of the default slice config natively
# (release) and in headless Chromium (wasm, CPU backend), and their ratio.
set -euo pipefail
source "$(dirname "$0")/env.sh"
scripts/setup.sh
cargo build --release --bin interlab
native=$(target/release/interlab bench --steps "${BENCH_STEPS:-40}" "$@" | tee /dev/stderr | sed -n 's/.*steps_per_sec=\([0-9.]*\).*/\1/p')
[ -f dist/index.html ] || scripts/build.sh
wasm=$(node tests/browser/bench.mjs "$@" | tee /dev/stderr | sed -n 's/.*steps_per_sec=\([0-9.]*\).*/\1/p')
python3 -c "print(f'bench ratio native/wasm = {float($native)/float($wasm):.2f}x  (native {float($native):.2f} steps/s, wasm {float($wasm):.2f} steps/s)')"
