#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# deps.sh [extra-package...]: installs the Debian packages troupe needs
# that are not installed yet (with sudo when not root): the build's
# libraries, and Chromium and Node for the chat page's browser test. Does
# nothing, and needs no network, when everything is there. Extra packages
# are installed the same way, e.g. bench/run's peers:
#   tools/deps.sh time g++ libcaf-dev erlang-nox golang-go
set -euo pipefail

need=(cmake make gcc clang clang-format pkg-config
      libjemalloc-dev libcmocka-dev libnng-dev libmsgpack-dev libmbedtls-dev
      libjansson-dev chromium fonts-dejavu-core "$@")
# The chat page's browser test runs Node (puppeteer-core, from npm). A Node
# installed another way (with its own npm) is fine: only a missing one is
# installed from Debian.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    need+=(nodejs npm)
fi
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
