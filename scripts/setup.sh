#!/usr/bin/env bash
# Installs everything interlab's build and tests need, from the package registries only.
# Idempotent: each step checks first and is skipped when its tool is already present at the
# pinned version, so a re-run on a ready machine takes a few seconds.
#
#   scripts/setup.sh            # everything (build + browser tests + software Vulkan)
#   scripts/setup.sh --build    # only what `trunk build` needs
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132.0.0
PLAYWRIGHT_VERSION=1.64.1
ONLY_BUILD=0
[ "${1:-}" = "--build" ] && ONLY_BUILD=1

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

# The wasm-bindgen CLI must match the crate version that Cargo.lock resolved.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)

# 1. Rust target
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 1b. rustfmt and clippy (scripts/test.sh checks formatting and lints first); the image ships both.
for c in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$c"; then
    log "adding rust component $c"
    rustup component add "$c"
  fi
done

# 2. Debian packages: Chromium + chromedriver (browser tests), lavapipe (native GPU tests).
APT_PKGS=()
if [ "$ONLY_BUILD" = 0 ]; then
  command -v chromium >/dev/null || APT_PKGS+=(chromium)
  command -v chromedriver >/dev/null || APT_PKGS+=(chromium-driver)
  [ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || APT_PKGS+=(mesa-vulkan-drivers)
  ldconfig -p | grep -q 'libvulkan.so.1' || APT_PKGS+=(libvulkan1)
fi
if [ ${#APT_PKGS[@]} -gt 0 ]; then
  log "apt-get install ${APT_PKGS[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${APT_PKGS[@]}"
fi

# 3. trunk (pinned: 0.22 needs a newer rustc than this machine has)
if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
  log "cargo install trunk $TRUNK_VERSION (takes ~7 min on 2 cores)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

# 4. wasm-bindgen-cli == the wasm-bindgen crate in Cargo.lock. Without --locked: its own
#    lockfile pins a crate version the registry no longer serves.
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# 5. npm tools: wasm-opt from npm binaryen (Debian's old binaryen breaks the wasm) and
#    playwright-core (drives Debian's Chromium; never downloads a browser).
NODE_DIR=scripts/node
want_npm=0
[ -x "$NODE_DIR/node_modules/.bin/wasm-opt" ] || want_npm=1
grep -q "\"version\": \"$BINARYEN_VERSION\"" "$NODE_DIR/node_modules/binaryen/package.json" 2>/dev/null || want_npm=1
[ -f "$NODE_DIR/node_modules/playwright-core/package.json" ] || want_npm=1
if [ "$want_npm" = 1 ]; then
  log "npm ci in $NODE_DIR (binaryen $BINARYEN_VERSION, playwright-core $PLAYWRIGHT_VERSION)"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi

log "ready: $(trunk --version), wasm-bindgen $(wasm-bindgen --version | awk '{print $2}'), wasm-opt $("$NODE_DIR/node_modules/.bin/wasm-opt" --version | awk '{print $3}')"
