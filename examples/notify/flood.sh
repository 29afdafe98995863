#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# flood.sh BINDIR [notify-load options...]: starts BINDIR/notify on a free
# loopback port (with the options in $NOTIFY_ARGS), floods it with
# BINDIR/notify-load, then stops it with SIGINT. Exits with notify-load's
# status (0: nothing accepted was lost) unless the server failed to stop
# cleanly.
set -euo pipefail
bin=$1
shift
# shellcheck disable=SC2206 # word splitting of NOTIFY_ARGS is the point
server_args=(${NOTIFY_ARGS:-})

coproc SRV { exec "$bin/notify" --port 0 --quiet "${server_args[@]}" 2>&1; }
pid=$SRV_PID
exec {out}<&"${SRV[0]}" # bash forgets SRV once the server exits
trap 'kill -INT "$pid" 2>/dev/null || true' EXIT
port=""
while IFS= read -r -t 30 -u "$out" line; do
    echo "$line"
    port=$(echo "$line" | sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p')
    [ -n "$port" ] && break
done
if [ -z "$port" ]; then
    echo "flood: the server did not start" >&2
    exit 1
fi

rc=0
"$bin/notify-load" --port "$port" "$@" || rc=$?

kill -INT "$pid"
cat <&"$out" || true
trap - EXIT
srv=0
wait "$pid" || srv=$?
if [ "$srv" -ne 0 ]; then
    echo "flood: the server exited with $srv" >&2
    exit "$srv"
fi
exit "$rc"
