#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# run.sh CHAT_BINARY OUT_DIR: the chat page in a real browser. Starts the
# chat server on a free loopback port, runs chat.test.mjs (headless
# Chromium through puppeteer-core) against it, saves a screenshot in
# OUT_DIR and stops the server. Bounded: the server start, the browser
# check and the test each have a deadline. Skips, saying why, only when
# Chromium cannot start here at all.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
chat=$(realpath "$1")
out=$(realpath "${2:-.}")
chromium="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$chromium" ]; then
    echo "browser: skipped: $chromium is not installed"
    exit 0
fi
# Can Chromium run here at all? (A machine without the libraries or the
# kernel features it needs fails here, not half way through the test.)
if ! probe=$(timeout 60 "$chromium" --headless=new --no-sandbox \
        --disable-gpu --dump-dom "data:text/html,<p>probe</p>" 2>&1) ||
    ! grep -q "<p>probe</p>" <<<"$probe"; then
    echo "browser: skipped: Chromium cannot run here:"
    echo "$probe" | tail -5
    exit 0
fi

# The page's test needs puppeteer-core: installed from package-lock.json.
if [ ! -d "$here/node_modules/puppeteer-core" ] ||
    [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    (cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi

log="$out/chat-browser-server.log"
: >"$log"
"$chat" --port 0 --quiet --stats-ms 0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 100); do # up to 10 s for the server to say where it is
    url=$(sed -n 's|^chat: node .* serving \(http://[^ ]*\) .*|\1|p' "$log" || true)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "browser: the chat server did not start:"
    cat "$log"
    echo "browser: 0 passed, 1 failed"
    exit 1
fi
echo "browser: server at $url"
rc=0
CHAT_URL="$url" SHOT="$out/chat-browser.png" CHROMIUM="$chromium" \
    timeout 180 node "$here/chat.test.mjs" || rc=$?
kill -INT "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
trap - EXIT
if [ "$rc" -ne 0 ]; then
    echo "browser: server log:"
    tail -20 "$log"
fi
exit "$rc"
