#!/bin/bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# Runs the Erlang/OTP 25 benchmark peer, compiling it first if needed.
#   run.sh <workload> [N] [--threads K]   (K schedulers, default: all cores)
# workloads: pingpong counting fjcreate idle request restart treestop
# The beam goes to $ERL_BENCH_BUILD (default: bench/peers/erlang/build/);
# extra emulator flags can be given in ERL_FLAGS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${ERL_BENCH_BUILD:-$here/build}
threads=$(nproc)
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --threads=*) threads=${1#--threads=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ ${#args[@]} -lt 1 ]; then
  echo "usage: run.sh pingpong|counting|fjcreate|idle|request|restart|treestop [N] [--threads K]" >&2
  exit 2
fi
if [ ! -f "$build/erl_bench.beam" ] || [ "$here/erl_bench.erl" -nt "$build/erl_bench.beam" ]; then
  mkdir -p "$build"
  erlc -o "$build" "$here/erl_bench.erl"
fi
# +P: room for the million processes of idle and treestop (default limit 262,144).
exec erl -noshell +S "$threads:$threads" +P 4194304 -pa "$build" \
  -run erl_bench main "${args[@]}" -s init stop
