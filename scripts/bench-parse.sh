#!/usr/bin/env bash
# The upload preview's CSV reading in Chromium (the file worker's wasm, the real path) beside the
# same scanner and the trainer's parser natively, on one 200,000 × 20 file (see
# end2end/bench/parse.spec.ts and app/benches/parse.rs).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
(cd "$REPO" && cargo bench -q -p app --bench parse --no-run)
run_browser_bench bench/parse.spec.ts
