// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// pool.c: the blocking pool. A mutex and a condition variable are right
// here: jobs block for milliseconds or more, so the queue is not hot.
#include "pool.h"

#include <troupe.h>

static _Thread_local struct tr__pool *pool_self;

struct tr__pool *
tr__pool_current(void)
{
    return pool_self;
}

// Appends `s` to the queue. Caller holds mu.
static void
queue_append(struct tr__pool *p, struct tr__sched *s)
{
    atomic_store_explicit(&s->node.next, NULL, memory_order_relaxed);
    if (p->tail != NULL)
        atomic_store_explicit(&p->tail->next, &s->node, memory_order_relaxed);
    else
        p->head = &s->node;
    p->tail = &s->node;
    p->queued++;
}

static void *
pool_main(void *arg)
{
    struct tr__pool *p = arg;
    pool_self = p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->quit)
            pthread_cond_wait(&p->cv, &p->mu);
        struct tr__node *n = p->head;
        if (n == NULL)
            break; // quit, and the queue is empty
        p->head = atomic_load_explicit(&n->next, memory_order_relaxed);
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        atomic_fetch_add(&p->busy, 1);
        atomic_fetch_add_explicit(&p->ran, 1, memory_order_relaxed);
        struct tr__sched *s = (struct tr__sched *)n;
        int again = s->run(s);
        atomic_fetch_sub(&p->busy, 1);
        pthread_mutex_lock(&p->mu);
        if (again == TR__RUN_AGAIN)
            queue_append(p, s); // behind the others: fairness
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int
tr__pool_start(struct tr__pool *p, unsigned threads, uint32_t cap)
{
    p->head = p->tail = NULL;
    p->queued = 0;
    p->cap = cap;
    p->quit = false;
    p->nthreads = 0;
    p->nalloc = threads;
    atomic_init(&p->busy, 0);
    atomic_init(&p->rejected, 0);
    atomic_init(&p->ran, 0);
    p->threads = tr__zalloc(threads * sizeof *p->threads);
    if (p->threads == NULL)
        return TR_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
            tr__pool_stop(p);
            return TR_ESYS;
        }
        p->nthreads++;
    }
    return 0;
}

int
tr__pool_push(struct tr__pool *p, struct tr__sched *s)
{
    pthread_mutex_lock(&p->mu);
    if (p->queued >= p->cap || p->quit) {
        pthread_mutex_unlock(&p->mu);
        atomic_fetch_add_explicit(&p->rejected, 1, memory_order_relaxed);
        return TR_EBUSY;
    }
    queue_append(p, s);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void
tr__pool_post(struct tr__pool *p, struct tr__sched *s)
{
    pthread_mutex_lock(&p->mu);
    queue_append(p, s);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

uint32_t
tr__pool_depth(struct tr__pool *p)
{
    pthread_mutex_lock(&p->mu);
    uint32_t n = p->queued;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void
tr__pool_stop(struct tr__pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    tr__free(p->threads, p->nalloc * sizeof *p->threads);
    p->threads = NULL;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}
