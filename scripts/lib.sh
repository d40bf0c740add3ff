# Shared by the scripts: paths, and idempotent installs of what the build needs.
# Sourced, not run. Every ensure_* checks first and installs only what is missing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
TOOLS_DIR="${CIPHERFOLD_TOOLS_DIR:-$HOME/.cache/cipherfold/tools}"
SITE_ROOT="$CARGO_TARGET_DIR/site"
export CIPHERFOLD_SITE_ROOT="${CIPHERFOLD_SITE_ROOT:-$SITE_ROOT}"
mkdir -p "$TOOLS_DIR"
# The file worker's bundles, module:frontend-feature, one per app::file_worker::WorkerBundle
# (its `module()`): with encrypted prediction; CSV and JSON, sealing and upload; with the Excel
# reader; with a federation's participant. Built by build-site.sh, linted by test.sh. The one
# with encrypted prediction comes first: tfhe's crate is the longest single-threaded stretch of
# the site's build, so it starts while other builds can use the second core.
WORKER_BUNDLES="cipherfold_worker_he:worker-he cipherfold_worker:worker cipherfold_worker_excel:worker-excel cipherfold_worker_federate:worker-federate"
export PATH="$TOOLS_DIR/bin:$TOOLS_DIR/npm/node_modules/.bin:$PATH"

# Each line says how long the outermost script has run (minutes:seconds), so a CI log shows
# where a cold run's time went.
export CIPHERFOLD_T0="${CIPHERFOLD_T0:-$(date +%s)}"
log() {
    local t=$(($(date +%s) - CIPHERFOLD_T0))
    printf '\033[1m==> [%d:%02d] %s\033[0m\n' $((t / 60)) $((t % 60)) "$*" >&2
}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root to run: $* (install it by hand or run as root)"; fi
}

_apt_updated=0
# ensure_apt PKG...: installs the Debian packages that are not installed yet.
ensure_apt() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    if [ $_apt_updated = 0 ]; then as_root apt-get update -qq; _apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# WASM_MODE=rustup where the rustup wasm32 target exists, else Debian's rustc-web with build-std.
ensure_wasm_toolchain() {
    if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        WASM_MODE=rustup
    else
        ensure_apt rustc-web rust-web-src lld-22
        WASM_MODE=debian
    fi
}

# lock_version CRATE [LOCK-FILE]: the version a lock file (the workspace's by default) pins.
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
lock_version() {
    awk -v n="$1" '$0=="name = \""n"\"" {getline; gsub(/version = |"/,""); print; exit}' "${2:-$REPO/Cargo.lock}"
}

ensure_wasm_bindgen() {
    local want have
    want="$(lock_version wasm-bindgen)"
    [ -n "$want" ] || die "wasm-bindgen is not in Cargo.lock"
    have="$("$TOOLS_DIR/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}' || true)"
    if [ "$have" != "$want" ]; then
        log "installing wasm-bindgen-cli $want (once, into $TOOLS_DIR)"
        # Not --locked: its lock file names a webpki-roots release the registry here lacks.
        # In a directory of its own (not $CARGO_TARGET_DIR): it runs beside the site's and the
        # server's builds and must not hold the lock on their profile's directory.
        env -u CARGO_TARGET_DIR cargo install -q wasm-bindgen-cli --version "=$want" --root "$TOOLS_DIR" --force
        log "wasm-bindgen-cli $want installed"
    fi
}

# The page bundle's splitter (scripts/wasm-split), reinstalled when its sources change. It is
# built against wasm_split_cli_support with merge-chunks.patch (the patch says why): cargo
# fetches the crate (checked against the tool's Cargo.lock), a copy of it is patched, and the
# tool's copy builds offline with its lock file, so every other dependency stays as locked.
ensure_wasm_split() {
    local src="$REPO/scripts/wasm-split" stamp="$TOOLS_DIR/.wasm-split" want crate
    local build="$TOOLS_DIR/wasm-split-src" lib="$TOOLS_DIR/wasm-split-lib"
    want="$(cat "$src/Cargo.toml" "$src/Cargo.lock" "$src/src/main.rs" "$src/merge-chunks.patch" | sha256sum | cut -c1-16)"
    if [ ! -x "$TOOLS_DIR/bin/cipherfold-wasm-split" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "installing the page bundle's splitter (scripts/wasm-split) into $TOOLS_DIR"
        env -u CARGO_TARGET_DIR cargo fetch -q --locked --manifest-path "$src/Cargo.toml"
        crate="$(find "${CARGO_HOME:-$HOME/.cargo}/registry/cache" \
            -name "wasm_split_cli_support-$(lock_version wasm_split_cli_support "$src/Cargo.lock").crate" | head -n1)"
        [ -n "$crate" ] || die "cargo fetched no wasm_split_cli_support archive for scripts/wasm-split"
        rm -rf "$build" "$lib"
        mkdir -p "$build" "$lib"
        cp -r "$src/Cargo.toml" "$src/Cargo.lock" "$src/src" "$build/"
        tar -xzf "$crate" -C "$lib" --strip-components=1
        # git apply outside any repository (the ceiling stops it looking above the copy).
        GIT_CEILING_DIRECTORIES="$TOOLS_DIR" git -C "$lib" apply "$src/merge-chunks.patch" \
            || die "scripts/wasm-split/merge-chunks.patch does not apply to $crate"
        # Outside the tool's directory, so the copy is a patched dependency, not a workspace member.
        printf '\n[patch.crates-io]\nwasm_split_cli_support = { path = "%s" }\n' "$lib" >> "$build/Cargo.toml"
        # Its own target directory, as for wasm-bindgen (it builds beside the bundles).
        env -u CARGO_TARGET_DIR cargo build -q --release --offline --manifest-path "$build/Cargo.toml" \
            --target-dir "$TOOLS_DIR/wasm-split-target"
        mkdir -p "$TOOLS_DIR/bin"
        install -m 755 "$TOOLS_DIR/wasm-split-target/release/cipherfold-wasm-split" "$TOOLS_DIR/bin/"
        echo "$want" > "$stamp"
    fi
}

# wasm-opt is optional: it shrinks the bundle; without it the site still builds.
ensure_wasm_opt() {
    command -v wasm-opt >/dev/null && return 0
    command -v npm >/dev/null || ensure_apt nodejs npm
    log "installing wasm-opt (npm binaryen@132) into $TOOLS_DIR/npm"
    npm install -s --no-audit --no-fund --prefix "$TOOLS_DIR/npm" binaryen@132 >/dev/null 2>&1 \
        || log "wasm-opt unavailable; the bundle will be larger but works"
}

ensure_node() {
    command -v node >/dev/null && command -v npm >/dev/null || ensure_apt nodejs npm
}

ensure_chromium() {
    [ -x /usr/bin/chromium ] || ensure_apt chromium
}

# A Python with the independent checkers (PyJWT, later cryptography and scikit-learn),
# reinstalled only when the requirements change.
ensure_python_checkers() {
    local venv="$TOOLS_DIR/venv" req="$REPO/server/tests/independent/requirements.txt"
    command -v python3 >/dev/null || ensure_apt python3 python3-venv
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" || { ensure_apt python3-venv; python3 -m venv "$venv"; }
    fi
    local stamp="$venv/.requirements"
    if ! cmp -s "$req" "$stamp"; then
        log "installing the Python checkers ($(tr '\n' ' ' < "$req"))"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
        cp "$req" "$stamp"
    fi
    export CIPHERFOLD_PYTHON="$venv/bin/python"
}

# A Playwright benchmark spec (end2end/bench/…) against a freshly built server and site, with
# Node and Chromium installed if missing: the browser benchmarks' common steps.
run_browser_bench() {
    ensure_node
    ensure_chromium
    ensure_python_checkers # the HTTPS server's self-signed certificate is made with `cryptography`
    # BENCH_PROFILE=release runs the server as it is deployed (a slower first build).
    local profile="${BENCH_PROFILE:-debug}"
    if [ "$profile" = release ]; then
        (cd "$REPO" && cargo build -q --release -p server && scripts/build-site.sh)
    else
        (cd "$REPO" && cargo build -q -p server && scripts/build-site.sh)
    fi
    cd "$REPO/end2end"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
    CIPHERFOLD_BIN="$CARGO_TARGET_DIR/$profile/cipherfold" npx playwright test --config bench.config.ts --reporter=list "$1"
}
