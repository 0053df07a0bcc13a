#!/usr/bin/env bash
# Installs whatever the tests need and runs every test: format, lints, Rust unit and integration
# tests (with the UI bindings check), the UI's type check and unit tests, the installer bundles,
# and the end-to-end suite in the real webview. Logs and screenshots go to artifacts/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ARTIFACTS="${SIPERB_ARTIFACTS:-$ROOT/artifacts}"
export SIPERB_ARTIFACTS="$ARTIFACTS"
mkdir -p "$ARTIFACTS/logs"
# A one-off build gains nothing from incremental caches, which doubled the target directory.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
: > "$ARTIFACTS/logs/times.txt"

ensure_packages "${APP_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust
ensure_node
ensure_npm_packages
if ! command -v tauri-driver >/dev/null; then
  log "installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi

passed=0
failed=0
failed_steps=()

# step NAME COMMAND...: runs a step, keeps its log, adds up the tests its runner reports.
step() {
  local name=$1; shift
  local logf="$ARTIFACTS/logs/$name.log"
  log "$name: $*"
  local start=$SECONDS rc=0
  "$@" 2>&1 | tee "$logf" || rc=${PIPESTATUS[0]}
  local secs=$((SECONDS - start))
  echo
  printf '%-12s %4ss  exit %s\n' "$name" "$secs" "$rc" | tee -a "$ARTIFACTS/logs/times.txt"
  # Test counts as each runner prints them: cargo test, vitest, node --test.
  local p f
  p=$(sed 's/\x1b\[[0-9;]*m//g' "$logf" | awk '
      /^test result: /            { for (i=1;i<=NF;i++) if ($i ~ /^passed;?$/) s+=$(i-1) }
      /^ *Tests +.*passed/         { for (i=1;i<=NF;i++) if ($i ~ /^passed/) s+=$(i-1) }
      /^(#|ℹ) pass [0-9]+/          { s+=$3 }
      END { print s+0 }')
  f=$(sed 's/\x1b\[[0-9;]*m//g' "$logf" | awk '
      /^test result: /            { for (i=1;i<=NF;i++) if ($i ~ /^failed;?$/) s+=$(i-1) }
      /^ *Tests +.*failed/         { for (i=1;i<=NF;i++) if ($i ~ /^failed/) s+=$(i-1) }
      /^(#|ℹ) fail [0-9]+/          { s+=$3 }
      END { print s+0 }')
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" -ne 0 ]; then
    failed_steps+=("$name")
    # A step that failed without a failing test (build error, lint) still counts as a failure.
    [ "$f" -eq 0 ] && failed=$((failed + 1))
  fi
  return 0
}

step fmt       cargo fmt --all --check
# The Rust build embeds ui/dist (tauri::generate_context!), so the UI is built first.
step ui-build  npm run build -w ui
step clippy    cargo clippy --workspace --all-targets --locked -- -D warnings
step rust      cargo test --workspace --locked --no-fail-fast
step ui-check  npm run check -w ui
step ui-test   npm test -w ui
step bundle    npx tauri build --bundles deb,rpm -- --locked
step e2e       node --test --test-concurrency=1 --test-reporter=spec tests/e2e/

log "times"
cat "$ARTIFACTS/logs/times.txt"
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]} (logs in $ARTIFACTS/logs)"
fi
echo "total: $passed passed, $failed failed"
[ ${#failed_steps[@]} -eq 0 ]
