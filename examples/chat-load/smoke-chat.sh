#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# smoke-chat.sh CHAT CHAT-LOAD [OPTIONS]: starts the chat server on a free
# loopback port, runs chat-load against it briefly (two workers, every
# message checked; OPTIONS added to its own), then stops the server.
# chat-load's exit status is the result.
set -euo pipefail
chat=$1
load=$2
shift 2
out=$(mktemp)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -f "$out"
}
trap cleanup EXIT
# --seconds: the server never outlives a test that hangs.
"$chat" --port 0 --quiet --seconds 100 >"$out" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's|.*ws://127\.0\.0\.1:\([0-9]*\)/ws.*|\1|p' "$out" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "smoke-chat: the server did not start:"
    cat "$out"
    exit 1
fi
"$load" -q -n 200 -m 10 -r 100 -w 1 -d 2 -p 2 --drain 5 --server-pid "$pid" \
    "$@" "ws://127.0.0.1:$port/ws"
