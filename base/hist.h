// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// hist.h: a fixed log-linear histogram with one writer.
//
// Design notes
// - One thread writes (the loop that owns it) with relaxed loads and
//   stores, no read-modify-write: recording is a bit scan, and a load and
//   a store for the bucket, the sum and (rarely) the max.
// - Any thread may read at any time with relaxed loads. A snapshot taken
//   while the writer runs may miss the newest value in some fields; count
//   is computed from the buckets, so it always matches them.
#ifndef TR_BASE_HIST_H
#define TR_BASE_HIST_H

#include "base.h"

#include <troupe.h>

struct tr__hist {
    _Atomic uint64_t sum, max;
    _Atomic uint64_t b[TR_HIST_BUCKETS];
};

// tr__hist_index returns the bucket for `v` ns (see TR_HIST_BUCKETS).
static inline unsigned
tr__hist_index(uint64_t v)
{
    if (v < 8)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned i = (msb - 2) * 8 + (unsigned)((v >> (msb - 3)) & 7);
    return i < TR_HIST_BUCKETS ? i : TR_HIST_BUCKETS - 1;
}

static inline void
tr__hist_bump(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

// tr__hist_add records `v` ns. Thread: the histogram's writer.
static inline void
tr__hist_add(struct tr__hist *h, int64_t v)
{
    uint64_t u = v > 0 ? (uint64_t)v : 0;
    tr__hist_bump(&h->b[tr__hist_index(u)], 1);
    tr__hist_bump(&h->sum, u);
    if (u > atomic_load_explicit(&h->max, memory_order_relaxed))
        atomic_store_explicit(&h->max, u, memory_order_relaxed);
}

// tr__hist_init zeroes `h`. Thread: before the writer starts.
void tr__hist_init(struct tr__hist *h);

// tr__hist_read copies `h` into the public snapshot *out. Thread: any.
void tr__hist_read(const struct tr__hist *h, tr_hist *out);

#endif // TR_BASE_HIST_H
