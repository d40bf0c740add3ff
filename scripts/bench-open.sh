#!/usr/bin/env bash
# A 100 MB dataset in and out of a node on the optimised build: native parse and seal, the
# upload over loopback, and the trainer's open by phase (key, fetch + decrypt, parse), beside
# reading and decrypting the same bytes alone (see server/benches/open.rs).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
cargo bench -p server --bench open
