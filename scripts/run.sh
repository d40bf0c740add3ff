#!/usr/bin/env bash
# Builds the site and the release server (installing whatever is missing), then serves
# Cipherfold on http://127.0.0.1:3000 with the embedded database and object store under
# ./data. Extra arguments go to `cipherfold serve` (see `cipherfold serve --help`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

scripts/build-site.sh
log "building the server (release)"
cargo build -q --release -p server --bin cipherfold
exec "$CARGO_TARGET_DIR/release/cipherfold" serve "$@"
