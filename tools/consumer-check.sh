#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# consumer-check.sh BUILD_DIR: installs that build into a scratch prefix
# and builds tests/consumer against it twice, with CMake's find_package and
# with pkg-config, then runs both programs, and checks that the installed
# troupe-launch reads a config.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name 'libtroupe.so' -printf '%h\n' | head -n1)

cmake -S tests/consumer -B "$prefix/cm" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cm" >/dev/null
LD_LIBRARY_PATH=$libdir "$prefix/cm/consumer"

export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror -o "$prefix/pc-consumer" tests/consumer/main.c \
    $(pkg-config --cflags --libs troupe)
LD_LIBRARY_PATH=$libdir "$prefix/pc-consumer"

printf 'node a -- /bin/true\n' >"$prefix/launch.conf"
"$prefix/bin/troupe-launch" --check "$prefix/launch.conf"
