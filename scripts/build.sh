#!/usr/bin/env bash
# Build the web app into dist/ (release, offline). Installs what the build needs first.
set -euo pipefail
source "$(dirname "$0")/env.sh"
scripts/setup.sh --build
trunk build --release
echo "[build] dist/: $(du -sh dist | cut -f1); wasm gzip: $(gzip -9c dist/*.wasm | wc -c) bytes"
