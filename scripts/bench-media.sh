#!/usr/bin/env bash
# Media benchmark, Siperb's CLI and baresip side by side in one run: CPU per call, mouth-to-ear
# delay, PESQ clean and under 5 % loss + 20 +- 10 ms jitter, memory. See scripts/bench/media.py.
#
#   scripts/bench-media.sh [--phones siperb,siperb+ap,baresip] [--jack-period 480] [--seed 7] [--keep]
#                           [--perf DIR]   (perf profiles of the clean calls)
#
# Installs what it needs (Debian packages; numpy, scipy, pesq and JACK-Client from PyPI in a
# virtual environment under target/), builds the CLI in release mode and prints a table; the
# details go to artifacts/bench/media.json.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${APP_PACKAGES[@]}" kamailio kamailio-tls-modules openssl baresip jackd2 linux-perf \
  libasound2-plugins alsa-utils espeak-ng sox python3 python3-venv python3-dev
ensure_rust

VENV="$ROOT/target/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import jack, pesq, numpy, scipy' 2>/dev/null; then
  log "Python environment for the analysis: $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q numpy scipy cython setuptools wheel
  # pesq builds against numpy (no wheel for every Python).
  "$VENV/bin/pip" install -q --no-build-isolation pesq JACK-Client
fi

log "building siperb-cli and the offline Opus tool (release)"
cargo build --release -q -p siperb-cli
cargo build --release -q -p siperb-media --example opus_offline

log "benchmark"
exec "$VENV/bin/python" "$ROOT/scripts/bench/media.py" "$@"
