# Sourced by the other scripts: puts the pinned tools first on PATH.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/scripts/node/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cd "$ROOT"
