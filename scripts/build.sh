#!/usr/bin/env bash
# Build the web app into dist/ (release, offline). Installs what the build needs first.
set -euo pipefail
source "$(dirname "$0")/env.sh"
scripts/setup.sh --build
trunk build --release
for f in dist/*.wasm; do echo "[build] $(basename "$f"): $(stat -c %s "$f") bytes, $(gzip -9c "$f" | wc -c) gzipped"; done
