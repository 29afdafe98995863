// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// fuzz.h: what the fuzz targets share: the libFuzzer entry point, a check
// that aborts (libFuzzer and the replay driver both report an abort as a
// crash, with the input), and helpers that read a byte range so that
// AddressSanitizer checks every pointer a decoder hands out.
#ifndef TR_FUZZ_H
#define TR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// LLVMFuzzerTestOneInput runs one input; libFuzzer calls it, and so does
// fuzz/replay.c for each corpus file in the normal test suite.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// FUZZ_CHECK aborts, naming the condition, when `c` is false: a broken
// invariant is a finding just like a crash.
#define FUZZ_CHECK(c)                                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #c);                                                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

// fuzz_sink keeps the reads in fuzz_inside from being optimised away.
static volatile unsigned fuzz_sink;

// fuzz_span is the input a target is decoding: every pointer a decoder
// returns must lie inside it.
struct fuzz_span {
    const unsigned char *lo, *hi;
};

// fuzz_inside checks that `len` bytes at `p` lie inside `in`, then reads
// each of them. A zero-length range may point anywhere (decoders need not
// give an address for nothing).
static inline void
fuzz_inside(struct fuzz_span in, const void *p, size_t len)
{
    if (len == 0)
        return;
    const unsigned char *b = p;
    FUZZ_CHECK(b != NULL && b >= in.lo && b <= in.hi &&
               len <= (size_t)(in.hi - b));
    unsigned acc = 0;
    for (size_t i = 0; i < len; i++)
        acc += b[i];
    fuzz_sink += acc;
}

#endif // TR_FUZZ_H
