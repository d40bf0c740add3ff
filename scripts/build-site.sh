#!/usr/bin/env bash
# Builds the browser bundle and assembles the site the server serves:
#   $CARGO_TARGET_DIR/site/{pkg/cipherfold{,_worker{,_excel,_federate,_he}}.js, pkg/…_bg.wasm, pkg/cipherfold.css, public/*, sw.js}
# Same layout as cargo-leptos (see [[workspace.metadata.leptos]]), without needing it installed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROFILE=wasm-release
WORKER_PROFILE="${WORKER_PROFILE:-wasm-worker}"
NEW="$SITE_ROOT.new"
rm -rf "$NEW"
mkdir -p "$NEW/pkg"
cd "$REPO"

ensure_wasm_toolchain
# The wasm-bindgen CLI and the page's splitter are only needed once the bundles are compiled:
# they install (their own cargo builds, in their own directories) while the bundles compile.
{ ensure_wasm_bindgen && ensure_wasm_split; } &
bindgen_pid=$!
ensure_wasm_opt
ensure_apt brotli

# compile_bundle NAME PROFILE CARGO-FEATURE-ARGS...: one wasm bundle's cargo build, kept as NAME.wasm.
compile_bundle() {
    local name="$1" profile="$2"
    shift 2
    log "compiling the $name bundle (wasm32, profile $profile, toolchain: $WASM_MODE)"
    if [ "$WASM_MODE" = debian ]; then
        # Debian's 1.96 with the standard library compiled from source; /usr/bin first for this build only.
        PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 cargo build -q -p frontend --lib --target wasm32-unknown-unknown \
            --profile "$profile" -Zbuild-std=std,panic_abort "$@"
    else
        cargo build -q -p frontend --lib --target wasm32-unknown-unknown --profile "$profile" "$@"
    fi
    local out="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile"
    cp "$out/frontend.wasm" "$NEW/$name.wasm"
    # Kept with its names (wasm-bindgen and wasm-opt drop them) for bench-bundle.sh's twiggy.
    cp "$out/frontend.wasm" "$out/$name.wasm"
}

# optimize WASM-OPT-LEVEL FILE: wasm-opt in place, where it is installed.
optimize() {
    command -v wasm-opt >/dev/null || return 0
    # The split modules carry a names subsection binaryen does not know (it drops it), and
    # it warns once per module.
    wasm-opt "$1" "$2" -o "$2.opt" 2>&1 | { grep -v "unknown name subsection" || true; } >&2
    mv "$2.opt" "$2"
}

# bind_bundle NAME WASM-OPT-LEVEL [WASM-BINDGEN-ARGS...]: the JS glue and the final wasm into
# $NEW/pkg/NAME.js and NAME_bg.wasm.
bind_bundle() {
    local name="$1" level="$2"
    shift 2
    wasm-bindgen --target web --no-typescript "$@" --out-dir "$NEW/pkg" --out-name "$name" "$NEW/$name.wasm"
    rm "$NEW/$name.wasm"
    optimize "$level" "$NEW/pkg/${name}_bg.wasm"
}

# The page's bundle (hydration), and the file worker's (WORKER_BUNDLES, from lib.sh). The
# page is linked with its relocations kept, which the splitter needs to cut it at its lazy
# routes (app::ui's lazy_page!). These flags replace .cargo/config.toml's for this build, so
# they repeat them.
#
# The page compiles beside the workers, and each worker is bound and optimised while the next
# compiles: the two profiles have directories (and cargo locks) of their own, and much of each
# build is one thread (a big crate such as tfhe, an LTO link, wasm-opt) that the other fills.
# Run one after the other, the site's build ended with 15 minutes on one core (a cold CI run,
# docs/building.md). Callers run this script as a process group of its own (test.sh, run.sh),
# so stopping it stops these jobs too.
WASM_CFG='--cfg getrandom_backend="wasm_js" --cfg erase_components'
compile_page() { RUSTFLAGS="$WASM_CFG -Clink-args=--emit-relocs" compile_bundle cipherfold "$PROFILE"; }
page_pid=""
if [ "$WORKER_PROFILE" = "$PROFILE" ]; then
    # One profile directory: both builds would link its frontend.wasm, so one after the other.
    compile_page
else
    compile_page &
    page_pid=$!
fi
# The file worker's bundles use wasm's 128-bit SIMD (Chrome and Edge 91, Firefox 89, Safari
# 16.4 and later; public/seal-worker.js tells an older browser so): memchr then searches a
# piece for quotes and line ends 16 bytes a step instead of 4 (docs/building.md, "Parsing a CSV").
binds=()
for w in $WORKER_BUNDLES; do
    RUSTFLAGS="$WASM_CFG -Ctarget-feature=+simd128" compile_bundle "${w%%:*}" "$WORKER_PROFILE" --no-default-features --features "${w#*:}"
    # The tools are waited for once, after the first compile (a job is waited for only once).
    if [ -n "$bindgen_pid" ]; then
        wait "$bindgen_pid" || die "installing the wasm-bindgen CLI or the splitter failed (the output is above)"
        bindgen_pid=""
    fi
    bind_bundle "${w%%:*}" "$([ "$WORKER_PROFILE" = wasm-release ] && echo -Oz || echo -O3)" &
    binds+=($!)
done
[ -z "$page_pid" ] || wait "$page_pid" || die "compiling the page bundle failed (the output is above)"
# The page: its main module, one module per lazy route (and modules they share), the loader
# and the manifest HydrationScripts reads to preload a rendered route's modules. Shared
# modules are merged while a merge costs a route at most 4,000 bytes of code it does not run
# per fetch it saves (merge-chunks.patch): the upload page fetches 9 modules, not 64, and
# every route's download is smaller too (less per-module overhead; docs/building.md).
split_modules="$(cipherfold-wasm-split "$NEW/cipherfold.wasm" "$NEW/pkg" "$NEW/cipherfold.split.wasm" cipherfold 4000)" \
    || die "splitting the page bundle failed (its output is above)"
mv "$NEW/cipherfold.split.wasm" "$NEW/cipherfold.wasm"
bind_bundle cipherfold -Oz --keep-lld-exports --no-demangle
while IFS= read -r m; do
    [ -n "$m" ] && optimize -Oz "$m"
done <<< "$split_modules"
for pid in "${binds[@]}"; do
    wait "$pid" || die "binding or optimising a worker bundle failed (the output is above)"
done

cp "$REPO/style/main.css" "$NEW/pkg/cipherfold.css"
cp -r "$REPO/public/." "$NEW/"

# The service worker's cache is named after the build's content, so a new build replaces it.
BUILD_ID="$(cat "$NEW"/pkg/* "$REPO/public/sw.js" "$REPO/public/offline.html" | sha256sum | cut -c1-16)"
sed -i "s/__BUILD_ID__/$BUILD_ID/g" "$NEW/sw.js"
# ... and it caches the lazily loaded pages' modules (the splitter's list) with the shell.
page_modules="$(sed -n 's|.*/\([^/]*\.wasm\)$|"/pkg/\1"|p' <<< "$split_modules" | paste -sd, -)"
sed -i "s|/\* __PAGE_MODULES__ \*/|$page_modules|" "$NEW/sw.js"

# Compressed copies beside the bundles, made once here: the server's static-file handler
# (leptos_axum's, over tower-http's ServeDir) sends `name.br` or `name.gz` to a browser that
# accepts that encoding, so a phone downloads about a third of the bytes and the server does
# not compress 4 MB of wasm per request.
for f in "$NEW"/pkg/*.wasm "$NEW"/pkg/*.js "$NEW"/pkg/*.css "$NEW"/*.js; do
    gzip -9 -k -n "$f"
    brotli -q 11 -k "$f"
done

rm -rf "$SITE_ROOT.old"
[ -d "$SITE_ROOT" ] && mv "$SITE_ROOT" "$SITE_ROOT.old"
mv "$NEW" "$SITE_ROOT"
rm -rf "$SITE_ROOT.old"
sizes=""
for w in cipherfold:page $WORKER_BUNDLES; do
    name="${w%%:*}"
    raw=$(stat -c %s "$SITE_ROOT/pkg/${name}_bg.wasm")
    gz=$(stat -c %s "$SITE_ROOT/pkg/${name}_bg.wasm.gz")
    br=$(stat -c %s "$SITE_ROOT/pkg/${name}_bg.wasm.br")
    sizes="$sizes $name: $raw bytes, $gz gzipped, $br brotli;"
done
log "site assembled in $SITE_ROOT (build $BUILD_ID;$sizes)"
