#!/usr/bin/env bash
# Encrypted prediction's benchmarks (docs/he.md), each printing its figures beside a baseline
# measured in the same run: the compute alone (client encryption, server evaluation,
# decryption; tfhe's own seeded functions and plaintext evaluation as baselines), then end to
# end over loopback natively (a release server and the CLI's client code; plaintext prediction
# through the same server as the baseline), then in Chromium (the page's worker in wasm
# against a release server; the same page's plaintext prediction as the baseline).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
log "compute alone: cargo bench -p app --features he --bench he"
cargo bench -q -p app --features he --bench he
log "native, loopback: cargo bench -p server --bench he_loopback"
cargo bench -q -p server --bench he_loopback
log "Chromium, loopback"
BENCH_PROFILE=release run_browser_bench bench/he.spec.ts
