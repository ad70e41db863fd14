#!/usr/bin/env bash
# The whole test suite: native tests (incl. WGSL kernels on software Vulkan), then the
# built site in headless Chromium (with WebGPU on SwiftShader, and without).
set -euo pipefail
source "$(dirname "$0")/env.sh"
t0=$(date +%s)
# wgpu/Mesa warn loudly without it; harmless, but keep the log readable.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
scripts/setup.sh

# House rules first: formatting and lints, native and wasm32 (fails fast, before the long parts).
echo "== house rules: cargo fmt --check, clippy -D warnings (native, wasm32) =="
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo clippy --target wasm32-unknown-unknown --lib --bin interlab-web --bin interlab-worker --locked -- -D warnings

echo "== native: cargo test =="
INTERLAB_REQUIRE_GPU=1 cargo test --all-targets 2>&1 | tee /tmp/interlab-cargo-test.log

echo "== web build =="
scripts/build.sh

echo "== browser: headless Chromium against dist/ =="
node --test --test-concurrency=1 tests/browser/

echo "[test] all passed in $(( $(date +%s) - t0 )) s; screenshot: test-artifacts/lab-trained.png"
