#!/usr/bin/env bash
# The federated round benchmark in the browser: one federation run by three CLI processes (the
# baseline) and then by three Chromium tabs, in the same server; prints each one's median time
# from a round's opening to its aggregate and the ratio. (The in-process secure-aggregation
# benchmark, 10 participants and 10,000 parameters with and without masks, is
# `cargo bench -p app --bench secagg`.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
ensure_node
ensure_chromium
cargo build -q -p server
scripts/build-site.sh
cd "$REPO/end2end"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
CIPHERFOLD_BIN="$CARGO_TARGET_DIR/debug/cipherfold" npx playwright test --config bench.config.ts --reporter=list bench/federation.spec.ts
