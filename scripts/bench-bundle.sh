#!/usr/bin/env bash
# Issue 17's bundle figures, in one run: each bundle's size (raw, gzip, brotli) beside its
# budget, where its bytes go (twiggy, grouped by crate), and the upload page's time to
# interactive on a Fast 3G profile, compressed against uncompressed (end2end/bench/bundle.spec.ts).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# twiggy reads the names section, which only the wasm before wasm-bindgen and wasm-opt keeps:
# its figures are that wasm's, larger than what ships, but the shares are the ones to cut.
if ! command -v twiggy >/dev/null; then
    log "installing twiggy (once, into $TOOLS_DIR)"
    env -u CARGO_TARGET_DIR cargo install -q twiggy --locked --root "$TOOLS_DIR"
fi
# The browser figures first: run_browser_bench builds the server and the site.
run_browser_bench bench/bundle.spec.ts

# by_crate NAME WASM BUDGET-KB: the shipped sizes against the budget, then the top crates.
by_crate() {
    local name="$1" wasm="$2" budget="$3" shipped="$SITE_ROOT/pkg/$1_bg.wasm"
    awk -v n="$name" -v raw="$(stat -c %s "$shipped")" -v gz="$(stat -c %s "$shipped.gz")" -v br="$(stat -c %s "$shipped.br")" -v b="$budget" \
        'BEGIN { printf "%s bundle: %d bytes, %d gzipped, %d brotli (budget %d kB gzipped: %.2fx)\n", n, raw, gz, br, b, gz / (b * 1000) }'
    twiggy top -n 1000000 -f csv "$wasm" | "$CIPHERFOLD_PYTHON" -c '
import csv, re, sys, collections
# A monomorphised function is counted under the first crate its name mentions (tachys for a
# view of ours, for instance): the crates that generate the code, not only who asked for it.
by = collections.Counter()
for row in csv.DictReader(sys.stdin):
    name, size = row["Name"], int(row["ShallowSize"])
    # Sections (names, the bindings custom section) and the descriptors wasm-bindgen removes.
    if "section" in name or "__wbindgen_describe" in name:
        continue
    m = re.search(r"([A-Za-z_0-9]+)\[[0-9a-f]{16}\]", name)
    by[m.group(1) if m else ("data" if name.startswith("data") else "other (glue, tables)")] += size
total = sum(by.values())
print(f"  code and data before wasm-bindgen and wasm-opt: {total} bytes; largest crates:")
for crate, size in by.most_common(12):
    print(f"  {size:>9} {100 * size / total:5.1f}%  {crate}")
'
}
by_crate cipherfold "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/cipherfold.wasm" 400
# What each lazily loaded page downloads: the main module and its route's modules, as the
# splitter's manifest lists them (the HTML preloads the same list).
"$CIPHERFOLD_PYTHON" - "$SITE_ROOT/pkg" <<'PY'
import json, os, re, sys
pkg = sys.argv[1]
gz = lambda name: os.path.getsize(os.path.join(pkg, name + ".wasm.gz"))
main = gz("cipherfold_bg")
routes = json.load(open(os.path.join(pkg, "__wasm_split_manifest.json")))
print(f"  each route (gzipped, with the {main}-byte main module):")
for key, modules in sorted(routes.items()):
    name = re.sub(r"^__(.*)_route_view_\d+$", r"\1", key)
    print(f"  {name:>16}: {len(modules):3} modules, {main + sum(map(gz, modules)):>8} bytes")
every = [f for f in os.listdir(pkg) if re.fullmatch(r"(split|chunk)_.*\.wasm", f)]
print(f"  all {len(every)} route modules and the main one: {main + sum(gz(f[:-5]) for f in every)} bytes")
PY
# Each page starts one of the worker's builds (app::file_worker::WorkerBundle): the files' (upload,
# dataset, batch prediction pages; the Excel one when such a page reads an .xlsx), the
# federations page's and the models page's.
for w in $WORKER_BUNDLES; do
    name="${w%%:*}"
    by_crate "$name" "$CARGO_TARGET_DIR/wasm32-unknown-unknown/${WORKER_PROFILE:-wasm-worker}/$name.wasm" 300
done
