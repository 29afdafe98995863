// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// store.h: a courier's notifications and their delivery status, in a ring
// of `cap` entries allocated once.
//
// Design notes. Ids are sequence numbers: id = seq * nshards + shard, so
// an id names its shard, and entry seq % cap holds it. A new notification
// takes the next sequence number whose entry is free or finished: the
// oldest finished status is what gets evicted, and a live one never is
// (its number is skipped instead; ids need not be dense). With at most
// `queue` live entries and cap >= 2 * queue, a free entry is found within
// queue + 1 steps. A lookup is one index and one comparison: an evicted id
// is simply not there any more.
#ifndef NOTIFY_STORE_H
#define NOTIFY_STORE_H

#include "notify.h"

#include <stdbool.h>
#include <stdint.h>

enum notify_push {
    PUSH_QUEUED,    // waiting for a gateway stream
    PUSH_SENDING,   // an attempt in flight
    PUSH_RETRYING,  // waiting out a backoff pause
    PUSH_DELIVERED, // final
    PUSH_FAILED,    // final: permanent error, or max_attempts
    PUSH_EXPIRED,   // final: the budget ran out
};

enum notify_ws {
    WS_NONE,      // no session was connected
    WS_DELIVERED, // handed to `ws_sessions` sessions
    WS_MISSED,    // sessions were connected, each was full
};

struct notify_entry {
    uint64_t id; // 0: never used
    uint8_t kind;
    uint8_t push; // enum notify_push
    uint8_t ws;   // enum notify_ws
    uint8_t name_len;
    uint16_t attempts;
    uint16_t gw; // the gateway of the attempt in flight
    uint32_t ws_sessions;
    uint32_t prev, next;     // the courier's waiting list: entry index + 1
    int64_t created_ns;      // system clock (tr_ctx_now_ns)
    int64_t deadline_ns;     // created_ns + ttl
    int64_t done_ns;         // when it became final
    int64_t retry_ns;        // PUSH_RETRYING: when the next attempt starts
    unsigned char *push_req; // the gateway request, while live (malloc)
    uint32_t push_len;
    char name[NOTIFY_NAME_MAX];
    char error[NOTIFY_ERROR_MAX]; // the last attempt's error, or ""
};

struct notify_store {
    struct notify_entry *v;
    uint32_t cap;
    uint32_t live;
    uint32_t nshards, shard;
    uint64_t seq; // the last sequence number handed out
};

// notify_store_init allocates the ring (touching every page now, so the
// process's RSS does not creep up as the ring fills). Returns 0 or -1.
int notify_store_init(struct notify_store *s, uint32_t cap, unsigned nshards,
                      unsigned shard);

// notify_store_fini frees the ring and what live entries still hold.
void notify_store_fini(struct notify_store *s);

// notify_store_add claims an entry for a new notification, with its id
// set and everything else zero, or returns NULL when none is free (more
// than cap live entries; not with cap >= 2 * queue).
struct notify_entry *notify_store_add(struct notify_store *s);

// notify_store_get finds `id`, or returns NULL (unknown, or evicted).
struct notify_entry *notify_store_get(struct notify_store *s, uint64_t id);

// notify_store_index is the entry's place in the ring.
static inline uint32_t
notify_store_index(const struct notify_store *s, const struct notify_entry *e)
{
    return (uint32_t)(e - s->v);
}

// notify_store_final is true once `e` has reached a final push state.
static inline bool
notify_store_final(const struct notify_entry *e)
{
    return e->push >= PUSH_DELIVERED;
}

// notify_store_finish makes `e` final with `state` at `now_ns` and frees
// its request bytes.
void notify_store_finish(struct notify_store *s, struct notify_entry *e,
                         enum notify_push state, int64_t now_ns);

// notify_push_name and notify_ws_name give the states' JSON names.
const char *notify_push_name(enum notify_push p);
const char *notify_ws_name(enum notify_ws w);

#endif // NOTIFY_STORE_H
