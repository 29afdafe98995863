// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// limiter.h: a per-key token bucket in bounded memory: `keys` buckets in
// an open-addressed table. A key with no bucket takes a free one near its
// hash or, failing that, the bucket idle longest among those it may use;
// the evicted key starts over with a full bucket when it comes back (a
// little lenient for keys idle long enough to be evicted, never stricter).
// One owner: the api actor that holds it.
#ifndef NOTIFY_LIMITER_H
#define NOTIFY_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct notify_limiter notify_limiter;

// notify_limiter_alloc makes a limiter of `rate` tokens per second, at most
// `burst` saved, for `keys` keys. Returns 0 or -1 (out of memory).
int notify_limiter_alloc(notify_limiter **out, double rate, uint32_t burst,
                         uint32_t keys);

void notify_limiter_free(notify_limiter *l);

// notify_limiter_take spends one token of `key` at `now_ns` (a monotonic
// clock) and returns true, or returns false and stores in *retry_ms how
// long until a token is there.
bool notify_limiter_take(notify_limiter *l, const char *key, size_t len,
                         int64_t now_ns, int64_t *retry_ms);

#endif // NOTIFY_LIMITER_H
