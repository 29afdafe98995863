#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# demo.sh: the README's first command. Installs what is missing, builds
# troupe optimised into build/release and runs the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target hello >/dev/null
exec build/release/examples/hello "$@"
