#!/usr/bin/env bash
# The large-upload benchmark: a 1 GB CSV (CIPHERFOLD_BENCH_UPLOAD_MB to change) picked in the
# upload page, sealed and uploaded over HTTPS/HTTP/2 (streamed chunk by chunk) and over plain
# HTTP/1.1 (sealed whole into a Blob first), with the peak memory of Chromium's processes
# above where each started. Needs about 3 GB of free disk (the file and two stored copies).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_browser_bench bench/upload-memory.spec.ts
