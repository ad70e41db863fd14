#!/usr/bin/env bash
# Build the web app into dist/ (release, offline). Installs what the build needs first.
# URLs in dist/ are relative, so it works from any static host, at the root or under a
# sub-path; PUBLIC_URL=/some/path/ writes absolute ones instead.
set -euo pipefail
source "$(dirname "$0")/env.sh"
scripts/setup.sh --build
trunk build --release --public-url "${PUBLIC_URL:-./}"
node scripts/postbuild.mjs dist
for f in dist/*.wasm; do echo "[build] $(basename "$f"): $(stat -c %s "$f") bytes, $(gzip -9c "$f" | wc -c) gzipped"; done
