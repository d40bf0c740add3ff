#!/usr/bin/env bash
# Plaintext prediction on the optimised build: one-row and 10,000-row requests to a 100-tree
# forest, p50/p99 and the server's split of the time, beside the HTTP floor and the model alone
# measured in the same run (see server/benches/predict.rs).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
cargo bench -p server --bench predict
