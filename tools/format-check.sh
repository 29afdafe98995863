#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# format-check.sh: fails, naming the files, if any tracked C file does not
# follow .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
for f in $(git ls-files '*.c' '*.h'); do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "format: $f does not follow .clang-format (clang-format -i $f)"
        bad=1
    fi
done
exit $bad
