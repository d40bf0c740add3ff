#!/usr/bin/env bash
# A 100 MB dataset in and out of a node on the optimised build: native parse and seal, the
# upload over loopback, the trainer's open by phase (key; fetch, decrypt and parse as it
# streams) and its peak memory, beside reading and decrypting the same bytes alone and the
# whole-plaintext open's memory (see server/benches/open.rs). CIPHERFOLD_BENCH_MB=1000: 1 GB.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
cargo bench -p server --bench open
