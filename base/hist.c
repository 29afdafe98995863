// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "hist.h"

void
tr__hist_init(struct tr__hist *h)
{
    atomic_init(&h->sum, 0);
    atomic_init(&h->max, 0);
    for (unsigned i = 0; i < TR_HIST_BUCKETS; i++)
        atomic_init(&h->b[i], 0);
}

void
tr__hist_read(const struct tr__hist *h, tr_hist *out)
{
    out->count = 0;
    for (unsigned i = 0; i < TR_HIST_BUCKETS; i++) {
        // The const is the reader's promise; the atomics are still written.
        out->bucket[i] = atomic_load_explicit((_Atomic uint64_t *)&h->b[i],
                                              memory_order_relaxed);
        out->count += out->bucket[i];
    }
    out->sum_ns =
        atomic_load_explicit((_Atomic uint64_t *)&h->sum, memory_order_relaxed);
    out->max_ns =
        atomic_load_explicit((_Atomic uint64_t *)&h->max, memory_order_relaxed);
}

uint64_t
tr_hist_bucket_max_ns(unsigned i)
{
    if (i < 8)
        return i;
    if (i >= TR_HIST_BUCKETS - 1)
        return UINT64_MAX;
    unsigned msb = i / 8 + 2, sub = i % 8;
    uint64_t lo = (uint64_t)(8 + sub) << (msb - 3);
    return lo + ((uint64_t)1 << (msb - 3)) - 1;
}

uint64_t
tr_hist_quantile(const tr_hist *h, double q)
{
    if (h == NULL || h->count == 0)
        return 0;
    if (!(q > 0)) // also NaN
        q = 0;
    if (q > 1)
        q = 1;
    // The rank of the value wanted, 1-based: at least the first.
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < TR_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t hi = tr_hist_bucket_max_ns(i);
            return hi < h->max_ns ? hi : h->max_ns;
        }
    }
    return h->max_ns;
}
