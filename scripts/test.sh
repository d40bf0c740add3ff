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
[ -z "$forbidden" ] || die "crate app depends on: $forbidden (keep these in server; tfhe only behind app's he feature)"

log "formatting (rustfmt.toml)"
cargo fmt --all --check || die "cargo fmt --check failed: run cargo fmt --all"

results="$(mktemp -d)"
# The site (for the browser tests) builds beside the lints and the tests' build, as in run.sh:
# each has long single-threaded stretches (one big crate, an LTO link) the other fills, and
# their cargo profile directories differ, so neither waits for the other's lock. It is a
# process group of its own, stopped with this script if anything before the wait fails.
setsid scripts/build-site.sh &
site_pid=$!
trap 'kill -- "-$site_pid" 2>/dev/null || true; rm -rf "$results"' EXIT

log "clippy with warnings as errors: app and the server"
cargo clippy -q -p app -p server --all-targets --features server/surreal-node -- -D warnings
log "clippy: the browser crate, as the page and as each file worker"
# The browser crate with app's hydrate side, checked natively (the same source as the wasm build).
cargo clippy -q -p frontend --all-targets -- -D warnings
for w in $WORKER_BUNDLES; do
    cargo clippy -q -p frontend --no-default-features --features "${w#*:}" -- -D warnings
done

log "cargo tests: compiling"
# `surreal-node` builds the real SurrealDB server the several-node tests start (tests/api/cluster.rs).
# Compiled first on its own only so the log shows the build's time apart from the tests'.
cargo test -q -p app -p server --features server/surreal-node --no-run
# The tests run alone: some start servers and wait on them, and should not share the cores
# with an LTO link.
wait "$site_pid" || die "the site did not build (its output is above)"
log "cargo tests: running"
cargo test -p app -p server --features server/surreal-node --no-fail-fast 2>&1 | tee "$results/cargo.log"

log "browser tests (Playwright + Chromium)"
cd "$REPO/end2end"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
CIPHERFOLD_BIN="$CARGO_TARGET_DIR/debug/cipherfold" PLAYWRIGHT_JSON_OUTPUT_NAME="$results/e2e.json" \
    npx playwright test --reporter=list,json

# One closing line over both runners.
read -r rust_pass rust_fail < <(awk '/^test result:/ {p+=$4; f+=$6} END {print p+0, f+0}' "$results/cargo.log")
read -r e2e_pass e2e_fail < <(node -e 'const s=require(process.argv[1]).stats; console.log(s.expected, s.unexpected)' "$results/e2e.json")
echo "cargo: $rust_pass passed, browser: $e2e_pass passed"
echo "all: $((rust_pass + e2e_pass)) passed, $((rust_fail + e2e_fail)) failed"
