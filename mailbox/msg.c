// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "msg.h"

TR__TLS struct tr__msgpool *tr__msgpool_self;

#define POOLED_SIZE (sizeof(struct tr_msg) + TR__MSG_SMALL)

void
tr__msgpool_init(struct tr__msgpool *p)
{
    p->free = NULL;
    p->nfree = 0;
    for (unsigned i = 0; i < TR__RET_OWNERS; i++)
        p->owed[i] = (struct tr__msgret){0};
    tr__stack_init(&p->returned);
}

// The returned stack holds chains of free messages, linked head to tail
// and each tail to the next chain's head. A chain's head carries its
// length and its tail in header fields a free message does not use
// (`len`, `req_id`), so the owner splices whole chains onto its free list
// without reading every message: each read would be a cache miss on a
// line the freeing thread wrote.
static void
chain_push(struct tr__msgpool *to, struct tr__node *head, struct tr__node *tail,
           unsigned n)
{
    tr__msg_of(head)->len = n;
    tr__msg_of(head)->req_id = (uint64_t)(uintptr_t)tail;
    tr__stack_push_chain(&to->returned, head, tail);
}

static void
ret_flush(struct tr__msgret *r)
{
    if (r->n == 0)
        return;
    chain_push(r->to, r->head, r->tail, r->n);
    r->head = r->tail = NULL;
    r->n = 0;
}

void
tr__msgpool_flush(struct tr__msgpool *p)
{
    for (unsigned i = 0; i < TR__RET_OWNERS; i++)
        ret_flush(&p->owed[i]);
}

// Owes `m` to its pool `to`, from pool `self`'s thread.
static void
ret_owe(struct tr__msgpool *self, struct tr__msgpool *to, struct tr_msg *m)
{
    struct tr__msgret *r =
        &self->owed[((uintptr_t)to / TR_CACHELINE) % TR__RET_OWNERS];
    if (r->to != to) {
        ret_flush(r); // another owner had the place
        r->to = to;
    }
    atomic_store_explicit(&m->node.next, r->head, memory_order_relaxed);
    if (r->head == NULL)
        r->tail = &m->node;
    r->head = &m->node;
    if (++r->n == TR__RET_BATCH)
        ret_flush(r);
}

static void
free_chain(struct tr__node *n)
{
    while (n != NULL) {
        struct tr__node *next =
            atomic_load_explicit(&n->next, memory_order_relaxed);
        tr__free(tr__msg_of(n), POOLED_SIZE);
        n = next;
    }
}

void
tr__msgpool_fini(struct tr__msgpool *p)
{
    free_chain(p->free);
    free_chain(atomic_exchange(&p->returned.top, NULL));
    p->free = NULL;
    p->nfree = 0;
}

// Moves what other threads returned onto the free list, a chain at a
// time, up to the cap (chains past it go back to the allocator).
static void
pool_refill(struct tr__msgpool *p)
{
    // acquire (seq_cst): pairs with the CAS that pushed each chain.
    struct tr__node *n = atomic_exchange(&p->returned.top, NULL);
    while (n != NULL) {
        unsigned len = tr__msg_of(n)->len;
        struct tr__node *tail =
            (struct tr__node *)(uintptr_t)tr__msg_of(n)->req_id;
        struct tr__node *next =
            atomic_load_explicit(&tail->next, memory_order_relaxed);
        if (p->nfree + len <= TR__POOL_CAP) {
            atomic_store_explicit(&tail->next, p->free, memory_order_relaxed);
            p->free = n;
            p->nfree += len;
        } else {
            atomic_store_explicit(&tail->next, NULL, memory_order_relaxed);
            free_chain(n);
        }
        n = next;
    }
}

struct tr_msg *
tr__msg_alloc(uint32_t type, size_t len, bool pooled)
{
    struct tr__msgpool *p = pooled ? tr__msgpool_self : NULL;
    struct tr_msg *m;
    if (p != NULL && len <= TR__MSG_SMALL) {
        if (p->free == NULL)
            pool_refill(p);
        if (p->free != NULL) {
            m = tr__msg_of(p->free);
            p->free =
                atomic_load_explicit(&p->free->next, memory_order_relaxed);
            p->nfree--;
        } else {
            m = tr__alloc(POOLED_SIZE);
            if (m == NULL)
                return NULL;
        }
        m->pool = p;
    } else {
        m = tr__alloc(sizeof *m + len);
        if (m == NULL)
            return NULL;
        m->pool = NULL;
    }
    m->type = type;
    m->len = (uint32_t)len;
    m->from = TR_REF_NONE;
    m->req_id = 0;
    m->deadline_ns = 0;
    return m;
}

void
tr__msg_free(struct tr_msg *m)
{
    struct tr__msgpool *p = m->pool;
    if (p == NULL) {
        tr__free(m, sizeof *m + m->len);
    } else if (p == tr__msgpool_self) {
        if (p->nfree < TR__POOL_CAP) {
            atomic_store_explicit(&m->node.next, p->free, memory_order_relaxed);
            p->free = &m->node;
            p->nfree++;
        } else {
            tr__free(m, POOLED_SIZE);
        }
    } else if (tr__msgpool_self != NULL) {
        ret_owe(tr__msgpool_self, p, m);
    } else {
        chain_push(p, &m->node, &m->node, 1);
    }
}

uint32_t
tr_msg_type(const tr_msg *m)
{
    return m->type;
}

const void *
tr_msg_data(const tr_msg *m)
{
    return m->len ? m->data : NULL;
}

size_t
tr_msg_size(const tr_msg *m)
{
    return m->len;
}

tr_ref
tr_msg_sender(const tr_msg *m)
{
    return m->from;
}
