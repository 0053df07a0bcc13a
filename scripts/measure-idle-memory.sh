#!/usr/bin/env bash
# Measures the app's idle memory: starts the release build under Xvfb in its own D-Bus session
# with a temp profile, waits, then sums the PSS of the whole process tree (the app and its WebKit
# web and network processes). Prints one line per process and the total.
#   scripts/measure-idle-memory.sh [SECONDS_IDLE]   (default 20)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SIPERB_APP_BINARY:-$ROOT/target/release/siperb-desktop}"
IDLE="${1:-20}"
[ -x "$BIN" ] || { echo "build the app first: npx tauri build --no-bundle" >&2; exit 1; }

tmp=$(mktemp -d)
mkdir -p "$tmp/home" "$tmp/runtime" "$tmp/profile"
chmod 700 "$tmp/runtime"
mkfifo "$tmp/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" 2>/dev/null &
xvfb=$!
read -r -t 10 disp <"$tmp/display"
cleanup() { kill "$app_pid" 2>/dev/null || true; kill "$xvfb" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

env -i PATH="$PATH" DISPLAY=":$disp" HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/runtime" \
  SIPERB_PROFILE="$tmp/profile" WEBKIT_DISABLE_DMABUF_RENDERER=1 \
  dbus-run-session -- "$BIN" >/dev/null 2>&1 &
app_pid=$!
sleep "$IDLE"

descendants() {
  local p=$1
  echo "$p"
  for c in $(pgrep -P "$p" || true); do descendants "$c"; done
}
total=0
for p in $(descendants "$app_pid"); do
  [ -r "/proc/$p/smaps_rollup" ] || continue
  kb=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")
  name=$(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-60)
  # dbus-run-session and its bus belong to the test session, not to the app.
  case "$name" in dbus-*) continue ;; esac
  printf '%8d KiB  %s\n' "$kb" "$name"
  total=$((total + kb))
done
awk -v t="$total" -v s="$IDLE" 'BEGIN { printf "idle PSS after %ss: %d KiB (%.1f MiB)\n", s, t, t / 1024 }'
