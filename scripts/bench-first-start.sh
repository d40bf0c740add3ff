#!/usr/bin/env bash
# The first start as a newcomer meets it: the README's first command (scripts/run.sh) on a
# fresh clone of HEAD with an empty cargo target directory, tools directory, cargo home (so
# every crate is downloaded) and npm cache, timed from the command to the first page served,
# by phase, beside the goal of issue 17 (10 minutes on 2 cores).
#   scripts/bench-first-start.sh             run.sh's default (CIPHERFOLD_PROFILE=release)
#   scripts/bench-first-start.sh release dev both profiles, one after the other, side by side
# The build directory is removed after each run (it is over 10 GB).
# Debian packages the run would install are not removed first: where they are installed
# already, their download and install are not in the figure (the line `apt:` says which).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GOAL=600
ADDR=127.0.0.1:3997
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(release)
for p in "${profiles[@]}"; do
    case "$p" in release | dev) ;; *) die "profiles are release or dev, not '$p'" ;; esac
done

stop_server() { pkill -f "cipherfold serve --addr $ADDR" 2>/dev/null || true; }
work="$(mktemp -d /tmp/cipherfold-first-start.XXXXXX)"
trap 'stop_server; rm -rf "$work"' EXIT
git clone -q "$REPO" "$work/repo"
commit="$(git -C "$work/repo" rev-parse --short HEAD)"
installed=""
for pkg in rustc-web rust-web-src lld-22 nodejs npm; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && installed="$installed $pkg"
done

# first_start PROFILE: runs scripts/run.sh in the clone with everything empty, prints each
# `==>` line with the seconds since the start, and the second the first page answered.
first_start() {
    local profile="$1" dir="$work/$1" start line
    mkdir -p "$dir"
    start=$(date +%s)
    (
        cd "$work/repo"
        CARGO_TARGET_DIR="$dir/target" CIPHERFOLD_TOOLS_DIR="$dir/tools" CARGO_HOME="$dir/cargo-home" \
            npm_config_cache="$dir/npm-cache" CIPHERFOLD_PROFILE="$profile" \
            scripts/run.sh --addr "$ADDR" --data-dir "$dir/data" 2>&1 |
            while IFS= read -r line; do
                case "$line" in *'==>'*) printf '%6ds %s\n' "$(($(date +%s) - start))" "$line" ;; esac
                printf '%s\n' "$line" >>"$dir/run.log"
            done
    ) &
    local pid=$!
    until curl -sf -o /dev/null "http://$ADDR/"; do
        kill -0 "$pid" 2>/dev/null || { tail -30 "$dir/run.log" >&2; die "scripts/run.sh stopped before serving"; }
        sleep 1
    done
    echo "$(($(date +%s) - start))" >"$dir/serving"
    printf '%6ds serving\n' "$(cat "$dir/serving")"
    stop_server
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir/target" "$dir/cargo-home"
}

for p in "${profiles[@]}"; do
    log "first start, CIPHERFOLD_PROFILE=$p (fresh clone of $commit; $(nproc) cores)"
    first_start "$p"
done

echo
echo "first start of $commit on $(nproc) cores: fresh clone, empty target, tools, cargo home and npm cache"
echo "apt: already installed, not counted:${installed:- none}"
printf '%-10s %10s %10s %8s\n' profile seconds goal ratio
for p in "${profiles[@]}"; do
    s="$(cat "$work/$p/serving")"
    awk -v p="$p" -v s="$s" -v g="$GOAL" 'BEGIN { printf "%-10s %10d %10d %8.2f\n", p, s, g, s / g }'
done
