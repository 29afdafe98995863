// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// mpsc.h: intrusive lock-free queues for many producers and one consumer.
//
// Design notes
// - tr__mpsc is Vyukov's intrusive MPSC queue. Push is wait-free: one
//   atomic exchange on `head` and one store linking the previous node. Pop
//   is consumer-only and lock-free; it may report "empty" for a moment while
//   a producer sits between its exchange and its link (tr__mpsc_pop returns
//   NULL, tr__mpsc_empty returns false): the caller simply tries later.
// - The queue holds a stub node embedded in itself, so it never allocates
//   and an empty queue is three words.
// - Order: nodes pushed by one producer pop in push order; pushes from
//   different producers pop in the order of their exchanges on `head`.
// - tr__stack is a Treiber stack for rare traffic (system signals): push is
//   a CAS loop, the consumer takes everything at once and reverses it, which
//   restores push order.
// - All atomics on `head` are seq_cst: the actor layer relies on a store-load
//   (Dekker) pairing between "push, then check the schedule flag" and "clear
//   the schedule flag, then check the queue" (see actors/actor.c).
#ifndef TR_MAILBOX_MPSC_H
#define TR_MAILBOX_MPSC_H

#include "../base/base.h"

#include <stdbool.h>

// tr__node is the link every queued record embeds.
struct tr__node {
    _Atomic(struct tr__node *) next;
};

struct tr__mpsc {
    _Atomic(struct tr__node *) head; // producers: any thread, xchg seq_cst
    struct tr__node *tail;           // consumer only
    struct tr__node stub;            // consumer (and one producer link)
};

static inline void
tr__mpsc_init(struct tr__mpsc *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    q->tail = &q->stub;
}

// tr__mpsc_push appends `n`. Thread: any.
static inline void
tr__mpsc_push(struct tr__mpsc *q, struct tr__node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    // seq_cst: orders this push before the caller's later check of the
    // consumer's schedule flag (store-load pairing, see header notes).
    struct tr__node *prev = atomic_exchange(&q->head, n);
    // release: publishes n's contents to the consumer's acquire load.
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

// tr__mpsc_pop_at is tr__mpsc_pop with the consumer's tail kept at *tailp
// instead of in the queue, so a consumer popping a run of nodes can keep it
// in a register and store it back once: the tail would otherwise be
// written on every pop, often on the cache line producers exchange `head`
// on. Until it is stored back, only this call may use the queue's tail.
// Thread: consumer.
static inline struct tr__node *
tr__mpsc_pop_at(struct tr__mpsc *q, struct tr__node **tailp)
{
    struct tr__node *tail = *tailp;
    // acquire: pairs with the release link in push.
    struct tr__node *next =
        atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (next == NULL)
            return NULL;
        *tailp = next;
        tail = next;
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next != NULL) {
        *tailp = next;
        return tail;
    }
    if (tail != atomic_load(&q->head))
        return NULL; // a producer is between its exchange and its link
    tr__mpsc_push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next != NULL) {
        *tailp = next;
        return tail;
    }
    return NULL;
}

// tr__mpsc_pop removes the oldest node, or returns NULL when the queue is
// empty or a push is half done. Thread: consumer.
static inline struct tr__node *
tr__mpsc_pop(struct tr__mpsc *q)
{
    return tr__mpsc_pop_at(q, &q->tail);
}

// tr__mpsc_empty is true when no node has been pushed that was not popped,
// counting half-done pushes as present. Thread: consumer.
static inline bool
tr__mpsc_empty(struct tr__mpsc *q)
{
    return q->tail == &q->stub && atomic_load(&q->head) == &q->stub &&
           atomic_load_explicit(&q->stub.next, memory_order_acquire) == NULL;
}

struct tr__stack {
    _Atomic(struct tr__node *) top; // producers: any thread; consumer: xchg
};

static inline void
tr__stack_init(struct tr__stack *s)
{
    atomic_init(&s->top, NULL);
}

// tr__stack_push_chain adds the nodes head .. tail (linked through
// `next`, head first) with one CAS; they come out of tr__stack_take in
// the reverse of that order. Thread: any.
static inline void
tr__stack_push_chain(struct tr__stack *s, struct tr__node *head,
                     struct tr__node *tail)
{
    struct tr__node *top = atomic_load_explicit(&s->top, memory_order_relaxed);
    do {
        atomic_store_explicit(&tail->next, top, memory_order_relaxed);
        // seq_cst on success: same store-load pairing as tr__mpsc_push.
    } while (!atomic_compare_exchange_weak_explicit(
        &s->top, &top, head, memory_order_seq_cst, memory_order_relaxed));
}

// tr__stack_push adds `n`. Thread: any.
static inline void
tr__stack_push(struct tr__stack *s, struct tr__node *n)
{
    tr__stack_push_chain(s, n, n);
}

// tr__stack_take removes every node and returns them oldest first, linked
// through `next`. Thread: consumer.
static inline struct tr__node *
tr__stack_take(struct tr__stack *s)
{
    struct tr__node *n = atomic_exchange(&s->top, NULL), *fifo = NULL;
    while (n != NULL) {
        struct tr__node *next =
            atomic_load_explicit(&n->next, memory_order_relaxed);
        atomic_store_explicit(&n->next, fifo, memory_order_relaxed);
        fifo = n;
        n = next;
    }
    return fifo;
}

// tr__stack_empty is a hint for the consumer. Thread: consumer.
static inline bool
tr__stack_empty(struct tr__stack *s)
{
    return atomic_load(&s->top) == NULL;
}

// tr__mbox is an actor's mailbox: producers push onto a tr__stack (`in`,
// one CAS), and the consumer, when its private FIFO (`out`) runs dry,
// takes the whole stack with one exchange (tr__stack_take, which restores
// push order). Two words, no stub, and a consumer that empties the
// mailbox with one message in it pays one exchange, against the stub's
// re-push and several branches of tr__mpsc. Order: as tr__mpsc (one
// producer's nodes pop in push order; different producers' in the order
// of their CASes). The CAS is seq_cst for the same store-load pairing as
// tr__mpsc_push.
struct tr__mbox {
    struct tr__stack in;  // producers: any thread; consumer: take
    struct tr__node *out; // consumer only: oldest first
};

static inline void
tr__mbox_init(struct tr__mbox *q)
{
    tr__stack_init(&q->in);
    q->out = NULL;
}

// tr__mbox_push appends `n`. Thread: any.
static inline void
tr__mbox_push(struct tr__mbox *q, struct tr__node *n)
{
    tr__stack_push(&q->in, n);
}

// tr__mbox_pop_at is tr__mbox_pop with the consumer's FIFO head kept at
// *outp (a local, while a run pops a batch). Thread: consumer.
static inline struct tr__node *
tr__mbox_pop_at(struct tr__mbox *q, struct tr__node **outp)
{
    struct tr__node *n = *outp;
    if (n == NULL) {
        // A load first: an empty stack costs no exchange.
        if (atomic_load_explicit(&q->in.top, memory_order_relaxed) == NULL ||
            (n = tr__stack_take(&q->in)) == NULL)
            return NULL;
    }
    *outp = atomic_load_explicit(&n->next, memory_order_relaxed);
    return n;
}

// tr__mbox_pop removes the oldest node, or returns NULL when the mailbox
// is empty. Thread: consumer.
static inline struct tr__node *
tr__mbox_pop(struct tr__mbox *q)
{
    return tr__mbox_pop_at(q, &q->out);
}

// tr__mbox_empty is true when nothing pushed is left to pop. The load of
// `in` is seq_cst: the consumer's clear-then-check of its schedule flag
// relies on it. Thread: consumer.
static inline bool
tr__mbox_empty(struct tr__mbox *q)
{
    return q->out == NULL && tr__stack_empty(&q->in);
}

#endif // TR_MAILBOX_MPSC_H
