# Shared by scripts/run.sh and scripts/test.sh: install what a fresh Debian 12 / Ubuntu 24.04 lacks.
# Sourced, not run.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# What building and running the app needs (Tauri 2 on Linux, audio for cpal).
APP_PACKAGES=(build-essential pkg-config file curl ca-certificates libwebkit2gtk-4.1-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev libasound2-dev libjack-jackd2-dev libpulse-dev
  libwebrtc-audio-processing-dev libclang-dev cmake)
# What the tests add: a headless X server and session bus, the WebKit WebDriver, screenshots,
# bundle checks.
TEST_PACKAGES=(kamailio kamailio-tls-modules openssl ca-certificates sip-tester linphone-cli iproute2 dnsmasq-base gnome-keyring keyutils jackd2 pulseaudio pulseaudio-utils libasound2-plugins baresip xvfb xauth dbus dbus-x11 webkit2gtk-driver imagemagick xdotool x11-utils desktop-file-utils rpm cpio dunst libnotify-bin haskell-status-notifier-item-utils xdg-utils libglib2.0-bin desktop-file-utils)

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are missing, without letting any service start (CI).
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
  fi
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Rust (stable, with rustfmt and clippy) through rustup when cargo is missing.
ensure_rust() {
  if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
  if ! command -v cargo >/dev/null; then
    log "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
}

# Node.js 20.19+ (Vite 8 needs it); Debian 12 and Ubuntu 24.04 ship older ones.
ensure_node() {
  local ok=0
  if command -v node >/dev/null; then
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' && ok=1
  fi
  if [ $ok -eq 0 ]; then
    log "installing Node.js 22 (the distribution's is missing or too old)"
    local arch; arch=$(dpkg --print-architecture | sed 's/amd64/x64/')
    local dir=/opt/node22
    as_root mkdir -p "$dir"
    curl -fsSL "https://nodejs.org/dist/latest-v22.x/node-$(curl -fsSL https://nodejs.org/dist/latest-v22.x/SHASUMS256.txt | grep -o "v22[^-]*" | head -1)-linux-$arch.tar.xz" \
      | as_root tar -xJ -C "$dir" --strip-components=1
    export PATH="$dir/bin:$PATH"
  fi
}

# The npm packages of the root and the UI workspace, exactly as locked.
ensure_npm_packages() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund
  fi
}
