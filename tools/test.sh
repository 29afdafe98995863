#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# test.sh: the README's test command. Installs what is missing, then builds
# with warnings as errors and runs the whole suite four ways: optimised with
# gcc, optimised with clang, AddressSanitizer+UBSan (gcc) and
# ThreadSanitizer (clang); runs the fuzz targets for a bounded time (clang,
# ASan+UBSan) and the chat example's page in headless Chromium
# (tests/browser); checks the formatting and builds a small program against
# the installed library. Build trees go to build/<variant>.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh

jobs=$(nproc)
passed=0
failed=0
start=$(date +%s)

# variant NAME CC cmake-args...: configure, build and run ctest.
variant() {
    local name=$1 cc=$2
    shift 2
    echo "== $name ($cc $*)"
    CC=$cc cmake -S . -B "build/$name" -DTR_WERROR=ON "$@" >/dev/null
    cmake --build "build/$name" -j"$jobs" >"build/$name.log" 2>&1 ||
        { cat "build/$name.log"; exit 1; }
    local out rc=0
    out=$(cd "build/$name" && ctest --output-on-failure 2>&1) || rc=$?
    echo "$out" | grep -E "tests passed|Test +#" || true
    local total fails
    total=$(echo "$out" | sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p')
    fails=$(echo "$out" | sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p')
    passed=$((passed + ${total:-0} - ${fails:-0}))
    failed=$((failed + ${fails:-0}))
    if [ "$rc" -ne 0 ]; then
        # What the failing tests printed, without the passing ones' lines.
        echo "$out" | grep -vE '^ +Start +[0-9]+:|Test +#[0-9]+: .* Passed' |
            tail -300
        echo "test: $passed passed, $failed failed"
        exit 1
    fi
}

variant release gcc -DCMAKE_BUILD_TYPE=Release
variant clang clang -DCMAKE_BUILD_TYPE=Release
variant asan gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTR_SANITIZER=address \
    -DTR_BENCH=ON -DTR_EXAMPLES=ON
variant tsan clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTR_SANITIZER=thread \
    -DTR_BENCH=ON -DTR_EXAMPLES=ON

# fuzz: the three libFuzzer targets at once for TR_FUZZ_SECONDS
# each, under ASan+UBSan, starting from fuzz/corpus. New inputs go to the
# build tree, never into the repository. A crash, a leak, a broken check,
# a slow input or an allocation past 64 MiB fails the run, and the
# reproducer is printed (fuzz/README.md says how to replay it).
fuzz() {
    local secs=${TR_FUZZ_SECONDS:-60} dir=build/fuzz t rc
    local targets="frame pack wsframe"
    echo "== fuzz (clang, ASan+UBSan, ${secs} s per target)"
    CC=clang cmake -S . -B $dir -DTR_WERROR=ON -DTR_FUZZ=ON -DTR_TESTS=OFF \
        -DTR_BENCH=OFF -DTR_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        >/dev/null
    cmake --build $dir -j"$jobs" --target $(printf 'fuzz_%s ' $targets) \
        >build/fuzz.log 2>&1 || { cat build/fuzz.log; exit 1; }
    local -A pid
    for t in $targets; do
        rm -rf "$dir/found-$t" "$dir/crash-$t"
        mkdir -p "$dir/found-$t" "$dir/crash-$t"
        "$dir/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=4096 \
            -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64 \
            -print_final_stats=1 -artifact_prefix="$dir/crash-$t/" \
            "$dir/found-$t" "fuzz/corpus/$t" >"$dir/fuzz_$t.log" 2>&1 &
        pid[$t]=$!
    done
    for t in $targets; do
        rc=0
        wait "${pid[$t]}" || rc=$?
        if [ "$rc" -ne 0 ]; then
            failed=$((failed + 1))
            tail -40 "$dir/fuzz_$t.log"
            for f in "$dir/crash-$t"/*; do
                [ -e "$f" ] || continue
                echo "fuzz: reproducer $f ($dir/fuzz/fuzz_$t $f):"
                od -A d -t x1 "$f" | head -32
            done
            continue
        fi
        passed=$((passed + 1))
        echo "fuzz/$t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' \
            "$dir/fuzz_$t.log"), $(grep -E '^#[0-9]+\s+DONE' \
            "$dir/fuzz_$t.log" | grep -o 'cov: [0-9]* ft: [0-9]*')"
    done
    if [ "$failed" -ne 0 ]; then
        echo "test: $passed passed, $failed failed"
        exit 1
    fi
}
fuzz
# The chat example's page in a real browser (headless Chromium through
# puppeteer-core), against the optimised gcc build's server.
echo "== browser (examples/chat in headless Chromium)"
out=$(tests/browser/run.sh build/release/examples/chat/chat build/release 2>&1) ||
    true
echo "$out" | grep -E "^browser: (ok|FAIL|skipped|error|screenshot|[0-9]+ passed)" ||
    echo "$out" | tail -20
bp=$(echo "$out" | sed -n 's/^browser: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
bf=$(echo "$out" | sed -n 's/^browser: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
if ! echo "$out" | grep -q "^browser: skipped" && [ -z "$bp" ]; then
    echo "$out" | tail -30
    bf=1
fi
passed=$((passed + ${bp:-0}))
failed=$((failed + ${bf:-0}))
if [ "${bf:-0}" -ne 0 ]; then
    echo "$out" | tail -30
    echo "test: $passed passed, $failed failed"
    exit 1
fi

echo "== format"
tools/format-check.sh
echo "== consumer (installed headers, pkg-config and find_package)"
tools/consumer-check.sh build/release

echo "test: all variants done in $(($(date +%s) - start)) s"
echo "test: $passed passed, $failed failed"
