#!/usr/bin/env bash
# The large-upload benchmark: a 1 GB CSV (CIPHERFOLD_BENCH_UPLOAD_MB to change) picked in the
# upload page, sealed and uploaded over HTTPS/HTTP/2 and over plain HTTP/1.1, then over HTTP/1.1
# clicked as soon as the form allows, with each phase's time and the peak memory of Chromium's
# processes above where each started. Up to 128 MiB the file is sealed while its preview shows;
# above, after the click: streamed chunk by chunk over HTTP/2, sealed whole into a Blob first
# over HTTP/1.1. Needs about 4 GB of free disk (the file and three stored copies).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_browser_bench bench/upload-memory.spec.ts
