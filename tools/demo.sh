#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# demo.sh [chat options]: the README's first command. Installs what is
# missing, builds troupe optimised into build/release and runs the main
# demo: the chat server (examples/chat) with two bots chatting in the
# lobby. It prints the address to open in a browser; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target chat >/dev/null
exec build/release/examples/chat/chat --bots 2 "$@"
