// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// msg.h: the message record and the per-loop message pools.
//
// A message is a header (type, sender, request id, deadline) and the
// payload bytes in one allocation. The header's wire fields are values (no
// pointers), so the same message can later cross a process boundary; the
// link and the pool pointer are local bookkeeping.
//
// Design notes (pools)
// - Small messages (payload <= TR__MSG_SMALL) come from the sending loop's
//   pool: a private free list, refilled from a Treiber stack that other
//   threads push the pool's messages onto when they free them. Messages
//   flow producer -> consumer -> back to the producer's pool, instead of
//   through the allocator's cross-thread free path, which is where jemalloc
//   takes locks.
// - A pool keeps at most TR__POOL_CAP free messages; the rest go back to the
//   allocator, so a burst does not pin its memory forever.
// - Only a loop thread has a pool (tr__msgpool_self); messages allocated
//   elsewhere, and messages that may outlive the loops (those to inboxes),
//   come from the allocator (pool NULL).
// - A pool must outlive every message it handed out: the system destroys
//   pools only after every loop thread has been joined.
// - A loop frees another loop's messages in batches: it chains them per
//   owner (a few owners at a time) and pushes a chain of TR__RET_BATCH with
//   one CAS, and what it holds when it goes idle or stops. One CAS per
//   message on the owner's `returned` line, which the owner exchanges on
//   every refill, cost more than the rest of the return. The owner
//   splices whole chains onto its free list (a chain's head carries its
//   length and tail) instead of reading each message, a cache miss each.
#ifndef TR_MAILBOX_MSG_H
#define TR_MAILBOX_MSG_H

#include "mpsc.h"

#include <troupe.h>

#include <stdbool.h>
#include <string.h>

struct tr__msgpool;

struct tr_msg {
    struct tr__node node; // mailbox link
    uint32_t type;
    uint32_t len;             // payload bytes
    tr_ref from;              // TR_REF_NONE from outside an actor
    uint64_t req_id;          // 0: not part of a request
    int64_t deadline_ns;      // absolute, tr_now_ns(); 0: none
    struct tr__msgpool *pool; // owner pool, NULL: the allocator
    alignas(16) unsigned char data[];
};

#define TR__MSG_SMALL  64   // payload bytes that fit a pooled message
#define TR__POOL_CAP   8192 // free messages a pool keeps (1 MiB)
#define TR__RET_OWNERS 4    // other pools a loop batches returns for
#define TR__RET_BATCH  64   // messages per batched return

// Messages owed to another pool, chained oldest first.
struct tr__msgret {
    struct tr__msgpool *to; // NULL: unused
    struct tr__node *head, *tail;
    unsigned n;
};

struct tr__msgpool {
    struct tr__node *free;                           // owner thread only
    unsigned nfree;                                  // owner thread only
    struct tr__msgret owed[TR__RET_OWNERS];          // owner thread only
    alignas(TR_CACHELINE) struct tr__stack returned; // any thread pushes
};

// tr__msgpool_self is the calling thread's pool, NULL off the loops.
extern TR__TLS struct tr__msgpool *tr__msgpool_self;

void tr__msgpool_init(struct tr__msgpool *p);
// tr__msgpool_fini frees the pool's free messages. Every message it handed
// out must have been freed. Thread: any, once nothing uses the pool.
void tr__msgpool_fini(struct tr__msgpool *p);

// tr__msg_alloc returns a message with room for `len` payload bytes and
// every header field but `len` and `pool` zeroed, or NULL. With `pooled`
// it comes from the calling thread's pool when there is one.
// Thread: any.
struct tr_msg *tr__msg_alloc(uint32_t type, size_t len, bool pooled);

// tr__msg_free frees `m` to its pool or the allocator; on a loop, another
// pool's message may wait in the loop's batch until tr__msgpool_flush.
// Thread: any.
void tr__msg_free(struct tr_msg *m);

// tr__msgpool_flush returns every message `p`'s owner holds for other
// pools. Loops call it before they idle and before they stop.
// Thread: p's owner.
void tr__msgpool_flush(struct tr__msgpool *p);

static inline struct tr_msg *
tr__msg_of(struct tr__node *n)
{
    return tr__container_of(n, struct tr_msg, node);
}

// tr__msg_take returns a free message of pool `p` (its `pool` field set,
// every other header field to be filled by the caller), or NULL when the
// free list is empty: the inline fast path of tr__msg_alloc.
// Thread: p's owner.
static inline struct tr_msg *
tr__msg_take(struct tr__msgpool *p)
{
    struct tr__node *n = p->free;
    if (n == NULL)
        return NULL;
    p->free = atomic_load_explicit(&n->next, memory_order_relaxed);
    p->nfree--;
    return tr__msg_of(n);
}

// tr__msg_free_own is tr__msg_free on the thread that owns `p`: a message
// of p's goes straight back onto its free list. Thread: p's owner.
static inline void
tr__msg_free_own(struct tr__msgpool *p, struct tr_msg *m)
{
    if (m->pool == p && p->nfree < TR__POOL_CAP) {
        atomic_store_explicit(&m->node.next, p->free, memory_order_relaxed);
        p->free = &m->node;
        p->nfree++;
    } else {
        tr__msg_free(m);
    }
}

// tr__copy_small copies n <= TR__MSG_SMALL bytes without a call: a few
// word moves (overlapping at the end) instead of memcpy's dispatch.
static inline void
tr__copy_small(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            memcpy(d + i, s + i, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n != 0) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

#endif // TR_MAILBOX_MSG_H
