// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// slots.c: the table behind refs (see the design notes in actor.h).
#include "actor.h"

#include <string.h>

int
tr__slots_init(struct tr__slots *t)
{
    for (unsigned i = 0; i < TR__NCHUNKS; i++)
        atomic_init(&t->chunk[i], NULL);
    t->free_head = 0;
    t->fresh = 1; // slot 0 is never used
    return pthread_mutex_init(&t->lock, NULL) == 0 ? 0 : TR_ESYS;
}

void
tr__slots_fini(struct tr__slots *t)
{
    for (unsigned i = 0; i < TR__NCHUNKS; i++)
        tr__free(atomic_load_explicit(&t->chunk[i], memory_order_relaxed),
                 TR__CHUNK * sizeof(struct tr__slot));
    pthread_mutex_destroy(&t->lock);
}

static uint64_t
word_gen(uint64_t w)
{
    return w >> TR__W_GENSHIFT;
}

int
tr__slots_alloc(struct tr__slots *t, struct tr__actor *a, unsigned loop,
                uint32_t refs, tr_ref *out)
{
    pthread_mutex_lock(&t->lock);
    uint32_t idx = t->free_head;
    struct tr__slot *s;
    if (idx != 0) {
        s = tr__slots_get(t, idx);
        t->free_head = (uint32_t)(uintptr_t)s->actor;
    } else {
        idx = t->fresh;
        if (idx > TR__SLOT_MASK) {
            pthread_mutex_unlock(&t->lock);
            return TR_ELIMIT;
        }
        unsigned ci = idx >> TR__CHUNK_BITS;
        if (atomic_load_explicit(&t->chunk[ci], memory_order_relaxed) == NULL) {
            struct tr__slot *c = tr__alloc(TR__CHUNK * sizeof *c);
            if (c == NULL) {
                pthread_mutex_unlock(&t->lock);
                return TR_ENOMEM;
            }
            for (unsigned i = 0; i < TR__CHUNK; i++) {
                atomic_init(&c[i].word, 1ull << TR__W_GENSHIFT);
                c[i].actor = NULL;
            }
            // release: lookups of slots in this chunk see initialised words.
            atomic_store_explicit(&t->chunk[ci], c, memory_order_release);
        }
        t->fresh = idx + 1;
        s = tr__slots_get(t, idx);
    }
    s->actor = a;
    uint64_t gen =
        word_gen(atomic_load_explicit(&s->word, memory_order_relaxed));
    a->slot = idx;
    a->gen = (uint32_t)gen;
    // release: publishes s->actor and the actor's fields to lookups.
    atomic_store_explicit(&s->word,
                          (gen << TR__W_GENSHIFT) |
                              ((uint64_t)loop << TR__W_LOOPSHIFT) |
                              TR__W_ALIVE | refs,
                          memory_order_release);
    pthread_mutex_unlock(&t->lock);
    *out = tr__ref_make(idx, (uint32_t)gen);
    return 0;
}

void
tr__slots_free(struct tr__slots *t, uint32_t idx)
{
    struct tr__slot *s = tr__slots_get(t, idx);
    pthread_mutex_lock(&t->lock);
    uint64_t gen =
        word_gen(atomic_load_explicit(&s->word, memory_order_relaxed)) + 1;
    if ((gen & TR__GEN_MASK) == 0)
        gen = 1; // generation 0 never names an actor
    // A stale ref's lookup now fails on the generation, before and after
    // the slot is reused.
    atomic_store_explicit(&s->word, (gen & TR__GEN_MASK) << TR__W_GENSHIFT,
                          memory_order_release);
    s->actor = (struct tr__actor *)(uintptr_t)t->free_head;
    t->free_head = idx;
    pthread_mutex_unlock(&t->lock);
}

struct tr__actor *
tr__slots_acquire(struct tr__slots *t, tr_ref r)
{
    uint32_t gen = (uint32_t)(r.bits & TR__GEN_MASK);
    uint32_t idx = (uint32_t)(r.bits >> TR__GEN_BITS) & TR__SLOT_MASK;
    if (gen == 0 || idx == 0)
        return NULL;
    struct tr__slot *s = tr__slots_get(t, idx);
    if (s == NULL)
        return NULL;
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
    do {
        if (word_gen(w) != gen || !(w & TR__W_ALIVE) ||
            (w & TR__W_REFS) == TR__W_REFS)
            return NULL;
        // acquire: the actor stays allocated while we hold the reference.
    } while (!atomic_compare_exchange_weak_explicit(
        &s->word, &w, w + 1, memory_order_acquire, memory_order_acquire));
    return s->actor;
}
