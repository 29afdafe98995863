// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "store.h"

#include <stdlib.h>
#include <string.h>

int
notify_store_init(struct notify_store *s, uint32_t cap, unsigned nshards,
                  unsigned shard)
{
    *s = (struct notify_store){.cap = cap, .nshards = nshards, .shard = shard};
    s->v = malloc((size_t)cap * sizeof *s->v);
    if (s->v == NULL)
        return -1;
    memset(s->v, 0, (size_t)cap * sizeof *s->v); // touched: RSS stays put
    return 0;
}

void
notify_store_fini(struct notify_store *s)
{
    for (uint32_t i = 0; s->v != NULL && i < s->cap; i++)
        free(s->v[i].push_req);
    free(s->v);
    s->v = NULL;
}

struct notify_entry *
notify_store_add(struct notify_store *s)
{
    if (s->live >= s->cap)
        return NULL;
    for (;;) {
        uint64_t seq = ++s->seq;
        struct notify_entry *e = &s->v[seq % s->cap];
        if (e->id != 0 && !notify_store_final(e))
            continue; // live: never evicted, its number is skipped
        free(e->push_req);
        *e = (struct notify_entry){.id = seq * s->nshards + s->shard};
        s->live++;
        return e;
    }
}

struct notify_entry *
notify_store_get(struct notify_store *s, uint64_t id)
{
    if (id % s->nshards != s->shard)
        return NULL;
    uint64_t seq = id / s->nshards;
    struct notify_entry *e = &s->v[seq % s->cap];
    return e->id == id && id != 0 ? e : NULL;
}

void
notify_store_finish(struct notify_store *s, struct notify_entry *e,
                    enum notify_push state, int64_t now_ns)
{
    e->push = (uint8_t)state;
    e->done_ns = now_ns;
    free(e->push_req);
    e->push_req = NULL;
    e->push_len = 0;
    s->live--;
}

const char *
notify_push_name(enum notify_push p)
{
    static const char *const names[] = {"queued",    "sending", "retrying",
                                        "delivered", "failed",  "expired"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

const char *
notify_ws_name(enum notify_ws w)
{
    static const char *const names[] = {"no_session", "delivered", "missed"};
    return (unsigned)w < sizeof names / sizeof names[0] ? names[w] : "?";
}
