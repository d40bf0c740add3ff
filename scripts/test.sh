#!/usr/bin/env bash
# Runs every test: the architecture check, cargo unit and integration tests (real embedded
# database, real object-store directories, the real binary), then the browser tests
# (Playwright driving Debian's Chromium against a freshly built server and site).
# Installs whatever is missing first, idempotently.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

ensure_node
ensure_chromium
ensure_python_checkers

log "checking that app stays free of server-only crates (DESIGN §1)"
forbidden="$(cargo tree -q -p app -e normal --prefix none | awk '{print $1}' | grep -Ex 'surrealdb|tfhe|object_store' || true)"
[ -z "$forbidden" ] || die "crate app depends on: $forbidden (keep these in server)"

log "cargo tests"
cargo test -p app -p server --no-fail-fast

scripts/build-site.sh

log "browser tests (Playwright + Chromium)"
cd "$REPO/end2end"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
CIPHERFOLD_BIN="$CARGO_TARGET_DIR/debug/cipherfold" npx playwright test
