#!/bin/bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# Runs the Erlang/OTP 25 benchmark peer, compiling it first if needed.
#   run.sh <workload> [N] [--threads K]   (K schedulers, default: all cores)
#   run.sh big [P [W]] | fanout [M [K]] [--threads K]
# workloads: pingpong counting fjcreate idle threadring big request fanout
#            restart treestop remote-pingpong remote-counting
# The remote workloads run two distributed nodes on 127.0.0.1: this script
# starts the peer node, then the measuring node, and makes sure the peer is
# gone afterwards (it halts itself when the measuring node disconnects; it is
# killed if it has not after 10 s).
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
  echo "usage: run.sh pingpong|counting|fjcreate|idle|threadring|big|request|fanout|restart|treestop|remote-pingpong|remote-counting [N [N2]] [--threads K]" >&2
  exit 2
fi
if [ ! -f "$build/erl_bench.beam" ] || [ "$here/erl_bench.erl" -nt "$build/erl_bench.beam" ]; then
  mkdir -p "$build"
  erlc -o "$build" "$here/erl_bench.erl"
fi
case ${args[0]} in
remote-*)
  # Node names and cookie unique to this run; epmd (started by the first
  # node if it is not running) listens on loopback only.
  export ERL_EPMD_ADDRESS=127.0.0.1
  a="bench_a_$$@127.0.0.1"
  b="bench_b_$$@127.0.0.1"
  dist=(-setcookie "bench_$$_$RANDOM" -kernel inet_dist_use_interface '{127,0,0,1}')
  erl -noshell +S "$threads:$threads" -name "$b" "${dist[@]}" -pa "$build" \
    -run erl_bench peer "$a" &
  peer=$!
  rc=0
  timeout -s KILL 600 erl -noshell +S "$threads:$threads" -name "$a" "${dist[@]}" \
    -pa "$build" -bench_peer "$b" \
    -run erl_bench main "${args[@]}" -s init stop || rc=$?
  for _ in $(seq 100); do
    kill -0 "$peer" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$peer" 2>/dev/null; then
    kill -KILL "$peer"
    echo "FAILED peer node did not stop" >&2
    rc=1
  fi
  wait "$peer" || { [ $rc -ne 0 ] || rc=1; echo "FAILED peer node exited with an error" >&2; }
  exit $rc
  ;;
esac
# +P: room for the million processes of idle and treestop (default limit 262,144).
exec erl -noshell +S "$threads:$threads" +P 4194304 -pa "$build" \
  -run erl_bench main "${args[@]}" -s init stop
