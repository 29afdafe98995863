#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# demo.sh: three cluster-node processes under troupe-launch, then failures:
#   1. the nodes find each other's pingers by name and ping them;
#   2. kill -9 of node b: a and c see their monitors fire (TR_ENOCONN) and
#      their pings fail (TR_EDOWN); the launcher restarts b, which rejoins
#      as a new incarnation, and a and c ping the new b;
#   3. SIGSTOP of node c: a and b see it down within the heartbeat timeout;
#      after SIGCONT it reconnects as the same incarnation;
#   4. SIGTERM to the launcher, which stops c, b, a in that order.
# Every step waits for the lines that show it (at most 20 s each, then
# the demo fails with status 1), and the end prints the measured times.
#
#   examples/cluster/demo.sh [--ipc] [BUILD_DIR]    (default build/release)
#
# --ipc uses ipc:// sockets in a scratch directory instead of loopback TCP
# ports (CLUSTER_PORT_BASE, by default 20000 + a number from this shell's
# pid, so that two demos rarely collide).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ipc=0
if [ "${1:-}" = "--ipc" ]; then
    ipc=1
    shift
fi
build=${1:-$here/../../build/release}
node_bin=$build/examples/cluster-node
launch_bin=$build/launcher/troupe-launch
if [ ! -x "$node_bin" ] || [ ! -x "$launch_bin" ]; then
    echo "demo: no $node_bin or $launch_bin; build first:" >&2
    echo "  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release" >&2
    echo "  cmake --build build/release -j2" >&2
    exit 2
fi

tmp=$(mktemp -d /tmp/troupe-cluster-XXXXXX)
log=$tmp/out.log # everything: the demo's lines, the launcher's, the nodes'
: >"$log"
if [ "$ipc" = 1 ]; then
    export CLUSTER_IPC_DIR=$tmp
else
    export CLUSTER_PORT_BASE=${CLUSTER_PORT_BASE:-$((20000 + ($$ % 1000) * 10))}
fi
TROUPE_CLUSTER_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export TROUPE_CLUSTER_SECRET
export PATH="$build/examples:$PATH" # the config names cluster-node

launcher=
frozen=
cleanup() {
    if [ -n "$frozen" ]; then kill -CONT "$frozen" 2>/dev/null || true; fi
    if [ -n "$launcher" ] && kill -0 "$launcher" 2>/dev/null; then
        kill -TERM "$launcher" 2>/dev/null || true
        wait "$launcher" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# say prints a line of the demo's own (and logs it); `said` keeps it, so
# its time can be measured from.
said=
say() {
    said="$(date +%H:%M:%S.%3N) demo: $*"
    echo "$said" | tee -a "$log"
}

# mark: the number of log lines so far; later searches start after it.
mark() { wc -l <"$log"; }

# find_after MARK PATTERN...: the first line after MARK holding every
# PATTERN (fixed strings), or nothing.
find_after() {
    local from=$1
    shift
    local lines
    lines=$(tail -n +"$((from + 1))" "$log")
    for p in "$@"; do
        lines=$(grep -F -- "$p" <<<"$lines" || true)
    done
    head -n 1 <<<"$lines"
}

# wait_for MARK PATTERN...: waits (20 s at most) for such a line and
# prints nothing; fails the demo if none comes.
wait_for() {
    local end=$((SECONDS + 20))
    while [ -z "$(find_after "$@")" ]; do
        if [ "$SECONDS" -ge "$end" ]; then
            say "FAILED: no line after line $1 with: ${*:2}"
            exit 1
        fi
        sleep 0.05
    done
}

# ms_of LINE: the line's leading HH:MM:SS.mmm in ms since midnight.
ms_of() {
    awk '{ split($1, t, ":"); printf "%d", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }' <<<"$1"
}

# between LINE1 LINE2: ms from LINE1's time to LINE2's.
between() {
    local a=$1 b=$2
    echo $(($(ms_of "$b") - $(ms_of "$a")))
}

pid_of() { # the pid of node $1 from the launcher's latest start line
    grep -F "launch event=started node=$1 " "$log" | tail -n 1 |
        sed 's/.* pid=\([0-9]*\).*/\1/'
}

say "starting a, b, c under troupe-launch ($here/cluster.conf)"
m0=$(mark)
"$launch_bin" "$here/cluster.conf" > >(tee -a "$log") 2>&1 &
launcher=$!

# 1. Everyone pings everyone.
for from in a b c; do
    for to in a b c; do
        if [ "$from" != "$to" ]; then
            wait_for "$m0" "$from: reply from $to seq=3 "
        fi
    done
done

# 2. kill -9 b.
pid_b=$(pid_of b)
m1=$(mark)
say "kill -9 b (pid $pid_b)"
kill_line=$said
kill -KILL "$pid_b"
for w in a c; do
    wait_for "$m1" "$w: DOWN pinger-b" "reason=TR_ENOCONN"
done
wait_for "$m1" "launch event=started node=b" "restarts=1"
for w in a c; do
    wait_for "$m1" "$w: b is back" "new incarnation" "TR_ENOACTOR"
    wait_for "$m1" "$w: reply from b "
    wait_for "$m1" "b: reply from $w "
done
down_b=$(between "$kill_line" "$(find_after "$m1" "a: DOWN pinger-b")")
down_b_c=$(between "$kill_line" "$(find_after "$m1" "c: DOWN pinger-b")")
back_b=$(between "$kill_line" "$(find_after "$m1" "a: b is back")")
back_b_c=$(between "$kill_line" "$(find_after "$m1" "c: b is back")")

# 3. SIGSTOP c, then SIGCONT.
pid_c=$(pid_of c)
m2=$(mark)
say "kill -STOP c (pid $pid_c): frozen, its sockets still open"
stop_line=$said
frozen=$pid_c
kill -STOP "$pid_c"
for w in a b; do
    wait_for "$m2" "$w: DOWN pinger-c" "reason=TR_ENOCONN"
done
m3=$(mark)
say "kill -CONT c"
cont_line=$said
kill -CONT "$pid_c"
frozen=
for w in a b; do
    wait_for "$m3" "$w: c is back" "same incarnation"
    wait_for "$m3" "$w: reply from c "
    wait_for "$m3" "c: reply from $w "
done
down_c=$(between "$stop_line" "$(find_after "$m2" "a: DOWN pinger-c")")
down_c_b=$(between "$stop_line" "$(find_after "$m2" "b: DOWN pinger-c")")
back_c=$(between "$cont_line" "$(find_after "$m3" "a: c is back")")
back_c_b=$(between "$cont_line" "$(find_after "$m3" "b: c is back")")

# 4. Stop everything, in reverse order.
m4=$(mark)
say "SIGTERM to troupe-launch: it stops c, b, a"
kill -TERM "$launcher"
status=0
wait "$launcher" || status=$?
launcher=
wait_for "$m4" "launch event=stopped"
if [ "$status" -ne 0 ]; then
    say "FAILED: troupe-launch exited with status $status"
    exit 1
fi
for n in c b a; do # each closed its system cleanly (a sanitizer would say)
    if [ -z "$(find_after "$m4" "event=exited node=$n " "code=0 ")" ]; then
        say "FAILED: node $n did not exit with status 0 when stopped"
        exit 1
    fi
done
say "kill -9 b: DOWN seen by a after ${down_b} ms, by c after ${down_b_c} ms;" \
    "b back (restarted, new incarnation) for a after ${back_b} ms, for c after ${back_b_c} ms"
say "SIGSTOP c: DOWN seen by a after ${down_c} ms, by b after ${down_c_b} ms" \
    "(heartbeat timeout 1000 ms); after SIGCONT c back for a in ${back_c} ms, for b in ${back_c_b} ms"
say "ok"
