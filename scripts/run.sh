#!/usr/bin/env bash
# Installs what is missing, builds Siperb Desktop with its UI embedded, and starts it.
# With no server configured it starts with no account.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${APP_PACKAGES[@]}"
ensure_rust
ensure_node
ensure_npm_packages

log "building the app (the first build takes several minutes)"
npx tauri build --no-bundle

log "starting Siperb"
exec "$ROOT/target/release/siperb-desktop" "$@"
