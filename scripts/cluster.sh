#!/usr/bin/env bash
# Two cipherfold nodes on one SurrealDB server, for a try on this machine:
#   SurrealDB  ws://127.0.0.1:8000   (surreal-node: the real server, data in ./cluster/db)
#   node A     http://127.0.0.1:3001
#   node B     http://127.0.0.1:3002
# Both nodes share the database, one object store (./cluster/objects; use s3://… on several
# machines, docs/deploy.md) and the same keys (made once in ./cluster/keys). Put a reverse
# proxy in front of both for one address. Ctrl-C stops all three.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

dir="$REPO/cluster"
mkdir -p "$dir/keys" "$dir/objects"
chmod 700 "$dir/keys"
for key in jwt trainer; do
    [ -s "$dir/keys/$key.hex" ] || (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$dir/keys/$key.hex")
done

log "building cipherfold and surreal-node"
cargo build -q -p server --features surreal-node --bins
scripts/build-site.sh
bin="$CARGO_TARGET_DIR/debug"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
"$bin/surreal-node" start --bind 127.0.0.1:8000 --user root --pass root --log warn "surrealkv://$dir/db" &
pids+=($!)
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:8000/health >/dev/null && break; sleep 0.1; done

for port in 3001 3002; do
    CIPHERFOLD_JWT_SECRET="$(cat "$dir/keys/jwt.hex")" CIPHERFOLD_TRAINER_KEY="$(cat "$dir/keys/trainer.hex")" \
        "$bin/cipherfold" serve --addr "127.0.0.1:$port" --data-dir "$dir/node-$port" \
        --database ws://127.0.0.1:8000 --database-user root --database-pass root \
        --object-store "file://$dir/objects" --site-root "$SITE_ROOT" &
    pids+=($!)
done
log "node A: http://127.0.0.1:3001   node B: http://127.0.0.1:3002   (Ctrl-C stops them)"
wait
