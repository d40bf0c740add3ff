#!/usr/bin/env bash
# The browser sealing benchmark: 100 MiB through the wasm aes-gcm crate and through WebCrypto,
# in Chromium, in one worker the benchmark makes itself from the shipped bundle (no benchmark
# code is in the sealing worker users download). Prints MB/s for each and the ratio.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
ensure_node
ensure_chromium
cargo build -q -p server
scripts/build-site.sh
cd "$REPO/end2end"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
CIPHERFOLD_BIN="$CARGO_TARGET_DIR/debug/cipherfold" npx playwright test --config bench.config.ts --reporter=list bench/seal.spec.ts
