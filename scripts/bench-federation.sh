#!/usr/bin/env bash
# The federated round benchmark in the browser: one federation run by three CLI processes (the
# baseline) and then by three Chromium tabs, in the same server; prints each one's median time
# from a round's opening to its aggregate and the ratio. (The in-process secure-aggregation
# benchmark, 10 participants and 10,000 parameters with and without masks, is
# `cargo bench -p app --bench secagg`.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_browser_bench bench/federation.spec.ts
