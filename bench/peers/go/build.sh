#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# Builds the Go benchmark peer (needs Debian's golang-go; standard library
# only, so it builds offline). The build cache and GOPATH live under
# OUTDIR, so nothing outside it is written.
#   build.sh [OUTDIR]    (default: bench/peers/go/build/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export GOCACHE="$out/gocache" GOPATH="$out/gopath" GOPROXY=off \
  GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
cd "$here"
${GO:-go} build -buildvcs=false -trimpath -o "$out/go_bench" .
echo "$out/go_bench"
