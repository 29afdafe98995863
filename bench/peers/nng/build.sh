#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# Builds the raw nng baseline (needs Debian's libnng-dev, nng 1.5).
#   build.sh [OUTDIR]    (default: bench/peers/nng/build/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
mkdir -p "$out"
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Wpedantic -Wshadow \
  -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
  -o "$out/nng_bench" "$here/nng_bench.c" -lnng
echo "$out/nng_bench"
