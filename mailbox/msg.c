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

// Pushes a chain onto `to`'s returned stack with one CAS.
static void
ret_flush(struct tr__msgret *r)
{
    if (r->n == 0)
        return;
    struct tr__stack *s = &r->to->returned;
    struct tr__node *top = atomic_load_explicit(&s->top, memory_order_relaxed);
    do {
        atomic_store_explicit(&r->tail->next, top, memory_order_relaxed);
        // seq_cst on success, as tr__stack_push: publishes the chain.
    } while (!atomic_compare_exchange_weak_explicit(
        &s->top, &top, r->head, memory_order_seq_cst, memory_order_relaxed));
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

// Moves what other threads returned onto the free list, up to the cap.
static void
pool_refill(struct tr__msgpool *p)
{
    // acquire (seq_cst): pairs with the CAS that pushed each node.
    struct tr__node *n = atomic_exchange(&p->returned.top, NULL);
    while (n != NULL) {
        struct tr__node *next =
            atomic_load_explicit(&n->next, memory_order_relaxed);
        if (p->nfree < TR__POOL_CAP) {
            atomic_store_explicit(&n->next, p->free, memory_order_relaxed);
            p->free = n;
            p->nfree++;
        } else {
            tr__free(tr__msg_of(n), POOLED_SIZE);
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
        tr__stack_push(&p->returned, &m->node);
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
