#!/usr/bin/env bash
# Builds the site and the server (installing whatever is missing), then serves Cipherfold on
# http://127.0.0.1:3000 with the embedded database and object store under ./data.
# Extra arguments go to `cipherfold serve` (see `cipherfold serve --help`).
# CIPHERFOLD_PROFILE=dev uses the debug build that scripts/test.sh already made (faster to
# get going, slower to run); the default is an optimised release build.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

profile="${CIPHERFOLD_PROFILE:-release}"
case "$profile" in
    release) dir=release ;;
    dev) dir=debug ;;
    *) die "CIPHERFOLD_PROFILE must be release or dev, not '$profile'" ;;
esac

# The site and the server build side by side: each has long single-threaded stretches (one big
# crate, a link) that the other can fill, and their cargo profile directories differ, so
# neither waits for the other's lock. The site's build is a process group of its own, stopped
# with this script if the server's build fails or is interrupted.
setsid scripts/build-site.sh &
site_pid=$!
trap 'kill -- "-$site_pid" 2>/dev/null || true' EXIT
log "building the server (profile $profile; the first release build takes a while)"
cargo build -q --profile "$profile" -p server --bin cipherfold
log "server built (profile $profile)"
wait "$site_pid" || die "the site did not build (its output is above)"
trap - EXIT
exec "$CARGO_TARGET_DIR/$dir/cipherfold" serve "$@"
