// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "limiter.h"
#include "notify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROBE   8 // buckets a key may use, from its hash on
#define KEY_MAX (NOTIFY_NAME_MAX + 3)

struct bucket {
    int64_t last_ns; // when tokens was last brought up to date; 0: free
    double tokens;
    uint8_t len;
    char key[KEY_MAX];
};

struct notify_limiter {
    double rate; // tokens per second
    double burst;
    uint32_t n;
    struct bucket v[];
};

int
notify_limiter_alloc(notify_limiter **out, double rate, uint32_t burst,
                     uint32_t keys)
{
    if (keys < PROBE)
        keys = PROBE;
    notify_limiter *l = calloc(1, sizeof *l + keys * sizeof l->v[0]);
    if (l == NULL)
        return -1;
    l->rate = rate;
    l->burst = burst;
    l->n = keys;
    *out = l;
    return 0;
}

void
notify_limiter_free(notify_limiter *l)
{
    free(l);
}

bool
notify_limiter_take(notify_limiter *l, const char *key, size_t len,
                    int64_t now_ns, int64_t *retry_ms)
{
    if (l->rate <= 0 || len > KEY_MAX)
        return true;
    if (now_ns <= 0)
        now_ns = 1; // 0 marks a free bucket
    uint32_t h = (uint32_t)(notify_hash(key, len) % l->n);
    struct bucket *b = NULL, *idle = NULL;
    for (uint32_t i = 0; i < PROBE && b == NULL; i++) {
        struct bucket *c = &l->v[(h + i) % l->n];
        if (c->last_ns != 0 && c->len == len && memcmp(c->key, key, len) == 0)
            b = c;
        else if (idle == NULL || c->last_ns < idle->last_ns)
            idle = c; // a free bucket (0) wins over any used one
    }
    if (b == NULL) {
        b = idle;
        b->len = (uint8_t)len;
        memcpy(b->key, key, len);
        b->tokens = l->burst;
        b->last_ns = now_ns;
    }
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) * 1e-9 * l->rate;
        if (b->tokens > l->burst)
            b->tokens = l->burst;
        b->last_ns = now_ns;
    }
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return true;
    }
    *retry_ms = (int64_t)ceil((1 - b->tokens) * 1000 / l->rate);
    if (*retry_ms < 1)
        *retry_ms = 1;
    return false;
}
