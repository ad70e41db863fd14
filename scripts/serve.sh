#!/usr/bin/env bash
# The lab on http://127.0.0.1:${PORT:-8080}: installs what is missing, builds, serves,
# and rebuilds on change. Ctrl-C stops it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
scripts/setup.sh --build
PORT="${PORT:-8080}"
echo "[serve] interlab at http://127.0.0.1:$PORT/"
exec trunk serve --release --address 127.0.0.1 --port "$PORT"
