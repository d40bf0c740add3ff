#!/usr/bin/env bash
# The browser sealing benchmark: 100 MiB through the wasm aes-gcm crate and through WebCrypto,
# in Chromium, in one worker the benchmark makes itself from the shipped bundle (no benchmark
# code is in the sealing worker users download). Prints MB/s for each and the ratio.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_browser_bench bench/seal.spec.ts
