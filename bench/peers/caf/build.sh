#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# Builds the CAF 0.17 benchmark peer (needs Debian's libcaf-dev).
#   build.sh [OUTDIR]    (default: bench/peers/caf/build/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
mkdir -p "$out"
${CXX:-g++} -O2 -std=c++17 -o "$out/caf_bench" "$here/caf_bench.cpp" \
  -lcaf_io -lcaf_core -pthread
echo "$out/caf_bench"
