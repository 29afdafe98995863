// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// pool.h: the blocking pool: threads apart from the loops that run
// schedulables which may block. Its queue is bounded: a full pool says so
// (TR_EBUSY) instead of growing without end. Schedulables that must not be
// lost (blocking actors) are queued past the bound with tr__pool_post: the
// caller bounds them (each is queued at most once at a time).
#ifndef TR_LOOP_POOL_H
#define TR_LOOP_POOL_H

#include "loop.h"

struct tr__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct tr__node *head, *tail; // queued schedulables; mu
    uint32_t queued, cap;         // mu
    bool quit;                    // mu
    unsigned nthreads, nalloc;
    pthread_t *threads;
    _Atomic uint32_t busy;     // threads running a job; stats
    _Atomic uint64_t rejected; // pushes refused; stats
    _Atomic uint64_t ran;      // runs started; stats
};

// tr__pool_start starts `threads` threads with a queue of `cap` jobs.
// Returns 0, TR_ENOMEM or TR_ESYS. Thread: any.
int tr__pool_start(struct tr__pool *p, unsigned threads, uint32_t cap);

// tr__pool_push queues `s` to run on a pool thread; run() returning
// TR__RUN_AGAIN queues it again at the back. Returns 0 or TR_EBUSY (the
// queue is full, or the pool is stopping). Thread: any.
int tr__pool_push(struct tr__pool *p, struct tr__sched *s);

// tr__pool_post queues `s` as tr__pool_push does, but never refuses: the
// caller guarantees `s` is queued at most once at a time and that the pool
// is not stopping. Thread: any.
void tr__pool_post(struct tr__pool *p, struct tr__sched *s);

// tr__pool_current returns the pool whose thread is calling, or NULL.
// Thread: any.
struct tr__pool *tr__pool_current(void);

// tr__pool_depth returns how many schedulables wait for a thread.
// Thread: any.
uint32_t tr__pool_depth(struct tr__pool *p);

// tr__pool_stop lets the threads finish the queue, joins them and frees
// the pool. Thread: any but a pool thread.
void tr__pool_stop(struct tr__pool *p);

#endif // TR_LOOP_POOL_H
